"""The README is a contract: every fenced ```bash / ```python block in README.md and docs/*.md
is executed here as written, or says in the document why it is not.

Each fence is preceded by one HTML comment the harness reads:

* ``<!-- readme-test: ID -->``: run by :func:`test_snippet_runs` with ``SNIPPETS[ID]``: a small
  table of placeholder substitutions (``path/to/folder`` -> a tiny local checkpoint built in
  a fixture), the stdin of interactive commands and the checks added after the snippet.
  Python snippets run in a fresh interpreter (``PYTHONPATH`` = the repo, ``HF_HUB_OFFLINE=1``,
  a temporary working folder holding ``article.txt`` and ``speech.wav``); a ``prelude`` is
  only used for fragments that continue the README's previous example (it defines the names
  the fragment takes from there). Shell lines ``tfhf ...`` run as ``python -m tfhf.cli ...``,
  ``python ...`` with this interpreter; ``pip install -e ".[extra]"`` lines are what CI does
  (``.ci/run``) and are checked, not run: the extra must exist in setup.cfg and its packages
  must be importable here.
* ``<!-- run-by: tests/FILE.py::TEST -->``: executed by that test (the quickstart, whose full
  run takes minutes, by :func:`test_quickstart_command` with fewer samples).
* ``<!-- test-command -->``: the README's test command, which ``.ci/run`` executes
  (tests/test_package.py keeps them identical).
* ``<!-- not-run: REASON -->``: cannot run offline or here (docker, curl to TF Serving, a
  TPU, a multi-host cluster, benchmarks of minutes). The document must say so in words next
  to the fence ("not run by the tests").

Commands naming an offline asset (``tfhf chat`` without ``--model``,
``asset:qwen2.5-coder-0.5b``) run unchanged against fake asset packages holding tiny models
(tests/readme_fixtures.py), so this file runs in CI where only minilm is installed. A fence
with no marker, a marker naming no table entry, an entry no fence uses, or a snippet that
fails all fail here: the README and the code cannot drift apart silently.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import readme_fixtures as fx  # noqa: E402

DOCUMENTS = ["README.md"] + sorted(os.path.relpath(p, ROOT)
                                   for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
FENCE = re.compile(r"^```(bash|python|sh|shell|console|py)[ \t]*\n(.*?)^```[ \t]*$",
                   re.S | re.M)
MARKER = re.compile(r"<!--\s*(readme-test|not-run|run-by|test-command)\s*:?\s*(.*?)\s*-->\s*$")
NOT_RUN_WORDS = "not run by the tests"


@dataclass
class Snippet:
    document: str
    line: int
    lang: str
    code: str
    kind: str | None
    arg: str
    before: str
    after: str


def snippets(document):
    with open(os.path.join(ROOT, document), encoding="utf-8") as fh:
        text = fh.read()
    out = []
    for m in FENCE.finditer(text):
        head = text[:m.start()].rstrip("\n")
        last = head.rsplit("\n", 1)[-1]
        mk = MARKER.search(last)
        out.append(Snippet(document, text.count("\n", 0, m.start()) + 1, m.group(1),
                           m.group(2), mk.group(1) if mk else None, mk.group(2) if mk else "",
                           head[-700:], text[m.end():m.end() + 700]))
    return out


ALL = [s for d in DOCUMENTS for s in snippets(d)]


# ----------------------------------------------------------------------------- the table
@dataclass
class Entry:
    """How a marked snippet runs: ``subs`` placeholder -> fixture value (``{name}`` refers to
    a key of the ``workspace`` fixture), ``stdin`` per command (by index, shell only),
    ``prelude`` (fragments only), ``check`` (Python run after the snippet, or a callable on
    the list of completed shell commands), ``rcs`` allowed exit statuses per command."""

    subs: dict = field(default_factory=dict)
    stdin: dict = field(default_factory=dict)
    prelude: str = ""
    check: object = ""
    rcs: dict = field(default_factory=dict)
    timeout: int = 600
    setup: object = None  # callable(workspace, cwd): files a snippet expects from a previous one
    real_assets: tuple = ()  # real offline assets the snippet needs ({asset:NAME} in subs)


def _check_cli_generate(results):
    chat, qwen, gen, gguf, sample = results
    assert "/exit" not in chat.stdout  # the prompt loop ended on /exit, not on EOF
    for r in results:
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
    # the tiny random models print arbitrary (possibly blank) text: exit 0 is the contract


def _check_agent_cli(results):
    run, code = results
    assert "LLM: asset:qwen2.5-coder-0.5b" in run.stderr  # the default LLM is named
    # a tiny random LLM writes no valid program: a clear failure, never a traceback
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert code.stdout.startswith("from tfhf import load_tool") or code.returncode == 1


def _check_train():
    import json

    with open(os.path.join(_CWD_BY_RUN["cwd"], "my-classifier", "config.json")) as fh:
        config = json.load(fh)
    assert config["id2label"] == {"0": "negative", "1": "positive"}, config["id2label"]


def _check_assets(results):
    listing, install, path = results
    assert "minilm" in listing.stdout and "installed" in listing.stdout
    assert os.path.isdir(path.stdout.strip())


SCALING_PRELUDE = """
import tensorflow as tf
from datasets import Dataset
from tfhf import AutoTokenizer, TFAutoModelForSequenceClassification, create_optimizer
path = "{tiny_bert}"
tokenizer = AutoTokenizer.from_pretrained(path)
rows = {{"text": ["a great film", "a dull film"] * 64, "label": [1, 0] * 64}}  # 2 batches of 64
tokenized = Dataset.from_dict(rows).map(lambda b: tokenizer(b["text"], truncation=True),
                                        batched=True)
num_train_steps, num_warmup_steps = 6, 1
"""

SNIPPETS = {
    "migrate": Entry(
        subs={"path/or/org-name": "{tiny_bert}"},
        check="""
assert tuple(logits.shape) == (2, 2), logits.shape
import numpy as np
for other in (model(dict(batch)), model(**batch)):
    np.testing.assert_allclose(other.logits, logits, atol=1e-5)
np.testing.assert_allclose(model([batch["input_ids"], batch["attention_mask"]]).logits,
                           logits, atol=1e-5)
import pickle; pickle.loads(pickle.dumps(tok))
"""),
    "seq2seq-pipelines": Entry(
        subs={"path/to/bart-large-cnn": "{tiny_bart}",
              "path/to/nllb-200-distilled-600M": "{tiny_nllb}"},
        check="""
assert isinstance(asr("speech.wav")["text"], str)
"""),
    "generate": Entry(
        subs={"path/to/folder": "{tiny_llama}"},
        check="""
texts = tok.batch_decode(out, skip_special_tokens=True)
assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
"""),
    "quantize": Entry(
        subs={"path/to/folder": "{tiny_llama}", "path/to/model.gguf": "{gguf}"},
        check="""
assert model.quantization_config["mode"] == "int8"
assert float_model.quantization_config["modules"]["model.embed_tokens"]["bits"] == 4
assert not gguf.quantization_config  # the stand-in .gguf holds F32 tensors: they stay float
reloaded = TFAutoModelForCausalLM.from_pretrained("smol-int8")
assert reloaded.quantization_config["mode"] == "int8"
"""),
    "cli-generate": Entry(
        subs={"path/to/model.gguf": "{gguf}"},
        stdin={0: "hello there\n/exit\n", 1: "write a loop\n/exit\n"},
        check=_check_cli_generate),
    "mixed-precision": Entry(
        prelude='import keras\nfrom tfhf import TFAutoModel\npath = "{tiny_bert}"\n',
        check="""
assert model.dtype_policy.name == "mixed_bfloat16", model.dtype_policy
"""),
    "scaling-out": Entry(prelude=SCALING_PRELUDE, check="""
assert int(model.optimizer.iterations.numpy()) == 6, model.optimizer.iterations  # 3 epochs x 2
"""),
    "assets": Entry(check=_check_assets),
    "train": Entry(subs={"path/to/checkpoint": "{tiny_bert}"}, check=lambda results: _check_train()),
    "export": Entry(
        subs={"path/to/checkpoint": "{tiny_bert}"},
        check=lambda results: _assert_saved_model("serving/clf")),
    "agent-python": Entry(check="""
from tfhf.agents import AgentFailure  # a tiny random LLM fails, with an explanation
"""),
    "agent-cli": Entry(subs={"path/to/model.gguf": "{gguf}"}, rcs={0: (0, 1), 1: (0, 1)},
                       check=_check_agent_cli),
    "docs-assets-python": Entry(check="assert model.config.hidden_size == 384\n"),
    "docs-assets-cli": Entry(),
    "docs-interpreter-limits": Entry(
        prelude='code, tools, state = "total = 0\\nfor i in range(1000):\\n    total += i", dict(), dict()\n',
        check="assert state['total'] == 499500, state\n"),
    "docs-whisper-ct2": Entry(
        subs={"faster-whisper-tiny.en": "{asset:whisper-tiny-en}"}, real_assets=("whisper-tiny-en",),
        check="""
import os
assert os.path.exists(os.path.join("whisper-tiny.en-hf", "model.safetensors"))
assert model.config.model_type == "whisper"
"""),
    "docs-export-cli": Entry(subs={"path/to/checkpoint": "{tiny_bert}"},
                             check=lambda results: _assert_saved_model("serving/clf")),
    "docs-saved-model-cli": Entry(setup=lambda ws, cwd: _export(ws, cwd, "serving/clf"),
                                  check=lambda results: _check_saved_model_cli(results)),
    "docs-keras-file": Entry(
        prelude='import tfhf\nmodel = tfhf.TFAutoModelForSequenceClassification'
                '.from_pretrained("{tiny_bert}")\n',
        check="""
import numpy as np
ids = np.array([[2, 5, 7, 3]])
np.testing.assert_array_equal(restored(ids).logits, model(ids).logits)
"""),
    "docs-export-python": Entry(
        subs={"path/to/checkpoint": "{tiny_bert}"},
        check="""
import os
assert os.path.basename(path) == "1" and os.path.exists(os.path.join(path, "saved_model.pb"))
"""),
}

_CWD_BY_RUN = {}


def _export(ws, cwd, rel):
    r = subprocess.run([sys.executable, "-m", "tfhf.cli", "export", "--model", ws["tiny_bert"],
                        "--task", "text-classification", "--output", rel], capture_output=True,
                       text=True, timeout=600, cwd=cwd, env=env_for(ws))
    assert r.returncode == 0, r.stderr[-4000:]


def _check_saved_model_cli(results):
    (r,) = results
    assert "Result for output key label" in r.stdout or "label" in r.stdout, r.stdout[-2000:]


def _assert_saved_model(rel):
    cwd = _CWD_BY_RUN["cwd"]
    versions = os.listdir(os.path.join(cwd, rel))
    assert versions and os.path.exists(os.path.join(cwd, rel, versions[0], "saved_model.pb"))


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Every stand-in, built once: tiny checkpoints, a tiny GGUF, fake asset packages."""
    pytest.importorskip("torch")
    base = tmp_path_factory.mktemp("readme")
    ws = {"tiny_bert": fx.tiny_bert_classifier(base / "tiny-bert"),
          "tiny_llama": fx.tiny_llama_folder(base / "tiny-llama"),
          "tiny_bart": fx.tiny_seq2seq(base / "tiny-bart", "bart"),
          "tiny_nllb": fx.tiny_seq2seq(base / "tiny-nllb", "nllb"),
          "gguf": fx.tiny_gguf(base / "tiny.gguf")}
    whisper = fx.tiny_whisper_en(base / "tiny-whisper")
    ws["site"] = fx.fake_asset_site(base / "site", ws["gguf"], whisper)
    ws["cache"] = str(base / "cache")
    return ws


def env_for(ws):
    return {**os.environ, "PYTHONPATH": os.pathsep.join([ws["site"], ROOT]),
            "HF_HUB_OFFLINE": "1", "TFHF_CACHE": ws["cache"], "TF_CPP_MIN_LOG_LEVEL": "3",
            "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}


def workdir(tmp_path):
    fx.write_article(tmp_path / "article.txt")
    fx.write_speech(tmp_path / "speech.wav")
    fx.write_reviews(tmp_path / "reviews.csv")
    _CWD_BY_RUN["cwd"] = str(tmp_path)
    return str(tmp_path)


def substitute(code, entry, ws):
    for placeholder, value in entry.subs.items():
        assert placeholder in code, f"placeholder {placeholder!r} is no longer in the snippet"
        if value.startswith("{") and value.endswith("}"):
            value = ws[value[1:-1]]
        code = code.replace(placeholder, value)
    return code


# ----------------------------------------------------------------------------- running
def shell_commands(code):
    """The commands of a shell fence: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [shlex.split(line, comments=True) for line in joined.splitlines()
            if shlex.split(line, comments=True)]


def check_pip_install(argv):
    """``pip install -e ".[extra,...]"``: CI's step; the extras exist and are installed."""
    assert argv[:3] == ["pip", "install", "-e"], argv
    m = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", argv[3])
    assert m, f"unexpected install target {argv[3]!r}"
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    from importlib import metadata

    for extra in (m.group(1) or "").split(","):
        if not extra:
            continue
        assert extra in cfg["options.extras_require"], f"setup.cfg has no extra [{extra}]"
        for req in cfg["options.extras_require"][extra].split():
            name = re.split(r"[<>=!~ ]", req)[0]
            metadata.version(name)  # raises PackageNotFoundError when missing


def run_shell(code, entry, ws, cwd):
    results = []
    for i, argv in enumerate(shell_commands(code)):
        if argv[:2] == ["pip", "install"]:
            check_pip_install(argv)
            continue
        if argv[0] == "tfhf":
            argv = [sys.executable, "-m", "tfhf.cli", *argv[1:]]
        elif argv[0] == "python":
            argv = [sys.executable, *argv[1:]]
        else:
            pytest.fail(f"the harness does not know how to run {argv[0]!r}: mark the fence "
                        "not-run with a reason, or teach run_shell")
        try:
            r = subprocess.run(argv, input=entry.stdin.get(i, ""), capture_output=True,
                               text=True, timeout=entry.timeout, cwd=cwd, env=env_for(ws))
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"{shlex.join(argv)} timed out after {entry.timeout}s: {e.stderr}")
        allowed = entry.rcs.get(i, (0,))
        assert r.returncode in allowed, (
            f"{shlex.join(argv)} exited {r.returncode}\nstdout:\n{r.stdout[-3000:]}\n"
            f"stderr:\n{r.stderr[-5000:]}")
        results.append(r)
    if callable(entry.check):
        entry.check(results)


def run_python(code, entry, ws, cwd):
    source = entry.prelude.format(**ws) + code + "\n" + (entry.check or "")
    script = os.path.join(cwd, "snippet.py")
    with open(script, "w", encoding="utf-8") as fh:
        fh.write(source)
    try:
        r = subprocess.run([sys.executable, script], capture_output=True, text=True,
                           timeout=entry.timeout, cwd=cwd, env=env_for(ws))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"snippet timed out after {entry.timeout}s: {e.stderr}")
    assert r.returncode == 0, (f"snippet failed:\n{source}\nstdout:\n{r.stdout[-3000:]}\n"
                               f"stderr:\n{r.stderr[-6000:]}")
    return r


# ----------------------------------------------------------------------------- tests
def test_every_fence_is_marked():
    unmarked = [f"{s.document}:{s.line}" for s in ALL if s.kind is None]
    assert not unmarked, ("fences without a <!-- readme-test: ID --> / <!-- not-run: ... --> "
                          f"marker: {unmarked}")
    assert len([s for s in ALL if s.document == "README.md"]) >= 10


def test_markers_are_consistent():
    ids = [s.arg for s in ALL if s.kind == "readme-test"]
    assert sorted(set(ids)) == sorted(SNIPPETS), (
        f"README ids {sorted(set(ids))} vs table {sorted(SNIPPETS)}")
    assert len(ids) == len(set(ids)), "an id is used by two fences"
    for s in ALL:
        where = f"{s.document}:{s.line}"
        if s.kind == "not-run":
            assert s.arg, f"{where}: not-run needs a reason"
            near = " ".join((s.before[-400:] + s.after).lower().split())
            assert NOT_RUN_WORDS in near, (f"{where}: say '{NOT_RUN_WORDS}' (and why) next to "
                                           "the fence, for the reader")
        if s.kind == "run-by":
            path, _, test = s.arg.partition("::")
            with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
                assert f"def {test}(" in fh.read(), f"{where}: {s.arg} does not exist"
        if s.kind == "test-command":
            assert s.document == "README.md"


@pytest.mark.parametrize("snippet", [s for s in ALL if s.kind == "readme-test"],
                         ids=lambda s: s.arg)
def test_snippet_runs(snippet, workspace, tmp_path):
    entry = SNIPPETS[snippet.arg]
    from tfhf import assets

    for name in entry.real_assets:  # found here, where the fake asset packages are not
        if not assets.is_installed(name):
            pytest.skip(f"needs the real {name} asset: `tfhf assets install {name}`")
        workspace = {**workspace, f"asset:{name}": assets.path(name)}
    cwd = workdir(tmp_path)
    if entry.setup is not None:
        entry.setup(workspace, cwd)
    code = substitute(snippet.code, entry, workspace)
    if snippet.lang in ("python", "py"):
        run_python(code, entry, workspace, cwd)
    else:
        run_shell(code, entry, workspace, cwd)


def test_quickstart_command(tmp_path):
    """The README's first command, minus the install CI does: `tfhf assets install minilm`
    then `tfhf quickstart` with fewer samples and one epoch (the full run takes minutes)."""
    from tfhf import assets

    if not assets.is_installed("minilm"):
        pytest.skip("the minilm asset is not installed (`tfhf assets install minilm`)")
    block = next(s for s in ALL if s.kind == "run-by" and "test_quickstart_command" in s.arg)
    parts = [shlex.split(p) for p in block.code.strip().split("&&")]
    assert parts[0][:2] == ["pip", "install"]
    check_pip_install(parts[0])
    assert parts[1] == ["tfhf", "assets", "install", "minilm"]
    assert parts[2] == ["tfhf", "quickstart"]
    env = {**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-m", "tfhf.cli", *parts[1][1:]], capture_output=True,
                       text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "model"
    r = subprocess.run([sys.executable, "-m", "tfhf.cli", "quickstart", "--epochs", "1",
                        "--max-train-samples", "512", "--output", str(out)],
                       capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    assert "validation accuracy" in r.stdout and (out / "config.json").exists()
    lines = [ln.split() for ln in r.stdout.splitlines() if ln.startswith("  ")]
    assert len(lines) >= 4 and {ln[0] for ln in lines} <= {"positive", "negative"}, r.stdout
