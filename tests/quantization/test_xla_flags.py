"""tfhf's XLA:CPU flag (tfhf/xla_flags.py): appended once, a user's own choice kept."""

import os

from tfhf import xla_flags


def test_flag_appended_user_choice_and_opt_out_kept(monkeypatch):
    monkeypatch.delenv("TFHF_XLA_FLAGS", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/d")
    assert xla_flags.configure()
    assert xla_flags.configure()  # idempotent
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/d " + xla_flags.YNN_FLAG
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=dot")
    assert not xla_flags.configure()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=dot"
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setenv("TFHF_XLA_FLAGS", "0")
    assert not xla_flags.configure()
    assert os.environ["XLA_FLAGS"] == ""


def test_not_set_at_import_unless_asked(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.delenv("TFHF_XLA_FLAGS", raising=False)
    assert not xla_flags.configure_at_import()
    assert os.environ["XLA_FLAGS"] == ""
    monkeypatch.setenv("TFHF_XLA_FLAGS", "1")
    assert xla_flags.configure_at_import()
    assert os.environ["XLA_FLAGS"] == xla_flags.YNN_FLAG


def test_quantizing_a_model_sets_the_flag(monkeypatch):
    import numpy as np
    import transformers

    from tfhf import TFLlamaForCausalLM

    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.delenv("TFHF_XLA_FLAGS", raising=False)
    cfg = transformers.LlamaConfig(vocab_size=32, hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=1, num_attention_heads=2,
                                   num_key_value_heads=1)
    model = TFLlamaForCausalLM(cfg)
    model(np.ones((1, 3), np.int32))
    model.quantize("int8")
    assert xla_flags.YNN_FLAG in os.environ["XLA_FLAGS"]
