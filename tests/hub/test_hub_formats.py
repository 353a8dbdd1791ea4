"""Checkpoint formats: sharded safetensors both ways, legacy TF h5 (and TF-format safetensors),
pytorch_model.bin through torch's safe loader, and which format wins when several exist."""

import json
import os
import pickle
import shutil
import sys

import h5py
import numpy as np
import pytest
from _hub_helpers import listing, make_pt, pt_logits, pt_state, tf_logits

import tfhf
from tfhf.errors import CheckpointError, MissingDependencyError, WeightsNotFoundError

ATOL = 1e-5


def copy_config(src, dst):
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(src, "config.json"), dst)
    return str(dst)


# ---------------------------------------------------------------------------- sharded safetensors
def test_tfhf_sharded_save_loads_in_pytorch(tmp_path, seq_dir, pt_seq, ids, mask):
    import transformers

    model = tfhf.TFBertForSequenceClassification.from_pretrained(seq_dir)
    out = tmp_path / "sharded"
    model.save_pretrained(out, max_shard_size="20KB")
    files = listing(out)
    shards = [f for f in files if f.startswith("model-")]
    n = len(shards)
    assert n > 1
    assert shards == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    assert set(files) == set(shards) | {"config.json", "model.safetensors.index.json"}
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(shards)
    assert set(index["weight_map"]) == set(model.hf_state_dict())
    from safetensors import safe_open

    total = 0
    for shard in shards:
        with safe_open(str(out / shard), framework="np") as f:
            assert f.metadata() == {"format": "pt"}
            sizes = [f.get_tensor(k).nbytes for k in f.keys()]
        total += sum(sizes)
        assert sum(sizes) <= 20_000 or len(sizes) == 1  # a lone big tensor may exceed the limit
    assert index["metadata"]["total_size"] == total

    reloaded = transformers.BertForSequenceClassification.from_pretrained(str(out)).eval()
    np.testing.assert_array_equal(pt_logits(reloaded, ids, mask), pt_logits(pt_seq, ids, mask))
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(pt_seq, ids, mask),
                               atol=ATOL)


def test_loads_pytorch_sharded_checkpoint(tmp_path, ids, mask):
    pt = make_pt("BertForMaskedLM", seed=3)
    pt.save_pretrained(tmp_path, max_shard_size="20KB")
    assert os.path.exists(tmp_path / "model.safetensors.index.json")
    assert not os.path.exists(tmp_path / "model.safetensors")
    model = tfhf.TFAutoModelForMaskedLM.from_pretrained(str(tmp_path))
    assert type(model).__name__ == "TFBertForMaskedLM"
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(pt, ids, mask), atol=ATOL)


def test_resaving_removes_stale_shards(tmp_path, seq_dir, ids):
    model = tfhf.TFBertForSequenceClassification.from_pretrained(seq_dir)
    expected = tf_logits(model, ids)
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    many = [f for f in listing(tmp_path) if f.startswith("model-")]
    model.save_pretrained(tmp_path, max_shard_size="40KB")
    fewer = [f for f in listing(tmp_path) if f.startswith("model-")]
    assert 1 < len(fewer) < len(many)
    assert listing(tmp_path) == sorted(fewer + ["config.json", "model.safetensors.index.json"])
    model.save_pretrained(tmp_path)  # unsharded into the same folder
    assert listing(tmp_path) == ["config.json", "model.safetensors"]
    again = tfhf.TFBertForSequenceClassification.from_pretrained(str(tmp_path))
    np.testing.assert_allclose(tf_logits(again, ids), expected, atol=1e-6)
    model.save_pretrained(tmp_path, max_shard_size="20KB")  # and back to shards
    assert "model.safetensors" not in listing(tmp_path)
    assert listing(tmp_path) == sorted(many + ["config.json", "model.safetensors.index.json"])


def test_missing_shard_is_reported(tmp_path, seq_dir):
    model = tfhf.TFBertForSequenceClassification.from_pretrained(seq_dir)
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    os.remove(tmp_path / "model-00002-of-00005.safetensors")
    with pytest.raises(WeightsNotFoundError, match="names the shard 'model-00002-of-00005"):
        tfhf.TFBertForSequenceClassification.from_pretrained(str(tmp_path))


# ---------------------------------------------------------------------------- legacy tf_model.h5
# A faithful writer of what transformers 4.x TF models saved: Keras 2 `save_weights` to HDF5
# (keras/saving/legacy/hdf5_format.py) applied to transformers' TF BERT, whose weight names
# come from its name scopes. Written independently of tfhf's reader on purpose.
HDF5_OBJECT_HEADER_LIMIT = 64512  # Keras 2's limit before it splits an attribute into chunks


def save_attributes_to_hdf5_group(group, name, data, limit=HDF5_OBJECT_HEADER_LIMIT):
    """Keras 2's helper: one attribute, or ``name0``, ``name1``, ... chunks when too big."""
    data_npy = np.asarray(data)
    num_chunks = 1
    chunked = np.array_split(data_npy, num_chunks)
    while any(x.nbytes > limit for x in chunked):
        num_chunks += 1
        chunked = np.array_split(data_npy, num_chunks)
    if num_chunks > 1:
        for chunk_id, chunk in enumerate(chunked):
            group.attrs[f"{name}{chunk_id}"] = chunk
    else:
        group.attrs[name] = data


def bert_tf_weight(pt_name):
    """(top-level Keras layer, TF weight name without the model level, transpose?) of a
    PyTorch BERT parameter, as transformers 4.x's TFBert* classes named their variables."""
    parts = pt_name.split(".")
    if parts[0] == "cls":  # TFBertForMaskedLM: self.mlm = TFBertMLMHead(..., name="mlm___cls")
        parts[0] = "mlm___cls"
    layer, leaf, owner = parts[0], parts[-1], parts[-2]
    path, i = [], 0
    while i < len(parts) - 1:
        if parts[i] == "layer" and parts[i + 1].isdigit():  # encoder.layer.0 -> layer_._0
            path.append(f"layer_._{parts[i + 1]}")
            i += 2
        else:
            path.append(parts[i])
            i += 1
    transpose = False
    if owner == "LayerNorm":  # keras.layers.LayerNormalization
        leaf = {"weight": "gamma", "bias": "beta"}[leaf]
    elif owner in ("position_embeddings", "token_type_embeddings"):
        leaf = "embeddings"  # add_weight(name="embeddings") in a name scope
    elif owner == "word_embeddings":
        leaf = "weight"  # add_weight(name="weight") in a name scope
    elif leaf == "weight":  # keras.layers.Dense: kernel stored (in, out)
        leaf, transpose = "kernel", True
    return layer, "/".join(path + [leaf]) + ":0", transpose


def write_tf_model_h5(path, pt_model, model_name, layer_names, tied_copies=False,
                      header_limit=HDF5_OBJECT_HEADER_LIMIT):
    groups = {name: [] for name in layer_names}
    for pt_name, value in pt_state(pt_model).items():
        layer, tf_name, transpose = bert_tf_weight(pt_name)
        groups[layer].append((f"{model_name}/{tf_name}", value.T if transpose else value))
    if tied_copies:
        # The MLM head keeps a reference to the embeddings layer (tied decoder), so Keras 2
        # tracks and saves the embeddings' weights in the head's group as well.
        groups["mlm___cls"] += [w for w in groups["bert"] if "/embeddings/" in w[0]]
    with h5py.File(path, "w") as f:
        save_attributes_to_hdf5_group(f, "layer_names", [n.encode("utf8") for n in layer_names],
                                      header_limit)
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for layer in sorted(layer_names):
            g = f.create_group(layer)
            names = [n.encode("utf8") for n, _ in groups[layer]]
            save_attributes_to_hdf5_group(g, "weight_names", names, header_limit)
            for name, (_, val) in zip(names, groups[layer]):
                dset = g.create_dataset(name, val.shape, dtype=val.dtype)
                if not val.shape:
                    dset[()] = val
                else:
                    dset[:] = val


def write_tf_sharded_h5(folder, pt_model, model_name, n_shards=3):
    """transformers 4.x `save_pretrained(max_shard_size=...)` for TF: datasets named without
    the model level, listed in each shard's root `layer_names`, plus tf_model.h5.index.json."""
    weights = []
    for pt_name, value in pt_state(pt_model).items():
        _, tf_name, transpose = bert_tf_weight(pt_name)
        weights.append((f"{model_name}/{tf_name}", value.T if transpose else value))
    chunks = np.array_split(np.arange(len(weights)), n_shards)
    weight_map = {}
    for i, chunk in enumerate(chunks, 1):
        shard = f"tf_model-{i:05d}-of-{n_shards:05d}.h5"
        with h5py.File(os.path.join(folder, shard), mode="w") as f:
            layers = []
            for j in chunk:
                full, val = weights[j]
                layer_name = "/".join(full.split("/")[1:])
                dset = f.create_dataset(layer_name, val.shape, dtype=val.dtype)
                dset[:] = val
                layers.append(layer_name.encode("utf8"))
                weight_map[full] = shard
            save_attributes_to_hdf5_group(f, "layer_names", layers)
    with open(os.path.join(folder, "tf_model.h5.index.json"), "w") as fh:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, fh)


def _names(attr):
    """Attribute strings as Keras 2 read them back (h5py may return bytes or str)."""
    return [n.decode("utf8") if hasattr(n, "decode") else n for n in attr]


def test_writer_produces_transformers_4_names(tmp_path, pt_seq):
    path = tmp_path / "tf_model.h5"
    write_tf_model_h5(path, pt_seq, "tf_bert_for_sequence_classification",
                      ["bert", "dropout_37", "classifier"])
    with h5py.File(path, "r") as f:
        assert _names(f.attrs["layer_names"]) == ["bert", "dropout_37", "classifier"]
        names = _names(f["bert"].attrs["weight_names"])
        assert len(f["dropout_37"].attrs["weight_names"]) == 0
        q = ("tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/self/query/"
             "kernel:0")
        assert q in names and f["bert"][q].shape == (32, 32)
        for n in ["bert/embeddings/word_embeddings/weight:0",
                  "bert/embeddings/position_embeddings/embeddings:0",
                  "bert/embeddings/token_type_embeddings/embeddings:0",
                  "bert/embeddings/LayerNorm/gamma:0", "bert/embeddings/LayerNorm/beta:0",
                  "bert/encoder/layer_._1/intermediate/dense/kernel:0",
                  "bert/encoder/layer_._1/output/LayerNorm/beta:0",
                  "bert/pooler/dense/kernel:0"]:
            assert f"tf_bert_for_sequence_classification/{n}" in names, n
        assert f["bert/tf_bert_for_sequence_classification/bert/encoder/layer_._1/intermediate/"
                 "dense/kernel:0"].shape == (32, 37)  # (in, out)
        assert _names(f["classifier"].attrs["weight_names"]) == [
            "tf_bert_for_sequence_classification/classifier/kernel:0",
            "tf_bert_for_sequence_classification/classifier/bias:0"]


@pytest.mark.parametrize("header_limit", [HDF5_OBJECT_HEADER_LIMIT, 400],
                         ids=["plain-attributes", "chunked-attributes"])
def test_legacy_h5_sequence_classification(tmp_path, seq_dir, pt_seq, ids, mask, header_limit):
    folder = copy_config(seq_dir, tmp_path / "m")
    write_tf_model_h5(os.path.join(folder, "tf_model.h5"), pt_seq,
                      "tf_bert_for_sequence_classification", ["bert", "dropout_37", "classifier"],
                      header_limit=header_limit)
    if header_limit < HDF5_OBJECT_HEADER_LIMIT:
        with h5py.File(os.path.join(folder, "tf_model.h5"), "r") as f:
            assert "weight_names" not in f["bert"].attrs and "weight_names0" in f["bert"].attrs
    model, info = tfhf.TFBertForSequenceClassification.from_pretrained(
        folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(pt_seq, ids, mask),
                               atol=ATOL)


@pytest.mark.parametrize("tied_copies", [False, True], ids=["head-only", "with-tied-copies"])
def test_legacy_h5_masked_lm(tmp_path, pt_mlm, ids, mask, tied_copies):
    pt_mlm.config.save_pretrained(tmp_path)
    write_tf_model_h5(tmp_path / "tf_model.h5", pt_mlm, "tf_bert_for_masked_lm",
                      ["bert", "mlm___cls"], tied_copies=tied_copies)
    with h5py.File(tmp_path / "tf_model.h5", "r") as f:
        assert ("tf_bert_for_masked_lm/mlm___cls/predictions/transform/dense/kernel:0"
                in _names(f["mlm___cls"].attrs["weight_names"]))
    model, info = tfhf.TFAutoModelForMaskedLM.from_pretrained(str(tmp_path),
                                                              output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(pt_mlm, ids, mask),
                               atol=ATOL)


def test_legacy_h5_base_model_into_head_model(tmp_path, pt_seq, ids, caplog):
    """A TFBertModel h5 (model level `tf_bert_model`) loads into a head model's backbone."""
    base = pt_seq.bert
    pt_seq.config.save_pretrained(tmp_path)
    with h5py.File(tmp_path / "tf_model.h5", "w") as f:
        f.attrs["layer_names"] = [b"bert"]
        names = []
        g = f.create_group("bert")
        for pt_name, value in pt_state(base).items():
            _, tf_name, transpose = bert_tf_weight("bert." + pt_name)
            names.append(f"tf_bert_model/{tf_name}".encode())
            g.create_dataset(names[-1], data=value.T if transpose else value)
        g.attrs["weight_names"] = names
    model = tfhf.TFBertForSequenceClassification.from_pretrained(str(tmp_path))
    got = model.bert.encoder.blocks[1].ffn.up.kernel.numpy()
    np.testing.assert_array_equal(got, base.encoder.layer[1].intermediate.dense.weight.detach()
                                  .numpy().T)
    assert "classifier.weight" in caplog.text and "newly initialized" in caplog.text


def test_legacy_sharded_h5(tmp_path, seq_dir, pt_seq, ids, mask):
    folder = copy_config(seq_dir, tmp_path / "m")
    write_tf_sharded_h5(folder, pt_seq, "tf_bert_for_sequence_classification")
    model, info = tfhf.TFBertForSequenceClassification.from_pretrained(
        folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(pt_seq, ids, mask),
                               atol=ATOL)


def test_tf_format_safetensors(tmp_path, seq_dir, pt_seq, ids, mask):
    """transformers 4.x TF `save_pretrained(safe_serialization=True)`: TF names and layouts,
    metadata format "tf"."""
    from safetensors.numpy import save_file as st_save

    folder = copy_config(seq_dir, tmp_path / "m")
    tensors = {}
    for pt_name, value in pt_state(pt_seq).items():
        _, tf_name, transpose = bert_tf_weight(pt_name)
        tensors[tf_name] = np.ascontiguousarray(value.T if transpose else value)
    assert "bert/encoder/layer_._0/attention/self/query/kernel:0" in tensors
    st_save(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "tf"})
    model, info = tfhf.TFBertForSequenceClassification.from_pretrained(
        folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(pt_seq, ids, mask),
                               atol=ATOL)


def _h5_folder(tmp_path, seq_dir, build):
    folder = copy_config(seq_dir, tmp_path / "m")
    path = os.path.join(folder, "tf_model.h5")
    build(path)
    return folder, path


def _keras_like(path, datasets, layer="bert", **dset_kwargs):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.encode()]
        g = f.create_group(layer)
        g.attrs["weight_names"] = [n.encode() for n in datasets]
        for name, make in datasets.items():
            make(g, name)


@pytest.mark.parametrize("case, match", [
    ("not hdf5", "Cannot read legacy TF weights"),
    ("no layer_names", "not a Keras weights file"),
    ("missing layer group", "lists layer 'bert'"),
    ("missing dataset", "is missing or is not a dataset"),
    ("string dataset", "not a numeric type"),
    ("huge unwritten dataset", "claims shape"),
    ("conflicting duplicates", "two different values"),
    ("external link", "refers to data outside the file"),
])
def test_corrupt_h5_raises_checkpoint_error(tmp_path, seq_dir, case, match):
    w = "tf_bert_for_sequence_classification/bert/pooler/dense/bias:0"

    def build(path):
        if case == "not hdf5":
            with open(path, "wb") as fh:  # a git-lfs pointer instead of the file
                fh.write(b"version https://git-lfs.github.com/spec/v1\n")
        elif case == "no layer_names":
            with h5py.File(path, "w") as f:
                f.create_dataset("x", data=np.zeros(3))
        elif case == "missing layer group":
            with h5py.File(path, "w") as f:
                f.attrs["layer_names"] = [b"bert"]
        elif case == "missing dataset":
            with h5py.File(path, "w") as f:
                f.attrs["layer_names"] = [b"bert"]
                f.create_group("bert").attrs["weight_names"] = [w.encode()]
        elif case == "string dataset":
            _keras_like(path, {w: lambda g, n: g.create_dataset(n, data=np.array([b"a", b"b"]))})
        elif case == "huge unwritten dataset":  # 4 TB claimed, never written: nothing stored
            _keras_like(path, {w: lambda g, n: g.create_dataset(
                n, shape=(10**12,), dtype="f4", chunks=(1024,))})
        elif case == "external link":  # data pulled from another file on disk
            other = os.path.join(os.path.dirname(path), "other.h5")
            with h5py.File(other, "w") as f:
                f.create_dataset("secret", data=np.ones(32, np.float32))
            _keras_like(path, {w: lambda g, n: g.__setitem__(n, h5py.ExternalLink(other,
                                                                                  "/secret"))})
        elif case == "conflicting duplicates":
            with h5py.File(path, "w") as f:
                f.attrs["layer_names"] = [b"bert", b"other"]
                for layer, value in (("bert", 0.0), ("other", 1.0)):
                    g = f.create_group(layer)
                    g.attrs["weight_names"] = [w.encode()]
                    g.create_dataset(w, data=np.full(32, value, np.float32))

    folder, path = _h5_folder(tmp_path, seq_dir, build)
    with pytest.raises(CheckpointError, match=match) as ei:
        tfhf.TFBertForSequenceClassification.from_pretrained(folder)
    assert path in str(ei.value)


# ---------------------------------------------------------------------------- pytorch_model.bin
def _save_bin(pt_model, path, **kwargs):
    import torch

    torch.save(pt_model.state_dict(), path, **kwargs)


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy-pickle"])
def test_pytorch_bin_loads(tmp_path, seq_dir, pt_seq, ids, mask, zipfile):
    folder = copy_config(seq_dir, tmp_path / "m")
    _save_bin(pt_seq, os.path.join(folder, "pytorch_model.bin"),
              _use_new_zipfile_serialization=zipfile)
    model = tfhf.TFBertForSequenceClassification.from_pretrained(folder)
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(pt_seq, ids, mask),
                               atol=ATOL)


def test_pytorch_bin_sharded_and_bfloat16(tmp_path, seq_dir, pt_seq, ids):
    import torch

    folder = copy_config(seq_dir, tmp_path / "m")
    sd = {k: v.to(torch.bfloat16) if "classifier" in k else v
          for k, v in pt_seq.state_dict().items()}
    keys = list(sd)
    weight_map = {}
    for i, part in enumerate((keys[: len(keys) // 2], keys[len(keys) // 2:]), 1):
        name = f"pytorch_model-{i:05d}-of-00002.bin"
        torch.save({k: sd[k] for k in part}, os.path.join(folder, name))
        weight_map.update({k: name for k in part})
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as fh:
        json.dump({"metadata": {}, "weight_map": weight_map}, fh)
    model = tfhf.TFBertForSequenceClassification.from_pretrained(folder)
    np.testing.assert_array_equal(model.classifier.out.bias.numpy(),
                                  sd["classifier.bias"].float().numpy())
    np.testing.assert_array_equal(model.bert.embeddings.word_embeddings.embeddings.numpy(),
                                  sd["bert.embeddings.word_embeddings.weight"].numpy())


class _Canary:
    """Unpickling this object calls open(path, "w"): a stand-in for arbitrary code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy-pickle"])
def test_malicious_pickle_is_refused(tmp_path, seq_dir, zipfile):
    import torch

    folder = copy_config(seq_dir, tmp_path / "m")
    canary = tmp_path / "canary-tfhf"
    torch.save({"bert.pooler.dense.bias": _Canary(str(canary))},
               os.path.join(folder, "pytorch_model.bin"), _use_new_zipfile_serialization=zipfile)
    with pytest.raises(CheckpointError) as ei:
        tfhf.TFBertForSequenceClassification.from_pretrained(folder)
    assert os.path.join(folder, "pytorch_model.bin") in str(ei.value)
    assert "weights_only=True" in str(ei.value)
    assert not canary.exists()

    # Control: the same payload does run under a plain unpickler, so the test can fail.
    control = tmp_path / "canary-control"
    evil = tmp_path / "control.bin"
    torch.save({"x": _Canary(str(control))}, evil, _use_new_zipfile_serialization=zipfile)
    torch.load(evil, weights_only=False)["x"].close()
    assert control.exists()


def test_raw_pickle_that_is_not_torch_is_refused(tmp_path, seq_dir):
    folder = copy_config(seq_dir, tmp_path / "m")
    canary = tmp_path / "canary"
    with open(os.path.join(folder, "pytorch_model.bin"), "wb") as fh:
        pickle.dump({"w": _Canary(str(canary))}, fh, protocol=2)
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        tfhf.TFBertForSequenceClassification.from_pretrained(folder)
    assert not canary.exists()


def test_pytorch_bin_that_is_not_a_state_dict(tmp_path, seq_dir):
    import torch

    folder = copy_config(seq_dir, tmp_path / "m")
    torch.save([torch.zeros(3)], os.path.join(folder, "pytorch_model.bin"))
    with pytest.raises(CheckpointError, match="holds a list, not a state dict"):
        tfhf.TFBertForSequenceClassification.from_pretrained(folder)


def test_pytorch_bin_without_torch(tmp_path, seq_dir, pt_seq, monkeypatch):
    folder = copy_config(seq_dir, tmp_path / "m")
    _save_bin(pt_seq, os.path.join(folder, "pytorch_model.bin"))
    import transformers.configuration_utils as cu

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.setattr(cu, "is_torch_available", lambda: False)  # as transformers sees no torch
    with pytest.raises(MissingDependencyError) as ei:
        tfhf.TFBertForSequenceClassification.from_pretrained(folder)
    assert "pip install torch" in str(ei.value)
    assert os.path.join(folder, "pytorch_model.bin") in str(ei.value)
    assert isinstance(ei.value, ImportError)


def test_safetensors_preferred_and_use_safetensors_false(tmp_path, seq_dir, pt_seq):
    """model.safetensors wins over pytorch_model.bin and tf_model.h5 unless
    use_safetensors=False; use_safetensors=True never falls back."""
    import torch

    folder = tmp_path / "m"
    shutil.copytree(seq_dir, folder)
    other = make_pt("BertForSequenceClassification", seed=7)
    torch.save(other.state_dict(), folder / "pytorch_model.bin")
    st_bias = pt_seq.classifier.bias.detach().numpy()
    bin_bias = other.classifier.bias.detach().numpy()
    assert not np.allclose(st_bias, bin_bias)
    cls = tfhf.TFBertForSequenceClassification
    np.testing.assert_array_equal(cls.from_pretrained(str(folder)).classifier.out.bias.numpy(),
                                  st_bias)
    np.testing.assert_array_equal(
        cls.from_pretrained(str(folder), use_safetensors=False).classifier.out.bias.numpy(),
        bin_bias)
    # tf_model.h5 comes before pytorch_model.bin (as in transformers 4.x TF)
    third = make_pt("BertForSequenceClassification", seed=8)
    write_tf_model_h5(folder / "tf_model.h5", third, "tf_bert_for_sequence_classification",
                      ["bert", "dropout_37", "classifier"])
    np.testing.assert_array_equal(
        cls.from_pretrained(str(folder), use_safetensors=False).classifier.out.bias.numpy(),
        third.classifier.bias.detach().numpy())
    os.remove(folder / "model.safetensors")
    with pytest.raises(WeightsNotFoundError) as ei:
        cls.from_pretrained(str(folder), use_safetensors=True)
    assert "model.safetensors, model.safetensors.index.json" in str(ei.value)


def test_subfolder(tmp_path, seq_dir, pt_seq, ids):
    shutil.copytree(seq_dir, tmp_path / "repo" / "weights")
    model = tfhf.TFBertForSequenceClassification.from_pretrained(str(tmp_path / "repo"),
                                                                 subfolder="weights")
    np.testing.assert_allclose(tf_logits(model, ids), pt_logits(pt_seq, ids), atol=ATOL)
    os.remove(tmp_path / "repo" / "weights" / "model.safetensors")
    with pytest.raises(WeightsNotFoundError) as ei:
        tfhf.TFBertForSequenceClassification.from_pretrained(str(tmp_path / "repo"),
                                                             subfolder="weights")
    assert os.path.join(str(tmp_path / "repo"), "weights") in str(ei.value)
