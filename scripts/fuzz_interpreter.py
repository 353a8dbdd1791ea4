"""Fuzz tfhf.agents.evaluate for longer than the test suite does.

    python scripts/fuzz_interpreter.py --examples 20000            # hypothesis, random seeds
    python scripts/fuzz_interpreter.py --atheris -- -runs=200000    # libFuzzer via atheris

The hypothesis mode draws from the grammar, the mutated attack corpus and the budget programs
(big ints, shared/cyclic structures, tool-call loops) of tests/agents/fuzz_grammar.py, and
reports the slowest program and the largest memory growth of one program (Linux: the peak
RSS is reset before each program through /proc/self/clear_refs), with ``--json`` as JSON.
The atheris mode feeds raw bytes (decoded as UTF-8 with replacement) and the corpus as seeds. Both fail on any exception other than InterpreterError
and on runs far past the time limit; a crash ends the process, which is the signal.
Each program runs in this process: run it under `timeout` for unattended use.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "agents"))


def _rss_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


class Stats:
    """The slowest program and the one that grew the memory most."""

    def __init__(self):
        self.programs = 0
        self.slowest = (0.0, "")
        self.biggest = (0.0, "")
        self.peak_mb = 0.0

    def run(self, check, code):
        self.programs += 1
        before = _rss_kb("VmRSS")
        exact = _reset_peak()
        started = time.monotonic()
        try:
            check(code)
        finally:
            elapsed = time.monotonic() - started
            peak = _rss_kb("VmHWM" if exact else "VmRSS")
            grew = max(0, peak - before) / 1024
            self.peak_mb = max(self.peak_mb, _rss_kb("VmHWM") / 1024)
            if elapsed > self.slowest[0]:
                self.slowest = (elapsed, code)
            if grew > self.biggest[0]:
                self.biggest = (grew, code)

    def report(self, seconds, as_json):
        out = {"programs": self.programs, "seconds": round(seconds, 1),
               "slowest_seconds": round(self.slowest[0], 3), "slowest_program": self.slowest[1],
               "largest_rss_growth_mb": round(self.biggest[0], 1),
               "largest_rss_growth_program": self.biggest[1],
               "peak_rss_mb": round(self.peak_mb, 1)}
        if as_json:
            print(json.dumps(out, indent=2))
            return
        print(f"{self.programs} programs, no failure, {seconds:.0f} s; process peak RSS "
              f"{self.peak_mb:.0f} MB")
        print(f"slowest program: {self.slowest[0]:.2f} s\n{self.slowest[1]}")
        print(f"largest memory growth: {self.biggest[0]:.0f} MB\n{self.biggest[1]}")


def run_hypothesis(examples: int, seed: int | None, as_json=False):
    from hypothesis import HealthCheck, given, seed as hseed, settings
    from hypothesis import strategies as st

    import fuzz_grammar

    stats = Stats()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(fuzz_grammar.programs(), fuzz_grammar.programs(safe=True),
                     fuzz_grammar.mutants(), fuzz_grammar.budget_programs()))
    def fuzz(code):
        stats.run(fuzz_grammar.check, code)

    if seed is not None:
        fuzz = hseed(seed)(fuzz)
    started = time.monotonic()
    fuzz()
    stats.report(time.monotonic() - started, as_json)


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
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("rest", nargs="*", help="arguments for libFuzzer (after --)")
    args = p.parse_args()
    if args.atheris:
        run_atheris(args.rest)
    else:
        run_hypothesis(args.examples, args.seed, args.json)


if __name__ == "__main__":
    main()
