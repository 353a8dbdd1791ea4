"""Data collators returning tf (or numpy): padding, label handling, MLM masking."""

import numpy as np
import pytest
import tensorflow as tf

from tfhf import (DataCollatorForLanguageModeling, DataCollatorForTokenClassification,
                  DataCollatorWithPadding, DefaultDataCollator)
from tfhf.errors import InvalidInputError

TEXTS = ["hello world", "a much longer sentence than the first one, truly", "mid length text"]


@pytest.fixture(scope="module")
def features(tokenizer):
    return [dict(tokenizer(t), label=i % 2) for i, t in enumerate(TEXTS)]


def test_padding_pads_to_longest_and_returns_int32_tf(tokenizer, features):
    batch = DataCollatorWithPadding(tokenizer)(features)  # return_tensors="tf" by default
    longest = max(len(f["input_ids"]) for f in features)
    for k in ("input_ids", "attention_mask", "token_type_ids"):
        assert isinstance(batch[k], tf.Tensor) and batch[k].dtype == tf.int32
        assert batch[k].shape == (3, longest)
    ids, mask = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
    for row, f in enumerate(features):
        n = len(f["input_ids"])
        np.testing.assert_array_equal(ids[row, :n], f["input_ids"])
        assert (ids[row, n:] == tokenizer.pad_token_id).all()
        assert mask[row].tolist() == [1] * n + [0] * (longest - n)


def test_padding_renames_label_to_labels(tokenizer, features):
    batch = DataCollatorWithPadding(tokenizer, return_tensors="np")(features)
    assert "label" not in batch
    assert isinstance(batch["labels"], np.ndarray) and batch["labels"].tolist() == [0, 1, 0]
    ids_batch = DataCollatorWithPadding(tokenizer)(
        [{**{k: v for k, v in f.items() if k != "label"}, "label_ids": 7} for f in features])
    assert "label_ids" not in ids_batch and ids_batch["labels"].numpy().tolist() == [7, 7, 7]


@pytest.mark.parametrize("multiple", [8, 16])
def test_pad_to_multiple_of(tokenizer, features, multiple):
    batch = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=multiple)(features)
    longest = max(len(f["input_ids"]) for f in features)
    assert batch["input_ids"].shape[1] == -(-longest // multiple) * multiple


def test_max_length_padding(tokenizer, features):
    batch = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=24)(features)
    assert batch["input_ids"].shape == (3, 24)


def test_token_classification_pads_labels_with_minus_100(tokenizer):
    feats = [dict(tokenizer(t)) for t in TEXTS]
    for i, f in enumerate(feats):
        f["labels"] = [(i + j) % 3 for j in range(len(f["input_ids"]))]
    batch = DataCollatorForTokenClassification(tokenizer)(feats)
    labels = batch["labels"].numpy()
    assert batch["labels"].dtype == tf.int32 and labels.shape == batch["input_ids"].shape
    for row, f in enumerate(feats):
        n = len(f["labels"])
        assert labels[row, :n].tolist() == f["labels"]
        assert (labels[row, n:] == -100).all()
    custom = DataCollatorForTokenClassification(tokenizer, label_pad_token_id=-1,
                                                return_tensors="np")(feats)
    assert custom["labels"].min() == -1


def test_default_collator_stacks_and_renames(tokenizer):
    feats = [{"input_ids": [1, 2, 3], "label": 1}, {"input_ids": [4, 5, 6], "label": 0}]
    batch = DefaultDataCollator()(feats)
    assert batch["input_ids"].dtype == tf.int32 and batch["input_ids"].shape == (2, 3)
    assert batch["labels"].numpy().tolist() == [1, 0]
    assert isinstance(DefaultDataCollator(return_tensors="np")(feats)["labels"], np.ndarray)


@pytest.mark.parametrize("cls", [DataCollatorWithPadding, DataCollatorForTokenClassification,
                                 DataCollatorForLanguageModeling])
def test_return_tensors_is_validated(tokenizer, features, cls):
    with pytest.raises(InvalidInputError, match="return_tensors='pt'"):
        cls(tokenizer, return_tensors="pt")
    collator = cls(tokenizer)
    with pytest.raises(InvalidInputError, match="'tf' or 'np'"):
        collator([{k: v for k, v in f.items() if k != "label"} for f in features],
                 return_tensors="jax")
    with pytest.raises(InvalidInputError):
        DefaultDataCollator(return_tensors="pt")


def test_collators_accept_tf_tensor_features(tokenizer):
    feats = [{k: tf.constant(v) for k, v in tokenizer(t).items()} for t in TEXTS]
    batch = DataCollatorWithPadding(tokenizer)(feats)
    assert batch["input_ids"].shape[0] == 3


# ----------------------------------------------------------------------------- masked LM
@pytest.fixture(scope="module")
def mlm_features(tokenizer):
    words = ("the quick brown fox jumps over the lazy dog while seven wizards quietly "
             "box jumping frogs near a river bank").split()
    r = np.random.RandomState(0)
    return [tokenizer(" ".join(r.choice(words, size=r.randint(8, 40))))
            for _ in range(64)]


def _masked_stats(batch, tokenizer):
    ids, labels = batch["input_ids"].numpy(), batch["labels"].numpy()
    mask = batch["attention_mask"].numpy().astype(bool)
    special = np.isin(ids, tokenizer.all_special_ids) & (labels == -100)
    return ids, labels, mask, special


@pytest.mark.parametrize("rt", ["tf", "np"])
def test_mlm_masking_is_reproducible_with_a_seed(tokenizer, mlm_features, rt):
    a = DataCollatorForLanguageModeling(tokenizer, seed=123, return_tensors=rt)
    b = DataCollatorForLanguageModeling(tokenizer, seed=123, return_tensors=rt)
    c = DataCollatorForLanguageModeling(tokenizer, seed=124, return_tensors=rt)
    first_a, first_b, first_c = a(mlm_features), b(mlm_features), c(mlm_features)
    for k in ("input_ids", "labels"):
        np.testing.assert_array_equal(np.asarray(first_a[k]), np.asarray(first_b[k]))
    assert not np.array_equal(np.asarray(first_a["labels"]), np.asarray(first_c["labels"]))
    # the stream continues: the next call masks differently, identically for a and b
    second_a, second_b = a(mlm_features), b(mlm_features)
    np.testing.assert_array_equal(np.asarray(second_a["labels"]),
                                  np.asarray(second_b["labels"]))
    assert not np.array_equal(np.asarray(first_a["labels"]), np.asarray(second_a["labels"]))


def test_mlm_masks_about_15_percent_and_never_special_tokens(tokenizer, mlm_features):
    collator = DataCollatorForLanguageModeling(tokenizer, seed=0)
    batch = collator(mlm_features)
    assert batch["input_ids"].dtype == batch["labels"].dtype == batch["attention_mask"].dtype
    ids, labels, mask, _ = _masked_stats(batch, tokenizer)
    orig = DataCollatorWithPadding(tokenizer, return_tensors="np")(mlm_features)["input_ids"]
    special = np.isin(orig, tokenizer.all_special_ids)  # [CLS], [SEP], [PAD]
    chosen = labels != -100
    # labels hold the original token where masked, -100 elsewhere
    np.testing.assert_array_equal(labels[chosen], orig[chosen])
    assert not (chosen & special).any(), "a special or padding token was masked"
    np.testing.assert_array_equal(ids[special], orig[special])
    n_real = int((~special).sum())
    rate = chosen.sum() / n_real
    assert 0.11 < rate < 0.19, rate  # ~15% of ~1,500 tokens: ±4 points is > 4 sigma
    # of the chosen tokens ~80% become [MASK], ~10% a random token, ~10% stay
    as_mask = (ids[chosen] == tokenizer.mask_token_id).mean()
    kept = (ids[chosen] == orig[chosen]).mean()
    assert 0.65 < as_mask < 0.92 and kept < 0.25, (as_mask, kept)
    # unchosen tokens are untouched
    np.testing.assert_array_equal(ids[~chosen], orig[~chosen])


def test_mlm_respects_existing_special_tokens_mask(tokenizer):
    feats = [tokenizer("short text here", return_special_tokens_mask=True) for _ in range(32)]
    collator = DataCollatorForLanguageModeling(tokenizer, seed=1, mlm_probability=0.9)
    batch = collator(feats)
    assert "special_tokens_mask" not in batch
    labels = batch["labels"].numpy()
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()  # [CLS] / [SEP]
    assert (labels[:, 1:-1] != -100).mean() > 0.7


def test_causal_lm_collator_copies_inputs_to_labels(tokenizer):
    feats = [tokenizer(t) for t in TEXTS]
    batch = DataCollatorForLanguageModeling(tokenizer, mlm=False)(feats)
    ids, labels = batch["input_ids"].numpy(), batch["labels"].numpy()
    pad = batch["attention_mask"].numpy() == 0
    np.testing.assert_array_equal(labels[~pad], ids[~pad])
    assert (labels[pad] == -100).all()
