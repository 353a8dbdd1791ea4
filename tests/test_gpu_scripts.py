"""scripts/gpu_export.py and scripts/gpu_run.py, on JAX's CPU backend.

The GPU measurement runs tfhf's XLA programs with JAX (no TensorFlow on that machine): these
tests export a tiny Llama's compiled ``generate`` loop and a tiny BERT's ``fit`` train step,
run them with jaxlib as the device would, and check that the tokens equal ``generate``'s and
the loss equals TF's; the timing path (random weights, PyTorch eager peer) runs once on the
tiny shapes, and a wrong expectation is reported as a mismatch with exit status 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("jax", reason="the GPU runner needs jax (pip install -e \".[test]\")")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")


def _run(args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                         timeout=timeout, cwd=ROOT)
    return out


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpu_programs")
    out = _run([os.path.join(SCRIPTS, "gpu_export.py"), "--out", str(folder), "--configs", "tiny",
                "--tiny-bench", "--batch", "2", "--dtypes", "bfloat16", "--prompt-len", "5",
                "--new-tokens", "6", "--policies", "mixed_bfloat16", "--train-batch", "2",
                "--train-seq", "8", "--store-max-elements", "100"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    with open(folder / "manifest.json") as fh:
        return folder, json.load(fh)


def test_export_writes_programs_a_manifest_and_small_values(programs):
    folder, manifest = programs
    names = [p["name"] for p in manifest["programs"]]
    assert names == ["check-decode-tiny-float32-b2", "check-train-tiny-float32-b4",
                     "decode-tiny-bfloat16-b2", "train-tiny-mixed_bfloat16-b2"]
    decode = manifest["programs"][2]
    roles = {p["role"] for p in decode["parameters"]}
    assert roles == {"input", "weight"}
    # weights above --store-max-elements are left to the runner's random fill
    assert any("value" not in p for p in decode["parameters"] if p["role"] == "weight")
    assert all("value" in p for p in decode["parameters"] if p["role"] == "input")
    assert decode["bytes_per_step"]["total"] > decode["bytes_per_step"]["kv_cache"] > 0
    train = manifest["programs"][3]
    assert train["aliases"] and {p["role"] for p in train["parameters"]} == {
        "input", "weight", "state"}
    # the TF side's generate tokens are stored for the check
    values = np.load(folder / "values.npz")
    tokens = values[manifest["programs"][0]["check"]["tokens"]["key"]]
    assert tokens.shape == (2, 10) and (tokens != 0).any()


def test_runner_reproduces_generate_tokens_and_times_every_program(programs, tmp_path):
    folder, _ = programs
    result_path = tmp_path / "gpu.json"
    out = _run([os.path.join(SCRIPTS, "gpu_run.py"), "--programs", str(folder), "--device",
                "cpu", "--json", str(result_path), "--repeats", "1", "--train-steps", "2",
                "--bandwidth-mib", "16", "--no-torch-compile"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(result_path.read_text())
    decode, train = result["check"]
    assert decode["ok"] and decode["tokens"] == decode["tf_tokens"]
    assert train["ok"] and train["outputs"] == ["loss"]
    np.testing.assert_allclose(train["values"][0], train["tf_values"][0], rtol=1e-4)
    rows = {(r["backend"], r["kind"]): r for r in result["rows"]}
    for kind in ("decode", "train"):
        assert "skipped" not in rows[("tfhf XLA program", kind)], rows[("tfhf XLA program", kind)]
        assert "skipped" not in rows[("PyTorch eager", kind)], rows[("PyTorch eager", kind)]
    assert rows[("tfhf XLA program", "decode")]["prefill_ms"] > 0
    assert rows[("tfhf XLA program", "train")]["samples_s"] > 0
    assert "| tfhf XLA program | tiny | bfloat16 | 2 |" in out.stdout


def test_runner_reports_tokens_that_differ_from_tf(programs, tmp_path):
    folder, manifest = programs
    bad = tmp_path / "programs"
    bad.mkdir()
    for name in os.listdir(folder):
        if name != "values.npz":
            os.symlink(folder / name, bad / name)
    values = dict(np.load(folder / "values.npz"))
    key = manifest["programs"][0]["check"]["tokens"]["key"]
    values[key] = (values[key] + 1) % 96
    np.savez(bad / "values.npz", **values)
    out = _run([os.path.join(SCRIPTS, "gpu_run.py"), "--programs", str(bad), "--device", "cpu",
                "--check-only"])
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "check check-decode-tiny-float32-b2: MISMATCH" in out.stdout
    assert "check check-train-tiny-float32-b4: OK" in out.stdout
