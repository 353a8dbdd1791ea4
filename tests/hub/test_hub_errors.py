"""User mistakes get tfhf.errors exceptions (type and message checked); loading reports
missing / unexpected / mismatched weights; save_pretrained never leaves partial files."""

import json
import logging
import os
import shutil

import numpy as np
import pytest
from _hub_helpers import MAX_POS, VOCAB, listing, make_pt, pt_logits, tf_logits

import tfhf
from tfhf.errors import (InvalidInputError, ModelNotFoundError, UnsupportedModelError,
                         WeightShapeError, WeightsNotFoundError)
from tfhf.hub import safetensors_io as sio



def supported():
    from tfhf.models.registry import supported_model_types

    names = supported_model_types()
    assert {"bert", "distilbert", "roberta"} <= set(names)
    return ", ".join(names)


@pytest.fixture
def seq_model(seq_dir):
    return tfhf.TFBertForSequenceClassification.from_pretrained(seq_dir)


def write_config(folder, **entries):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump(entries, fh)
    return str(folder)


# ---------------------------------------------------------------------------- paths and files
@pytest.mark.parametrize("kind", ["absolute", "relative", "nested"])
def test_missing_local_path_is_named(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    path = {"absolute": str(tmp_path / "no" / "model"), "relative": "./missing-model",
            "nested": "models/bert/missing"}[kind]
    for cls in (tfhf.TFBertModel, tfhf.TFAutoModel):
        with pytest.raises(ModelNotFoundError) as ei:
            cls.from_pretrained(path)
        assert f"'{path}'" in str(ei.value) and "No folder" in str(ei.value)


def test_bare_name_that_is_neither_folder_nor_cached_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFoundError) as ei:
        tfhf.TFBertModel.from_pretrained("my-local-model")
    msg = str(ei.value)
    assert "no local folder 'my-local-model'" in msg and "not in the cache" in msg


def test_file_instead_of_folder(seq_dir):
    path = os.path.join(seq_dir, "model.safetensors")
    with pytest.raises(ModelNotFoundError, match="is a file"):
        tfhf.TFBertModel.from_pretrained(path)


def test_folder_without_weights_lists_the_names_looked_for(tmp_path, seq_dir):
    shutil.copy(os.path.join(seq_dir, "config.json"), tmp_path)
    (tmp_path / "model.ckpt").write_bytes(b"")
    with pytest.raises(WeightsNotFoundError) as ei:
        tfhf.TFBertForSequenceClassification.from_pretrained(str(tmp_path))
    msg = str(ei.value)
    assert str(tmp_path) in msg
    for name in ("model.safetensors", "model.safetensors.index.json", "tf_model.h5",
                 "pytorch_model.bin", "pytorch_model.bin.index.json"):
        assert name in msg
    assert isinstance(ei.value, OSError)


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelNotFoundError, match="config.json"):
        tfhf.TFBertModel.from_pretrained(str(tmp_path))


# ---------------------------------------------------------------------------- model types
@pytest.mark.parametrize("cls_name", ["TFAutoModel", "TFAutoModelForSequenceClassification",
                                      "TFBertModel"])
def test_unknown_model_type(tmp_path, cls_name):
    folder = write_config(tmp_path, model_type="my_fancy_llm", hidden_size=32)
    with pytest.raises(UnsupportedModelError) as ei:
        getattr(tfhf, cls_name).from_pretrained(folder)
    msg = str(ei.value)
    assert "'my_fancy_llm'" in msg and supported() in msg
    assert os.path.join(folder, "config.json") in msg


def test_config_without_model_type(tmp_path):
    folder = write_config(tmp_path, hidden_size=32)
    with pytest.raises(UnsupportedModelError, match=supported()):
        tfhf.TFAutoModel.from_pretrained(folder)


@pytest.mark.parametrize("cls_name", ["TFAutoModel", "TFAutoModelForCausalLM"])
def test_transformers_model_type_tfhf_lacks(tmp_path, cls_name):
    folder = write_config(tmp_path, model_type="gpt_neox", hidden_size=32, num_attention_heads=4,
                          num_hidden_layers=2, intermediate_size=37, vocab_size=VOCAB)
    with pytest.raises(UnsupportedModelError) as ei:
        getattr(tfhf, cls_name).from_pretrained(folder)
    assert "'gpt_neox'" in str(ei.value) and supported() in str(ei.value)


def test_family_class_on_another_model_type(tmp_path):
    folder = write_config(tmp_path, model_type="gpt_neox", hidden_size=32, num_attention_heads=4,
                          num_hidden_layers=2, intermediate_size=37, vocab_size=VOCAB)
    with pytest.raises(UnsupportedModelError, match="TFBertModel cannot load .* 'gpt_neox'"):
        tfhf.TFBertModel.from_pretrained(folder)


# ---------------------------------------------------------------------------- loading reports
def test_shape_mismatch_suggests_ignore_mismatched_sizes(seq_dir):
    with pytest.raises(WeightShapeError) as ei:
        tfhf.TFBertForSequenceClassification.from_pretrained(seq_dir, num_labels=5)
    msg = str(ei.value)
    assert "classifier." in msg and "(3" in msg and "(5" in msg
    assert "ignore_mismatched_sizes=True" in msg and seq_dir in msg


def test_vocab_mismatch_names_the_weight(tmp_path, seq_dir):
    shutil.copytree(seq_dir, tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["vocab_size"] = VOCAB + 1
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightShapeError) as ei:
        tfhf.TFBertModel.from_pretrained(str(tmp_path / "m"))
    assert "'bert.embeddings.word_embeddings.weight'" in str(ei.value)
    assert f"({VOCAB}, 32)" in str(ei.value) and f"({VOCAB + 1}, 32)" in str(ei.value)


def test_ignore_mismatched_sizes_loads_and_warns(seq_dir, pt_seq, caplog):
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        model, info = tfhf.TFBertForSequenceClassification.from_pretrained(
            seq_dir, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True)
    assert model.classifier.out.kernel.shape == (32, 5)
    assert {k for k, _, _ in info["mismatched_keys"]} == {"classifier.weight", "classifier.bias"}
    text = caplog.text
    assert "classifier.weight: found shape (3, 32) in the checkpoint and (5, 32)" in text
    assert "classifier.bias" in text and "newly initialized" in text
    np.testing.assert_array_equal(model.bert.pooler.dense.bias.numpy(),
                                  pt_seq.bert.pooler.dense.bias.detach().numpy())


def test_mismatched_weight_is_reported_by_model_name_and_reinitialized(tmp_path, caplog):
    """A base checkpoint (no 'bert.' prefix) with another vocabulary, into a head model."""
    make_pt("BertModel", seed=5).save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        model, info = tfhf.TFBertForSequenceClassification.from_pretrained(
            str(tmp_path), vocab_size=VOCAB + 1, ignore_mismatched_sizes=True,
            output_loading_info=True)
    name = "bert.embeddings.word_embeddings.weight"
    assert info["mismatched_keys"] == [(name, (VOCAB, 32), (VOCAB + 1, 32))]
    assert name not in info["missing_keys"]
    assert (f"{name}: found shape ({VOCAB}, 32) in the checkpoint and ({VOCAB + 1}, 32)"
            in caplog.text)
    emb = model.bert.embeddings.word_embeddings.embeddings.numpy()
    assert emb.shape == (VOCAB + 1, 32)
    assert 0.01 < emb.std() < 0.03  # freshly initialized (initializer_range 0.02), not zeros


def test_missing_weights_warn_newly_initialized(tmp_path, caplog):
    make_pt("BertModel", seed=4).save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        model, info = tfhf.TFBertForSequenceClassification.from_pretrained(
            str(tmp_path), output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert "newly initialized" in caplog.text and "classifier.weight" in caplog.text
    assert "were not used" not in caplog.text


def test_unexpected_weights_warn_not_used(tmp_path, pt_mlm, caplog):
    pt_mlm.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        model, info = tfhf.TFBertModel.from_pretrained(str(tmp_path), output_loading_info=True)
    assert info["unexpected_keys"] and all(k.startswith("cls.") for k in info["unexpected_keys"])
    assert "were not used" in caplog.text
    assert "cls.predictions.transform.dense.weight" in caplog.text
    # a masked-LM checkpoint has no pooler: that part of TFBertModel is new
    assert sorted(info["missing_keys"]) == ["pooler.dense.bias", "pooler.dense.weight"]
    assert "newly initialized" in caplog.text


def test_clean_load_is_quiet(seq_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        tfhf.TFBertForSequenceClassification.from_pretrained(seq_dir)
    assert [r for r in caplog.records if r.name == "tfhf"] == []


@pytest.mark.parametrize("kwargs, match", [
    ({"foo_bar": 1}, "foo_bar"),
    ({"num_lables": 5}, "num_lables"),
    ({"dtype": "int8"}, "dtype='int8'"),
])
def test_unexpected_from_pretrained_arguments(seq_dir, kwargs, match):
    for cls in (tfhf.TFBertForSequenceClassification, tfhf.TFAutoModelForSequenceClassification):
        with pytest.raises(InvalidInputError, match=match):
            cls.from_pretrained(seq_dir, **kwargs)


def test_positional_arguments_after_the_path(seq_dir):
    with pytest.raises(InvalidInputError, match="positional"):
        tfhf.TFBertModel.from_pretrained(seq_dir, "extra")


# ---------------------------------------------------------------------------- inputs
def test_token_id_outside_vocabulary(seq_model):
    ids = np.array([[1, 2, VOCAB]], np.int32)
    with pytest.raises(InvalidInputError, match=f"token id {VOCAB}, outside the vocabulary"):
        seq_model(ids)
    with pytest.raises(InvalidInputError, match="token id -1"):
        seq_model(np.array([[1, -1]], np.int32))


def test_sequence_longer_than_positions(seq_model):
    with pytest.raises(InvalidInputError) as ei:
        seq_model(np.ones((1, MAX_POS + 1), np.int32))
    assert f"Sequence length {MAX_POS + 1}" in str(ei.value)
    assert f"max_position_embeddings={MAX_POS}" in str(ei.value)
    assert seq_model(np.ones((1, MAX_POS), np.int32)).logits.shape == (1, 3)


def test_attention_mask_shape_mismatch(seq_model):
    import tensorflow as tf

    ids = tf.ones((2, 7), tf.int32)
    with pytest.raises(InvalidInputError, match=r"attention_mask has shape \(2, 5\)"):
        seq_model(ids, attention_mask=tf.ones((2, 5), tf.int32))
    with pytest.raises(InvalidInputError, match=r"attention_mask has shape \(2, 5\)"):
        seq_model({"input_ids": ids, "attention_mask": tf.ones((2, 5), tf.int32)})


def test_numpy_attention_mask(seq_model, seq_dir, pt_seq):
    ids = np.ones((2, 7), np.int32)
    mask = np.ones((2, 7), np.int32)
    mask[1, 4:] = 0
    np.testing.assert_allclose(seq_model(ids, attention_mask=mask).logits.numpy(),
                               pt_logits(pt_seq, ids, mask), atol=1e-5)
    with pytest.raises(InvalidInputError, match=r"attention_mask has shape \(2, 5\)"):
        seq_model(ids, attention_mask=np.ones((2, 5), np.int32))
    with pytest.raises(InvalidInputError, match="attention_mask must have shape"):
        seq_model(ids, attention_mask=np.ones((7,), np.int32))
    with pytest.raises(InvalidInputError, match="token_type_ids contains 5"):
        seq_model(ids, token_type_ids=np.full((2, 7), 5, np.int32))


# ---------------------------------------------------------------------------- saving
def test_save_to_a_file_path(tmp_path, seq_model):
    target = tmp_path / "model.bin"
    target.write_bytes(b"x")
    with pytest.raises(InvalidInputError) as ei:
        seq_model.save_pretrained(str(target))
    assert str(target) in str(ei.value)
    assert target.read_bytes() == b"x"


def test_bad_max_shard_size_writes_nothing(tmp_path, seq_model):
    out = tmp_path / "out"
    with pytest.raises(InvalidInputError, match="max_shard_size='20 potatoes'"):
        seq_model.save_pretrained(out, max_shard_size="20 potatoes")
    assert not out.exists()


def _fail_nth_write(monkeypatch, n, exc):
    real = sio._writer
    calls = {"n": 0}

    def writer(tensors, metadata):
        inner = real(tensors, metadata)
        calls["n"] += 1
        if calls["n"] != n:
            return inner

        def write(fh):
            fh.write(b"\0" * 100)  # half-written
            raise exc

        return write

    monkeypatch.setattr(sio, "_writer", writer)
    return calls


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "interrupted"])
def test_failure_while_writing_shards_leaves_nothing(tmp_path, seq_model, monkeypatch, exc):
    out = tmp_path / "out"
    calls = _fail_nth_write(monkeypatch, 3, exc)
    with pytest.raises(type(exc)):
        seq_model.save_pretrained(out, max_shard_size="20KB")
    assert calls["n"] >= 3
    assert listing(out) == []  # no shard, no index, no config, no temp file


def test_failure_keeps_the_previous_save_intact(tmp_path, seq_model, monkeypatch, ids):
    out = tmp_path / "out"
    seq_model.save_pretrained(out)
    before = {n: (out / n).read_bytes() for n in listing(out)}
    expected = tf_logits(seq_model, ids)
    real_replace = os.replace
    renamed = []

    def replace(src, dst):  # the third file put in place fails (after two succeeded)
        if str(src).endswith(".part"):
            renamed.append(dst)
            if len(renamed) == 3:
                raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"):
        seq_model.save_pretrained(out, max_shard_size="20KB")
    monkeypatch.undo()
    assert len(renamed) == 3
    assert {n: (out / n).read_bytes() for n in listing(out)} == before
    again = tfhf.TFBertForSequenceClassification.from_pretrained(str(out))
    np.testing.assert_allclose(tf_logits(again, ids), expected, atol=1e-6)


def test_config_failure_writes_no_weights(tmp_path, seq_model, monkeypatch):
    def boom(self, *a, **k):
        raise ValueError("config cannot be serialized")

    monkeypatch.setattr(type(seq_model.config), "to_json_string", boom)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="cannot be serialized"):
        seq_model.save_pretrained(out)
    assert not out.exists() or listing(out) == []


def test_saved_folder_round_trips_with_pytorch(tmp_path, seq_model, pt_seq, ids):
    import transformers

    seq_model.save_pretrained(tmp_path)
    assert listing(tmp_path) == ["config.json", "model.safetensors"]
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["architectures"] == ["BertForSequenceClassification"]
    pt = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path)).eval()
    np.testing.assert_array_equal(pt_logits(pt, ids), pt_logits(pt_seq, ids))
