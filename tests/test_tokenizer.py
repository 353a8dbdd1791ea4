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


# ---------------------------------------------------------------- ids of every kind (issue 12.2)
IDS_KINDS = {
    "list": lambda ids: ids,
    "numpy": lambda ids: np.asarray(ids, np.int64),
    "numpy int32": lambda ids: np.asarray(ids, np.int32),
    "tf.Tensor": lambda ids: tf.constant(ids, tf.int32),
    "tf.Tensor int64": lambda ids: tf.constant(ids, tf.int64),
    "tf.Variable": lambda ids: tf.Variable(ids),
}


@pytest.mark.parametrize("kind", sorted(IDS_KINDS))
def test_methods_taking_ids_accept_tensors_arrays_and_lists(tok, kind):
    batch = tok(TEXTS[:2], padding=True, return_tensors="np")["input_ids"].tolist()
    ref = tok.tokenizer.batch_decode(batch, skip_special_tokens=True)
    # the line every transformers 4.x TF generation tutorial ends with
    assert tok.batch_decode(IDS_KINDS[kind](batch), skip_special_tokens=True) == ref
    assert tok.decode(IDS_KINDS[kind](batch[0]), skip_special_tokens=True) == ref[0]
    assert tok.convert_ids_to_tokens(IDS_KINDS[kind](batch[0])) == \
        tok.tokenizer.convert_ids_to_tokens(batch[0])


def test_ragged_ids_and_scalars(tok):
    rows = [tok(t)["input_ids"] for t in TEXTS[:3]]  # different lengths
    ragged = tf.ragged.constant(rows)
    assert tok.batch_decode(ragged) == tok.tokenizer.batch_decode(rows)
    assert tok.batch_decode([tf.constant(r) for r in rows]) == tok.tokenizer.batch_decode(rows)
    assert tok.convert_ids_to_tokens(tf.constant(101)) == "[CLS]"
    assert tok.convert_ids_to_tokens(np.int64(102)) == "[SEP]"
    assert tok.decode(tf.constant(rows[0])[1:-1]) == tok.tokenizer.decode(rows[0][1:-1])


def test_generate_output_decodes(tok):
    """``tok.batch_decode(model.generate(...), skip_special_tokens=True)``: a tf.Tensor of int32."""
    out = tf.constant([[101, 7592, 2088, 102, 0, 0]], tf.int32)
    assert tok.batch_decode(out, skip_special_tokens=True) == ["hello world"]


# ---------------------------------------------------------------- a .gguf file path (issue 12.3)
def _write_tiny_gguf(path, rng):
    """A 1-layer Llama GGUF with a tiny byte-level BPE vocabulary (no PyTorch involved)."""
    gguf = pytest.importorskip("gguf")
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + \
        list(bytes_to_unicode().values()) + ["Ġt", "he", "Ġthe"]
    vocab, h, ff, nh, nkv, hd = len(tokens), 32, 48, 4, 2, 8
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(h)
    w.add_feed_forward_length(ff)
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(hd)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))
    w.add_token_merges(["Ġ t", "h e", "Ġt he"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    shapes = {"token_embd.weight": (vocab, h), "output_norm.weight": (h,),
              "blk.0.attn_norm.weight": (h,), "blk.0.ffn_norm.weight": (h,),
              "blk.0.attn_q.weight": (nh * hd, h), "blk.0.attn_k.weight": (nkv * hd, h),
              "blk.0.attn_v.weight": (nkv * hd, h), "blk.0.attn_output.weight": (h, nh * hd),
              "blk.0.ffn_gate.weight": (ff, h), "blk.0.ffn_up.weight": (ff, h),
              "blk.0.ffn_down.weight": (h, ff)}
    for name, shape in shapes.items():
        w.add_tensor(name, rng.randn(*shape).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return str(path)


def test_a_gguf_file_path_loads_like_folder_plus_gguf_file(tmp_path, rng):
    path = _write_tiny_gguf(tmp_path / "tiny.gguf", rng)
    by_file = tfhf.AutoTokenizer.from_pretrained(path)
    by_folder = tfhf.AutoTokenizer.from_pretrained(str(tmp_path), gguf_file="tiny.gguf")
    assert isinstance(by_file, tfhf.TFTokenizer)
    assert by_file("the the").input_ids == by_folder("the the").input_ids
    assert by_file.get_vocab() == by_folder.get_vocab()

    lm = tfhf.TFAutoModelForCausalLM.from_pretrained(path)
    ref = tfhf.TFAutoModelForCausalLM.from_pretrained(str(tmp_path), gguf_file="tiny.gguf")
    ids = tf.constant([by_file("the the").input_ids])
    np.testing.assert_array_equal(lm(ids).logits.numpy(), ref(ids).logits.numpy())


def test_a_file_that_is_not_gguf_is_named(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(ModelNotFoundError, match="not a GGUF file"):
        tfhf.AutoTokenizer.from_pretrained(str(f))
    with pytest.raises(ModelNotFoundError, match="not a GGUF file"):
        tfhf.TFAutoModelForCausalLM.from_pretrained(str(f))
