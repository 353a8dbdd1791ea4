"""tfhf.AutoTokenizer: transformers' fast tokenizer with return_tensors="tf" put back."""

import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

import tfhf
from tfhf import assets
from tfhf.errors import ModelNotFoundError

TEXTS = ["Hello world!", "A much longer sentence, with punctuation; and more words in it.",
         "short", "Émigré café — naïve façade 東京"]


@pytest.fixture(scope="module")
def folder():
    if not assets.is_installed("minilm"):
        pytest.skip("offline asset 'minilm' is not installed: run `tfhf assets install minilm`")
    return assets.path("minilm")


@pytest.fixture(scope="module")
def tok(folder):
    return tfhf.AutoTokenizer.from_pretrained(folder)


def test_wraps_the_transformers_fast_tokenizer(tok, folder):
    import transformers

    assert isinstance(tok, tfhf.TFTokenizer)
    assert isinstance(tok.tokenizer, transformers.PreTrainedTokenizerBase)
    assert tok.is_fast
    ref = transformers.AutoTokenizer.from_pretrained(folder)
    assert type(tok.tokenizer) is type(ref)
    assert tok("hello there")["input_ids"] == ref("hello there")["input_ids"]


def test_return_tensors_tf_equals_numpy(tok):
    tf_batch = tok(TEXTS, padding=True, truncation=True, return_tensors="tf")
    np_batch = tok(TEXTS, padding=True, truncation=True, return_tensors="np")
    assert set(tf_batch.keys()) == set(np_batch.keys()) >= {"input_ids", "attention_mask"}
    for key, value in np_batch.items():
        assert isinstance(tf_batch[key], tf.Tensor), key
        assert tf_batch[key].shape == value.shape
        np.testing.assert_array_equal(tf_batch[key].numpy(), value)
    # padding really happened: the rows have different lengths
    lengths = np_batch["attention_mask"].sum(1)
    assert len(set(lengths.tolist())) > 1 and lengths.max() == np_batch["input_ids"].shape[1]
    # attribute access on the BatchEncoding still works
    assert isinstance(tf_batch.input_ids, tf.Tensor)


def test_truncation_and_max_length(tok):
    batch = tok(["word " * 300], truncation=True, max_length=16, return_tensors="tf")
    assert batch["input_ids"].shape == (1, 16)


def test_pad_and_encode_return_tf(tok):
    features = [tok(t) for t in TEXTS[:3]]
    padded = tok.pad(features, return_tensors="tf")
    ref = tok.pad(features, return_tensors="np")
    assert isinstance(padded["input_ids"], tf.Tensor)
    np.testing.assert_array_equal(padded["input_ids"].numpy(), ref["input_ids"])
    np.testing.assert_array_equal(padded["attention_mask"].numpy(), ref["attention_mask"])
    ids = tok.encode("hello world", return_tensors="tf")
    assert isinstance(ids, tf.Tensor) and ids.shape[0] == 1
    np.testing.assert_array_equal(ids.numpy(), tok.encode("hello world", return_tensors="np"))


def test_other_return_types_are_untouched(tok):
    assert isinstance(tok(TEXTS[0])["input_ids"], list)
    assert isinstance(tok(TEXTS, padding=True, return_tensors="np")["input_ids"], np.ndarray)


def test_attributes_delegate(tok):
    assert tok.vocab_size == 30522 == len(tok)
    assert tok.pad_token_id == 0 and tok.cls_token == "[CLS]"
    ids = tok("hello world")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "hello world"
    assert tok.convert_ids_to_tokens(ids)[0] == "[CLS]"
    tok.model_max_length = 256  # setting an attribute sets it on the wrapped tokenizer
    try:
        assert tok.tokenizer.model_max_length == 256
    finally:
        tok.model_max_length = 512
    assert "TFTokenizer(" in repr(tok)
    assert "decode" in dir(tok)


def test_save_pretrained_round_trip(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    again = tfhf.AutoTokenizer.from_pretrained(tmp_path)
    a = tok(TEXTS, padding=True, return_tensors="tf")
    b = again(TEXTS, padding=True, return_tensors="tf")
    np.testing.assert_array_equal(a["input_ids"].numpy(), b["input_ids"].numpy())


def test_pickles_and_hashes_for_datasets_map(tok, folder):
    from datasets.fingerprint import Hasher

    clone = pickle.loads(pickle.dumps(tok))
    assert isinstance(clone, tfhf.TFTokenizer)
    np.testing.assert_array_equal(clone(TEXTS, padding=True, return_tensors="tf")["input_ids"],
                                  tok(TEXTS, padding=True, return_tensors="tf")["input_ids"])
    h = Hasher.hash(tok)
    assert isinstance(h, str) and h
    # deterministic: a second load hashes the same, so datasets.map can reuse its cache
    assert Hasher.hash(tfhf.AutoTokenizer.from_pretrained(folder)) == h


def test_datasets_map_with_the_tokenizer(tok):
    import datasets

    ds = datasets.Dataset.from_dict({"text": TEXTS})
    out = ds.map(lambda b: tok(b["text"], truncation=True), batched=True)
    assert out["input_ids"][0] == tok(TEXTS[0])["input_ids"]


def test_missing_folder_raises_model_not_found(tmp_path):
    missing = os.path.join(str(tmp_path), "no", "such", "folder")
    with pytest.raises(ModelNotFoundError, match="no/such/folder"):
        tfhf.AutoTokenizer.from_pretrained(missing)
    with pytest.raises(OSError):  # still an OSError, like transformers raised
        tfhf.AutoTokenizer.from_pretrained(missing)


def test_folder_without_tokenizer_files_raises_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError):
        tfhf.AutoTokenizer.from_pretrained(str(tmp_path))
