"""Fuzz tfhf.agents.evaluate for longer than the test suite does.

    python scripts/fuzz_interpreter.py --examples 20000            # hypothesis, random seeds
    python scripts/fuzz_interpreter.py --atheris -- -runs=200000    # libFuzzer via atheris

The hypothesis mode draws from the grammar and the mutated attack corpus of
tests/agents/fuzz_grammar.py. The atheris mode feeds raw bytes (decoded as UTF-8 with
replacement) and the corpus as seeds. Both fail on any exception other than InterpreterError
and on runs far past the time limit; a crash ends the process, which is the signal.
Each program runs in this process: run it under `timeout` for unattended use.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "agents"))


def run_hypothesis(examples: int, seed: int | None):
    from hypothesis import HealthCheck, given, seed as hseed, settings
    from hypothesis import strategies as st

    import fuzz_grammar

    counts = {"programs": 0}

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(fuzz_grammar.programs(), fuzz_grammar.programs(safe=True),
                     fuzz_grammar.mutants()))
    def fuzz(code):
        counts["programs"] += 1
        fuzz_grammar.check(code)

    if seed is not None:
        fuzz = hseed(seed)(fuzz)
    started = time.monotonic()
    fuzz()
    print(f"{counts['programs']} programs, no failure, {time.monotonic() - started:.0f} s")


def run_atheris(argv):
    import atheris  # pip install atheris (optional)

    with atheris.instrument_imports(include=["tfhf.agents"]):  # coverage guides the fuzzer
        import tfhf.agents.agent_types  # noqa: F401
        import tfhf.agents.interpreter  # noqa: F401

    import fuzz_grammar

    seeds = fuzz_grammar.seed_programs()

    def one(data: bytes):
        fdp = atheris.FuzzedDataProvider(data)
        if fdp.ConsumeBool():
            code = seeds[fdp.ConsumeIntInRange(0, len(seeds) - 1)]
            code = fuzz_grammar._mutate(code, [(fdp.ConsumeIntInRange(0, 3),
                                                fdp.ConsumeIntInRange(0, 10_000),
                                                fdp.ConsumeUnicode(1) or "x") for _ in range(4)])
        else:
            code = fdp.ConsumeUnicodeNoSurrogates(4096)
        fuzz_grammar.check(code)

    atheris.Setup([sys.argv[0]] + list(argv), one)
    atheris.Fuzz()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=5000)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--atheris", action="store_true", help="use atheris (libFuzzer) instead")
    p.add_argument("rest", nargs="*", help="arguments for libFuzzer (after --)")
    args = p.parse_args()
    if args.atheris:
        run_atheris(args.rest)
    else:
        run_hypothesis(args.examples, args.seed)


if __name__ == "__main__":
    main()
