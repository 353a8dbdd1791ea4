"""`tfhf generate --show-scores`: each new token with the probability the model gave it,
checked against PyTorch transformers' processed scores on the same tiny random Llama
(test_cli_generate's checkpoint); ANSI colours only on a terminal."""

from __future__ import annotations

import io
import re
import types

import numpy as np
import pytest

from tfhf import cli, token_scores

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from chat_fixtures import NEW, tiny  # noqa: E402,F401  (the tiny Llama fixture)

PIECE = re.compile(r"(.*?) \(p=([0-9.]+)\)", re.S)


def torch_tokens_and_probs(tiny, prompt, max_new_tokens=NEW, **kw):
    _, pt, tok = tiny
    ids = tok(prompt)["input_ids"]
    with torch.no_grad():
        out = pt.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                                                         dtype=torch.long),
                          max_new_tokens=max_new_tokens, eos_token_id=[2], pad_token_id=0,
                          output_scores=True, return_dict_in_generate=True, **kw)
    new = out.sequences[0, len(ids):].tolist()
    probs = [float(torch.softmax(s[0].double(), -1)[t]) for s, t in zip(out.scores, new)]
    return new, probs


def test_plain_output_has_each_token_and_its_probability(tiny, capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    prompt = "tell me about the river"
    rc = cli.main(["generate", "--model", tiny[0], "--prompt", prompt, "--max-new-tokens",
                   str(NEW), "--show-scores", "--repetition-penalty", "1.3"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "\x1b[" not in out  # captured output is not a terminal: no colour codes
    pieces = PIECE.findall(out.rstrip("\n"))
    assert pieces and PIECE.sub("", out.rstrip("\n")) == ""  # nothing but the pieces
    ids, probs = torch_tokens_and_probs(tiny, prompt, repetition_penalty=1.3)
    _, _, tok = tiny
    shown = [i for i in ids if i not in tok.all_special_ids]
    assert [t.strip() for t, _ in pieces] == [tok.decode([i]) for i in shown]
    expected = [p for i, p in zip(ids, probs) if i not in tok.all_special_ids]
    np.testing.assert_allclose([float(p) for _, p in pieces], expected, atol=0.006)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_a_colour_per_probability(monkeypatch):
    pieces = [("sure", 0.93), (" thing", 0.6), (" maybe", 0.3), ("\n?", 0.05)]
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert token_scores.use_color(Terminal())
    text = token_scores.render(pieces, color=True)
    for code, word in zip((34, 178, 208, 196), ("sure", " thing", " maybe", "\n?")):
        assert f"\x1b[38;5;{code}m{word}\x1b[0m" in text
    assert "token probability" in text  # the legend
    monkeypatch.setenv("NO_COLOR", "1")
    assert not token_scores.use_color(Terminal())
    assert not token_scores.use_color(io.StringIO())
    assert token_scores.render(pieces, color=False) == \
        "sure (p=0.93) thing (p=0.60) maybe (p=0.30)\\n? (p=0.05)"


def test_probabilities_stop_at_the_end_token():
    scores = [np.log(np.array([[0.1, 0.2, 0.7]])), np.array([[0.0, 5.0, -np.inf]]),
              np.zeros((1, 3))]
    out = types.SimpleNamespace(sequences=np.array([[9, 9, 2, 1, 0]]), scores=scores)
    pairs = token_scores.token_probabilities(out, 2, stop_ids=[1])
    assert [t for t, _ in pairs] == [2, 1]  # the padding after the end token is not shown
    np.testing.assert_allclose([p for _, p in pairs],
                               [0.7, np.exp(5) / (1 + np.exp(5))])
