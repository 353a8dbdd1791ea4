"""scripts/bench_generate.py's llama.cpp peer (scripts/_llamacpp_peer.py), against a fake
``llama-bench`` that prints llama-bench's JSON: rows, skip reasons, the arguments it gets."""

import argparse
import json
import os
import stat
import sys

import pytest

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts")

FAKE = """#!{python}
import json, sys
args = sys.argv[1:]
open({log!r}, "a").write(json.dumps(args) + "\\n")
gen = int(args[args.index("-n") + 1])
ns = [2_000_000_000, 1_000_000_000] if gen else [500_000_000, 400_000_000]
print(json.dumps([{{"model_size": 96_000_000, "model_type": "llama 256M Q4_1",
                    "cpu_info": "fake", "samples_ns": ns}}]))
"""


@pytest.fixture()
def peer():
    sys.path.insert(0, SCRIPTS)
    try:
        import _llamacpp_peer

        yield _llamacpp_peer
    finally:
        sys.path.remove(SCRIPTS)


def _args(binary, **kw):
    return argparse.Namespace(llama_bench=binary, threads=2, repeats=2, prompt_len=8,
                              new_tokens=4, **kw)


def test_rows_from_llama_bench_json(peer, tmp_path):
    log = tmp_path / "calls.jsonl"
    fake = tmp_path / "llama-bench"
    fake.write_text(FAKE.format(python=sys.executable, log=str(log)))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    rows = peer.run_rows(_args(str(fake)), "model.gguf", [1, 8], 10.0, lambda b: 4_000_000)
    one, eight = rows
    assert one["decode_tok_s"] == 4.0  # 4 tokens in the fastest sample, 1 s
    assert one["prefill_ms"] == 400.0
    assert one["bytes_per_step_mb"] == 100.0 and one["bound_tok_s"] == 100.0
    assert one["bound_share"] == 0.04 and one["same_tokens_as_torch"] is None
    assert "batch 1 only" in eight["error"]
    prefill, decode = [json.loads(line) for line in log.read_text().splitlines()]
    assert prefill[prefill.index("-p") + 1] == "8" and prefill[prefill.index("-n") + 1] == "0"
    assert decode[decode.index("-d") + 1] == "8"  # decode after the prompt's context
    assert decode[decode.index("-t") + 1] == "2" and decode[decode.index("-o") + 1] == "json"


def test_missing_binary_is_a_skipped_row_with_the_reason(peer, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LLAMA_BENCH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    rows = peer.run_rows(_args(None), "model.gguf", [1], 10.0, lambda b: 0)
    assert "llama-bench not found" in rows[0]["error"]
    assert "[skip] llama.cpp" in capsys.readouterr().out
    rows = peer.run_rows(_args(str(tmp_path / "nope")), "model.gguf", [1], 10.0, lambda b: 0)
    assert "is not an executable file" in rows[0]["error"]
