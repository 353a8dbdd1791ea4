"""Checks that turn a silently wrong program into an error the model can correct: a variable
passed in replaced by a made-up literal, an audio or image given to a tool's text input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ScriptedLLM, code_reply

from tfhf.agents import Agent, AgentAudio, AgentFailure, tool
from tfhf.agents.checks import overwritten_inputs
from tfhf.agents.tools import ToolError

CALLS = []


@tool
def pick(text: str, labels: list) -> str:
    """Returns the first of the labels.

    Args:
        text: the text to classify
        labels: the candidate labels
    """
    CALLS.append((text, labels))
    return labels[0]


@tool
def shorten(text: str) -> str:
    """Returns the first word of the text.

    Args:
        text: the text to shorten
    """
    return text.split()[0]


@pytest.mark.parametrize("code,names,found", [
    ('options = ["billing"]\npick(text=email, labels=options)', {"options", "email"},
     [("options", 'options = ["billing"]')]),
    ('text = "made up"\nshorten(text=text)', {"text"}, [("text", 'text = "made up"')]),
    ("text = text.lower()\nshorten(text=text)", {"text"}, []),          # reads it first
    ('n = len(text)\ntext = "x"', {"text"}, []),                       # read before the set
    ("text = shorten(text=other)", {"text"}, []),                       # not a literal
    ('labels = ["a"]', set(), []),                                      # not passed in
    ("def (", {"text"}, []),                                            # does not parse
])
def test_overwritten_inputs(code, names, found):
    assert overwritten_inputs(code, names) == found


def _agent(*replies, **kwargs):
    llm = ScriptedLLM(*replies)
    return Agent(llm=llm, additional_tools=[pick, shorten], default_tools=False, log=None,
                 **kwargs), llm


def test_a_made_up_input_is_refused_before_any_tool_runs_and_corrected():
    CALLS.clear()
    agent, llm = _agent(code_reply('options = ["billing"]\npick(text=email, labels=options)'),
                        code_reply("pick(text=email, labels=options)"))
    result = agent.run("Using the `options`, classify the `email`.", email="refund me",
                       options=["delivery", "billing"])
    assert result == "delivery" and CALLS == [("refund me", ["delivery", "billing"])]
    feedback = llm.prompts[1].messages[-1]["content"]
    assert "replaces the variable `options`" in feedback and 'options = ["billing"]' in feedback


def test_without_retries_the_failure_names_the_variable():
    CALLS.clear()
    agent, _ = _agent(code_reply('options = ["billing"]\npick(text=email, labels=options)'))
    result = agent.run("Classify the `email`.", email="hi", options=["a"], max_retries=0)
    assert isinstance(result, AgentFailure) and result.kind == "overwritten_input"
    assert "`options`" in result and CALLS == []
    # return_code gives the program as written: nothing runs, nothing is checked
    agent, _ = _agent(code_reply('options = ["billing"]'))
    assert 'options = ["billing"]' in agent.run("Go.", options=["a"], return_code=True)


def test_audio_given_to_a_text_input_says_to_transcribe_it_first():
    audio = AgentAudio(np.zeros(160, np.float32), samplerate=16000)
    with pytest.raises(ToolError, match="takes text, but it was given an audio.*transcriber"):
        shorten(text=audio)
    agent, _ = _agent(code_reply("shorten(text=recording)"))
    result = agent.run("Summarize the `recording`.", recording=audio, max_retries=0)
    assert isinstance(result, AgentFailure) and result.kind == "tool_error"
    assert "transcriber" in result


def test_a_keyword_the_tool_does_not_take_names_its_inputs():
    with pytest.raises(ToolError, match="tool 'shorten' has no input 'labels': its inputs are "
                                        "'text'"):
        shorten(text="a b", labels=["x"])
    agent, llm = _agent(code_reply('shorten(text=text, labels=["x", "y"])'),
                        code_reply('pick(text=text, labels=["x", "y"])'))
    assert agent.run("Is the `text` about x or y?", text="a b") == "x"
    assert "has no input 'labels'" in llm.prompts[1].messages[-1]["content"]
