"""The TensorFlow math of quantized weights (layouts in :mod:`tfhf.quantization.packing`).

Two formulations, chosen when the function is traced, from the static number of input rows:

* few rows (a decode step): a multiply-reduce, ``y[n, o] = sum_i x[n, i] * w(q[o, i])`` with the
  conversion of ``q`` written inside the product. XLA:CPU fuses the unpack, the convert and the
  multiply into the reduction's loop, so a step reads the int8 / packed int4 bytes once and
  never writes a float copy of the weight (docs/quantization.md shows the optimized HLO);
* many rows (a prompt, training-free scoring): dequantize the weight once to the compute dtype
  and run one matmul (a dot is compute-bound there and XLA:CPU does not fuse a convert into
  its GEMM).
"""

from __future__ import annotations

import tensorflow as tf

# the largest static row count (batch x tokens) that takes the multiply-reduce path
GEMV_MAX_ROWS = 4


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


def matmul(x, q, scale, offset, bits, dtype):
    """``x (..., in) @ w.T`` for a quantized ``w`` (out, in); result in ``dtype``."""
    x = tf.cast(x, dtype)
    rows = 1
    for d in x.shape[:-1]:
        rows = None if d is None or rows is None else rows * d
    if rows is None or rows > GEMV_MAX_ROWS:
        w = dequantize(q, scale, offset, bits, dtype)
        return tf.matmul(x, w, transpose_b=True) if x.shape.rank == 2 else \
            tf.einsum("...i,oi->...o", x, w)
    return gemv(x, q, scale, offset, bits, dtype)


def gemv(x, q, scale, offset, bits, dtype):
    """The multiply-reduce formulation (few rows of ``x``)."""
    out, groups, g = _groups(q, scale, bits)
    lead = tf.shape(x)[:-1]
    xr = tf.reshape(x, [-1, 1, groups, g])  # (n, 1, G, g)
    s = tf.cast(scale, dtype)
    if bits == 8:
        w = tf.cast(tf.reshape(q, [out, groups, g]), dtype)
        if groups == 1:  # per channel: scale after the sum
            y = tf.reduce_sum(xr[:, :, 0] * w[:, 0], -1) * s[:, 0]
        else:
            y = tf.reduce_sum(tf.reduce_sum(xr * w, -1) * s, -1)
    else:
        lo, hi = _nibbles(tf.reshape(q, [out, groups, g // 2]))
        x_lo, x_hi = xr[..., : g // 2], xr[..., g // 2:]
        dots = tf.reduce_sum(x_lo * tf.cast(lo, dtype) + x_hi * tf.cast(hi, dtype), -1)
        sums = tf.reduce_sum(xr, -1)  # (n, 1, G): the offset multiplies the group's sum of x
        y = tf.reduce_sum(dots * s + sums * tf.cast(offset, dtype), -1)
    return tf.reshape(y, tf.concat([lead, [out]], 0))
