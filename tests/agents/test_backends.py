"""LLM backends: LocalAgent on a fake causal LM, OpenAiAgent and HfAgent against a scripted
HTTP server on 127.0.0.1 (retries with backoff, 401, timeouts, empty and malformed replies)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import code_reply

from tfhf.agents import (HfAgent, LLMAuthenticationError, LLMBackendError, LLMResponseError,
                         LocalAgent, OpenAiAgent)
from tfhf.errors import ConfigError

sys.path.insert(0, str(Path(__file__).parent))
import sample_tools  # noqa: E402

TOOLS = [sample_tools.word_count]
REPLY = code_reply("n = word_count(text=text)\nn", explanation="tool: `word_count` to count.")


# --------------------------------------------------------------------------- local


class CharTokenizer:
    """One token per character (id = code point); optional chat template."""

    def __init__(self, chat_template=None):
        self.chat_template = chat_template
        self.calls = []

    def __call__(self, text, return_tensors=None, add_special_tokens=True):
        self.calls.append({"text": text, "add_special_tokens": add_special_tokens})
        ids = np.array([[ord(c) for c in text]], np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids)}

    def decode(self, ids, skip_special_tokens=False):
        return "".join(chr(int(i)) for i in ids)

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=False):
        out = "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)
        return out + ("<assistant>" if add_generation_prompt else "")


class FakeLM:
    """``generate`` returns the prompt followed by a fixed continuation (what a causal LM
    would produce); records its arguments."""

    def __init__(self, continuation, with_stop_strings=True):
        self.continuation = continuation
        self.calls = []
        if not with_stop_strings:
            self.generate = self._generate_without_stop_strings

    def generate(self, input_ids, attention_mask=None, max_new_tokens=20, do_sample=False,
                 stop_strings=None, tokenizer=None):
        self.calls.append(dict(input_ids=input_ids, max_new_tokens=max_new_tokens,
                               do_sample=do_sample, stop_strings=stop_strings))
        new = np.array([[ord(c) for c in self.continuation[:max_new_tokens]]], np.int64)
        return np.concatenate([np.asarray(input_ids), new], axis=1)

    def _generate_without_stop_strings(self, input_ids, attention_mask=None, max_new_tokens=20,
                                       do_sample=False):
        new = np.array([[ord(c) for c in self.continuation[:max_new_tokens]]], np.int64)
        return np.concatenate([np.asarray(input_ids), new], axis=1)


def test_local_agent_generates_greedily_with_stop_strings():
    model = FakeLM(" tool: `word_count`.\n\nAnswer:\n```py\nn = word_count(text=text)\nn\n```"
                   "\n\nTask: this text comes after the stop string")
    tok = CharTokenizer()
    agent = LocalAgent(model, tok, additional_tools=TOOLS, default_tools=False, log=None,
                       max_new_tokens=500)
    assert agent.run("Count the words of `text`.", text="a b c d") == 4
    call = model.calls[0]
    assert call["stop_strings"] == ["Task:"] and call["do_sample"] is False
    assert call["max_new_tokens"] == 500
    prompt_text = tok.calls[0]["text"]
    assert prompt_text.endswith('Task: "Count the words of `text`."\nVariables: `text` '
                                '(str, 7 characters: "a b c d")\n\nI will use the following')
    assert tok.calls[0]["add_special_tokens"] is True


def test_local_agent_uses_the_chat_template_with_the_prefill():
    model = FakeLM(" tool: `word_count`.\n```py\nn = word_count(text=text)\n```")
    tok = CharTokenizer(chat_template="{{ messages }}")
    agent = LocalAgent(model, tok, additional_tools=TOOLS, default_tools=False, log=None)
    assert agent.run("Count the words of `text`.", text="a b") == 2
    text = tok.calls[0]["text"]
    assert text.startswith("<system>I will ask you to perform a task")
    assert ('<user>Task: "Count the words of `text`."\nVariables: `text` (str, 3 characters: '
            '"a b")</user><assistant>I will use the following') in text
    assert tok.calls[0]["add_special_tokens"] is False   # the template already has them
    chat = LocalAgent(FakeLM("```py\nx = 1\n```"), tok, additional_tools=TOOLS,
                      default_tools=False, log=None, use_chat_template=False)
    chat.run("x")
    assert tok.calls[-1]["text"].startswith("I will ask you to perform a task")


def test_local_agent_asks_for_the_code_when_the_reply_stops_after_the_explanation():
    replies = iter([" tool: `word_count` to count the words.",
                    "n = word_count(text=text)\nn\n```"])

    class Model(FakeLM):
        def generate(self, input_ids, **kw):
            self.continuation = next(replies)
            return super().generate(input_ids, **kw)

    tok = CharTokenizer(chat_template="{{ messages }}")
    agent = LocalAgent(Model(""), tok, additional_tools=TOOLS, default_tools=False, log=None,
                       max_new_tokens=200)
    assert agent.run("Count the words of `text`.", text="a b c") == 3
    # the second prompt continues the first answer from the opening of a code block
    assert tok.calls[1]["text"].endswith(
        "<assistant>I will use the following tool: `word_count` to count the words."
        "\n\nAnswer:\n```py\n")
    assert agent.last_reply.startswith("I will use the following tool: `word_count`")
    assert agent.last_code == "n = word_count(text=text)\nn"


def test_local_agent_cuts_at_stop_strings_when_generate_cannot():
    model = FakeLM(" tool.\n```py\nx = 41 + 1\n```\nTask: more\n```py\nimport os\n```",
                   with_stop_strings=False)
    agent = LocalAgent(model, CharTokenizer(), default_tools=False, log=None, max_new_tokens=300)
    assert agent.run("Compute.") == 42


def test_local_agent_chat_keeps_state():
    replies = iter(["```py\na = 20\n```", "```py\na + 1\n```"])

    class Model(FakeLM):
        def generate(self, input_ids, **kw):
            self.continuation = next(replies)
            return super().generate(input_ids, **kw)

    agent = LocalAgent(Model(""), CharTokenizer(), default_tools=False, log=None,
                       max_new_tokens=100)
    agent.chat("set a")
    assert agent.chat("add one") == 21


def test_local_agent_needs_a_model_with_generate():
    with pytest.raises(ConfigError, match="generate"):
        LocalAgent(object(), CharTokenizer(), default_tools=False)


def test_local_agent_from_pretrained_resolves_gguf_and_assets(tmp_path, monkeypatch):
    import tfhf

    seen = []

    class Loader:
        @staticmethod
        def from_pretrained(name, **kwargs):
            seen.append((name, kwargs))
            return FakeLM("") if len(seen) == 2 else CharTokenizer()

    monkeypatch.setattr(tfhf, "AutoTokenizer", Loader, raising=False)
    monkeypatch.setattr(tfhf, "TFAutoModelForCausalLM", Loader, raising=False)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    agent = LocalAgent.from_pretrained(str(gguf), default_tools=False, log=None)
    assert seen == [(str(tmp_path), {"gguf_file": "m.gguf"})] * 2
    assert isinstance(agent, LocalAgent)
    seen.clear()
    from tfhf import assets

    monkeypatch.setattr(assets, "path", lambda name: str(gguf) if name == "smollm2" else None)
    LocalAgent.from_pretrained("asset:smollm2", token="t", default_tools=False, log=None)
    assert seen[0] == (str(tmp_path), {"gguf_file": "m.gguf", "token": "t"})


# ------------------------------------------------------------------------- OpenAI


def openai_answer(content):
    return {"body": {"id": "x", "object": "chat.completion",
                     "choices": [{"index": 0, "message": {"role": "assistant",
                                                          "content": content}}]}}


def openai_agent(server, **kwargs):
    kwargs.setdefault("backoff", 0.01)
    return OpenAiAgent(model="tiny-model", api_key="sk-test", base_url=server.url + "/v1",
                       additional_tools=TOOLS, default_tools=False, log=None, **kwargs)


def test_openai_agent_speaks_chat_completions(server):
    server.script = [openai_answer(REPLY)]
    agent = openai_agent(server)
    assert agent.run("Count the words of `text`.", text="a b c") == 3
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test"
    body = req["json"]
    assert body["model"] == "tiny-model" and body["stop"] == ["Task:"]
    assert body["temperature"] == 0.0
    roles = [m["role"] for m in body["messages"]]   # worked examples as earlier turns
    assert roles == ["system"] + ["user", "assistant"] * ((len(roles) - 2) // 2) + ["user"]
    assert len(roles) >= 6   # the examples that need no tool outside this toolbox
    assert "word_count" in body["messages"][0]["content"]
    assert body["messages"][-1]["content"].startswith('Task: "Count the words of `text`."')


def test_openai_agent_chat_sends_the_history_as_messages(server):
    server.script = [openai_answer("```py\nx = 1\n```"), openai_answer("```py\nx + 1\n```")]
    agent = openai_agent(server)
    agent.chat("one")
    assert agent.chat("two") == 2
    roles = [m["role"] for m in server.requests[1]["json"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert server.requests[1]["json"]["stop"] == ["Human:", "====="]


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_openai_agent_retries_transient_errors_with_backoff(server, status):
    server.script = [{"status": status, "body": {"error": {"message": "busy"}}}] * 2 + \
        [openai_answer(REPLY)]
    agent = openai_agent(server, max_retries=3, backoff=0.05)
    started = time.monotonic()
    assert agent.run("Count `text`.", text="a") == 1
    assert len(server.requests) == 3
    assert time.monotonic() - started >= 0.05 + 0.1 * 0.99   # waits of 0.05 then 0.1 s


def test_openai_agent_gives_up_after_bounded_retries(server):
    server.script = [{"status": 503, "body": {"error": {"message": "overloaded"}}}]
    agent = openai_agent(server, max_retries=2)
    with pytest.raises(LLMBackendError) as ei:
        agent.run("x")
    assert len(server.requests) == 3
    assert "failed after 3 tries" in str(ei.value) and "HTTP 503: overloaded" in str(ei.value)


def test_openai_agent_honours_retry_after(server):
    server.script = [{"status": 429, "headers": {"Retry-After": "0.3"}, "body": "{}"},
                     openai_answer(REPLY)]
    agent = openai_agent(server, backoff=0.01)
    started = time.monotonic()
    agent.run("x", text="a")
    assert time.monotonic() - started >= 0.29


def test_openai_agent_401_is_a_clear_error_without_retries(server):
    server.script = [{"status": 401, "body": {"error": {"message": "Incorrect API key"}}}]
    with pytest.raises(LLMAuthenticationError) as ei:
        openai_agent(server).run("x")
    assert len(server.requests) == 1
    msg = str(ei.value)
    assert "HTTP 401" in msg and "Incorrect API key" in msg and "API key" in msg
    assert isinstance(ei.value, PermissionError)


def test_openai_agent_other_client_errors_are_not_retried(server):
    server.script = [{"status": 400, "body": {"error": {"message": "bad model"}}}]
    with pytest.raises(LLMBackendError, match="HTTP 400: bad model"):
        openai_agent(server).run("x")
    assert len(server.requests) == 1


def test_openai_agent_times_out_and_retries(server):
    server.script = [{"delay": 1.5, **openai_answer(REPLY)}]
    agent = openai_agent(server, timeout=0.3, max_retries=1)
    started = time.monotonic()
    with pytest.raises(LLMBackendError, match="no answer within 0.3 s"):
        agent.run("x")
    assert len(server.requests) == 2
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("entry, message", [
    ({"body": b""}, "empty answer"),
    ({"body": b"<html>oops</html>"}, "not JSON"),
    ({"body": {"choices": []}}, "answered without choices"),
    ({"body": {"unexpected": 1}}, "answered without choices"),
    ({"body": {"choices": [{"message": {"content": 5}}]}}, "not text"),
])
def test_openai_agent_empty_or_malformed_replies(server, entry, message):
    server.script = [entry]
    with pytest.raises(LLMResponseError, match=message):
        openai_agent(server).run("x")


def test_openai_agent_empty_content_is_a_reply_without_code(server):
    server.script = [openai_answer("")]
    result = openai_agent(server).run("x")
    assert result.kind == "no_code"


def test_openai_agent_needs_a_key_for_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAiAgent(model="gpt-4o-mini", default_tools=False)


def test_unreachable_server_is_a_backend_error():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    agent = OpenAiAgent(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1,
                        backoff=0.01, default_tools=False, log=None)
    with pytest.raises(LLMBackendError, match="failed after 2 tries"):
        agent.run("x")


# ----------------------------------------------------------------------------- TGI


def hf_agent(server, **kwargs):
    kwargs.setdefault("backoff", 0.01)
    return HfAgent(server.url + "/generate", token="hf_test", additional_tools=TOOLS,
                   default_tools=False, log=None, **kwargs)


def test_hf_agent_speaks_text_generation_inference(server):
    server.script = [{"body": [{"generated_text": REPLY.replace("tool:", " tool:", 1)}]}]
    agent = hf_agent(server, input_params={"temperature": 0.1})
    assert agent.run("Count the words of `text`.", text="x y") == 2
    req = server.requests[0]
    assert req["headers"]["authorization"] == "Bearer hf_test"
    body = req["json"]
    assert body["inputs"].endswith('Task: "Count the words of `text`."\nVariables: `text` '
                                   '(str, 3 characters: "x y")\n\nI will use the following')
    assert body["parameters"] == {"max_new_tokens": 200, "temperature": 0.1,
                                  "return_full_text": False, "stop": ["Task:"]}


def test_hf_agent_strips_an_echoed_prompt_and_stop_sequence(server):
    def echo(req):
        return {"body": [{"generated_text": req["json"]["inputs"] + REPLY + "\nTask:"}]}

    server.script = [echo]
    assert hf_agent(server).run("Count `text`.", text="a b") == 2


def test_hf_agent_retries_then_succeeds(server):
    server.script = [{"status": 503, "body": {"error": "Model is loading"}},
                     {"body": {"generated_text": REPLY}}]
    assert hf_agent(server).run("x", text="a") == 1
    assert len(server.requests) == 2


@pytest.mark.parametrize("entry, error, message", [
    ({"status": 401, "body": {"error": "Authorization header is invalid"}},
     LLMAuthenticationError, "HTTP 401"),
    ({"status": 403, "body": {"error": "forbidden"}}, LLMAuthenticationError, "HTTP 403"),
    ({"body": {"error": "Input validation error"}}, LLMResponseError, "Input validation error"),
    ({"body": [{"text": "no generated_text"}]}, LLMResponseError, "generated_text"),
    ({"body": []}, LLMResponseError, "generated_text"),
    ({"body": b"  "}, LLMResponseError, "empty answer"),
    ({"body": b"[{"}, LLMResponseError, "not JSON"),
])
def test_hf_agent_errors(server, entry, error, message):
    server.script = [entry]
    with pytest.raises(error, match=message):
        hf_agent(server).run("x")
    assert len(server.requests) == 1


def test_hf_agent_needs_an_http_endpoint():
    with pytest.raises(ConfigError, match="url_endpoint"):
        HfAgent("bigcode/starcoder", default_tools=False)
