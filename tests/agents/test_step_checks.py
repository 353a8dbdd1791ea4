"""Checks that turn a program which runs but leaves the task half done into a retry: a step the
task asks for with no call of its tool, a variable the task names left unused, a web address
given to a text tool; and the variables' previews that say how to read a URL or a recording."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ScriptedLLM, code_reply

from tfhf.agents import Agent, AgentAudio, AgentFailure, tool
from tfhf.agents.checks import missing_steps, misused_urls, unused_inputs
from tfhf.agents.prompts import describe_variables

CALLS = []


@tool
def summarizer(text: str) -> str:
    """Returns the first word of the text.

    Args:
        text: the text to summarize
    """
    CALLS.append(("summarizer", text))
    return text.split()[0]


@tool
def translator(text: str, src_lang: str, tgt_lang: str) -> str:
    """Returns the text in upper case.

    Args:
        text: the text to translate
        src_lang: the language of the text
        tgt_lang: the language to translate into
    """
    CALLS.append(("translator", text, tgt_lang))
    return text.upper()


@tool
def text_downloader(url: str) -> str:
    """Returns the text of a page.

    Args:
        url: the address of the page
    """
    CALLS.append(("text_downloader", url))
    return "page text"


@tool
def text_qa(text: str, question: str) -> str:
    """Answers a question about a text.

    Args:
        text: the text
        question: the question
    """
    CALLS.append(("text_qa", text, question))
    return "an answer"


TOOLS = {t.name: t for t in (summarizer, translator, text_downloader, text_qa)}


@pytest.mark.parametrize("task, code, missing", [
    ("Summarize the `report` and translate it into French.", "s = summarizer(text=report)",
     ["translator"]),
    ("Give me the `report`'s summary in Dutch.", "s = summarizer(text=report)", ["translator"]),
    ("Summarize the `report` in French.", "s = summarizer(text=report)\ntranslator("
     "text=s, src_lang='English', tgt_lang='French')", []),
    ("Download `url` and answer the `question`.", "text_qa(text=url, question=question)",
     ["text_downloader"]),
    ("Is the `text` in English about sport?", "summarizer(text=text)", []),  # not a target
    ("Translate the `text` into French.", 'print("Bonjour")', []),  # no tool call at all
    ("Translate the `text`.", "x = (", []),                          # does not parse
])
def test_missing_steps(task, code, missing):
    assert missing_steps(code, task, TOOLS) == missing


def test_missing_steps_only_for_tools_in_the_toolbox():
    assert missing_steps("summarizer(text=t)", "Summarize and translate the `t`.",
                         {"summarizer": summarizer}) == []


@pytest.mark.parametrize("task, code, names, unused", [
    ("Put the `note` into Spanish.", 'print("Hola")', {"note"}, ["note"]),
    ("Put the `note` into Spanish.", "print(note)", {"note"}, []),
    ("Use the `notes`.", "print(note)", {"notes", "note"}, ["notes"]),
    ("Go.", "print(1)", {"note"}, []),          # passed in but not named by the task
])
def test_unused_inputs(task, code, names, unused):
    assert unused_inputs(code, names, task) == unused


def test_misused_urls():
    code = "a = text_qa(text=link, question=q)\nb = text_downloader(url=link)\nsummarizer(link)"
    assert misused_urls(code, {"link"}, TOOLS) == [("link", "text_qa", "text"),
                                                   ("link", "summarizer", "text")]
    assert misused_urls(code, set(), TOOLS) == []


def _agent(*replies):
    llm = ScriptedLLM(*replies)
    return Agent(llm=llm, additional_tools=list(TOOLS.values()), default_tools=False,
                 log=None), llm


def test_a_step_left_out_is_asked_for_again_before_anything_runs():
    CALLS.clear()
    agent, llm = _agent(code_reply("s = summarizer(text=report)\ns"),
                        code_reply("s = summarizer(text=report)\n"
                                   "translator(text=s, src_lang='English', tgt_lang='French')"))
    result = agent.run("Summarize the `report` and translate it into French.",
                       report="sales grew")
    assert result == "SALES" and CALLS == [("summarizer", "sales grew"),
                                           ("translator", "sales", "French")]
    feedback = llm.prompts[1].messages[-1]["content"]
    assert "never calls `translator`" in feedback


def test_a_url_given_to_a_text_tool_says_to_download_it_first():
    CALLS.clear()
    agent, llm = _agent(code_reply("text_qa(text=link, question=question)"),
                        code_reply("page = text_downloader(url=link)\n"
                                   "text_qa(text=page, question=question)"))
    result = agent.run("Answer the `question` about the page at `link`.",
                       link="https://example.com/a", question="Who?")
    assert result == "an answer"
    assert CALLS == [("text_downloader", "https://example.com/a"),
                     ("text_qa", "page text", "Who?")]
    feedback = llm.prompts[1].messages[-1]["content"]
    assert "`link` is a web address" in feedback and "text_downloader(url=link)" in feedback
    # the prompt shows the first step, not the address (which small models copy)
    assert "get its text with `text_downloader(url=link)` first" in llm.prompts[0]
    assert "example.com" not in llm.prompts[0].split("Task:")[-1]


def test_an_unused_input_fails_with_its_name_when_no_retry_is_left():
    agent, _ = _agent(code_reply('"Hola"'))
    result = agent.run("Put the `note` into Spanish.", note="Hello", max_retries=0)
    assert isinstance(result, AgentFailure) and result.kind == "unused_input"
    assert "`note`" in result


def test_variable_previews_name_the_first_step_when_the_toolbox_has_it():
    audio = AgentAudio(np.zeros(160, np.float32), samplerate=16000)

    @tool
    def transcriber(audio: AgentAudio) -> str:
        """Transcribes.

        Args:
            audio: the audio
        """
        return ""

    text = describe_variables({"link": "http://x.org/a", "clip": audio, "t": "hi"},
                              {"text_downloader": text_downloader, "transcriber": transcriber})
    assert "`link` (str, a web address: get its text with `text_downloader(url=link)` first)" \
        in text
    assert "`clip` (audio, a recording: get its text with `transcriber(audio=clip)` first)" \
        in text
    assert '`t` (str, 2 characters: "hi")' in text
    # without such a tool, the usual preview
    assert "x.org" in describe_variables({"link": "http://x.org/a"})
