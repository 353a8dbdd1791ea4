"""Bounded fuzzing of tfhf.agents.evaluate with hypothesis (deterministic here; run
``python scripts/fuzz_interpreter.py --examples 100000`` for long random runs).

Generated programs (a grammar mixing allowed and forbidden Python) and mutated attack programs
must end with a value or an InterpreterError, never another exception, never a hang (a SIGALRM
watchdog) and never a crash (the whole test process would die).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import fuzz_grammar  # noqa: E402

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


class Hang(Exception):
    pass


@pytest.fixture(autouse=True)
def watchdog():
    def on_alarm(signum, frame):
        raise Hang("an evaluation ran past the watchdog")

    old = signal.signal(signal.SIGALRM, on_alarm)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _run(code):
    signal.alarm(15)
    try:
        fuzz_grammar.check(code)
    finally:
        signal.alarm(0)


@settings(max_examples=400, **SETTINGS)
@given(fuzz_grammar.programs())
def test_generated_programs_only_raise_interpreter_error(code):
    _run(code)


@settings(max_examples=400, **SETTINGS)
@given(fuzz_grammar.programs(safe=True))
def test_generated_allowed_programs_only_raise_interpreter_error(code):
    _run(code)


@settings(max_examples=300, **SETTINGS)
@given(fuzz_grammar.mutants())
def test_mutated_attacks_only_raise_interpreter_error(code):
    _run(code)


@settings(max_examples=150, **SETTINGS)
@given(fuzz_grammar.budget_programs())
def test_budget_programs_only_raise_interpreter_error(code):
    """Big ints, shared and cyclic structures, tool-call loops: bounded like the rest."""
    _run(code)
