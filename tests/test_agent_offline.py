"""Issue 12, item 4: a curated agent tool whose default checkpoint is a Hub repo that cannot be
had (offline, or no network) fails at once with a clear error naming the way out, instead of a
minute of Hub retries before an AgentFailure."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import time
from tfhf import load_tool
from tfhf.errors import ModelNotFoundError
summarizer = load_tool("summarization")   # default: philschmid/bart-large-cnn-samsum (Hub)
t = time.perf_counter()
try:
    summarizer(text="The council voted to turn the old rail yard into a park.")
except ModelNotFoundError as e:
    print("ERROR", str(e).replace("\\n", " "))
print("SECONDS", time.perf_counter() - t)
"""


def run(env):
    full = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    full.update(PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", **env)  # HF_HOME: an empty cache
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=600, env=full)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines()
                 if line.startswith(("ERROR", "SECONDS")))
    return lines, r.stderr


def test_offline_tool_fails_at_once_with_hf_hub_offline(tmp_path):
    lines, stderr = run({"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)})
    assert "philschmid/bart-large-cnn-samsum" in lines["ERROR"]
    assert "local folder" in lines["ERROR"] or "model_repo_id" in lines["ERROR"]
    assert "Retry" not in stderr, stderr[-2000:]  # the Hub is not asked at all


def test_unreachable_hub_tool_fails_at_once(tmp_path):
    """No HF_HUB_OFFLINE, but the Hub endpoint refuses connections (a closed local port)."""
    lines, stderr = run({"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path)})
    assert "philschmid/bart-large-cnn-samsum" in lines["ERROR"]
    assert "Retry" not in stderr, stderr[-2000:]  # one failed connection is enough
