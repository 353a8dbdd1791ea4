"""The fine-tuning flow under tf.distribute, on CPU.

Every run is a subprocess (tests/training/_dist_worker.py): logical devices and TF_CONFIG
must be set before TensorFlow initializes. The model is the tiny BERT with dropout off, the
global batch is 8, and 24 steps are taken with create_optimizer's AdamW (lr 5e-3), so runs
on 1 device, 2 devices and 2 worker processes must reach the same weights up to float32
summation order.

Tolerance: 1e-4 absolute on every weight (observed: ~1e-7). Bugs this catches move weights
by 1e-3 or more: Keras 3's Adam squaring an embedding gradient's repeated slices (position
embeddings on 2 replicas: 2.6e-3 before tfhf's optimizers summed them), a different data
split, a learning-rate schedule that counts per-replica steps. A loss not divided by the
replica count would leave Adam's weights nearly unchanged but doubles the reported loss,
which the history comparison catches.

Runtime: five TF processes (two of them at once), ~90 s of CPU time; 2.8 minutes of wall
time on 2 cores shared with other jobs (load average ~5).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from _train_helpers import read_json, run_python

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "_dist_worker.py")
ATOL = 1e-4
TIMEOUT = 240  # per subprocess; they normally take 15-40 s


@pytest.fixture(scope="module")
def runs(tiny_bert, tmp_path_factory):
    """One process: MirroredStrategy on 1 device, on 2 devices, and the 3-epoch
    BackupAndRestore reference."""
    out = tmp_path_factory.mktemp("dist")
    run_python([WORKER, "mirrored", "--model", tiny_bert, "--out", str(out)], TIMEOUT)
    return out


def load(out, name):
    with np.load(os.path.join(out, f"{name}.npz")) as z:
        weights = {k: z[k] for k in z.files}
    return weights, read_json(os.path.join(out, f"{name}.json"))


def assert_same_weights(a, b, atol=ATOL):
    assert a.keys() == b.keys()
    worst = max((float(np.max(np.abs(a[k] - b[k]))), k) for k in a)
    assert worst[0] < atol, f"largest difference {worst[0]:.2e} in {worst[1]}"


def test_one_and_two_replicas_reach_the_same_weights(tiny_bert, runs):
    one, one_info = load(runs, "one")
    two, two_info = load(runs, "two")
    assert one_info["replicas"] == 1 and two_info["replicas"] == 2
    # the same 24 optimizer steps: batch_size is the global batch, not per replica
    assert one_info["iterations"] == two_info["iterations"] == 24
    assert_same_weights(one, two)
    # ... and training moved them (the comparison is not between two untouched models)
    from safetensors.numpy import load_file

    start = load_file(os.path.join(tiny_bert, "model.safetensors"))
    moved = max(float(np.max(np.abs(one[k] - start[k]))) for k in one if k in start)
    assert moved > 100 * ATOL
    # the reported loss is the global mean loss in both (not divided by the replica count)
    np.testing.assert_allclose(one_info["history"]["loss"], two_info["history"]["loss"],
                               rtol=1e-4)
    np.testing.assert_allclose(one_info["history"]["accuracy"],
                               two_info["history"]["accuracy"], atol=1e-6)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_multi_worker_mirrored_two_processes_match_one_device(tiny_bert, runs, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "TOKENIZERS_PARALLELISM": "false", "TF_USE_LEGACY_KERAS": "0"}
    procs = []
    for i in range(2):
        logs = open(tmp_path / f"worker{i}.log", "w")
        procs.append((subprocess.Popen(
            [sys.executable, WORKER, "worker", "--model", tiny_bert, "--out", str(tmp_path)],
            env={**env, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                  "task": {"type": "worker", "index": i}})},
            stdout=logs, stderr=subprocess.STDOUT), logs))
    try:
        for p, _ in procs:
            p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    finally:
        for p, logs in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            logs.close()
    for i, (p, _) in enumerate(procs):
        assert p.returncode == 0, (tmp_path / f"worker{i}.log").read_text()[-4000:]
    one, one_info = load(runs, "one")
    for i in range(2):
        weights, info = load(tmp_path, f"worker{i}")
        assert info["replicas"] == 2 and info["iterations"] == 24
        assert_same_weights(one, weights)
        np.testing.assert_allclose(info["history"]["loss"], one_info["history"]["loss"],
                                   rtol=1e-4)


def test_backup_and_restore_resumes_a_killed_run(tiny_bert, runs, tmp_path):
    """The worker dies abruptly mid-epoch (os._exit at global step 11 of 24: epoch 2,
    batch 4); rerunning the same command restores the epoch-1 backup (weights, optimizer
    state, epoch counter), redoes epoch 2 and finishes with the uninterrupted run's
    weights."""
    backup = tmp_path / "backup"
    cmd = [WORKER, "backup", "--model", tiny_bert, "--out", str(tmp_path),
           "--backup-dir", str(backup)]
    env = {"HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    killed = subprocess.run([sys.executable, *cmd, "--kill-at", "11"], capture_output=True,
                            text=True, timeout=TIMEOUT, env={**os.environ, **env})
    assert killed.returncode == 17, killed.stderr[-4000:]
    assert not (tmp_path / "backup.npz").exists()  # it did not finish
    meta = json.loads((backup / "training_metadata.json").read_text())
    assert meta["epoch"] == 1  # the last backup is the end of epoch 1

    run_python(cmd, TIMEOUT)
    resumed, info = load(tmp_path, "backup")
    reference, ref_info = load(runs, "backup_ref")
    assert info["iterations"] == ref_info["iterations"] == 24
    assert len(info["history"]["loss"]) == 2  # epochs 2 and 3 only
    np.testing.assert_allclose(info["history"]["loss"], ref_info["history"]["loss"][1:],
                               rtol=1e-4)
    np.testing.assert_allclose(info["history"]["accuracy"],
                               ref_info["history"]["accuracy"][1:], atol=1e-6)
    assert_same_weights(reference, resumed)
    assert not backup.exists()  # deleted once training finished
