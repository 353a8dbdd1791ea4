"""What the run prompt tells a small model to pick the right tool: variables with a preview,
tool descriptions that say what each tool is not for, an example call per curated tool."""

from __future__ import annotations

from conftest import ScriptedLLM, code_reply

from tfhf.agents import Agent
from tfhf.agents.prompts import describe_variables


def test_variables_show_type_length_and_a_short_preview():
    long = "The city council voted on Tuesday to build a new public library in the old hall."
    text = describe_variables({"article": long, "link": "https://example.com/a",
                               "posts": ["First post here", "second"], "n": 3, "_hidden": 1})
    assert f'`article` (str, {len(long)} characters: "The city council voted on Tuesday to' in text
    assert "old hall" not in text and '..."' in text        # previews stay short
    assert '`link` (str, 21 characters: "https://example.com/a")' in text
    assert '`posts` (list of 2 str, the first: "First post here")' in text
    assert "`n` (int)" in text and "_hidden" not in text
    assert describe_variables({}) == "none"


def test_curated_tools_say_what_they_are_not_for_and_show_a_call():
    llm = ScriptedLLM(code_reply("1"))
    agent = Agent(llm=llm, log=None)
    agent.run("Go.")
    prompt = llm.prompts[0]
    # the confusions small models make: sentiment vs topic labels, summary vs answer
    for tool, other in [("text_classifier", "zero_shot_classifier"),
                        ("zero_shot_classifier", "text_classifier"),
                        ("summarizer", "text_qa"), ("text_qa", "summarizer")]:
        assert other in " ".join(agent.toolbox[tool].description.split()), tool
    for name, tool in agent.toolbox.items():
        if getattr(tool, "example", None):
            assert f"    Example: {tool.example}" in prompt
            assert f"{name}(" in tool.example
    assert "Example: summary = summarizer(text=" in prompt
    assert "call no tool and print a sentence saying that you cannot do it" in prompt
