"""bfloat16 decode on CPU reads the bfloat16 weights in the loop (tfhf/layers/streamed.py).

Without it XLA:CPU hoists a float32 copy of every weight out of the decode loop and each step
reads 4 bytes per weight: bfloat16 decoded no faster than float32. The streamed form must
compute the same product and keep the weights bfloat16 in the loop's state.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfhf.layers import streamed

pytestmark = pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")),
                                reason="the streamed form is for XLA:CPU only")


def _loop(kernel, transpose_b, rows):
    @tf.function(jit_compile=True)
    def run(x):
        def body(i, acc):
            y = streamed.matmul_weight(x + tf.cast(i, tf.bfloat16), kernel, transpose_b)
            return i + 1, acc + tf.cast(y, tf.float32)
        out = (rows, kernel.shape[0] if transpose_b else kernel.shape[1])
        return tf.while_loop(lambda i, a: i < 3, body, (0, tf.zeros(out)))[1]
    return run


@pytest.mark.parametrize("transpose_b", [False, True])
def test_streamed_matmul_equals_matmul_and_keeps_weights_bfloat16_in_the_loop(transpose_b):
    rng = np.random.RandomState(0)
    k = tf.constant(rng.randn(48, 40).astype(np.float32) * 0.1, tf.bfloat16)
    x = tf.constant(rng.randn(1, 48 if not transpose_b else 40).astype(np.float32), tf.bfloat16)
    run = _loop(k, transpose_b, 1)
    got = run(x).numpy()
    want = sum(tf.matmul(tf.cast(x + i, tf.float32), tf.cast(k, tf.float32),
                         transpose_b=transpose_b) for i in range(3)).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=5e-2)
    hlo = run.experimental_get_compiler_ir(x)(stage="optimized_hlo")
    loops = [line for line in hlo.splitlines() if " while(" in line]
    assert loops
    for line in loops:  # no float32 copy of the weight carried through the loop
        assert "f32[48,40]" not in line and "f32[40,48]" not in line, line
        assert "bf16[40,48]" in line or "bf16[48,40]" in line, line


def test_eager_graph_and_wide_inputs_keep_the_plain_matmul():
    k = tf.ones((8, 4), tf.bfloat16)
    assert not streamed.streams(tf.ones((1, 8), tf.bfloat16), k)  # eager

    @tf.function(jit_compile=True)
    def wide(x):
        assert not streamed.streams(x, k)
        return streamed.matmul_weight(x, k)

    @tf.function
    def graph(x):  # no XLA: XlaOptimizationBarrier has no kernel outside XLA
        assert not streamed.streams(x, k)
        return streamed.matmul_weight(x, k)

    assert wide(tf.ones((2, 16, 8), tf.bfloat16)).shape == (2, 16, 4)
    # two rows (a batch-2 decode step): the hoisted float32 copy's GEMM costs less than the
    # streamed form's per-row reductions (docs/benchmarks.md)
    assert wide(tf.ones((2, 8), tf.bfloat16)).shape == (2, 4)
    assert graph(tf.ones((1, 8), tf.bfloat16)).shape == (1, 4)


def test_gradients_go_through_the_streamed_form():
    """A train step compiled with XLA under mixed_bfloat16 on one row takes the streamed
    form (one row): its gradients are those of the plain matmul (TF has no gradient for the barrier)."""
    rng = np.random.RandomState(1)
    k = tf.Variable(tf.constant(rng.randn(6, 5).astype(np.float32) * 0.3, tf.bfloat16))
    x = tf.constant(rng.randn(1, 6).astype(np.float32), tf.bfloat16)

    def grads(fn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.cast(fn(x, k), tf.float32) ** 2)
        return tape.gradient(loss, [x, k])

    @tf.function(jit_compile=True)
    def streamed_grads(x):
        assert streamed.streams(x, tf.convert_to_tensor(k))
        return grads(lambda a, b: streamed.matmul_weight(a, b))

    got = streamed_grads(x)
    want = grads(lambda a, b: tf.matmul(a, b))
    for g, w in zip(got, want):
        np.testing.assert_allclose(tf.cast(g, tf.float32).numpy(), tf.cast(w, tf.float32).numpy(),
                                   rtol=2e-2, atol=2e-2)
