"""``check_keras_file`` / ``load_keras_model`` on hostile ``.keras`` files: every file is
refused with ``CheckpointError`` quickly and without large allocations (measured in a fresh
process: wall time and peak RSS growth), malformed Lambda configs are refused rather than
crashing, and a Lambda that Keras itself saved around one of its activations loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from tfhf.errors import CheckpointError
from tfhf.export.keras_file import (KERAS_ACTIVATIONS, MAX_CONFIG_BYTES, MAX_CONFIG_NODES,
                                    check_keras_file)

_PROBE = r"""
import json, resource, sys, time
from tfhf.errors import CheckpointError
from tfhf.export.keras_file import check_keras_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    check_keras_file(sys.argv[1])
    error = None
except CheckpointError as e:
    error = str(e)
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"error": error, "seconds": seconds, "rss_growth_mb": grown / 1024}))
"""


def _probe(path):
    """check_keras_file(path) in a fresh process: (error message or None, seconds, MB)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))] +
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["error"], out["seconds"], out["rss_growth_mb"]


def _write(path, config_text):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        z.writestr("config.json", config_text)
    return str(path)


def _nested(depth, key_len, leaf):
    """``depth`` nested dicts, each under a different key of ``key_len`` characters."""
    opens = ['{"%s": ' % (chr(ord("a") + i % 26) * key_len) for i in range(depth)]
    return "".join(opens) + json.dumps(leaf) + "}" * depth


CODE_LEAF = {"module": "os", "class_name": "function", "config": "system",
             "registered_name": "system"}


def _hostile_files(tmp_path):
    """name -> (path, part of the expected message)."""
    mb = 1024 * 1024
    return {
        # the reported file: 190 levels of 300 KB keys, a 57 MB config in a small zip
        "deep_big_keys_57mb": (_write(tmp_path / "a.keras", _nested(190, 300_000, 1)),
                               "byte limit"),
        "deep_big_keys_200mb": (_write(tmp_path / "b.keras", _nested(100, 2_000_000, 1)),
                                "byte limit"),
        # under the byte cap: 13 levels of 300 KB keys and code at the bottom are walked
        # without building path strings; the message names a shortened path
        "big_keys_code_under_cap": (_write(tmp_path / "c.keras",
                                           _nested(13, 300_000, CODE_LEAF)), "Refusing"),
        "many_keys_code_under_cap": (_write(tmp_path / "d.keras", _nested(
            150, (MAX_CONFIG_BYTES - 4096) // 150, CODE_LEAF)), "Refusing"),
        "too_many_values": (_write(tmp_path / "e.keras",
                                   "[" + ",".join(["{}"] * (MAX_CONFIG_NODES + 10)) + "]"),
                            "more than"),
        "flat_numbers": (_write(tmp_path / "f.keras",
                                "[" + ",".join(["0"] * (MAX_CONFIG_BYTES // 2 - 8)) + "]"),
                         "more than"),
        "too_deep": (_write(tmp_path / "g.keras", "[" * 250 + "]" * 250), "deeper than"),
        "json_recursion": (_write(tmp_path / "h.keras", "[" * 200_000 + "]" * 200_000),
                           "not valid JSON"),
        "just_over_cap": (_write(tmp_path / "i.keras",
                                 json.dumps({"k": "x" * (MAX_CONFIG_BYTES)})), "byte limit"),
        "wide_big_keys": (_write(tmp_path / "j.keras", json.dumps(
            {str(i) * 40_000: {"module": "os", "class_name": "x" * 10_000}
             for i in range(10)})), "Refusing"),
    }


def test_hostile_configs_are_refused_fast_and_small(tmp_path):
    for name, (path, expected) in _hostile_files(tmp_path).items():
        assert os.path.getsize(path) < 5 * 1024 * 1024, name
        error, seconds, grown = _probe(path)
        assert error is not None and expected in error, (name, error and error[:500])
        assert len(error) < 2000, (name, len(error))  # 300 KB keys are shortened
        assert seconds < 2.0, (name, seconds)
        assert grown < 300, (name, grown)


LAMBDA_CONFIGS = {
    "config_list": ["function", "relu"],
    "config_string": "relu",
    "config_number": 3,
    "config_null": None,
    "function_string": {"function": "relu"},
    "function_list": {"function": ["relu"]},
    "bytecode": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}},
    "os_system_builtins": {"function": {"module": "builtins", "class_name": "function",
                                        "config": "system", "registered_name": "function"}},
    "eval_builtins": {"function": {"module": "builtins", "class_name": "function",
                                   "config": "eval", "registered_name": "function"}},
    "relu_from_os": {"function": {"module": "os", "class_name": "function",
                                  "config": "relu", "registered_name": "function"}},
    "relu_custom_registered": {"function": {"module": "builtins", "class_name": "function",
                                            "config": "relu",
                                            "registered_name": "Custom>relu"}},
    "relu_extra_key": {"function": {"module": "builtins", "class_name": "function",
                                    "config": "relu", "registered_name": "function",
                                    "code": "4wEAAAAA"}},
    "deserialize": {"function": {"module": "builtins", "class_name": "function",
                                 "config": "deserialize", "registered_name": "function"}},
    "relu_config_dict": {"function": {"module": "builtins", "class_name": "function",
                                      "config": {"name": "relu"}, "registered_name": None}},
}


@pytest.mark.parametrize("name", list(LAMBDA_CONFIGS))
def test_malformed_or_code_lambda_configs_are_refused(tmp_path, name):
    layer = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
             "config": LAMBDA_CONFIGS[name]}
    cfg = {"module": "keras", "class_name": "Functional", "registered_name": None,
           "config": {"name": "m", "layers": [layer]}}
    path = _write(tmp_path / f"{name}.keras", json.dumps(cfg))
    with pytest.raises(CheckpointError, match="Refusing to load .*Lambda layer"):
        check_keras_file(path)


@pytest.mark.parametrize("class_name", [["Dense"], {"a": 1}, 7])
def test_non_string_class_names_are_refused(tmp_path, class_name):
    cfg = {"module": "keras.layers", "class_name": class_name, "config": {}}
    with pytest.raises(CheckpointError, match="class_name that is not a string"):
        check_keras_file(_write(tmp_path / "m.keras", json.dumps(cfg)))


def test_a_lambda_keras_saved_around_its_own_activation_loads(tmp_path):
    """Decision (docs/serving.md): ``Lambda(keras.activations.relu)`` as Keras saves it holds
    only the activation's name, which Keras resolves in its own module: allowed."""
    import numpy as np

    from tfhf._keras import LEGACY, keras
    from tfhf.export import load_keras_model

    if LEGACY:
        pytest.skip("tf_keras cannot save a Lambda around a function to a .keras file")
    inp = keras.Input((3,))
    mid = keras.layers.Lambda(keras.activations.relu)(inp)
    model = keras.Model(inp, keras.layers.Lambda(keras.activations.tanh)(mid))
    path = str(tmp_path / "relu.keras")
    model.save(path)
    fn = [layer["config"]["function"] for layer in check_keras_file(path)["config"]["layers"]
          if layer["class_name"] == "Lambda"]
    assert [f["config"] for f in fn] == ["relu", "tanh"] and \
        {f["config"] for f in fn} <= KERAS_ACTIVATIONS
    loaded = load_keras_model(path)
    x = np.array([[-1.0, 0.5, 2.0]], np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.tanh(np.maximum(x, 0)), atol=1e-6)
