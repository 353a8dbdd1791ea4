"""The TensorFlow math of quantized weights (layouts in :mod:`tfhf.quantization.packing`).

Two formulations, chosen when the function is traced:

* :func:`gemv`, for inputs of one row (a batch-1 decode step) traced into an XLA program on
  a machine without a GPU (``tfhf.layers.streamed.few_rows_on_xla_cpu``, the test the
  bfloat16 streamed matmul uses): the small weights are tied to the step's input by an XLA
  optimization barrier (``streamed.tie``), so their conversion stays inside the decode loop,
  fused into a multiply-reduce that runs along each contiguous weight row and applies the
  scales to the reduction's result: int8 per channel is a dot on the converted int8 row, then
  one multiply by the channel's scale; groups (int4, GGUF Q8_0 / Q4_*) reduce each group of a
  row, then ``sum_g scale * partial_g (+ offset_g * sum of x over group g)``. A step then reads
  1 (int8) or ~0.6 (int4) bytes per weight (docs/benchmarks.md, "Quantized decode at batch 1");
* :func:`fused_matmul` (more rows: a prefill, batch > 1, eager calls): the int8 convert (scale
  after the dot) or the int4 unpack written on the dot's operand and tied to ``x`` by
  :func:`step_zero`; XLA fuses the convert into a float32 dot.
"""

from __future__ import annotations

import tensorflow as tf

from ..layers import streamed


def _groups(q, scale, bits):
    out, groups = scale.shape[0], scale.shape[1]
    per_row = q.shape[1] * (2 if bits == 4 else 1)
    return out, groups, per_row // groups


def _nibbles(q3):
    """(…, g // 2) uint8 -> low nibbles, high nibbles (as uint8)."""
    return tf.bitwise.bitwise_and(q3, tf.constant(15, q3.dtype)), \
        tf.bitwise.right_shift(q3, tf.constant(4, q3.dtype))


def dequantize(q, scale, offset, bits, dtype):
    """The float weight (rows, in) in ``dtype``; ``q``/``scale``/``offset`` may be gathered
    rows of a table (any leading shape)."""
    lead = tf.shape(q)[:-1]
    groups = scale.shape[-1]
    s = tf.cast(scale, dtype)[..., None]
    if bits == 8:
        per = q.shape[-1] // groups
        q3 = tf.reshape(q, tf.concat([lead, [groups, per]], 0))
        w = tf.cast(q3, dtype) * s
    else:
        per = q.shape[-1] * 2 // groups
        q3 = tf.reshape(q, tf.concat([lead, [groups, per // 2]], 0))
        lo, hi = _nibbles(q3)
        w = tf.cast(tf.concat([lo, hi], -1), dtype) * s + tf.cast(offset, dtype)[..., None]
    return tf.reshape(w, tf.concat([lead, [groups * per]], 0))


def step_zero(x):
    """A zero that depends on ``x``: added to a dequantized weight it keeps XLA from hoisting
    the dequantization out of a decode loop (float ``0 * v`` is not folded by XLA)."""
    return tf.reshape(x, [-1])[0] * tf.constant(0, x.dtype)


def matmul(x, q, scale, offset, bits, dtype):
    """``x (..., in) @ w.T`` for a quantized ``w`` (out, in); result in ``dtype``."""
    x = tf.cast(x, dtype)
    if streamed.few_rows_on_xla_cpu(x):
        return gemv(x, q, scale, offset, bits, dtype)
    return fused_matmul(x, q, scale, offset, bits, dtype)


def fused_matmul(x, q, scale, offset, bits, dtype):
    """``x @ w.T`` with the int8 convert (int8: scale after the dot) or the int4 unpack written
    on the dot's operand and tied to ``x`` by :func:`step_zero`."""
    zero = step_zero(x)
    if bits == 8 and scale.shape[-1] == 1:
        w = tf.cast(q, dtype) + zero
        y = tf.einsum("...i,oi->...o", x, w) * tf.cast(scale[:, 0], dtype)
    else:
        y = tf.einsum("...i,oi->...o", x, dequantize(q, scale, offset, bits, dtype) + zero)
    return y


def gemv(x, q, scale, offset, bits, dtype):
    """The multiply-reduce formulation (few rows of ``x``, float32 arithmetic); inside an XLA
    program on CPU the weights are tied to ``x`` (see the module docstring)."""
    lead = tf.shape(x)[:-1]
    flat = tf.cast(tf.reshape(x, [-1, x.shape[-1]]), tf.float32)
    weights = (q, scale) if offset is None else (q, scale, offset)
    if streamed.few_rows_on_xla_cpu(x):
        flat, weights = streamed.tie(flat, *weights)
    y = _reduce_rows(flat, *weights, bits=bits)
    return tf.cast(tf.reshape(y, tf.concat([lead, tf.shape(y)[-1:]], 0)), dtype)


def _reduce_rows(x, q, scale, offset=None, bits=8):
    """``x`` (n, in) float32 times the quantized (out, in) weight, (n, out) float32."""
    out, groups, g = _groups(q, scale, bits)
    s = tf.cast(scale, tf.float32)
    if bits == 8 and groups == 1:  # per channel: a dot on the int8 row, then the scale
        return tf.matmul(x, tf.cast(q, tf.float32), transpose_b=True) * s[:, 0]
    if bits == 8:
        w = tf.cast(tf.reshape(q, [out, groups, g]), tf.float32)
        partial = tf.reduce_sum(tf.reshape(x, [-1, 1, groups, g]) * w, -1)  # (n, out, G)
        return tf.reduce_sum(partial * s, -1)
    lo, hi = _nibbles(tf.reshape(q, [out, groups, g // 2]))
    x5 = tf.reshape(x, [-1, 1, groups, 2, g // 2])  # low nibble j, high nibble j + g // 2
    partial = tf.reduce_sum(x5[:, :, :, 0] * tf.cast(lo, tf.float32)
                            + x5[:, :, :, 1] * tf.cast(hi, tf.float32), -1)
    sums = tf.reduce_sum(x5, [3, 4])  # (n, 1, G): the offset multiplies the group's sum of x
    return tf.reduce_sum(partial * s + sums * tf.cast(offset, tf.float32), -1)
