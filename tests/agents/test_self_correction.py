"""Self-correction: a failed program is shown to the model, which gets to try again, a bounded
number of times (``max_retries``), in ``run`` and ``chat``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ScriptedLLM, code_reply

from tfhf.agents import Agent, AgentFailure
from tfhf.errors import ConfigError

sys.path.insert(0, str(Path(__file__).parent))
import sample_tools  # noqa: E402


def make_agent(*replies, **kwargs):
    llm = ScriptedLLM(*replies)
    logs = []
    agent = Agent(llm=llm, additional_tools=[sample_tools.word_count, sample_tools.ReverseTool()],
                  default_tools=False, log=logs.append, **kwargs)
    return agent, llm, logs


def test_a_wrong_first_program_is_corrected_on_the_second_try():
    agent, llm, logs = make_agent(
        code_reply("n = word_count(txt=text)"),          # an argument the tool refuses
        code_reply("n = word_count(text=text)\nn"))
    assert agent.run("Count the words of the `text`.", text="a b c") == 3
    assert len(llm.prompts) == 2
    retry = llm.prompts[1]
    # the model sees its failed program and the error naming the refused argument
    assert "word_count(txt=text)" in retry
    assert "txt" in retry.messages[-1]["content"] and "That did not work" in retry
    assert "`text` (str" in retry.messages[-1]["content"]     # the variables it may use
    assert retry.messages[-2] == {"role": "assistant",
                                  "content": llm.prompts[0].prefill + " " +
                                  code_reply("n = word_count(txt=text)").strip()} or \
        "word_count(txt=text)" in retry.messages[-2]["content"]
    assert retry.endswith("I will use the following") == llm.prompts[0].endswith(
        "I will use the following")
    assert any(m.startswith("==Retry 1/1") for m in logs)


@pytest.mark.parametrize("bad, words", [
    ("import os", ["import is not allowed"]),                 # refused construct
    ("x = image_generator(prompt='cat')", ["'image_generator' is not a tool"]),
    ("x = = 1", ["not valid Python"]),
])
def test_the_error_the_model_sees_names_what_was_wrong(bad, words):
    agent, llm, _ = make_agent(code_reply(bad), code_reply("'ok'"))
    assert agent.run("Go.") == "ok"
    feedback = llm.prompts[1].messages[-1]["content"]
    for w in words:
        assert w in feedback, feedback


def test_a_reply_without_code_is_asked_again():
    agent, llm, _ = make_agent("I think the answer is 3.", code_reply("3"))
    assert agent.run("Go.") == 3
    assert "no Python code block" in llm.prompts[1].messages[-1]["content"]


def test_retries_are_bounded_and_the_last_failure_is_returned():
    agent, llm, logs = make_agent(*[code_reply(f"x = {i} / 0") for i in range(3)],
                                  correction_retries=2)
    result = agent.run("Go.")
    assert isinstance(result, AgentFailure) and result.kind == "error"
    assert result.code == "x = 2 / 0"
    assert len(llm.prompts) == 3 and not llm.replies
    assert sum(m.startswith("==Retry") for m in logs) == 2


def test_max_retries_per_call_overrides_the_agent_and_zero_means_one_try():
    """``correction_retries`` is the agent's default (``max_retries`` of the HTTP backends is
    their transport retries); ``run(..., max_retries=)`` sets it for one call."""
    agent, llm, _ = make_agent(code_reply("1 / 0"), code_reply("1"), correction_retries=0)
    assert isinstance(agent.run("Go."), AgentFailure)
    assert len(llm.prompts) == 1
    assert agent.run("Go.", max_retries=0) == 1          # the next scripted reply


def test_each_try_starts_from_the_variables_passed_in():
    agent, llm, _ = make_agent(code_reply("text = 'changed'\nx = 1 / 0"),
                               code_reply("text"))
    assert agent.run("Go.", text="original") == "original"


def test_a_correct_first_program_asks_once():
    agent, llm, _ = make_agent(code_reply("'fine'"), correction_retries=3)
    assert agent.run("Go.") == "fine" and len(llm.prompts) == 1


def test_return_code_retries_when_the_reply_has_no_code():
    agent, llm, _ = make_agent("No code here.", code_reply("n = word_count(text=text)"))
    code = agent.run("Count.", text="a b", return_code=True)
    assert "word_count(text=text)" in code and "text = 'a b'" in code


def test_chat_retry_is_a_turn_of_the_conversation_and_keeps_state():
    agent, llm, _ = make_agent("```py\nwords = text.split()\n```",
                               "```py\nn = words_count(words)\n```",
                               "```py\nn = len(words)\nn\n```")
    agent.chat("Split the `text`.", text="x y z")
    assert agent.chat("How many words?") == 3
    retry = llm.prompts[2]
    assert "words_count" in retry and "That did not work" in retry.messages[-1]["content"]
    assert "`words` (list of 3 str" in retry.messages[-1]["content"]
    assert agent.chat_state["n"] == 3


@pytest.mark.parametrize("value", [-1, 1.5, "2", True])
def test_bad_max_retries_is_a_clear_error(value):
    with pytest.raises(ConfigError, match="correction_retries must be an int >= 0"):
        make_agent(correction_retries=value)
    agent, _, _ = make_agent(code_reply("1"))
    with pytest.raises(ConfigError, match="max_retries must be an int >= 0"):
        agent.run("Go.", max_retries=value)
