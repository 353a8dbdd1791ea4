"""The run prompt's worked examples are chosen per task, among those the toolbox can run."""

import pytest

from tfhf.agents import Agent, tool
from tfhf.agents.examples import EXAMPLES, select_examples
from tfhf.errors import ConfigError

from conftest import ScriptedLLM, code_reply


@tool
def shout(text: str) -> str:
    """Returns the text in upper case.

    Args:
        text: the text to shout
    """
    return text.upper()


def _toolbox():
    from tfhf.agents.registry import default_toolbox

    return default_toolbox()


@pytest.mark.parametrize("task,variables,tool_name", [
    ("Summarize the `report` in two lines.", {"report": "Sales grew."}, "summarizer"),
    ("Put the `note` into Swedish.", {"note": "Hello"}, "translator"),
    ("Is the `tweet` positive or negative?", {"tweet": "Great!"}, "text_classifier"),
])
def test_the_closest_example_comes_last_and_uses_the_tool_the_task_needs(task, variables,
                                                                         tool_name):
    chosen = select_examples(task, variables, _toolbox(), k=3)
    assert len(chosen) == 3 and len(set(chosen)) == 3
    assert tool_name in chosen[-1].tools


def test_an_audio_variable_brings_a_transcriber_example():
    from tfhf.agents import AgentAudio
    import numpy as np

    chosen = select_examples("What is in the `sound`?", {"sound": AgentAudio(
        np.zeros(160, np.float32), samplerate=16000)}, _toolbox(), k=2)
    assert any("transcriber" in ex.tools for ex in chosen)


def test_examples_only_use_tools_of_the_toolbox():
    toolbox = {"shout": shout}
    chosen = select_examples("Summarize the `report`.", {"report": "x"}, toolbox, k=5)
    assert chosen and all(not ex.tools for ex in chosen)  # the no-tool examples only
    assert select_examples("Summarize it.", {}, toolbox, k=0) == []


def test_every_example_runs_its_plan_format():
    for ex in EXAMPLES:
        text = ex.render()
        assert text.startswith(f'Task: "{ex.task}"\nVariables: ')
        assert "\n\nI will use the following " in text and text.endswith("\n```")
        for name in ex.tools:
            assert f"{name}(" in ex.code


def test_the_default_prompt_shows_the_chosen_examples_as_chat_turns():
    llm = ScriptedLLM(code_reply('print("hi")'))
    agent = Agent(llm=llm, log=None, num_examples=2)
    prompt = agent.format_prompt("Translate the `note` into Swedish.", variables={"note": "Hi"})
    roles = [m["role"] for m in prompt.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "translator(" in prompt.messages[-2]["content"]
    assert prompt.messages[-1]["content"].startswith('Task: "Translate the `note`')
    assert "<<examples>>" not in prompt
    none = Agent(llm=llm, log=None, num_examples=0).format_prompt("Say hi.")
    assert [m["role"] for m in none.messages] == ["system", "user"]


def test_a_custom_template_without_the_placeholder_is_left_alone():
    template = "Tools:\n<<all_tools>>\n\nTask: \"<<prompt>>\"\n\nI will use the following"
    agent = Agent(llm=ScriptedLLM(), run_prompt_template=template, log=None)
    prompt = agent.format_prompt("Say hi.")
    assert 'Task: "Say hi."' in prompt and "Variables" not in prompt


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_num_examples_must_be_a_non_negative_int(bad):
    with pytest.raises(ConfigError, match="num_examples must be an int >= 0"):
        Agent(llm=ScriptedLLM(), log=None, num_examples=bad)
