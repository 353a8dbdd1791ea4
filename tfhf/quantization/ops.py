"""The TensorFlow math of quantized weights (layouts in :mod:`tfhf.quantization.packing`).

Two formulations, chosen when the function is traced, from the static number of input rows:

* ``dequantize`` + matmul (the default for every row count): in the optimized HLO of
  XLA:CPU (TF 2.21) the int8 convert and scale land in the same kLoop fusion as a
  matrix-vector dot (``bitcast_dot_fusion``), but inside a ``tf.while_loop`` with
  loop-invariant weights XLA's loop-invariant code motion hoists the dequantization out of
  the loop, so the steps read a float copy (docs/quantization.md);
* :func:`gemv`, a multiply-reduce ``y[n, o] = sum_i x[n, i] * w(q[o, i])``: measured NOT fused
  by XLA:CPU (it materializes the f32 product, then a YNNPACK reduce) and ~7x slower than the
  float dot, so it is used only below ``GEMV_MAX_ROWS`` rows (0: never) and kept for study.
"""

from __future__ import annotations

import tensorflow as tf

# the largest static row count (batch x tokens) that takes the multiply-reduce path; 0 since
# XLA:CPU does not fuse it (see the module docstring)
GEMV_MAX_ROWS = 0
# dequantize inside each call (XLA fuses the convert into the dot and cannot hoist it)
PER_STEP = True


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
    if PER_STEP:
        return fused_matmul(x, q, scale, offset, bits, dtype)
    rows = 1
    for d in x.shape[:-1]:
        rows = None if d is None or rows is None else rows * d
    if rows is None or rows > GEMV_MAX_ROWS:
        w = dequantize(q, scale, offset, bits, dtype)
        return tf.matmul(x, w, transpose_b=True) if x.shape.rank == 2 else \
            tf.einsum("...i,oi->...o", x, w)
    return gemv(x, q, scale, offset, bits, dtype)


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
