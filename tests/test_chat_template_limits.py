"""Chat templates render within limits (tfhf.data.template_limits): hostile templates (hangs,
huge allocations, raw Python errors) are refused with InvalidInputError within 2 s and without
large allocations, measured in a fresh process; the real templates of SmolLM2, Qwen2.5 and
Gemma 3 still render exactly as transformers renders them; the limits can be raised; and
transformers' own rendering outside tfhf is left alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("transformers")

import tfhf  # noqa: E402
from tfhf import assets  # noqa: E402
from tfhf.data import template_limits  # noqa: E402
from tfhf.data.template_limits import TemplateLimits  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER = [{"role": "user", "content": "Hello!"}]

# name -> template. Every one must be refused; the first of each group is the reported case.
HOSTILE = {
    # hangs
    "nested_ranges": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                     "{% endfor %}",
    "three_nested_ranges": "{% for i in range(1000) %}{% for j in range(1000) %}"
                           "{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
    "nested_filtered_loop": "{% for i in range(100000) %}{% for j in range(100000) if j < 0 %}"
                            "{% endfor %}{% endfor %}",
    "nested_string_loops": "{% set s = 'ab' * 50000 %}{% for a in s %}{% for b in s %}"
                           "{% endfor %}{% endfor %}",
    "sum_in_loop": "{% for i in range(100000) %}{{ range(100000)|sum }}{% endfor %}",
    "macro_fan_out": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
                     "{% endmacro %}{{ f(40) }}",
    "lipsum": "{{ lipsum(n=200000) }}",
    "lipsum_long_paragraphs": "{{ lipsum(n=3, min=5000000, max=9000000) }}",
    "lipsum_in_loop": "{% for i in range(100000) %}{{ lipsum(n=5) }}{% endfor %}",
    # raw Python errors
    "overflow_range": "{{ range(10**30) }}",
    "overflow_float": "{{ 2.0 ** 5000 }}",
    "include": "{% include 'other.jinja' %}",
    "import": "{% import 'macros.jinja' as m %}{{ m.x() }}",
    "extends": "{% extends 'base.jinja' %}",
    "type_error": "{{ 1 + 'a' }}",
    "zero_division": "{{ 1 // 0 }}",
    "recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "recursive_loop": "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}",
    "caller_recursion": "{% macro f() %}{{ caller() }}{% endmacro %}{% macro g() %}"
                        "{% call f() %}{{ g() }}{% endcall %}{% endmacro %}{{ g() }}",
    "deep_expression": "{{ " + "(" * 30000 + "1" + ")" * 30000 + " }}",
    # memory
    "string_repeat": "{{ 'x' * 10**12 }}",
    "string_repeat_medium": "{{ 'x' * 900000000 }}",
    "list_repeat": "{{ ([0] * 10**11)|length }}",
    "center_filter": "{{ 'x'|center(10**10) }}",
    "center_method": "{{ 'x'.center(10**10) }}",
    "ljust_method": "{{ messages[0].content.ljust(3 * 10**9) }}",
    "format_width": "{{ '{:>999999999}'.format(1) }}",
    "format_nested_width": "{{ '{:>{}}'.format(1, 10**10) }}",
    "format_repeated_field": "{% set s = 'y' * 900000 %}{{ ('{0}' * 1000).format(s) }}",
    "printf_width": "{{ '%999999999d' % 1 }}",
    "printf_star": "{{ '%*d' % (10**10, 1) }}",
    "format_filter": "{{ '%999999999s'|format('a') }}",
    "doubling_namespace": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                          "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling_plus": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                     "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling_macro": "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}"
                      "{{ s|length }}{% endif %}{% endmacro %}{{ d('x', 60) }}",
    "retained_values": "{{ range(1000)|map('center', 999999)|list|length }}",
    "retained_macro_output": "{% set s = 'z' * 999999 %}{% macro m() %}{{ s }}{% endmacro %}"
                             "{% for i in range(1000) %}{% set x = m() %}{% endfor %}",
    "tojson_indent": "{{ range(100000)|list|tojson(indent=100000) }}",
    "tojson_shared": "{% set s = 'q' * 900000 %}{{ ([s] * 3)|tojson }}",
    "join_separator": "{{ range(100000)|join('x' * 100000) }}",
    "join_method": "{{ ('x' * 100000).join(range(100000)|map('string')) }}",
    "replace_filter": "{{ ('x' * 100000)|replace('', 'y' * 1000) }}",
    "replace_method": "{{ ('x' * 100000).replace('x', 'y' * 1000) }}",
    "indent_filter": "{{ ('\\n' * 100000)|indent(100000) }}",
    "expandtabs": "{{ ('\\t' * 100000).expandtabs(100000) }}",
    "print_shared_tuple": "{% set s = 'x' * 999999 %}{{ (s,) * 1000 }}",
    "print_literal_list": "{% set s = 'x' * 999999 %}{{ [s, s, s, s, s, s, s, s] }}",
    "concat_list": "{% set s = 'x' * 999999 %}{{ [s, s, s] ~ '' }}",
    "string_filter_on_list": "{% set s = 'x' * 999999 %}{{ [s, s]|string|length }}",
    "big_int_power": "{{ 2 ** 100000000 }}",
    "big_int_product": "{% set a = 7 ** 4000 %}{{ (a * a * a * a)|string|length }}",
    "sum_lists": "{{ ([[1]] * 100000)|sum(start=[]) }}",
    "slice_filter": "{{ range(3)|slice(10**9)|list|length }}",
    "batch_filter": "{{ range(3)|batch(10**9, 'x')|list|length }}",
    "strip_long_chars": "{{ ('a' * 900000).strip('b' * 900000 ~ 'a') }}",
    "trim_long_chars": "{{ ('a' * 900000)|trim('b' * 900000 ~ 'a') }}",
    "hash_collisions": "{% set m = 2 ** 61 - 1 %}{{ range(0, 100000 * m, m)|unique|list|length }}",
    "hash_collisions_dict": "{% set m = 2 ** 61 - 1 %}"
                            "{{ dict.fromkeys(range(m, 100001 * m, m))|length }}",
    "striptags_many_tags": "{{ ('<a>' * 300000)|striptags|length }}",
    "striptags_method": "{{ (('<b>' * 300000)|safe).striptags() }}",
    "huge_template": "x" * 300_000,
    "print_namespace": "{% set ns = namespace(a='x' * 999999) %}{{ [ns] * 100 }}",
}

_PROBE = r"""
import json, os, resource, sys, time, tracemalloc
import tfhf
from tfhf.errors import InvalidInputError
folder, name, cases = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
tok = tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)
tok.apply_chat_template([{"role": "user", "content": "warm up"}], tokenize=False)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
results = {}
for case, (template, tokenize) in cases.items():
    tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        tok.apply_chat_template([{"role": "user", "content": "Hello!"}], chat_template=template,
                                tokenize=tokenize)
        error = None
    except InvalidInputError as e:
        error = "InvalidInputError: " + str(e)
    except BaseException as e:
        error = f"RAW {type(e).__name__}: {e}"[:2000]
    results[case] = {"error": error, "seconds": time.perf_counter() - start,
                     "peak_mb": tracemalloc.get_traced_memory()[1] / 2**20}
results["rss_growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
print(json.dumps(results))
"""


def _asset(name):
    if not assets.is_installed(name):
        pytest.skip(f"offline asset '{name}' is not installed: run `tfhf assets install {name}`")
    return assets.path(name)


def _probe(cases):
    """Render each case in one fresh process (SmolLM2's tokenizer): per case the error, the
    seconds and the tracemalloc peak; and the process's peak RSS growth over all cases."""
    folder, name = os.path.split(_asset("smollm2"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", _PROBE, folder, name], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_hostile_templates_are_refused_fast_and_small():
    cases = {name: (template, False) for name, template in HOSTILE.items()}
    # the tokenize=True path (what tfhf chat and the pipelines use) is the same rendering
    cases.update({name + "+tokenize": (HOSTILE[name], True)
                  for name in ("nested_ranges", "lipsum", "include", "string_repeat",
                               "recursion", "tojson_indent")})
    results = _probe(cases)
    assert results.pop("rss_growth_mb") < 300
    for case, r in results.items():
        assert r["error"] is not None and r["error"].startswith("InvalidInputError: The chat "
                                                                "template passed as"), \
            (case, r["error"])
        assert ("was stopped:" in r["error"] or "failed while rendering" in r["error"] or
                "could not be compiled" in r["error"]), (case, r["error"][:300])
        assert r["seconds"] < 2.0, (case, r["seconds"])
        assert r["peak_mb"] < 300, (case, r["peak_mb"])


def test_the_reasons_are_named():
    expected = {
        "nested_ranges": "max_steps=1000000|max_seconds=1.0",
        "lipsum": r"lipsum\(\) would be",
        "overflow_range": r"range\(\) bounds over 2\*\*53",
        "overflow_float": r"failed while rendering \(OverflowError",
        "hash_collisions": r"range\(\) bounds over 2\*\*53",
        "strip_long_chars": r"strip\(\) of 900000 characters",
        "striptags_many_tags": "striptags of 900000 characters with 300000 tags",
        "include": r"failed while rendering \(TypeError: no loader",
        "recursion": "max_depth=64",
        "string_repeat": r"a \* repetition",
        "doubling_namespace": "a ~ concatenation would be",
        "retained_values": "max_work_chars",
        "huge_template": "max_template_chars",
        "print_namespace": r"namespace\(\) object",
    }
    results = _probe({name: (HOSTILE[name], False) for name in expected})
    for name, reason in expected.items():
        assert re.search(reason, results[name]["error"]), (name, results[name]["error"][:300])


@pytest.fixture(scope="module")
def smol():
    folder, name = os.path.split(_asset("smollm2"))
    return tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)


def test_limits_can_be_raised_per_call_and_for_the_process(smol):
    loop = "{% for i in range(3000) %}.{% endfor %}"
    with pytest.raises(InvalidInputError, match="max_steps=1000 "):
        smol.apply_chat_template(USER, chat_template=loop, tokenize=False,
                                 template_limits=TemplateLimits(max_steps=1000))
    assert smol.apply_chat_template(USER, chat_template=loop, tokenize=False,
                                    template_limits=TemplateLimits(max_steps=5000)) == "." * 3000
    previous = template_limits.set_default_limits(max_output_chars=2000)
    try:
        with pytest.raises(InvalidInputError, match="max_output_chars=2000"):
            smol.apply_chat_template(USER, chat_template=loop, tokenize=False)
        big = "{{ 'x' * 1500000 }}"  # over the default output limit, under a raised one
        assert len(smol.apply_chat_template(
            USER, chat_template=big, tokenize=False,
            template_limits=TemplateLimits(max_output_chars=2_000_000))) == 1_500_000
    finally:
        template_limits.set_default_limits(previous)
    assert template_limits.default_limits() == TemplateLimits()
    with pytest.raises(InvalidInputError, match="template_limits must be a TemplateLimits"):
        smol.apply_chat_template(USER, chat_template=loop, tokenize=False, template_limits=5)


def test_the_tokenizers_own_template_is_named_and_chat_render_is_bounded(smol):
    import copy

    from tfhf.chat import render

    tok = copy.deepcopy(smol)
    tok.chat_template = HOSTILE["lipsum"]
    with pytest.raises(InvalidInputError, match="The chat template of tokenizer .* lipsum"):
        render(tok, USER)  # what `tfhf chat` does every turn
    assert smol.chat_template != HOSTILE["lipsum"]


def test_transformers_outside_tfhf_is_not_limited():
    """The hook only acts while tfhf renders: transformers' own renderer keeps its behaviour."""
    from transformers.utils.chat_template_utils import render_jinja_template

    with template_limits.bounded_rendering("The test template"):  # installs the hook
        pass
    previous = template_limits.set_default_limits(max_steps=10)
    try:
        rendered, _ = render_jinja_template(
            conversations=[USER], chat_template="{% for i in range(50) %}.{% endfor %}")
        assert rendered == ["." * 50]
    finally:
        template_limits.set_default_limits(previous)


SYSTEM = {"role": "system", "content": "You are a terse assistant."}
CONVERSATIONS = [
    USER,
    [SYSTEM, {"role": "user", "content": "What is TensorFlow?"}],
    [SYSTEM, {"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"},
     {"role": "user", "content": "naïve café 東京 🤖 — another?"}],
]
TOOLS = [{"type": "function", "function": {
    "name": "search", "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                    "n": {"type": "integer", "maximum": 10}},
                   "required": ["query"]}}}]


# The Gemma 3 instruct template (google/gemma-3-*-it); the gemma3-270m GGUF asset carries none.
GEMMA3_TEMPLATE = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""
MULTIMODAL = [{"role": "user", "content": [{"type": "image"},
                                           {"type": "text", "text": "  What is this?  "}]}]


@pytest.mark.parametrize("asset", ["smollm2", "qwen2.5-coder-0.5b", "gemma3-270m"])
def test_real_templates_render_exactly_as_transformers(asset):
    from transformers.utils.chat_template_utils import render_jinja_template

    folder, name = os.path.split(_asset(asset))
    tok = tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    template = tok.chat_template or (GEMMA3_TEMPLATE if asset == "gemma3-270m" else None)
    assert template
    conversations = CONVERSATIONS + ([MULTIMODAL] if asset == "gemma3-270m" else [])
    for messages in conversations:
        for kwargs in ({}, {"tools": TOOLS}):
            ours = tok.apply_chat_template(messages, add_generation_prompt=True,
                                           tokenize=False, chat_template=template, **kwargs)
            reference, _ = render_jinja_template(
                conversations=[messages], chat_template=template,
                add_generation_prompt=True, **dict(tok.special_tokens_map, **kwargs))
            assert ours == reference[0], (asset, messages, kwargs)
            assert "What is" in ours or messages[-1]["content"] in ours
    if asset == "qwen2.5-coder-0.5b":  # tojson (streamed in tfhf) rendered the tool schema
        assert json.dumps(TOOLS[0], ensure_ascii=False) in ours
    if asset == "gemma3-270m":
        assert ours.startswith(tok.bos_token + "<start_of_turn>user\n<start_of_image>")
        with pytest.raises(InvalidInputError, match="rejected the conversation: Conversation "
                                                    "roles must alternate"):
            tok.apply_chat_template([USER[0], USER[0]], chat_template=template, tokenize=False)


def test_assistant_masks_batches_and_continue_final_message_match_transformers(smol):
    """The other ways transformers renders (``{% generation %}`` tracking through
    ``generate()``, batches, continue_final_message) work on the bounded template too."""
    template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}"
                "{% generation %}{{ m.content }}<|im_end|>{% endgeneration %}{% else %}"
                "{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}")
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "See you"}]
    theirs = smol.tokenizer  # the transformers tokenizer inside, rendering on its own
    kwargs = dict(chat_template=template, return_assistant_tokens_mask=True, return_dict=True,
                  tokenize=True)
    ours, ref = smol.apply_chat_template(messages, **kwargs), \
        theirs.apply_chat_template(messages, **kwargs)
    assert ours["input_ids"] == ref["input_ids"]
    assert ours["assistant_masks"] == ref["assistant_masks"] and sum(ours["assistant_masks"]) > 0
    batch = [messages, messages[:2]]
    assert smol.apply_chat_template(batch, chat_template=template, tokenize=False) == \
        theirs.apply_chat_template(batch, chat_template=template, tokenize=False)
    cont = smol.apply_chat_template(messages, chat_template=template, tokenize=False,
                                    continue_final_message=True)
    assert cont.endswith("See you") and cont == theirs.apply_chat_template(
        messages, chat_template=template, tokenize=False, continue_final_message=True)
