"""Agent.run / Agent.chat with a scripted LLM (fixed completions): prompts, tools, variables,
chat state, return_code, and failures explained instead of raised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ScriptedLLM, code_reply

from tfhf.agents import Agent, AgentFailure, extract_code, load_tool
from tfhf.errors import ConfigError, ModelNotFoundError

sys.path.insert(0, str(Path(__file__).parent))
import sample_tools  # noqa: E402


def make_agent(*replies, tools=None, default_tools=False, **kwargs):
    # these tests look at how one program's failure is explained; asking the model again is
    # tested in test_self_correction.py
    kwargs.setdefault("correction_retries", 0)
    llm = ScriptedLLM(*replies)
    logs = []
    agent = Agent(llm=llm, additional_tools=tools if tools is not None else
                  [sample_tools.word_count, sample_tools.ReverseTool()],
                  default_tools=default_tools, log=logs.append, **kwargs)
    return agent, llm, logs


# ---------------------------------------------------------------------------- run


def test_run_uses_the_tool_and_the_variables_passed_in():
    agent, llm, logs = make_agent(code_reply(
        "n = word_count(text=text)\nprint(f'{n} words')\nn"))
    result = agent.run("Count the words of the `text`.", text="one two three")
    assert result == 3
    assert "3 words" in "\n".join(logs)
    assert llm.stops == [["Task:"]]
    assert agent.last_state["n"] == 3


def test_run_prompt_shows_each_tool_with_inputs_and_worked_examples():
    agent, llm, _ = make_agent(code_reply("x = 1"), default_tools=True)
    agent.run("Do the thing with `text`.", text="t", items=["a", "b"])
    prompt = llm.prompts[0]
    for name, tool in agent.toolbox.items():
        assert f"- {name}(" in prompt and f"): {' '.join(tool.description.split())}" in prompt
    assert "- word_count(text=...): " in prompt
    assert "Inputs: text (text): the text whose words are counted" in prompt
    assert "Returns: integer" in prompt
    assert {"text_classifier", "zero_shot_classifier", "text_qa", "summarizer",
            "text_downloader", "word_count", "reverser"} <= set(agent.toolbox)
    assert prompt.count("Answer:\n```py") >= 3          # worked examples
    task = ('Task: "Do the thing with `text`."\nVariables: `text` (str, 1 character: "t"), '
            '`items` (list of 2 str, the first: "a")')
    assert prompt.rstrip().endswith(task + "\n\nI will use the following")
    # the same content as chat messages, for chat backends: the worked examples as turns
    messages = prompt.messages
    assert messages[0]["role"] == "system" and "word_count" in messages[0]["content"]
    assert "Answer:" not in messages[0]["content"]
    n = prompt.count("Answer:\n```py")
    assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * n + ["user"]
    assert messages[1]["content"].startswith('Task: "') and "```py" in messages[2]["content"]
    assert messages[-1] == {"role": "user", "content": task}
    assert prompt.prefill == "I will use the following"


def test_custom_run_template_without_examples_or_variables():
    agent, llm, _ = make_agent(code_reply("x = 1"),
                               run_prompt_template="Tools:\n<<all_tools>>\n\nDo: <<prompt>>")
    agent.run("the thing", text="t")
    prompt = llm.prompts[0]
    assert prompt.endswith("Do: the thing") and "Variables" not in prompt
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert prompt.messages[-1]["content"] == "Do: the thing" and prompt.prefill == ""


def test_run_result_of_the_last_statement_and_agent_types():
    agent, _, _ = make_agent(code_reply("r = reverser(text='abc')\nr.upper()"))
    assert agent.run("Reverse 'abc' and shout it.") == "CBA"


def test_kwargs_can_be_any_plain_data():
    agent, _, _ = make_agent(code_reply(
        "total = 0\nfor k, v in scores.items():\n    total += v * weights[0]\ntotal"))
    assert agent.run("Weight the `scores`.", scores={"a": 1, "b": 2}, weights=[10]) == 30


def test_a_tool_that_raises_is_explained():
    agent, _, logs = make_agent(code_reply("x = 1\ny = failing_tool(text='a')\nprint(y)"),
                                tools=[sample_tools.failing_tool])
    result = agent.run("Use the failing tool.")
    assert isinstance(result, AgentFailure) and result.kind == "tool_error"
    assert "line 2" in result and "failing_tool" in result
    assert "ValueError: the service is down" in result
    assert isinstance(result.error.__cause__, ValueError)
    assert "==Failure==" in "\n".join(logs)


def test_an_unknown_tool_is_explained():
    agent, _, _ = make_agent(code_reply("image = image_generator(prompt='a cat')"))
    result = agent.run("Draw a cat.")
    assert isinstance(result, AgentFailure) and result.kind == "unknown_name"
    assert "'image_generator' is not a tool" in result
    assert "word_count" in result and "reverser" in result     # the tools it could have used


def test_a_reply_without_code_is_explained():
    agent, _, _ = make_agent("I'm sorry, I cannot do that.")
    result = agent.run("Do something.")
    assert isinstance(result, AgentFailure) and result.kind == "no_code"
    assert "no Python code block" in result and "I cannot do that" in result
    assert result.code is None


@pytest.mark.parametrize("code, kind, words", [
    ("import os\nos.system('ls')", "refused", ["line 1", "import is not allowed"]),
    ("x = text.__class__", "refused", ["line 1", "'.__class__'"]),
    ("while True:\n    pass", "limit", ["line 1", "loop iterations"]),
    ("x = = 1", "syntax", ["not valid Python", "line 1"]),
    ("x = 1 / 0", "error", ["line 1", "ZeroDivisionError"]),
    ("word_count = 3", "refused", ["line 1", "'word_count' is a tool"]),
])
def test_a_program_that_breaks_the_rules_is_explained(code, kind, words):
    agent, _, _ = make_agent(code_reply(code))
    result = agent.run("Go.", text="a b")
    assert isinstance(result, AgentFailure), result
    assert result.kind == kind, result
    for w in words:
        assert w in result, result
    assert result.code == code


def test_printed_output_before_a_failure_is_logged():
    agent, _, logs = make_agent(code_reply("print('step 1')\nx = missing_name + 1"))
    result = agent.run("Go.")
    assert result.kind == "unknown_name"
    assert "step 1" in "\n".join(logs)


def test_a_variable_named_like_a_tool_is_refused_not_crashing():
    agent, _, _ = make_agent(code_reply("word_count(text='a')"))
    result = agent.run("Go.", word_count="shadow")
    assert isinstance(result, AgentFailure) and "shadow a tool" in result


def test_llm_reply_variants_are_parsed():
    assert extract_code("Sure!\n```python\nx = 1\n```\nDone.") == ("Sure!", "x = 1")
    assert extract_code("tool: `a`\n\nAnswer:\n```py\nx = 1\n") == ("tool: `a`", "x = 1")
    assert extract_code("```\nx = 2\n```") == ("", "x = 2")
    assert extract_code("no code") == ("no code", None)
    assert extract_code("```py\n```") == ("", None)


# --------------------------------------------------------------------------- chat


def test_chat_over_three_turns_keeps_variables_and_history():
    agent, llm, _ = make_agent(
        "I will split the `text`.\n```py\nwords = text.split()\nprint(len(words))\n```",
        "I will count them with `word_count`.\n```py\nn = word_count(text=' '.join(words))\n```",
        "I will report.\n```py\nreport = f'{n} words, the first is {words[0]}, last {extra}'\n"
        "report\n```")
    assert agent.chat("Split the `text` into words.", text="alpha beta gamma") is None
    assert agent.chat("How many are there?") == 3
    assert agent.chat("Report it with `extra`.", extra="!") == \
        "3 words, the first is alpha, last !"
    assert all(stop == ["Human:", "====="] for stop in llm.stops)
    third = llm.prompts[2]
    assert "Human: Split the `text` into words." in third
    assert "words = text.split()" in third                   # earlier replies are in the history
    assert "Human: How many are there?" in third
    assert third.endswith("Human: Report it with `extra`.\n\nAssistant: ")
    roles = [m["role"] for m in third.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert agent.chat_state["words"] == ["alpha", "beta", "gamma"]


def test_prepare_for_new_chat_forgets_variables_and_history():
    agent, llm, _ = make_agent("```py\nn = 5\n```", "```py\nn + 1\n```")
    agent.chat("Set n.")
    agent.prepare_for_new_chat()
    result = agent.chat("Add one to n.")
    assert isinstance(result, AgentFailure) and "name 'n' is not defined" in result
    assert "Set n." not in llm.prompts[1]


def test_chat_failure_keeps_the_conversation_going():
    agent, _, _ = make_agent("```py\nx = 2\n```", "```py\nx = x / 0\n```", "```py\nx * 10\n```")
    agent.chat("a")
    assert agent.chat("b").kind == "error"
    assert agent.chat("c") == 20


# ---------------------------------------------------------------------- return_code


def test_return_code_runs_on_its_own(tmp_path):
    folder = tmp_path / "wc_tool"
    sample_tools.word_count.save(folder)
    loaded = load_tool(str(folder), trust_remote_code=True)
    agent, _, _ = make_agent(code_reply(
        "n = word_count(text=text)\nprint(f'The text has {n} words.')"), tools=[loaded])
    code = agent.run("Count the words of `text`.", return_code=True, text="one two three four")
    assert code.startswith("from tfhf import load_tool\n")
    assert f"word_count = load_tool({str(folder)!r}, trust_remote_code=True)" in code
    assert "text = 'one two three four'" in code
    script = tmp_path / "program.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "The text has 4 words."


def test_return_code_loads_curated_tools_by_task():
    agent, _, _ = make_agent(code_reply("label = text_classifier(text=review)"),
                             default_tools=True)
    code = agent.run("Classify the `review`.", return_code=True, review="great")
    assert "text_classifier = load_tool('text-classification')" in code
    assert "review = 'great'" in code
    code = make_agent(code_reply("label = text_classifier(text=review)"),
                      default_tools=True)[0].run("x", return_code=True, remote=True)
    assert "load_tool('text-classification', remote=True)" in code


def test_return_code_marks_in_memory_tools_and_objects():
    agent, _, _ = make_agent(code_reply("x = reverser(text=data)"))
    code = agent.run("Reverse `data`.", return_code=True, data=object())
    assert "raise NotImplementedError" in code and "reverser.save(" in code
    assert "data = None  # TODO" in code


# ------------------------------------------------------------------------ remote


def test_run_remote_uses_the_inference_endpoint(server, monkeypatch):
    monkeypatch.setenv("TFHF_INFERENCE_ENDPOINT", server.url + "/models")
    server.script = [{"body": [[{"label": "NEGATIVE", "score": 0.1},
                                {"label": "POSITIVE", "score": 0.9}]]}]
    agent, _, _ = make_agent(code_reply("label = text_classifier(text=review)\nlabel"),
                             default_tools=True)
    assert agent.run("Classify the `review`.", remote=True, review="great movie") == "POSITIVE"
    req = server.requests[0]
    assert req["path"] == "/models/distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    assert req["json"] == {"inputs": "great movie"}


# ----------------------------------------------------------------- prompt templates


RUN_TEMPLATE = "Tools:\n<<all_tools>>\nTask: <<prompt>>\n\nI will use the following"


def test_custom_run_template_as_text_and_as_file(tmp_path):
    agent, llm, _ = make_agent(code_reply("1"), code_reply("2"), run_prompt_template=RUN_TEMPLATE)
    agent.run("count")
    assert llm.prompts[0].startswith("Tools:\n- word_count(text=...): Counts the words")
    assert "Task: count\n\nI will use the following" in llm.prompts[0]
    path = tmp_path / "run.txt"
    path.write_text("MY TEMPLATE <<all_tools>> <<prompt>>")
    agent, llm, _ = make_agent(code_reply("1"), run_prompt_template=str(path))
    agent.run("go")
    assert llm.prompts[0].startswith("MY TEMPLATE - word_count") and llm.prompts[0].endswith("go")


def _hub_cache(root, repo_type, repo_id, files, commit="a" * 40):
    folder = Path(root) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    for name, text in files.items():
        (snap / name).write_text(text)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    return str(root)


def test_prompt_templates_from_a_hub_repo_in_the_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = _hub_cache(tmp_path, "dataset", "org/prompts", {
        "run_prompt_template.txt": "HUB RUN <<all_tools>> <<prompt>>",
        "chat_prompt_template.txt": "HUB CHAT <<all_tools>>"})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", cache)
    agent, llm, _ = make_agent(code_reply("1"), "```py\n2\n```", run_prompt_template="org/prompts",
                               chat_prompt_template="org/prompts")
    agent.run("task one")
    agent.chat("task two")
    assert llm.prompts[0].startswith("HUB RUN - word_count")
    assert llm.prompts[1].startswith("HUB CHAT - word_count")


def test_prompt_template_repo_offline_and_not_cached_is_a_clear_error(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as ei:
        make_agent(run_prompt_template="org/not-cached")
    msg = str(ei.value)
    assert "org/not-cached" in msg and "run_prompt_template.txt" in msg
    assert "HF_HUB_OFFLINE=1" in msg and "file path" in msg


def test_run_template_without_the_task_placeholder_is_refused():
    with pytest.raises(ConfigError, match="<<prompt>>"):
        make_agent(run_prompt_template="Tools: <<all_tools>>\nno task here")


# ------------------------------------------------------------------------- toolbox


def test_additional_tools_must_be_tools():
    from tfhf.agents import ToolError

    with pytest.raises(ToolError, match="not a tfhf Tool"):
        make_agent(tools=[len])
    agent, _, _ = make_agent(tools={"reverser": sample_tools.ReverseTool()})
    assert list(agent.toolbox) == ["reverser"]


def test_an_additional_tool_replaces_a_curated_one(caplog):
    class MyClassifier(sample_tools.ReverseTool):
        name = "text_classifier"

    agent, _, _ = make_agent(tools=[MyClassifier()], default_tools=True)
    assert isinstance(agent.toolbox["text_classifier"], MyClassifier)
    assert "replaces the curated tool" in caplog.text


def test_llm_returning_non_text_is_a_clear_error():
    from tfhf.agents import LLMResponseError

    agent = Agent(llm=lambda p, s: None, default_tools=False, log=None)
    with pytest.raises(LLMResponseError, match="not text"):
        agent.run("x")
