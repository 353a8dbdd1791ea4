"""Issue 12 item 9: with the Hub unreachable (no HF_HUB_OFFLINE, the endpoint refuses
connections), a model that is not cached fails at once with a clear message on every path,
instead of a minute of huggingface_hub retries; one short probe per process decides."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tfhf.errors import ModelNotFoundError
from tfhf.hub import resolve

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def closed_port() -> int:
    with socket.socket() as s:  # bound, then released: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(script, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HTTPS_PROXY",
                                                             "https_proxy", "HTTP_PROXY",
                                                             "http_proxy", "ALL_PROXY",
                                                             "all_proxy")}
    env.update(PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", HF_HOME=str(tmp_path / "hf"),
               HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=600, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


FROM_PRETRAINED = """
import time
import tensorflow  # imported before the clock starts: only the Hub part is timed
import tfhf
from tfhf.errors import ModelNotFoundError
for name, load in [("org/not-cached", tfhf.TFAutoModelForCausalLM.from_pretrained),
                   ("org/not-cached", tfhf.AutoTokenizer.from_pretrained),
                   ("smolm2", tfhf.TFAutoModel.from_pretrained)]:
    t = time.perf_counter()
    try:
        load(name)
        print("LOADED", name)
    except ModelNotFoundError as e:
        print("ERROR", str(e).replace("\\n", " "))
    print("SECONDS", time.perf_counter() - t)
"""


def test_from_pretrained_fails_at_once_when_the_hub_is_unreachable(tmp_path):
    r = run(FROM_PRETRAINED, tmp_path)
    errors = [line for line in r.stdout.splitlines() if line.startswith("ERROR")]
    seconds = [float(line.split()[1]) for line in r.stdout.splitlines()
               if line.startswith("SECONDS")]
    assert len(errors) == 3 and "LOADED" not in r.stdout, r.stdout
    for message in errors[:2]:
        assert "'org/not-cached'" in message and "cannot be reached" in message, message
        assert "127.0.0.1" in message and "local model folder" in message, message
        assert "tfhf assets list" in message and "HF_HUB_OFFLINE=1" in message, message
    assert "Did you mean the asset 'smollm2'?" in errors[2], errors[2]
    assert max(seconds) < 15, seconds
    assert "Retry" not in r.stderr, r.stderr[-2000:]  # one refused connection is enough


EXPORT = """
import time
import tensorflow  # imported before the clock starts: only the Hub part is timed
from tfhf import cli
t = time.perf_counter()
rc = cli.main(["export", "--model", "org/not-cached", "--task", "text-classification",
               "--output", "serving/clf"])
print("RC", rc)
print("SECONDS", time.perf_counter() - t)
"""


def test_export_fails_at_once_when_the_hub_is_unreachable(tmp_path):
    r = run(EXPORT, tmp_path)
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines()
                 if line.startswith(("RC", "SECONDS")))
    assert lines["RC"] == "1", r.stdout + r.stderr[-2000:]
    assert float(lines["SECONDS"]) < 15, lines
    assert "tfhf: error:" in r.stderr and "'org/not-cached'" in r.stderr, r.stderr[-2000:]
    assert "cannot be reached" in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "Retry" not in r.stderr, r.stderr[-2000:]
    assert not os.path.exists(tmp_path / "serving")


def test_the_probe_runs_once_per_process(monkeypatch, tmp_path):
    from huggingface_hub import constants

    calls = []

    def refused(address, timeout=None):
        calls.append((address, timeout))
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "create_connection", refused)
    resolve.forget_hub_probe()
    try:
        for _ in range(2):
            with pytest.raises(ModelNotFoundError, match="Connection refused"):
                resolve.hub_cache_only("org/not-cached", cache_dir=str(tmp_path))
        assert len(calls) == 1 and calls[0][1] <= 5  # a short timeout, asked once
        (tmp_path / "models--org--cached" / "snapshots").mkdir(parents=True)
        assert resolve.hub_cache_only("org/cached", cache_dir=str(tmp_path)) is True
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        assert resolve.hub_cache_only("org/not-cached", cache_dir=str(tmp_path)) is True
        assert len(calls) == 1  # HF_HUB_OFFLINE=1: the Hub is not asked at all
    finally:
        resolve.forget_hub_probe()
