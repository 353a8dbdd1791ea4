"""evaluate_isolated: the interpreter in a forked worker under OS limits (defence in depth)."""

from __future__ import annotations

import os
import time

import pytest
from conftest import ScriptedLLM, code_reply

from tfhf.agents import Agent, InterpreterError, Limits, evaluate_isolated

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def test_result_and_variables_come_back():
    state = {"text": "a b c"}
    result = evaluate_isolated("words = text.split()\nprint(len(words))\nwords[-1]",
                               {"echo": lambda x: x}, state)
    assert result == "c"
    assert state["words"] == ["a", "b", "c"] and state["_print_outputs"] == "3\n"


def test_errors_keep_their_kind_and_line():
    with pytest.raises(InterpreterError) as e:
        evaluate_isolated("x = 1\nimport os")
    assert e.value.kind == "refused" and e.value.lineno == 2
    with pytest.raises(InterpreterError) as e:
        evaluate_isolated("x = 1\ny = x / 0")
    assert e.value.kind == "error" and e.value.lineno == 2


def test_a_tool_past_the_memory_limit_is_stopped_by_the_os():
    def hog():
        return len(bytearray(1 << 30))  # 1 GiB, beyond the worker's 300 MB

    with pytest.raises(InterpreterError) as e:
        evaluate_isolated("hog()", {"hog": hog}, max_memory_mb=300)
    assert e.value.kind in ("tool_error", "limit")
    assert "MemoryError" in str(e.value) or "memory" in str(e.value)


def test_a_tool_past_the_wall_clock_is_killed():
    def stuck():
        time.sleep(60)

    started = time.monotonic()
    with pytest.raises(InterpreterError) as e:
        evaluate_isolated("stuck()", {"stuck": stuck}, limits=Limits(max_wall_seconds=0.5))
    assert e.value.kind == "limit" and time.monotonic() - started < 15


def test_agent_isolated_option():
    agent = Agent(llm=ScriptedLLM(code_reply("n = 6 * 7\nn")), additional_tools=[],
                  default_tools=False, log=lambda *a: None, isolated=True)
    assert agent.run("Multiply.") == 42
