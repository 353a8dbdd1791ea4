"""token-classification / ner: tfhf.pipeline against transformers.pipeline (PyTorch).

Entities, words, indices and character spans identical, scores within 1e-4, for every
aggregation strategy, batched (padded) and not, long texts in strided windows, pre-split words
and ignore_labels.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
from _pipeline_helpers import NER_LABELS, assert_same, pt_pipeline

import tfhf
from tfhf.errors import InvalidInputError

TEXTS = [
    "My name is Wolfgang and I live in Berlin.",
    "Hugging Face Inc. is a company based in New York City; its headquarters are in DUMBO.",
    "Émigré naïve façade in 東京 🤗 zzzqqxx",  # accents, CJK, an [UNK] emoji, sub-words
    "ok",
]
LONG = " ".join(["Sarah Connor met Kyle Reese in Los Angeles near the Cyberdyne building."] * 50)


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def pipes(request, checkpoint):
    folder = checkpoint(request.param, "token-classification")
    return (tfhf.pipeline("ner", model=folder), pt_pipeline("ner", folder))


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_parity(pipes, strategy, batch_size):
    tf_pipe, pt_pipe = pipes
    kw = dict(aggregation_strategy=strategy, batch_size=batch_size)
    got = tf_pipe(TEXTS, **kw)
    assert_same(got, pt_pipe(TEXTS, **kw))
    assert_same(tf_pipe(TEXTS[1], **kw), pt_pipe(TEXTS[1], **kw))  # one string: one list
    if strategy == "none":
        assert any(e["word"].startswith("##") for r in got for e in r)  # sub-words are there


def _plain(text):
    """What the uncased WordPiece tokenizer makes of a piece of text: lower case, no accents."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", text.lower())
                   if unicodedata.category(c) != "Mn")


def test_entities_point_into_the_text(pipes):
    tf_pipe = pipes[0]
    for text, entities in zip(TEXTS, tf_pipe(TEXTS, ignore_labels=[])):
        # nothing ignored: every non-special token is reported, in order
        assert [e["index"] for e in entities] == list(range(1, len(entities) + 1))
        for e in entities:
            assert e["entity"] in NER_LABELS
            piece = text[e["start"]:e["end"]]
            if e["word"] == "[UNK]":
                raise AssertionError(f"an unknown token is reported by its text, got {e}")
            assert _plain(piece) == e["word"].removeprefix("##") or piece == e["word"], e
    assert any(e["word"] == "🤗" for e in tf_pipe(TEXTS[2], ignore_labels=[]))  # [UNK] -> text
    grouped = tf_pipe(TEXTS[1], aggregation_strategy="simple", ignore_labels=[])
    assert [g["start"] for g in grouped] == sorted(g["start"] for g in grouped)
    for g in grouped:
        assert set(g) == {"entity_group", "score", "word", "start", "end"}
        assert g["entity_group"] in {"O", "PER", "LOC", "ORG"}
        # a group starting inside a word keeps its "##" (as in transformers)
        assert _plain(TEXTS[1][g["start"]:g["end"]]).replace(" ", "") == \
            g["word"].replace(" ", "").removeprefix("##")


def test_ignore_labels(pipes):
    tf_pipe, pt_pipe = pipes
    for ignore in ([], ["O", "B-PER", "I-LOC"]):
        assert_same(tf_pipe(TEXTS[:2], ignore_labels=ignore),
                    pt_pipe(TEXTS[:2], ignore_labels=ignore))


def test_long_text_in_strided_windows(pipes):
    tf_pipe, pt_pipe = pipes
    for strategy in ("simple", "first"):
        kw = dict(aggregation_strategy=strategy, stride=32)
        got = tf_pipe(LONG, **kw)
        assert_same(got, pt_pipe(LONG, **kw))
        assert max(e["end"] for e in got) > len(LONG) * 0.9  # the end of the text is reached
    assert_same(tf_pipe([LONG, TEXTS[0]], aggregation_strategy="max", stride=16, batch_size=4),
                pt_pipe([LONG, TEXTS[0]], aggregation_strategy="max", stride=16, batch_size=4))


def test_split_into_words(pipes):
    tf_pipe, pt_pipe = pipes
    words = ["Hugging", "Face", "lives", "in", "Brooklyn", "🤗"]
    for inputs in (words, [words, ["New", "York"]]):
        for strategy in ("none", "simple"):
            kw = dict(is_split_into_words=True, aggregation_strategy=strategy)
            assert_same(tf_pipe(inputs, **kw), pt_pipe(inputs, **kw))


def test_errors(pipes):
    tf_pipe = pipes[0]
    with pytest.raises(InvalidInputError, match="aggregation_strategy"):
        tf_pipe("x", aggregation_strategy="longest")
    with pytest.raises(InvalidInputError, match="stride"):
        tf_pipe("x", aggregation_strategy="none", stride=8)
    with pytest.raises(InvalidInputError, match="At least one input"):
        tf_pipe([])
