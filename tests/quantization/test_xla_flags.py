"""tfhf's XLA:CPU flag (tfhf/xla_flags.py): appended once, a user's own choice kept."""

from tfhf import xla_flags


def test_flag_appended_user_choice_and_opt_out_kept(monkeypatch):
    monkeypatch.delenv("TFHF_XLA_FLAGS", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/d")
    assert xla_flags.configure()
    assert xla_flags.configure()  # idempotent
    import os

    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/d " + xla_flags.YNN_FLAG
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=dot")
    assert not xla_flags.configure()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=dot"
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setenv("TFHF_XLA_FLAGS", "0")
    assert not xla_flags.configure()
    assert os.environ["XLA_FLAGS"] == ""
