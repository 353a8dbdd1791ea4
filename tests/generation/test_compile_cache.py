"""The opt-in persistent XLA cache (tfhf/xla_cache.py): where it lives, what turns it off,
that only complete entries are shared, and that a second process loads a compiled program
instead of compiling it again."""

import os
import subprocess
import sys
import textwrap

from tfhf import xla_cache


def test_off_unless_asked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TFHF_CACHE", raising=False)
    for value in (None, "", "0", "off", "false"):
        if value is None:
            monkeypatch.delenv("TFHF_XLA_CACHE", raising=False)
        else:
            monkeypatch.setenv("TFHF_XLA_CACHE", value)
        assert xla_cache.cache_root() is None
    monkeypatch.setenv("TFHF_XLA_CACHE", "1")
    assert xla_cache.cache_root() == str(tmp_path / "tfhf" / "xla")
    monkeypatch.setenv("TFHF_XLA_CACHE", str(tmp_path / "mine"))
    assert xla_cache.cache_root() == str(tmp_path / "mine")


def test_entries_are_kept_per_tensorflow_version_and_flags():
    a = xla_cache.compiler_folder_name("2.21.0", "")
    assert a.startswith("tf2.21.0-") and a == xla_cache.compiler_folder_name("2.21.0", "")
    assert a != xla_cache.compiler_folder_name("2.22.0", "")
    assert a != xla_cache.compiler_folder_name("2.21.0", "--tf_xla_auto_jit=2")


def _entry(executable=b"\x7fELF" * 10):
    def field(number, payload):
        assert len(payload) < 128
        return bytes([number << 3 | 2, len(payload)]) + payload

    return field(1, b"key") + field(2, b"hlo") + field(3, executable)


def test_only_complete_entries_are_shared(tmp_path):
    shared, staging = tmp_path / "shared", tmp_path / "staging"
    shared.mkdir(), staging.mkdir()
    (staging / "good.pb").write_bytes(_entry())
    (staging / "cut.pb").write_bytes(_entry()[:-5])  # a write cut short
    (staging / "empty.pb").write_bytes(_entry(executable=b""))
    assert xla_cache.is_complete_entry(staging / "good.pb")
    assert not xla_cache.is_complete_entry(staging / "cut.pb")
    assert not xla_cache.is_complete_entry(staging / "empty.pb")
    assert xla_cache.publish(str(shared), str(staging)) == ["good.pb"]
    assert sorted(os.listdir(shared)) == ["good.pb"]  # no partial or temporary file
    assert (shared / "good.pb").read_bytes() == _entry()
    # another process's folder gets the shared entries before it compiles
    other = tmp_path / "other"
    other.mkdir()
    xla_cache.prepare(str(shared), str(other))
    assert sorted(os.listdir(other)) == ["good.pb"]


_PROGRAM = textwrap.dedent("""
    import numpy as np
    import tfhf  # configures the cache before TensorFlow runs anything
    import tensorflow as tf
    from tfhf.generation.compile_cache import AnnouncedFunction

    f = AnnouncedFunction(lambda x: tf.tanh(x @ x) * 2.0, lambda: "the test program")
    print(f(tf.ones([8, 8])).numpy().sum())
""")


def test_second_process_loads_the_compiled_program(tmp_path):
    env = {**os.environ, "TFHF_XLA_CACHE": str(tmp_path), "TFHF_COMPILE_NOTICE": "1"}
    env.pop("TF_XLA_FLAGS", None)
    runs = [subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True,
                           text=True, timeout=600) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout
    assert "tfhf: compiling the test program" in runs[0].stderr
    assert "tfhf: loaded the test program from the compile cache" in runs[1].stderr
    (folder,) = os.listdir(tmp_path)
    names = sorted(os.listdir(tmp_path / folder))
    assert names[0] == ".staging" and len(names) == 2 and names[1].endswith(".pb")
    assert os.listdir(tmp_path / folder / ".staging") == []  # each process removed its own
