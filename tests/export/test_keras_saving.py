"""Keras saving of tfhf models: .keras round trips under safe_mode, layer configs that are
pure data, tf.saved_model.save of the model itself, refusal of files naming arbitrary code;
all of it again under tf_keras (TF_USE_LEGACY_KERAS=1) in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from tfhf._keras import LEGACY, keras

HERE = os.path.dirname(os.path.abspath(__file__))


def _batch():
    ids = np.array([[101, 2023, 2003, 1037, 2204, 3185, 102], [101, 6659, 102, 0, 0, 0, 0]],
                   np.int32)
    return {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int32)}


def _rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as z:
        items = {n: z.read(n) for n in z.namelist()}
    items["config.json"] = json.dumps(edit(json.loads(items["config.json"]))).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in items.items():
            z.writestr(name, data)
    return str(dst)


@pytest.mark.parametrize("kind", ["clf", "llama"])
def test_keras_file_round_trip_safe_mode(kind, loaded, tmp_path):
    from tfhf.export import load_keras_model

    model, _ = loaded(kind)
    batch = _batch() if kind == "clf" else {"input_ids": np.array([[1, 5, 9, 3]], np.int32)}
    ref = model(dict(batch)).logits.numpy()
    path = str(tmp_path / "m.keras")
    model.save(path)
    for restored in (keras.models.load_model(path, safe_mode=True),
                     load_keras_model(path)):
        assert type(restored) is type(model) and restored.name == model.name
        np.testing.assert_array_equal(restored(dict(batch)).logits.numpy(), ref)
        assert len(restored.weights) == len(model.weights)
        for a, b in zip(model.weights, restored.weights):
            assert a.name == b.name and a.dtype == b.dtype
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_get_config_is_pure_data_and_round_trips(loaded):
    from tfhf.models.base import TFPreTrainedModel

    for kind in ("clf", "llama"):
        model, _ = loaded(kind)
        config = model.get_config()
        assert set(config) == {"hf_config", "name"}
        assert json.loads(json.dumps(config)) == config
        clone = type(model).from_config(config)
        assert type(clone) is type(model) and clone.name == model.name
        assert clone.config.to_dict() == model.config.to_dict()
        assert keras.utils.get_registered_object(f"tfhf>{type(model).__name__}") is type(model)
        assert isinstance(clone, TFPreTrainedModel)


def test_every_tfhf_layer_is_registered_with_a_pure_data_config(loaded):
    seen = set()
    for kind in ("clf", "llama"):
        model, _ = loaded(kind)
        layers = model._flatten_layers() if hasattr(model, "_flatten_layers") else \
            model.submodules
        for layer in layers:
            cls = type(layer)
            if layer is model or not cls.__module__.startswith("tfhf."):
                continue
            assert keras.utils.get_registered_object(f"tfhf>{cls.__name__}") is cls, cls
            config = layer.get_config()
            assert json.loads(json.dumps(config)) == config, cls
            assert cls.from_config(config).get_config() == config, cls
            seen.add(cls.__name__)
    assert {"EncoderMainLayer", "EncoderBlock", "SelfAttention", "Dense", "LayerNorm",
            "ClassificationHead", "DecoderMainLayer", "DecoderBlock", "RMSNorm"} <= seen


def test_tf_saved_model_save_of_the_keras_model(loaded, tmp_path):
    model, _ = loaded("clf")
    batch = _batch()
    tf.saved_model.save(model, str(tmp_path / "sm"))
    restored = tf.saved_model.load(str(tmp_path / "sm"))
    out = restored.signatures["serving_default"](
        input_ids=tf.constant(batch["input_ids"]),
        attention_mask=tf.constant(batch["attention_mask"]))
    np.testing.assert_allclose(out["logits"].numpy(), model(dict(batch)).logits.numpy(),
                               atol=1e-5)


def test_keras_files_naming_code_are_refused(loaded, tmp_path):
    from tfhf.errors import CheckpointError, TfhfError
    from tfhf.export import load_keras_model

    model, _ = loaded("clf")
    good = str(tmp_path / "m.keras")
    model.save(good)

    def top_level_os_system(cfg):
        cfg.update(module="os", class_name="system", registered_name=None)
        return cfg

    def hf_config_fn(cfg):
        cfg["config"]["hf_config"]["evil"] = {"module": "os", "fn": "system",
                                              "args": ["echo pwned"]}
        return cfg

    inp = keras.Input((3,))
    lam = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp))
    lam.save(str(tmp_path / "lambda.keras"))
    inp = keras.Input((3,))
    dense = keras.Model(inp, keras.layers.Dense(2, activation="relu")(inp))
    dense.save(str(tmp_path / "dense.keras"))

    def function_activation(cfg):
        text = json.dumps(cfg).replace(
            '"activation": "relu"', '"activation": {"module": "os", "class_name": "function", '
            '"config": "system", "registered_name": "system"}')
        return json.loads(text)

    cases = {
        "lambda": str(tmp_path / "lambda.keras"),
        "top": _rewrite(good, tmp_path / "top.keras", top_level_os_system),
        "hf_config": _rewrite(good, tmp_path / "inner.keras", hf_config_fn),
        "function": _rewrite(str(tmp_path / "dense.keras"), tmp_path / "fn.keras",
                             function_activation),
    }
    for name, path in cases.items():
        with pytest.raises(CheckpointError, match="Refusing to load"):
            load_keras_model(path)
        # Keras' own loader refuses them too under safe_mode (its own message, or tfhf's
        # from_config check for a tfhf model's hf_config)
        with pytest.raises((TypeError, ValueError, TfhfError)) as info:
            keras.models.load_model(path, safe_mode=True)
        if name == "hf_config":
            assert "names a Python object" in str(info.value)
    with pytest.raises(CheckpointError, match="not a .keras file"):
        (tmp_path / "junk.keras").write_bytes(b"not a zip")
        load_keras_model(str(tmp_path / "junk.keras"))


@pytest.mark.skipif(LEGACY, reason="this test starts the tf_keras run itself")
def test_legacy_tf_keras_saving_and_export(tiny, tmp_path):
    """Under TF_USE_LEGACY_KERAS=1: .keras round trip (identical logits), refusal of files
    naming code, tf.saved_model.save of the model, and export_saved_model of a classifier
    whose SavedModel gives the model's logits."""
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, os.path.join(HERE, "_export_legacy_check.py"),
                           tiny("clf"), str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.strip().splitlines()[-1] == "LEGACY_OK tf_keras"
