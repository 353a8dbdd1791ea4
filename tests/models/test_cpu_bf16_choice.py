"""A bfloat16 request on a CPU without bfloat16 units computes in float32 and says so once
(tfhf/hardware.py): bfloat16 would be emulated there, slower than float32."""

from __future__ import annotations

import warnings

import pytest

from tfhf import hardware
from tfhf._keras import keras


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    import transformers

    from tfhf import TFAutoModelForCausalLM

    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                                   num_hidden_layers=1, num_attention_heads=2,
                                   num_key_value_heads=1)
    folder = tmp_path_factory.mktemp("llama")
    TFAutoModelForCausalLM.from_config(cfg).save_pretrained(str(folder))
    return str(folder)


@pytest.fixture
def cpu(monkeypatch):
    """Set what the CPU has: cpu(False) is a CPU without bfloat16 units."""
    monkeypatch.setattr(hardware, "_WARNED", set())
    monkeypatch.setattr(hardware, "has_accelerator", lambda: False)

    def set_units(units):
        monkeypatch.setenv("TFHF_CPU_BF16", {True: "1", False: "0"}[units])
    return set_units


def test_cpuinfo_flags_of_x86_and_arm():
    intel = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
    epyc_without = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
    assert hardware._cpuinfo_flags(intel) & hardware.BF16_FLAGS
    assert not hardware._cpuinfo_flags(epyc_without) & hardware.BF16_FLAGS
    assert hardware._cpuinfo_flags(arm) & hardware.BF16_FLAGS


@pytest.mark.parametrize("request_", ["bfloat16", "mixed_bfloat16", "global"])
def test_no_bf16_units_means_float32_compute_and_one_warning(tiny_llama, cpu, request_):
    from tfhf import TFAutoModelForCausalLM

    cpu(False)
    kwargs = {"dtype": request_}
    if request_ == "global":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        kwargs = {}
    with pytest.warns(RuntimeWarning, match="no bfloat16 units.*computes in float32.*"
                                            "TFHF_CPU_BF16=1"):
        model = TFAutoModelForCausalLM.from_pretrained(tiny_llama, **kwargs)
    assert {v.dtype.name if hasattr(v.dtype, "name") else str(v.dtype)
            for v in model.weights} == {"float32"}
    assert all(layer.compute_dtype == "float32" for layer in model._flatten_layers())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not at every load
        TFAutoModelForCausalLM.from_pretrained(tiny_llama, **kwargs)


def test_bf16_units_or_float32_requests_are_left_alone(tiny_llama, cpu):
    from tfhf import TFAutoModelForCausalLM

    cpu(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = TFAutoModelForCausalLM.from_pretrained(tiny_llama, dtype="mixed_bfloat16")
        assert any(layer.compute_dtype == "bfloat16" for layer in model._flatten_layers())
        cpu(False)
        model = TFAutoModelForCausalLM.from_pretrained(tiny_llama, dtype="float32")
        assert all(layer.compute_dtype == "float32" for layer in model._flatten_layers())
