"""Chat templates of the real GGUF tokenizers (SmolLM2, Qwen2.5-Coder): tfhf's
``apply_chat_template`` renders exactly what transformers renders with the same template,
text and ids, for several conversations (tools where the template supports them); and a
template that tries to leave jinja2's sandbox fails with a clear tfhf error."""

from __future__ import annotations

import os

import pytest

transformers = pytest.importorskip("transformers")

import tfhf  # noqa: E402
from tfhf import assets  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

SYSTEM = {"role": "system", "content": "You are a terse assistant. Answer in one line."}
CONVERSATIONS = {
    "user": [{"role": "user", "content": "Hello!"}],
    "system_user": [SYSTEM, {"role": "user", "content": "What is TensorFlow?"}],
    "multi_turn": [
        SYSTEM,
        {"role": "user", "content": "Name a prime number."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "And one above 100, please: 101 or 111?"},
    ],
    "no_system_multi_turn": [
        {"role": "user", "content": "Write `print(1)` in Python."},
        {"role": "assistant", "content": "```python\nprint(1)\n```"},
        {"role": "user", "content": "naïve café 東京 🤖 — now in C?"},
    ],
}


def get_weather(city: str, unit: str = "celsius"):
    """Get the current weather in a city.

    Args:
        city: The city, e.g. Paris.
        unit: "celsius" or "fahrenheit".
    """


TOOL_CONVERSATION = [
    {"role": "user", "content": "How warm is it in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function",
         "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "name": "get_weather", "content": "21.5"},
]
TOOL_SCHEMA = {"type": "function", "function": {
    "name": "search", "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                   "required": ["query"]}}}

MODELS = {"smollm2": False, "qwen2.5-coder-0.5b": True}  # asset -> template supports tools


def _asset(name):
    if not assets.is_installed(name):
        pytest.skip(f"offline asset '{name}' is not installed: run `tfhf assets install {name}`")
    return assets.path(name)


@pytest.fixture(scope="module", params=list(MODELS))
def pair(request):
    """(tfhf tokenizer, transformers tokenizer, supports tools) from the same GGUF file."""
    path = _asset(request.param)
    folder, name = os.path.split(path)
    ours = tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    pytest.importorskip("torch", reason="transformers reads GGUF tokenizers through torch")
    theirs = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return ours, theirs, MODELS[request.param]


def _render_reference(template, messages, **kwargs):
    """transformers' public chat-template renderer, with the template string itself."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(conversations=[messages], chat_template=template,
                                        add_generation_prompt=True, **kwargs)
    return rendered[0]


def test_the_template_is_the_one_in_the_gguf_file(pair):
    ours, theirs, _ = pair
    assert ours.chat_template and ours.chat_template == theirs.chat_template
    assert "<|im_start|>" in ours.chat_template


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_rendering_matches_transformers(pair, name):
    ours, theirs, _ = pair
    messages = CONVERSATIONS[name]
    text = ours.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == theirs.apply_chat_template(messages, add_generation_prompt=True,
                                              tokenize=False)
    assert text == _render_reference(ours.chat_template, messages)
    assert text.endswith("<|im_start|>assistant\n")
    assert messages[-1]["content"] in text
    ids = ours.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                   return_dict=True)
    ref = theirs.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    assert list(ids["input_ids"]) == list(ref["input_ids"])
    # without return_dict, the ids themselves (transformers 4.x's default)
    assert ours.apply_chat_template(messages, add_generation_prompt=True,
                                    tokenize=True) == list(ref["input_ids"])
    # the ids are the rendered text's tokens, special tokens as single ids
    assert list(ids["input_ids"]) == ours(text, add_special_tokens=False)["input_ids"]
    assert ids["input_ids"].count(ours.convert_tokens_to_ids("<|im_start|>")) == \
        text.count("<|im_start|>")


def test_generation_prompt_and_tf_tensors(pair):
    ours, _, _ = pair
    messages = CONVERSATIONS["system_user"]
    without = ours.apply_chat_template(messages, add_generation_prompt=False, tokenize=False)
    with_prompt = ours.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert with_prompt == without + "<|im_start|>assistant\n"
    enc = ours.apply_chat_template(messages, add_generation_prompt=True, return_tensors="tf",
                                   return_dict=True)
    assert enc["input_ids"].dtype.name == "int32" and enc["input_ids"].shape[0] == 1
    assert enc["input_ids"].numpy()[0].tolist() == ours.apply_chat_template(
        messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    ids = ours.apply_chat_template(messages, add_generation_prompt=True, return_tensors="tf")
    assert ids.dtype.name == "int32" and ids.numpy().tolist() == enc["input_ids"].numpy().tolist()


def test_tools(pair):
    ours, theirs, supports_tools = pair
    kwargs = dict(tools=[get_weather, TOOL_SCHEMA], add_generation_prompt=True)
    text = ours.apply_chat_template(TOOL_CONVERSATION, tokenize=False, **kwargs)
    assert text == theirs.apply_chat_template(TOOL_CONVERSATION, tokenize=False, **kwargs)
    ids = ours.apply_chat_template(TOOL_CONVERSATION, tokenize=True, return_dict=True,
                                   **kwargs)["input_ids"]
    assert ids == theirs.apply_chat_template(TOOL_CONVERSATION, tokenize=True,
                                             **kwargs)["input_ids"]
    if supports_tools:  # Qwen: the tool schemas, the call and the response are all rendered
        assert '"name": "get_weather"' in text and '"city"' in text
        assert '"name": "search"' in text
        assert "<tool_call>" in text and "<tool_response>\n21.5\n</tool_response>" in text
        from transformers.utils import get_json_schema

        assert text == _render_reference(
            ours.chat_template, TOOL_CONVERSATION,
            tools=[get_json_schema(get_weather), TOOL_SCHEMA])


# ------------------------------------------------------------------ hostile templates
ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__['__builtins__']['__import__']('os') }}",
    "{% for m in messages %}{{ m.__class__.__base__.__subclasses__() }}{% endfor %}",
    "{{ namespace.__init__.__globals__ }}",
]


@pytest.fixture(scope="module")
def smol():
    path = _asset("smollm2")
    folder, name = os.path.split(path)
    return tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)


@pytest.mark.parametrize("template", ESCAPES)
@pytest.mark.parametrize("tokenize", [False, True])
def test_sandbox_escape_is_a_clear_error(smol, template, tokenize):
    import jinja2

    with pytest.raises(InvalidInputError, match="chat template .*sandbox forbids") as info:
        smol.apply_chat_template(CONVERSATIONS["user"], chat_template=template,
                                 add_generation_prompt=True, tokenize=tokenize)
    assert isinstance(info.value.__cause__, jinja2.exceptions.SecurityError)
    assert "unsafe" in str(info.value)


def test_a_hostile_template_inside_the_tokenizer_is_refused_too(smol):
    import copy

    tok = copy.deepcopy(smol)
    tok.chat_template = ESCAPES[1]
    with pytest.raises(InvalidInputError, match="The chat template of tokenizer"):
        tok.apply_chat_template(CONVERSATIONS["user"], tokenize=False)
    assert smol.chat_template != ESCAPES[1]


def test_template_errors_name_the_template(smol):
    with pytest.raises(InvalidInputError, match=r"not valid Jinja \(line 1\)"):
        smol.apply_chat_template(CONVERSATIONS["user"], tokenize=False,
                                 chat_template="{% for m in messages %}{{ m.content ")
    strict = ("{% if messages[0]['role'] != 'system' %}"
              "{{ raise_exception('the first message must be a system message') }}{% endif %}")
    with pytest.raises(InvalidInputError, match="rejected the conversation: the first message "
                                                "must be a system message"):
        smol.apply_chat_template(CONVERSATIONS["user"], tokenize=False, chat_template=strict)
