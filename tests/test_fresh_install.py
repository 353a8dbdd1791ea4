"""tfhf installed without the test extra: its install_requires must be enough for the commands
the README shows first (`tfhf chat`, `tfhf generate --chat`).

How the fresh environment is made (offline, about a minute):

1. ``pip wheel --no-deps --no-build-isolation`` builds tfhf's wheel from this checkout.
2. ``python -m venv`` (no system site-packages) gets that wheel with ``pip install --no-deps
   --no-index``.
3. The dependencies come from this machine's site-packages, but only those in the dependency
   closure of tfhf's ``install_requires``: the closure is walked with ``importlib.metadata``
   (each distribution's ``Requires-Dist``, extras and environment markers evaluated), and
   every top-level file or folder a distribution's RECORD lists is symlinked into one folder
   that a ``.pth`` file adds to the venv. What only the test extra brought in (torch, and
   jinja2 through torch; pytest; tensorflow-text) is therefore absent, as on a user's machine.
   ``--system-site-packages`` would hide exactly that kind of missing dependency.

A top-level folder shared by several distributions (a namespace such as ``google/``) comes in
whole when one of them is in the closure; that can only hide a missing dependency inside
such a namespace, not a missing top-level package like jinja2.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import readme_fixtures as fx  # noqa: E402


def install_requires():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    return [r.strip() for r in cfg["options"]["install_requires"].splitlines() if r.strip()]


def closure(requirements):
    """Installed distributions needed by ``requirements``, recursively: {name: Distribution}."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen, missing = {}, []
    todo = [(Requirement(r), ()) for r in requirements]
    while todo:
        req, extras = todo.pop()
        env = [{"extra": e} for e in extras] or [{"extra": ""}]
        if req.marker is not None and not any(req.marker.evaluate(e) for e in env):
            continue
        key = (canonicalize_name(req.name), tuple(sorted(req.extras)))
        if key in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        seen[key] = dist
        for r in dist.requires or []:
            todo.append((Requirement(r), tuple(sorted(req.extras))))
    return {k[0]: d for k, d in seen.items()}, missing


def link_site(dists, target):
    """Symlink the top-level entries of each distribution's files into ``target``."""
    os.makedirs(target, exist_ok=True)
    for dist in dists.values():
        base = str(dist.locate_file(""))
        for f in dist.files or []:
            top = f.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth") or "/" in top:
                continue
            src, dst = os.path.join(base, top), os.path.join(target, top)
            if os.path.exists(src) and not os.path.lexists(dst):
                os.symlink(src, dst)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    base = tmp_path_factory.mktemp("fresh")
    # no PYTHONPATH: a checkout on it (with its tfhf.egg-info) would count as installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheels = base / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                        "--no-build-isolation", "--no-index", "-w", str(wheels), ROOT],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    (wheel,) = [w for w in os.listdir(wheels) if w.startswith("tfhf-")]
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=env)
    py = str(venv / "bin" / "python")
    dists, missing = closure(install_requires())
    link_site(dists, str(base / "deps"))
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, env=env).stdout.strip()
    with open(os.path.join(site, "tfhf-test-deps.pth"), "w") as fh:
        fh.write(str(base / "deps") + "\n")
    r = subprocess.run([py, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                        str(wheels / wheel)], capture_output=True, text=True, timeout=600,
                       env=env, cwd=str(base))
    assert r.returncode == 0, r.stderr[-3000:]
    gguf = fx.tiny_gguf(base / "tiny.gguf")
    env = dict(env)
    env.update(HF_HUB_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1",
               TFHF_CACHE=str(base / "cache"))
    return {"python": py, "bin": str(venv / "bin"), "gguf": gguf, "env": env,
            "cwd": str(base), "missing": missing, "dists": dists}


def run(fresh, *args, stdin=""):
    return subprocess.run([os.path.join(fresh["bin"], "tfhf"), *args], input=stdin,
                          capture_output=True, text=True, timeout=600, cwd=fresh["cwd"],
                          env=fresh["env"])


def test_the_environment_is_fresh(fresh):
    """tfhf comes from the wheel; what only the test extra installs is not importable."""
    probe = ("import importlib.util as u, json, tfhf; print(json.dumps([tfhf.__file__] + "
             "[m for m in ('torch', 'pytest', 'tensorflow_text') if u.find_spec(m)]))")
    r = subprocess.run([fresh["python"], "-c", probe], capture_output=True, text=True,
                       timeout=300, cwd=fresh["cwd"], env=fresh["env"])
    assert r.returncode == 0, r.stderr[-3000:]
    import json

    tfhf_file, *extra = json.loads(r.stdout.strip().splitlines()[-1])
    assert not tfhf_file.startswith(ROOT) and "site-packages" in tfhf_file, tfhf_file
    assert extra == [], f"importable without the test extra: {extra}"
    assert not fresh["missing"], f"install_requires not installed here: {fresh['missing']}"


def test_the_wheel_holds_every_subpackage(fresh):
    """A folder without __init__.py is left out of the wheel by setuptools' find_packages."""
    import subprocess as sp

    code = ("import pkgutil, tfhf, json; print(json.dumps(sorted(m.name for m in "
            "pkgutil.walk_packages(tfhf.__path__, 'tfhf.') if m.ispkg)))")
    r = sp.run([fresh["python"], "-c", code], capture_output=True, text=True, timeout=300,
               cwd=fresh["cwd"], env=fresh["env"])
    assert r.returncode == 0, r.stderr[-3000:]
    import json

    installed = set(json.loads(r.stdout.strip().splitlines()[-1]))
    here = {"tfhf." + os.path.relpath(d, os.path.join(ROOT, "tfhf")).replace(os.sep, ".")
            for d, _, files in os.walk(os.path.join(ROOT, "tfhf"))
            if any(f.endswith(".py") for f in files) and d != os.path.join(ROOT, "tfhf")}
    assert here - installed == set(), f"missing from the wheel: {sorted(here - installed)}"


def test_generate_chat_and_chat_run_without_the_test_extra(fresh):
    for args, stdin in ((("generate", "--model", fresh["gguf"], "--prompt", "Explain XLA.",
                          "--chat", "--max-new-tokens", "4"), ""),
                        (("chat", "--model", fresh["gguf"], "--max-new-tokens", "4"),
                         "hello\n/exit\n")):
        r = run(fresh, *args, stdin=stdin)
        assert "ImportError" not in r.stderr and "ModuleNotFoundError" not in r.stderr, (
            args, r.stderr[-3000:])
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-3000:])


def test_jinja2_is_a_declared_dependency():
    """Chat templates need jinja2 at runtime; it must come from install_requires' closure, not
    from torch (the test extra)."""
    dists, _ = closure(install_requires())
    assert re.sub(r"[-_.]+", "-", "jinja2") in dists, sorted(dists)


def test_text_to_speech_runs_without_the_test_extra(fresh, tmp_path):
    """SpeechT5's tokenizer (text-to-speech, the text_reader tool) is a SentencePiece model and
    the waveform is written with soundfile: both must come from install_requires. The tiny
    checkpoint is made here with PyTorch; the fresh venv reads it, synthesizes and saves a WAV."""
    dists, _ = closure(install_requires())
    assert {"sentencepiece", "soundfile"} <= set(dists), sorted(dists)
    pytest.importorskip("torch")
    sys.path.insert(0, os.path.join(HERE, "audio"))
    from tiny_speecht5 import make_tiny_speecht5

    tts, voc = make_tiny_speecht5(tmp_path)
    wav = str(tmp_path / "out.wav")
    code = ("import sys, tfhf, soundfile; from tfhf.audio import save_audio; "
            "p = tfhf.pipeline('text-to-speech', model=sys.argv[1], vocoder=sys.argv[2]); "
            "print(type(p.tokenizer.tokenizer).__name__); "
            "o = p('hello world', forward_params={'maxlenratio': 2.0}); "
            "save_audio(sys.argv[3], o['audio'], o['sampling_rate']); "
            "print(soundfile.info(sys.argv[3]).samplerate)")
    r = subprocess.run([fresh["python"], "-c", code, tts, voc, wav], capture_output=True,
                       text=True, timeout=600, cwd=fresh["cwd"], env=fresh["env"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split()[-2:] == ["SpeechT5Tokenizer", "16000"], r.stdout
