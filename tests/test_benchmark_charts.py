"""The benchmark charts: scripts/_plots.py draws one from each bench script's JSON, and
scripts/plot_benchmarks.py regenerates the docs charts from docs/data/*.json."""

import json
import os
import struct
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib", reason="the charts need matplotlib (pip install matplotlib)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")
DATA = os.path.join(ROOT, "docs", "data")
BENCHES = ("generate", "train", "serving", "encoder", "seq2seq")


def png_size(path):
    """(width, height) from a PNG header; fails when the file is not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def plots():
    sys.path.insert(0, SCRIPTS)
    try:
        import _plots

        yield _plots
    finally:
        sys.path.remove(SCRIPTS)


@pytest.mark.parametrize("name", BENCHES)
def test_docs_json_is_read_as_its_benchmark(plots, name):
    with open(os.path.join(DATA, f"{name}.json")) as fh:
        assert plots.kind_of(json.load(fh)) == name


def test_plot_benchmarks_regenerates_every_docs_chart(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(SCRIPTS, "plot_benchmarks.py"),
                          "--out-dir", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    for name in BENCHES:
        png = tmp_path / f"bench_{name}.png"
        w, h = png_size(png)
        assert 400 <= w <= 1600 and 200 <= h <= 1000, (name, w, h)
        assert png.stat().st_size < 150_000


@pytest.mark.parametrize("name", BENCHES)
def test_committed_docs_charts_are_small_pngs(name):
    png = os.path.join(ROOT, "docs", "img", f"bench_{name}.png")
    png_size(png)
    assert os.path.getsize(png) < 150_000


def test_decode_chart_skips_failed_runs_and_draws_any_backend(plots, tmp_path):
    with open(os.path.join(DATA, "generate.json")) as fh:
        result = json.load(fh)
    extra = dict(result["runs"][0], backend="keras-hub", decode_tok_s=20.5)
    result["runs"] += [extra, {"backend": "torch-compile", "dtype": "float32",
                               "error": "RuntimeError: no compiler"}]
    path = plots.save_chart(result, str(tmp_path / "decode.png"))
    png_size(path)
    assert os.listdir(tmp_path) == ["decode.png"]  # no temporary file left behind


def test_unknown_json_is_a_clear_error(plots, tmp_path):
    with pytest.raises(ValueError, match="bench_"):
        plots.save_chart({"something": 1}, str(tmp_path / "x.png"))
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("name", BENCHES)
def test_every_bench_script_takes_plot(name):
    out = subprocess.run([sys.executable, os.path.join(SCRIPTS, f"bench_{name}.py"), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--plot PATH" in out.stdout
