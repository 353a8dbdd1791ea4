"""``model.prepare_tf_dataset``: datasets.Dataset -> (features, labels) batches for fit."""

import numpy as np
import pytest
import tensorflow as tf
from _train_helpers import toy_rows


@pytest.fixture(scope="module")
def clf(tiny_bert):
    from tfhf import TFAutoModelForSequenceClassification

    return TFAutoModelForSequenceClassification.from_pretrained(tiny_bert)


@pytest.fixture(scope="module")
def qa(tiny_bert):
    from tfhf import TFAutoModelForQuestionAnswering

    return TFAutoModelForQuestionAnswering.from_pretrained(tiny_bert)


@pytest.fixture(scope="module")
def tokenized(tokenizer):
    """40 rows of varying length, with columns a model does not take."""
    from datasets import Dataset

    rows = toy_rows(40, seed=2)
    for i, r in enumerate(rows):
        r["text"] = " ".join([r["text"]] * (1 + i % 5))  # lengths ~5 .. ~60 tokens
        r["idx"], r["source"] = i, "toy"
    return Dataset.from_list(rows).map(lambda b: tokenizer(b["text"], truncation=True),
                                       batched=True)


def _batches(ds):
    return [(x, y) for x, y in ds]


def _order(ds):
    """The example order of one pass, identified by the input ids of each row."""
    return [tuple(r[r != 0].tolist()) for x, _ in ds for r in x["input_ids"].numpy()]


def test_filters_columns_to_the_model_inputs(clf, tokenizer, tokenized):
    assert {"text", "idx", "source", "label"} <= set(tokenized.column_names)
    ds = clf.prepare_tf_dataset(tokenized, batch_size=8, shuffle=False, tokenizer=tokenizer)
    x_spec, y_spec = ds.element_spec
    assert set(x_spec) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(s.dtype.is_integer for s in x_spec.values())
    assert y_spec.dtype in (tf.int32, tf.int64) and y_spec.shape.rank == 1
    x, y = next(iter(ds))
    assert y.numpy().tolist() == tokenized["label"][:8]
    # the batch feeds the model directly
    assert clf(x).logits.shape == (8, 2)


def test_model_inputs_are_the_call_signature(clf):
    names = clf.input_signature_names()
    assert {"input_ids", "attention_mask", "token_type_ids", "position_ids"} <= names
    assert "labels" in names and "training" not in names and "return_dict" not in names


@pytest.mark.parametrize("name", ["label", "labels", "label_ids"])
def test_label_column_aliases_become_the_labels(clf, tokenizer, tokenized, name):
    ds = tokenized.remove_columns(["text", "idx", "source"])
    if name != "label":
        ds = ds.rename_column("label", name)
    tf_ds = clf.prepare_tf_dataset(ds, batch_size=8, shuffle=False, tokenizer=tokenizer)
    x, y = next(iter(tf_ds))
    assert name not in x and "labels" not in x
    assert y.numpy().tolist() == tokenized["label"][:8]


def test_without_a_label_column_batches_are_features_only(clf, tokenizer, tokenized):
    tf_ds = clf.prepare_tf_dataset(tokenized.remove_columns("label"), batch_size=8,
                                   shuffle=False, tokenizer=tokenizer)
    assert isinstance(tf_ds.element_spec, dict)
    assert clf.predict(tf_ds, verbose=0)["logits"].shape == (40, 2)


def test_default_collator_without_tokenizer_needs_equal_lengths(clf, tokenizer):
    from datasets import Dataset

    ds = Dataset.from_list([{"input_ids": [101, 2000 + i, 102], "attention_mask": [1, 1, 1],
                             "label": i % 2} for i in range(10)])
    x, y = next(iter(clf.prepare_tf_dataset(ds, batch_size=4, shuffle=False)))
    assert x["input_ids"].shape == (4, 3) and y.numpy().tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("multiple", [8, 32])
def test_pad_to_multiple_of_bounds_the_distinct_shapes(clf, tokenizer, tokenized, multiple):
    lengths = [len(r) for r in tokenized["input_ids"]]
    seen = set()
    for _ in range(3):  # three epochs, reshuffled
        for x, _ in clf.prepare_tf_dataset(tokenized, batch_size=4, shuffle=True, seed=0,
                                           tokenizer=tokenizer, pad_to_multiple_of=multiple):
            seen.add(x["input_ids"].shape[1])
    assert all(s % multiple == 0 for s in seen), seen
    assert len(seen) <= -(-max(lengths) // multiple)
    assert max(seen) == -(-max(lengths) // multiple) * multiple  # the longest row's batch
    # without it, lengths are per-batch maxima: many more shapes
    plain = {x["input_ids"].shape[1] for x, _ in clf.prepare_tf_dataset(
        tokenized, batch_size=4, shuffle=True, seed=0, tokenizer=tokenizer)}
    assert len(plain) > len(seen)


def test_seeded_shuffle_is_reproducible(clf, tokenizer, tokenized):
    def make(seed):
        return clf.prepare_tf_dataset(tokenized, batch_size=8, shuffle=True, seed=seed,
                                      tokenizer=tokenizer)

    a, b, c = make(7), make(7), make(8)
    epoch1_a, epoch1_b = _order(a), _order(b)
    assert epoch1_a == epoch1_b
    assert epoch1_a != _order(c)
    # each epoch is reshuffled, and the sequence of epochs is reproducible too
    epoch2_a, epoch2_b = _order(a), _order(b)
    assert epoch2_a == epoch2_b and epoch2_a != epoch1_a
    # not shuffled: dataset order
    unshuffled = _order(clf.prepare_tf_dataset(tokenized, batch_size=8, shuffle=False,
                                               tokenizer=tokenizer))
    assert unshuffled == [tuple(r) for r in tokenized["input_ids"]]
    assert sorted(epoch1_a) == sorted(unshuffled)  # a permutation of all rows


@pytest.mark.parametrize("shuffle,drop,expected", [
    (True, None, [8, 8, 8]),        # default drop_remainder = shuffle
    (False, None, [8, 8, 8, 1]),
    (False, True, [8, 8, 8]),
    (True, False, [8, 8, 8, 1]),
])
def test_drop_remainder(clf, tokenizer, tokenized, shuffle, drop, expected):
    ds = clf.prepare_tf_dataset(tokenized.select(range(25)), batch_size=8, shuffle=shuffle,
                                seed=0, tokenizer=tokenizer, drop_remainder=drop)
    sizes = [int(y.shape[0]) for _, y in ds]
    assert sizes == expected
    assert len(ds) == len(expected)
    # full batches only -> the batch dimension is static (TPUs, XLA)
    batch_dim = ds.element_spec[0]["input_ids"].shape[0]
    assert batch_dim == (8 if (drop if drop is not None else shuffle) else None)


def test_question_answering_labels_are_start_and_end_positions(qa, tokenizer):
    from datasets import Dataset

    rows = []
    for i in range(12):
        enc = tokenizer("who?", f"row {i} says hello", truncation=True)
        rows.append({**enc, "start_positions": 3 + i % 3, "end_positions": 4 + i % 3,
                     "id": str(i)})
    ds = qa.prepare_tf_dataset(Dataset.from_list(rows), batch_size=4, shuffle=False,
                               tokenizer=tokenizer)
    x, y = next(iter(ds))
    assert set(x) == {"input_ids", "token_type_ids", "attention_mask"}
    assert set(y) == {"start_positions", "end_positions"}
    assert y["start_positions"].numpy().tolist() == [3, 4, 5, 3]
    assert y["end_positions"].numpy().tolist() == [4, 5, 6, 4]
    # the internal loss consumes this structure
    loss = qa.internal_loss(y, qa(x))
    assert loss.shape == () and np.isfinite(float(loss))


def test_empty_dataset_and_bad_batch_size_are_clear_errors(clf, tokenizer, tokenized):
    from tfhf.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="empty"):
        clf.prepare_tf_dataset(tokenized.select([]), tokenizer=tokenizer)
    with pytest.raises(InvalidInputError, match="batch_size"):
        clf.prepare_tf_dataset(tokenized, batch_size=0, tokenizer=tokenizer)
    with pytest.raises(InvalidInputError, match="Tokenize"):
        from datasets import Dataset

        clf.prepare_tf_dataset(Dataset.from_list([{"text": "raw", "label": 0}]),
                               tokenizer=tokenizer)
