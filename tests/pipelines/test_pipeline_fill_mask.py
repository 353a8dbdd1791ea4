"""fill-mask: tfhf.pipeline against transformers.pipeline (PyTorch) on the same folder.

Tokens, token strings and sequences identical, scores within 1e-4: one and several masks,
top_k, targets (in the vocabulary or not), lists, padded batches.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("torch")
from _pipeline_helpers import assert_same, pt_pipeline

import tfhf
from tfhf.errors import InvalidInputError

TEXTS = ["Paris is the [MASK] of France.", "The [MASK] sat on the mat and purred loudly.",
         "[MASK]", "Hugging Face lives in [MASK] [MASK] city."]


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def pipes(request, checkpoint):
    folder = checkpoint(request.param, "fill-mask")
    return tfhf.pipeline("fill-mask", model=folder), pt_pipeline("fill-mask", folder)


@pytest.mark.parametrize("call", [
    dict(inputs=TEXTS[0]),
    dict(inputs=TEXTS),
    dict(inputs=TEXTS, batch_size=3, top_k=2),
    dict(inputs=[TEXTS[1]]),  # a list of one gives that input's result
    dict(inputs=TEXTS[3], top_k=3),  # two masks: a list per mask, special tokens kept
    dict(inputs=TEXTS[0], targets=["capital", "city", "heart"]),
    dict(inputs=TEXTS[:2], targets="capital", top_k=4),
    dict(inputs=TEXTS[0], top_k=1, tokenizer_kwargs={"truncation": True}),
], ids=lambda c: ",".join(f"{k}={str(v)[:12]}" for k, v in c.items()))
def test_parity(pipes, call):
    tf_pipe, pt_pipe = pipes
    call = dict(call)
    inputs = call.pop("inputs")
    got = tf_pipe(inputs, **call)
    assert_same(got, pt_pipe(inputs, **call))


def test_result_format(pipes):
    tf_pipe = pipes[0]
    got = tf_pipe(TEXTS[0])
    assert len(got) == 5
    assert [d["score"] for d in got] == sorted((d["score"] for d in got), reverse=True)
    for d in got:
        assert set(d) == {"score", "token", "token_str", "sequence"}
        assert tf_pipe.tokenizer.decode([d["token"]]) == d["token_str"]
        assert "[MASK]" not in d["sequence"] and "[CLS]" not in d["sequence"]
    two = tf_pipe(TEXTS[3], top_k=2)
    assert len(two) == 2 and all(len(r) == 2 for r in two)
    assert "[MASK]" in two[0][0]["sequence"]  # the other mask stays visible


def test_targets_outside_the_vocabulary(pipes, caplog):
    tf_pipe, pt_pipe = pipes
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        got = tf_pipe(TEXTS[0], targets=["capital", "zzyzzyx"])
    assert any("zzyzzyx" in r.getMessage() for r in caplog.records)
    assert_same(got, pt_pipe(TEXTS[0], targets=["capital", "zzyzzyx"]))
    assert {d["token_str"] for d in got} == {"capital", "z"}


def test_errors(pipes):
    tf_pipe = pipes[0]
    with pytest.raises(InvalidInputError, match=r"\[MASK\]"):
        tf_pipe("no mask here")
    with pytest.raises(InvalidInputError, match="top_k"):
        tf_pipe(TEXTS[0], top_k=0)
