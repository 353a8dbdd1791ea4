"""Attention maths, masks and the KV-cache write, shared by every backbone.

Scores are computed in the compute dtype, masks are added and the softmax taken in float32,
and the probabilities are cast back for the value product. Masked positions get a large
finite negative (not -inf) so fully masked rows (left padding) never turn into NaN.

* :func:`attend`: plain multi-head attention over (batch, heads, len, head_dim) tensors
  (encoders, encoder-decoder self- and cross-attention);
* :func:`grouped_attention`: grouped-query attention for decoder-only models, whose kv heads
  are shared by groups of query heads without being repeated;
* :func:`attention_bias_from_mask` / :func:`causal_bias`: additive float32 biases;
* :func:`write_cache`: the static KV cache's in-place write (XLA dynamic-update-slice).
"""

from __future__ import annotations

import math

import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice
from tensorflow.python.ops import control_flow_util

MASK_VALUE = -1e9


# ---------------------------------------------------------------------------- masks
def attention_bias_from_mask(attention_mask, dtype=tf.float32):
    """(batch, k_len) 0/1 mask -> additive (batch, 1, 1, k_len) bias in ``dtype``."""
    m = tf.cast(attention_mask, dtype)
    return (1.0 - m)[:, None, None, :] * MASK_VALUE


def causal_bias(attention_mask, cache_index, query_length, sliding_window=None):
    """Additive float32 bias (batch, 1, 1, t, L) for queries at slots ``cache_index + i``.

    ``attention_mask`` is (batch, L) over key slots (1 = a real token). Query i sees slot j
    iff ``mask[:, j] == 1`` and ``j <= cache_index + i`` (and, with a window w,
    ``cache_index + i - j < w``). The two middle axes broadcast over kv heads and groups.
    """
    length = tf.shape(attention_mask)[1]
    q = tf.cast(cache_index, tf.int32) + tf.range(query_length, dtype=tf.int32)[:, None]
    k = tf.range(length, dtype=tf.int32)[None, :]
    allowed = k <= q
    if sliding_window is not None:
        allowed = tf.logical_and(allowed, q - k < sliding_window)
    allowed = tf.logical_and(allowed[None], tf.not_equal(attention_mask, 0)[:, None, :])
    bias = tf.where(allowed, tf.constant(0.0, tf.float32), tf.constant(MASK_VALUE, tf.float32))
    return bias[:, None, None]


# ---------------------------------------------------------------------------- cache
def write_cache(layer_cache, cache_index, k, v):
    """Write new keys/values (batch, heads, t, head_dim) at slot ``cache_index`` of one
    layer's ``(keys, values)`` buffers (batch, heads, max_length, head_dim), in place (XLA's
    dynamic-update-slice). One buffer pair per layer: a layer writes and reads only its own
    buffers, never slices of a stacked tensor (docs/generation-design.md)."""
    zero = tf.constant(0, tf.int32)
    start = tf.stack([zero, zero, tf.cast(cache_index, tf.int32), zero])
    k_buf, v_buf = layer_cache
    return (dynamic_update_slice(k_buf, tf.cast(k, k_buf.dtype), start),
            dynamic_update_slice(v_buf, tf.cast(v, v_buf.dtype), start))


# ---------------------------------------------------------------------------- attention
def split_heads(x, num_heads, head_dim):
    """(batch, t, heads * head_dim) -> (batch, heads, t, head_dim)."""
    b, t = tf.shape(x)[0], tf.shape(x)[1]
    return tf.transpose(tf.reshape(x, [b, t, num_heads, head_dim]), [0, 2, 1, 3])


def merge_heads(x):
    """(batch, heads, t, head_dim) -> (batch, t, heads * head_dim)."""
    b, t = tf.shape(x)[0], tf.shape(x)[2]
    x = tf.transpose(x, [0, 2, 1, 3])
    return tf.reshape(x, [b, t, x.shape[2] * x.shape[3]])


def attend(q, k, v, bias=None, dropout=None, training=False, scale=None,
           bfloat16_softmax=False):
    """softmax(q k^T * scale + bias) v over (batch, heads, len, head_dim) tensors.

    Returns ``(context, probs)``; probs are float32. ``bfloat16_softmax``: with bfloat16
    q/k/v (a ``mixed_bfloat16`` policy) the scores, mask, softmax and dropout stay in
    bfloat16, as Keras' own attention does under a mixed policy and PyTorch's bf16 autocast
    does (bfloat16 has float32's range; the encoders' parity within the mixed-precision
    tolerance holds); otherwise they are float32. Float32 inside an XLA program (see
    :func:`normalize_after_values`): the scale goes onto q and the softmax's division onto
    the context, so the probabilities (only computed when a caller uses them) cost no pass
    of their own over the (len x len) scores.
    """
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    if normalize_after_values(q):
        return attend_normalized_after(q, k, v, bias, dropout, training, scale)
    scores = tf.matmul(q, k, transpose_b=True)
    dtype = tf.bfloat16 if bfloat16_softmax and scores.dtype == tf.bfloat16 else tf.float32
    scores = tf.cast(scores, dtype) * tf.cast(scale, dtype)
    if bias is not None:
        scores = scores + tf.cast(bias, dtype)
    probs = tf.nn.softmax(scores, axis=-1)
    p = dropout(probs, training=training) if dropout is not None else probs
    ctx = tf.matmul(tf.cast(p, v.dtype), v)
    return ctx, tf.cast(probs, tf.float32)


def attend_normalized_after(q, k, v, bias, dropout, training, scale):
    """:func:`attend` in float32 with q pre-scaled and the row sums divided out of the
    context (three passes over the scores: max, exponentials, sum)."""
    scores = tf.matmul(q * scale if scale != 1.0 else q, k, transpose_b=True)
    if bias is not None:
        scores = scores + tf.cast(bias, tf.float32)
    e = tf.exp(scores - tf.reduce_max(scores, axis=-1, keepdims=True))
    total = tf.reduce_sum(e, axis=-1, keepdims=True)
    p = dropout(e, training=training) if dropout is not None else e  # linear: same as on probs
    ctx = tf.matmul(p, v) / total
    return ctx, e / total


def normalize_after_values(q) -> bool:
    """Whether :func:`attend` divides by the softmax's row sums after the value product:
    float32 inside an XLA program. There the scores' separate scale and division passes
    (two of the five over a (heads, len, len) tensor) cost a ViT-B/16 layer at 577 tokens
    ~3 ms of its ~19 ms of attention maths (docs/benchmarks.md, "Vision-language"); in
    TF's own kernels the fused ``Softmax`` op is the faster one, and bfloat16 keeps
    its scores' rounding as it was."""
    if q.dtype != tf.float32 or tf.executing_eagerly():
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def grouped_attention(q, k, v, bias, scale, softcap=None, dropout=None, training=False):
    """softmax(q k^T * scale [softcapped] + bias) v with kv heads shared by query groups.

    q: (batch, t, heads, d); k, v: (batch, kv_heads, L, d); bias: (batch, 1, 1, t, L).
    Returns (batch, t, heads * d). Scores, softcap and softmax are float32.
    """
    heads, d = q.shape[2], q.shape[3]
    kv_heads = k.shape[1]
    groups = heads // kv_heads
    b, t = tf.shape(q)[0], tf.shape(q)[1]
    length = tf.shape(k)[2]
    # (b, t, kvh, g, d) -> (b, kvh, g, t, d) -> (b, kvh, g*t, d)
    qg = tf.transpose(tf.reshape(q, [b, t, kv_heads, groups, d]), [0, 2, 3, 1, 4])
    qg = tf.reshape(qg, [b, kv_heads, groups * t, d])
    scores = tf.matmul(qg, k, transpose_b=True)
    scores = tf.reshape(tf.cast(scores, tf.float32), [b, kv_heads, groups, t, length]) * scale
    if softcap is not None:
        scores = tf.tanh(scores / softcap) * softcap
    probs = tf.nn.softmax(scores + tf.cast(bias, tf.float32), axis=-1)
    if dropout is not None:
        probs = dropout(probs, training=training)
    probs = tf.reshape(tf.cast(probs, v.dtype), [b, kv_heads, groups * t, length])
    ctx = tf.reshape(tf.matmul(probs, v), [b, kv_heads, groups, t, d])
    return tf.reshape(tf.transpose(ctx, [0, 3, 1, 2, 4]), [b, t, heads * d])


def decode_attention(q, k_cache, v_cache, k_new, v_new, bias, cache_index, scale,
                     softcap=None):
    """:func:`grouped_attention` of one new token per row, reading the cache as it was
    *before* this token's write plus the token's own key/value.

    q: (batch, 1, heads, d); k_cache, v_cache: (batch, kv_heads, L, d) without the new token;
    k_new, v_new: (batch, kv_heads, 1, d); bias: (batch, 1, 1, 1, L) as for the written cache.
    Same result as attending over the written cache; but the cache write (an in-place
    dynamic-update-slice) then has the loop state as its only reader, so XLA keeps it in
    place instead of fusing it into the attention's reads and copying both buffers of every
    layer twice per step (docs/benchmarks.md, "decode step HLO").
    """
    heads, d = q.shape[2], q.shape[3]
    kv_heads = k_cache.shape[1]
    b, length = tf.shape(q)[0], tf.shape(k_cache)[2]
    qg = tf.reshape(q, [b, kv_heads, heads // kv_heads, d])  # head = kv head * groups + group
    bias = tf.reshape(bias, [b, 1, 1, length])
    ctx = attend_before_write(qg, k_cache, v_cache, k_new, v_new, bias, cache_index, scale,
                              softcap)
    return tf.reshape(ctx, [b, 1, heads * d])


def attend_before_write(q, k_cache, v_cache, k_new, v_new, bias, cache_index, scale,
                        softcap=None):
    """softmax(q k^T * scale + bias) v over the cache as it was before this step's write
    (slot ``cache_index`` still empty) plus the step's own key/value, which is what the
    written cache holds. q: (batch, heads, n, d) (n: query groups or the one new position);
    k_cache, v_cache: (batch, heads, L, d); k_new, v_new: (batch, heads, 1, d); bias:
    additive, broadcastable to (batch, heads, n, L). Returns (batch, heads, n, d).
    Shared by :func:`decode_attention` and the encoder-decoder layers' one-position step."""
    q, k_new = tf.cast(q, k_cache.dtype), tf.cast(k_new, k_cache.dtype)
    old = tf.matmul(q, k_cache, transpose_b=True)  # (b, h, n, L)
    new = tf.reduce_sum(q * k_new, axis=-1, keepdims=True)  # (b, h, n, 1)
    scores = tf.cast(tf.concat([old, new], axis=-1), tf.float32) * scale
    if softcap is not None:
        scores = tf.tanh(scores / softcap) * softcap
    bias = tf.cast(bias, tf.float32)
    index = tf.cast(cache_index, tf.int32)
    # the slot being written holds no key yet: its score comes from ``new``
    bias_old = tf.where(tf.range(tf.shape(k_cache)[2]) == index,
                        tf.constant(MASK_VALUE, tf.float32), bias)
    bias_new = tf.gather(bias, index[None], axis=-1)
    probs = tf.nn.softmax(scores + tf.concat([bias_old, bias_new], axis=-1), axis=-1)
    probs = tf.cast(probs, v_cache.dtype)
    return tf.matmul(probs[..., :-1], v_cache) + probs[..., -1:] * tf.cast(v_new, v_cache.dtype)
