"""text-classification: tfhf.pipeline against transformers.pipeline (PyTorch) on the same folder.

Labels identical, scores within 1e-4, and the same result shapes for every way of calling
(single string, lists, top_k given to the call or to the pipeline, text pairs, batching with
padding, truncation, function_to_apply and its defaults for num_labels == 1 / multi-label).
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
from _pipeline_helpers import assert_same, pt_pipeline

import tfhf

TEXTS = ["I love Paris and John lives in Berlin.", "short",
         "Hugging Face is a company based in New York City, its headquarters are in DUMBO.",
         "Émigré café naïve façade 東京 🤗"]
LONG = "a very long review that keeps going " * 120  # > 512 tokens: needs truncation


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def pipes(request, checkpoint):
    folder = checkpoint(request.param, "text-classification")
    return (tfhf.pipeline("text-classification", model=folder),
            pt_pipeline("text-classification", folder))


@pytest.mark.parametrize("call", [
    dict(inputs=TEXTS[0]),
    dict(inputs=TEXTS),
    dict(inputs=TEXTS, batch_size=3),  # padded batches, a partial last batch
    dict(inputs=[TEXTS[1]]),
    dict(inputs=TEXTS[0], top_k=None),
    dict(inputs=TEXTS, top_k=None, batch_size=2),
    dict(inputs=TEXTS[2], top_k=2),
    dict(inputs=TEXTS, top_k=1),
    dict(inputs=TEXTS[0], function_to_apply="sigmoid"),
    dict(inputs=TEXTS[:2], function_to_apply="none", top_k=None),
    dict(inputs={"text": "Where is it?", "text_pair": "It is in Paris."}),
    dict(inputs=[{"text": "Where is it?", "text_pair": "Paris."}, {"text": "Hi"}], batch_size=2),
    dict(inputs=[LONG, TEXTS[1]], truncation=True, batch_size=2),
], ids=lambda c: ",".join(f"{k}={str(v)[:12]}" for k, v in c.items()))
def test_parity(pipes, call):
    tf_pipe, pt_pipe = pipes
    call = dict(call)
    inputs = call.pop("inputs")
    assert_same(tf_pipe(inputs, **call), pt_pipe(inputs, **call))


def test_top_k_given_to_the_pipeline(checkpoint):
    """Options given to pipeline() apply to every call (with transformers' quirk: top_k given at
    construction and a single string gives a nested list)."""
    folder = checkpoint("bert", "text-classification")
    tf_pipe = tfhf.pipeline("sentiment-analysis", model=folder, top_k=2)
    pt_pipe = pt_pipeline("sentiment-analysis", folder, top_k=2)
    for inputs in (TEXTS[0], TEXTS):
        got = tf_pipe(inputs)
        assert_same(got, pt_pipe(inputs))
    assert isinstance(got[0], list) and len(got[0]) == 2
    assert got[0][0]["score"] >= got[0][1]["score"]


@pytest.mark.parametrize("config,function", [
    (dict(num_labels=1, id2label={0: "score"}, label2id={"score": 0}), "sigmoid"),
    (dict(problem_type="multi_label_classification"), "sigmoid"),
    (dict(problem_type="regression", num_labels=1, id2label={0: "value"},
          label2id={"value": 0}), "none"),
])
def test_default_function_to_apply(checkpoint, config, function):
    import numpy as np

    folder = checkpoint("bert", "text-classification", **config)
    tf_pipe = tfhf.pipeline("text-classification", model=folder)
    got = tf_pipe(TEXTS, top_k=None)
    assert_same(got, pt_pipeline("text-classification", folder)(TEXTS, top_k=None))
    # the scores are the logits passed through the expected function
    logits = tf_pipe.model(tf_pipe.tokenizer(TEXTS[0], return_tensors="tf")).logits.numpy()[0]
    expected = {"sigmoid": 1 / (1 + np.exp(-logits)), "none": logits}[function]
    by_label = {d["label"]: d["score"] for d in got[0]}
    for i, label in tf_pipe.model.config.id2label.items():
        assert by_label[label] == pytest.approx(float(expected[i]), abs=1e-5)


def test_softmax_scores_sum_to_one(pipes):
    result = pipes[0](TEXTS, top_k=None)
    assert [len(r) for r in result] == [3] * len(TEXTS)
    for r in result:
        assert sum(d["score"] for d in r) == pytest.approx(1.0, abs=1e-5)
        assert [d["score"] for d in r] == sorted((d["score"] for d in r), reverse=True)


def test_bad_inputs(pipes):
    from tfhf.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="text_pair"):
        pipes[0]([["a", "b"], ["c", "d"]])
    with pytest.raises(InvalidInputError, match="function_to_apply"):
        pipes[0]("x", function_to_apply="relu")
    with pytest.raises(InvalidInputError, match="batch_size"):
        pipes[0]("x", batch_size=0)
