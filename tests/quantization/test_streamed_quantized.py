"""Batch-1 decode reads the quantized weights in the loop (tfhf.quantization.ops.gemv).

A one-row step compiled by XLA on CPU takes the streamed multiply-reduce (the int8 / 4-bit
weights tied to the step's input, scales applied after the reduction); more rows and eager
calls take the dequantize-then-matmul form. Both must give the same logits (float rounding
only), and the loop must carry the small weights, not a float32 copy of them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

transformers = pytest.importorskip("transformers")

from tfhf import TFAutoModelForCausalLM, xla_flags  # noqa: E402
from tfhf.quantization import ops, packing  # noqa: E402

pytestmark = pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")),
                                reason="the streamed form is for XLA:CPU only")


@pytest.fixture(scope="module")
def float_model():
    tf.keras.utils.set_random_seed(0)
    return TFAutoModelForCausalLM.from_config(transformers.LlamaConfig(
        vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        tie_word_embeddings=True, initializer_range=0.1))


# int8 per channel, int8 groups (GGUF Q8_0's layout), int4 groups of 32 (GGUF Q4_0/Q4_1's)
@pytest.mark.parametrize("mode,group", [("int8", None), ("int8", 32), ("int4", 32)])
def test_batch1_step_gives_the_dequantize_then_matmul_logits(float_model, mode, group,
                                                             monkeypatch):
    calls = []
    gemv = ops.gemv
    monkeypatch.setattr(ops, "gemv", lambda *a: calls.append(1) or gemv(*a))
    model = TFAutoModelForCausalLM.from_config(float_model.config)
    model(tf.constant([[1]]))
    model.set_weights(float_model.get_weights())
    model.quantize(mode, group_size=group)
    ids = tf.constant([[5]])
    step = tf.function(lambda i: model(i).logits, jit_compile=True)
    got = step(ids).numpy()  # one row inside XLA: the streamed gemv
    assert len(calls) == 15  # 7 projections x 2 layers + the tied head
    want = model(ids).logits.numpy()  # eager: dequantize-then-matmul
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bits,group", [(8, 96), (8, 32), (4, 32)])
def test_decode_loop_carries_the_small_weights(bits, group):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((40, 96)).astype(np.float32)
    arrays = (packing.quantize_int8 if bits == 8 else packing.quantize_int4)(w, group)
    q, s = tf.constant(arrays["qweight"]), tf.constant(arrays["scale"])
    off = None if bits == 8 else tf.constant(arrays["offset"])

    @tf.function(jit_compile=True)
    def run(x):
        def body(i, acc):
            return i + 1, acc + ops.matmul(x + tf.cast(i, tf.float32), q, s, off, bits,
                                           tf.float32)
        return tf.while_loop(lambda i, a: i < 3, body, (0, tf.zeros((1, 40))))[1]

    x = tf.constant(rng.standard_normal((1, 96)).astype(np.float32))
    deq = packing.dequantize(arrays, 96)
    want = sum((x.numpy() + i) @ deq.T for i in range(3))
    np.testing.assert_allclose(run(x).numpy(), want, rtol=1e-4, atol=1e-3)
    hlo = run.experimental_get_compiler_ir(x)(stage="optimized_hlo")
    loops = [line for line in hlo.splitlines() if " while(" in line]
    assert loops
    small = "s8[40,96]" if bits == 8 else "u8[40,48]"
    for line in loops:  # the quantized weight, no float32 copy, is in the loop's state
        assert "f32[40,96]" not in line and small in line, line
    if xla_flags.in_effect() and bits == 4:
        # the unpack, multiply and group sums in one loop fusion, not a YNNPACK reduce that
        # reads a materialized float32 product (tfhf/xla_flags.py)
        assert "__ynn_fusion" not in hlo
        assert not [line for line in hlo.splitlines()
                    if " fusion(" in line and "= f32[1,40,3,16]" in line]


def test_decode_loop_fuses_the_4bit_group_sums_with_the_flag():
    """With tfhf's XLA flag set before TensorFlow starts (``TFHF_XLA_FLAGS=1``), the 4-bit
    step is one loop fusion over the packed bytes, no YNNPACK reduce (tfhf/xla_flags.py)."""
    env = {**os.environ, "TFHF_XLA_FLAGS": "1"}
    env.pop("XLA_FLAGS", None)
    code = ("from tfhf import xla_flags; assert xla_flags.in_effect(); import pytest, sys; "
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {__file__!r} + "
            "'::test_decode_loop_carries_the_small_weights[4-32]']))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
