"""LocalAgent(constrained=True): refused statements banned in the compiled decode loop, near-miss
tool and argument names corrected afterwards, off by default, `tfhf agent --constrained`."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from transformers import LlamaConfig, PreTrainedTokenizerFast

from tfhf import cli
from tfhf._keras import keras
from tfhf.agents import LocalAgent
from tfhf.agents.constrain import correct_tool_calls, refused_construct_words
from tfhf.generation import GenerationMixin

sys.path.insert(0, str(Path(__file__).parent))
import sample_tools  # noqa: E402

TOOLS = {t.name: t for t in (sample_tools.word_count, sample_tools.shorten)}


@pytest.fixture(scope="module")
def tokenizer():
    """A byte-level BPE (GPT-2 style, like SmolLM2's and Qwen's) trained on a few programs."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = ["def f(x):\n    return x\nx = 1\nimport re\nfrom re import sub\n"
              "class A:\n    y = lambda z: z\n"] * 20
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


class BigramLM(GenerationMixin, keras.Model):
    """A causal LM whose next-token logits depend on the last token only (a (V, V) table);
    it implements the decode loop's cache contract with a cache it never reads."""

    def __init__(self, table, eos):
        super().__init__(name="bigram_lm")
        self.table = tf.constant(table, tf.float32)
        self.config = LlamaConfig(vocab_size=table.shape[0], hidden_size=8,
                                  num_attention_heads=1, num_hidden_layers=1,
                                  max_position_embeddings=4096, eos_token_id=eos,
                                  pad_token_id=eos, bos_token_id=eos)

    def call(self, input_ids, attention_mask=None, position_ids=None):
        return {"logits": tf.gather(self.table, tf.cast(input_ids, tf.int32))}

    def init_cache(self, batch_size, max_length):
        return tf.zeros([1, 1, batch_size, 1], tf.float32)

    def forward_with_cache(self, input_ids, position_ids, attention_mask, cache, cache_index):
        return tf.gather(self.table, tf.cast(input_ids, tf.int32)), cache


def test_the_ban_keeps_def_out_of_the_compiled_loops_output(tokenizer):
    ids = {t: tokenizer.encode(t, add_special_tokens=False) for t in ("\n", "def", "x")}
    assert all(len(v) == 1 for v in ids.values()), ids
    nl, def_, x = ids["\n"][0], ids["def"][0], ids["x"][0]
    table = np.zeros([len(tokenizer)] * 2, np.float32)
    table[:, nl] = 3.0  # after anything: a new line
    table[nl, nl] = 0.0
    table[nl, def_] = 3.0  # after a new line: `def`, else `x`
    table[nl, x] = 2.0
    model = BigramLM(table, eos=tokenizer.eos_token_id)
    prompt = np.array([tokenizer.encode("y = 1\n", add_special_tokens=False)])

    def run(**kwargs):
        out = model.generate(prompt, max_new_tokens=8, do_sample=False, **kwargs)
        return tokenizer.decode(np.asarray(out)[0, prompt.shape[1]:])

    assert run() == "def\ndef\ndef\ndef\n"
    words = refused_construct_words(tokenizer)
    assert [def_] not in words  # `def` alone (e.g. inside a word) stays allowed...
    assert [nl, def_] in words  # ...at the start of a line it is banned
    assert run(bad_words_ids=words) == "x\nx\nx\nx\n"
    assert refused_construct_words(tokenizer) is words  # computed once per tokenizer


def test_the_ban_covers_the_refused_statements(tokenizer):
    words = {tuple(w) for w in refused_construct_words(tokenizer)}
    for program in ("\nimport re", "\nfrom re import sub", "\nclass A:", "\n    return x"):
        toks = tokenizer.encode(program, add_special_tokens=False)
        assert any(tuple(toks[i:i + len(w)]) == w for w in words for i in range(len(toks))), \
            program
    lam = tokenizer.encode(" lambda", add_special_tokens=False)
    assert tuple(lam) in words
    assert not any(tuple(tokenizer.encode(s, add_special_tokens=False)) in words
                   for s in ("x = 1", "\nx", " re"))


def test_near_miss_tool_and_argument_names_are_corrected():
    code = "n = word_counter(txt=text)\ns = shorten(text, widht=5)\nprint(n, len(s))"
    fixed, changes = correct_tool_calls(code, TOOLS)
    assert fixed == "n = word_count(text=text)\ns = shorten(text, width=5)\nprint(n, len(s))"
    assert "word_counter -> word_count" in changes and len(changes) == 3
    # the only input a call leaves unset takes an unknown keyword
    assert correct_tool_calls("word_count(sentence=t)", TOOLS)[0] == "word_count(text=t)"
    # known names, variables the program sets, methods and far-off names stay as they are
    same = "f = 2\nx = f(1)\ny = 'a b'.split()\nz = summarize(t)\nlen(x)"
    assert correct_tool_calls(same, TOOLS) == (same, [])
    assert correct_tool_calls("def (", TOOLS) == ("def (", [])


class FakeLM:
    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def generate(self, input_ids, attention_mask=None, stop_strings=None, tokenizer=None,
                 **kwargs):
        self.calls.append(kwargs)
        new = np.array([tokenizer.encode(self.reply, add_special_tokens=False)])
        return np.concatenate([np.asarray(input_ids), new], axis=1)


def test_local_agent_constrained_is_off_by_default_and_wired(tokenizer):
    reply = "I count.\n```py\nn = word_counter(txt=text)\nn\n```"
    plain = LocalAgent(FakeLM(reply), tokenizer, additional_tools=list(TOOLS.values()),
                       default_tools=False, log=None, correction_retries=0)
    assert plain.constrained is False
    result = plain.run("Count the words of `text`.", text="a b c")
    assert "bad_words_ids" not in plain.model.calls[0]
    assert getattr(result, "kind", None) == "unknown_name"

    agent = LocalAgent(FakeLM(reply), tokenizer, additional_tools=list(TOOLS.values()),
                       default_tools=False, log=None, correction_retries=0, constrained=True,
                       generation_kwargs={"bad_words_ids": [[5]]})
    assert agent.run("Count the words of `text`.", text="a b c") == 3
    sent = agent.model.calls[0]["bad_words_ids"]
    assert sent[0] == [5] and sent[1:] == refused_construct_words(tokenizer)
    assert agent.last_code == "n = word_count(text=text)\nn"


def test_cli_constrained_flag(monkeypatch, capsys):
    seen = []

    def fake_from_pretrained(model, gguf_file=None, **kwargs):
        seen.append(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(LocalAgent, "from_pretrained", staticmethod(fake_from_pretrained))
    for argv, expected in ((["agent", "t", "--model", "/m"], False),
                           (["agent", "t", "--model", "/m", "--constrained"], True)):
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert seen[-1]["constrained"] is expected
    with pytest.raises(SystemExit):
        cli.main(["agent", "--help"])
    assert "--constrained" in capsys.readouterr().out
