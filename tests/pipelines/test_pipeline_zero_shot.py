"""zero-shot-classification: tfhf.pipeline against transformers.pipeline (PyTorch) on the same
tiny NLI checkpoints: BART (entailment at index 2, like facebook/bart-large-mnli; its classifier
reads the last </s>) and BERT (entailment at index 0). Labels in the same order, scores within
1e-4, for every way of calling; bad input gives clear errors."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("torch")
from _pipeline_helpers import assert_same, pt_pipeline
from _seq2seq_helpers import make_nli

import tfhf
from tfhf.errors import InvalidInputError

TEXTS = ["the team won the match", "this film was great", "a vote about politics"]
LABELS = ["sport", "politics", "film"]


@pytest.fixture(scope="module", params=["bart", "bert"])
def pipes(request, tmp_path_factory):
    folder = make_nli(tmp_path_factory.mktemp(f"nli-{request.param}"), request.param)
    return (tfhf.pipeline("zero-shot-classification", model=folder),
            pt_pipeline("zero-shot-classification", folder))


@pytest.mark.parametrize("call", [
    dict(inputs=TEXTS[0], candidate_labels=LABELS),
    dict(inputs=TEXTS, candidate_labels=LABELS),
    dict(inputs=TEXTS, candidate_labels=LABELS, batch_size=2),  # padded pairs across texts
    dict(inputs=TEXTS[1], candidate_labels="sport, politics ,film"),
    dict(inputs=TEXTS[2], candidate_labels=["politics"]),  # one label: entail vs contradiction
    dict(inputs=TEXTS[:2], candidate_labels=LABELS, multi_label=True),
    dict(inputs=TEXTS[0], candidate_labels=LABELS, hypothesis_template="It is about {}!"),
], ids=lambda c: ",".join(f"{k}={str(v)[:10]}" for k, v in c.items()))
def test_parity(pipes, call):
    tf_pipe, pt_pipe = pipes
    call = dict(call)
    inputs = call.pop("inputs")
    assert_same(tf_pipe(inputs, **call), pt_pipe(inputs, **call))


def test_labels_as_second_argument_and_pipeline_options(pipes, tmp_path_factory):
    tf_pipe, pt_pipe = pipes
    assert_same(tf_pipe(TEXTS[0], LABELS), pt_pipe(TEXTS[0], LABELS))
    folder = tf_pipe.model.name_or_path
    preset = tfhf.pipeline("zero-shot-classification", model=folder, candidate_labels=LABELS,
                           multi_label=True)
    assert_same(preset(TEXTS[1]), pt_pipe(TEXTS[1], candidate_labels=LABELS, multi_label=True))


def test_the_entailment_column_comes_from_label2id(tmp_path):
    """Relabel the BERT checkpoint so that 'entailment' is at index 2: scores follow."""
    import json

    folder = make_nli(tmp_path, "bert")
    config = json.loads((tmp_path / "config.json").read_text())
    config["id2label"] = {"0": "neutral", "1": "contradiction", "2": "ENTAILMENT"}
    config["label2id"] = {"neutral": 0, "contradiction": 1, "ENTAILMENT": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    tf_pipe = tfhf.pipeline("zero-shot-classification", model=folder)
    assert tf_pipe.entailment_id == 2
    assert_same(tf_pipe(TEXTS[0], candidate_labels=LABELS),
                pt_pipeline("zero-shot-classification", folder)(TEXTS[0],
                                                                candidate_labels=LABELS))


def test_a_checkpoint_without_entailment_label_warns(tmp_path, caplog):
    import json

    folder = make_nli(tmp_path, "bert")
    config = json.loads((tmp_path / "config.json").read_text())
    config["id2label"] = {"0": "A", "1": "B", "2": "C"}
    config["label2id"] = {"A": 0, "B": 1, "C": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        tfhf.pipeline("zero-shot-classification", model=folder)
    assert any("entailment" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kwargs,match", [
    (dict(candidate_labels=[]), "at least one candidate label"),
    (dict(candidate_labels=""), "at least one candidate label"),
    (dict(), "at least one candidate label"),
    (dict(candidate_labels=["a", 3]), "list of strings"),
    (dict(candidate_labels=LABELS, hypothesis_template="No placeholder."), r"include \{\}"),
    (dict(candidate_labels=LABELS, hypothesis_template="About {label}."), "cannot be formatted"),
])
def test_bad_input(pipes, kwargs, match):
    tf_pipe, _ = pipes
    with pytest.raises(InvalidInputError, match=match):
        tf_pipe(TEXTS[0], **kwargs)


def test_bad_sequences(pipes):
    tf_pipe, _ = pipes
    with pytest.raises(InvalidInputError, match="non-empty text"):
        tf_pipe("", candidate_labels=LABELS)
    with pytest.raises(InvalidInputError, match="takes a string"):
        tf_pipe([3], candidate_labels=LABELS)
    with pytest.raises(InvalidInputError, match="extra arguments"):
        tf_pipe(TEXTS[0], LABELS, "extra")
