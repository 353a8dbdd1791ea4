"""The interpreter against the attack corpus in tests/agents/attacks/ (see its README).

All attacks run once per session, two at a time, each in its own forked process
(``_attack_runner.py``, started as a subprocess so that nothing can take the test process
down). Each attack must raise InterpreterError within a few seconds, leave the canary file
uncreated, leak no secret, and stay within a modest amount of memory.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ATTACK_DIR = HERE / "attacks"
MAX_SECONDS = 8.0     # the interpreter's own limit is 5 s of interpreter time
MAX_RSS_MB = 1500


def load_attacks():
    attacks = []
    for path in sorted(ATTACK_DIR.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for block in re.split(r"^### ", text, flags=re.M)[1:]:
            header, _, code = block.partition("\n")
            name = header.strip()
            if name.endswith("[escapes]"):
                name = name[:-len("[escapes]")].strip()
                code = codecs.decode(code, "unicode_escape")
            m = re.search(r"\s*\[repeat (\d+)\]$", name)
            if m:  # a program too long to store: its lines repeated
                name = name[:m.start()]
                code = code.rstrip("\n") + "\n"
                code = code * int(m.group(1))
            attacks.append({"id": f"{path.stem}.{name}", "code": code.rstrip("\n") + "\n"})
    return attacks


ATTACKS = load_attacks()


def test_the_corpus_is_large_and_names_are_unique():
    ids = [a["id"] for a in ATTACKS]
    assert len(ids) >= 200
    assert len(set(ids)) == len(ids)


@pytest.fixture(scope="session")
def attack_results(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("attacks")
    secret_file = workdir / "secret.txt"
    file_secret = "FILESECRET-" + secrets.token_hex(16)
    secret_file.write_text(file_secret)
    env = dict(os.environ, TFHF_ATTACK_SECRET="ENVSECRET-" + secrets.token_hex(16),
               TFHF_ATTACK_SECRET_FILE=str(secret_file), TFHF_ATTACK_FILE_SECRET=file_secret)
    spec = {"attacks": ATTACKS, "workdir": str(workdir), "workers": 2, "timeout": 30}
    proc = subprocess.run([sys.executable, str(HERE / "_attack_runner.py")],
                          input=json.dumps(spec), capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a["id"] for a in ATTACKS])
def test_attack_is_refused(attack, attack_results):
    r = attack_results[attack["id"]]
    assert r["outcome"] == "InterpreterError", r
    assert not r["canary_written"], r
    assert not r["secret_leaked"], r
    assert r["elapsed"] < MAX_SECONDS, r
    assert r["max_rss_mb"] < MAX_RSS_MB, r
    assert "out of memory" not in r["message"], r  # memory limits must refuse, not the OS
    assert re.match(r"^(line \d+: )?\S", r["message"]), r


BUDGET_ATTACKS = [a for a in ATTACKS if a["id"].startswith("budget.")]
BUDGET_CPU_SECONDS = 2.0
BUDGET_RSS_GROWTH_MB = 300


def test_the_budget_corpus_covers_every_class():
    names = {a["id"].split(".", 1)[1].split("_")[0] for a in BUDGET_ATTACKS}
    assert {"range", "hash", "huge", "long", "startswith", "endswith", "strip", "rstrip", "str",
            "repr", "ascii", "tool", "big", "refund"} <= names


@pytest.mark.parametrize("attack", BUDGET_ATTACKS, ids=[a["id"] for a in BUDGET_ATTACKS])
def test_budget_attack_is_refused_fast_and_small(attack, attack_results):
    """Each attack on the budget (issue 14's reproducers and variations) is refused within
    2 s and with less than 300 MB of memory growth, measured in the forked child. The time is
    the child's CPU time, which a loaded test machine does not inflate (the wall time is
    bounded by test_attack_is_refused)."""
    r = attack_results[attack["id"]]
    assert r["outcome"] == "InterpreterError", r
    assert r["cpu"] < BUDGET_CPU_SECONDS, r
    assert r["rss_growth_mb"] < BUDGET_RSS_GROWTH_MB, r
