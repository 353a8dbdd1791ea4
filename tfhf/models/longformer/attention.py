"""Longformer's self-attention (Beltagy et al., 2020): every token attends to the tokens within
``attention_window / 2`` on either side and to the global tokens; a global token attends to
every token through its own ``query_global`` / ``key_global`` / ``value_global`` projections.

The sliding window is computed in chunks, never as a (length x length) matrix: the queries are
cut into chunks of ``w = attention_window / 2`` tokens, and each chunk is scored against the
``3w`` keys from ``w`` before it to ``w`` after it, so scores take O(length * w) memory. The
keys of a chunk that lie outside a query's window (and masked or global keys) get
:data:`~tfhf.layers.attention.MASK_VALUE`, so the softmax equals transformers' over the
``2w + 1`` band (the same numbers up to float rounding). The global tokens of each row are
gathered into ``K`` slots (``K`` = the most global tokens in a row of the batch; inside a
compiled function ``K`` is a dynamic size bounded by the length, and XLA pads it to that bound).

Masks come from :func:`longformer_masks` once per forward pass and reach every layer as the
``bias`` argument of :class:`~tfhf.layers.encoder.EncoderStack`.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ..._keras import register_serializable
from ...errors import ConfigError
from ...layers import Dense
from ...layers.attention import MASK_VALUE, merge_heads, split_heads
from ...layers.encoder import EncoderBlock, EncoderStack, SelfAttention


def longformer_masks(mask):
    """``mask`` (batch, length): 0 = padding, 1 = local attention, 2 = global attention ->
    ``(local_keys, masked, is_global, slots, slot_valid)``: float 0/1 (batch, length) for keys a
    window may read (not padding, not global: those are read through the global slots), for
    padding and for global tokens; ``slots`` (batch, K) the positions of each row's global
    tokens in order (then position 0 as filler) and ``slot_valid`` (batch, K) 1 for a real one.
    """
    mask = tf.cast(mask, tf.int32)
    is_global = tf.cast(mask > 1, tf.float32)
    masked = tf.cast(mask <= 0, tf.float32)
    local_keys = tf.cast(tf.equal(mask, 1), tf.float32)
    count = tf.reduce_sum(tf.cast(mask > 1, tf.int32), axis=1)
    k = tf.reduce_max(count) if mask.shape[0] != 0 else 0
    n = tf.shape(mask)[1]
    positions = tf.range(n)[None, :]
    order = tf.argsort(tf.where(mask > 1, positions, n + positions), axis=1, stable=True)[:, :k]
    slot_valid = tf.cast(tf.range(k)[None, :] < count[:, None], tf.float32)
    slots = tf.where(slot_valid > 0, order, tf.zeros_like(order))
    return local_keys, masked, is_global, slots, slot_valid


def _chunk_blocks(t, w):
    """(batch, heads, n, d) -> (batch, heads, n / w, 3w, d): for each chunk of ``w`` queries,
    the ``3w`` rows from ``w`` before the chunk to ``w`` after it (zeros past the ends)."""
    b, h, n = tf.shape(t)[0], tf.shape(t)[1], tf.shape(t)[2]
    d = t.shape[-1] if t.shape[-1] is not None else tf.shape(t)[3]
    padded = tf.pad(t, [[0, 0], [0, 0], [w, w], [0, 0]])
    chunks = tf.reshape(padded, [b, h, n // w + 2, w, d])
    return tf.concat([chunks[:, :, :-2], chunks[:, :, 1:-1], chunks[:, :, 2:]], axis=3)


def _band(full, w):
    """(..., w, 3w) chunk scores -> (..., w, 2w + 1): row ``a`` keeps columns ``a .. a + 2w``
    (offsets -w .. +w from the query), transformers' layout of windowed attentions."""
    shape = tf.shape(full)
    lead = shape[:-2]
    rows = tf.pad(full, [[0, 0]] * (full.shape.rank - 1) + [[0, 1]])  # (..., w, 3w + 1)
    flat = tf.reshape(rows, tf.concat([lead, [w * (3 * w + 1)]], 0))
    flat = tf.pad(flat, [[0, 0]] * (full.shape.rank - 2) + [[0, w]])
    skewed = tf.reshape(flat, tf.concat([lead, [w, 3 * w + 2]], 0))
    return skewed[..., : 2 * w + 1]


def _window_bias(w):
    """(w, 3w) float32: 0 where key ``b`` of a chunk is within ``w`` of query ``a``."""
    a, b = np.arange(w)[:, None], np.arange(3 * w)[None, :]
    inside = (b >= a) & (b <= a + 2 * w)
    return tf.constant(np.where(inside, 0.0, MASK_VALUE), tf.float32)


@register_serializable()
class LongformerSelfAttention(SelfAttention):
    """Sliding-window attention over ``query``/``key``/``value`` plus global attention.

    ``call(x, bias=masks)`` takes :func:`longformer_masks`' tuple and returns
    ``(output, (local_probs, global_probs))``: local_probs (batch, heads, n, K + 2w + 1) are the
    probabilities on the K global slots and the window band (zero rows for padding and for
    global tokens), global_probs (batch, heads, n, K) those of the global tokens' own
    attention, as transformers reports them.
    """

    one_sided = 1  # attention_window // 2, set per layer by LongformerStack

    def __init__(self, hidden_size, num_heads, dropout=0.0, init_std=0.02, **kwargs):
        super().__init__(hidden_size, num_heads, dropout, init_std, **kwargs)
        self.query_global = Dense(hidden_size, hidden_size, init_std=init_std,
                                  name="query_global")
        self.key_global = Dense(hidden_size, hidden_size, init_std=init_std, name="key_global")
        self.value_global = Dense(hidden_size, hidden_size, init_std=init_std,
                                  name="value_global")

    def build(self, input_shape=None):
        super().build(input_shape)
        for d in (self.query_global, self.key_global, self.value_global):
            d.build(None)
        self.built = True

    def heads(self, dense, x, scale=1.0):
        return split_heads(dense(x), self.num_heads, self.head_dim) * scale

    def call(self, x, bias=None, training=False):
        local_keys, masked, is_global, slots, slot_valid = bias
        # (Keras casts float call arguments to the compute dtype; the masks work in float32)
        local_keys, masked, is_global, slot_valid = (
            tf.cast(m, tf.float32) for m in (local_keys, masked, is_global, slot_valid))
        w, scale = self.one_sided, 1.0 / math.sqrt(self.head_dim)
        b, n = tf.shape(x)[0], tf.shape(x)[1]
        q = self.heads(self.query, x, scale)
        k, v = self.heads(self.key, x), self.heads(self.value, x)
        qc = tf.reshape(q, [b, self.num_heads, n // w, w, self.head_dim])
        # window scores (b, h, chunks, w, 3w) and scores on the global slots (b, h, chunks, w, K)
        local = tf.cast(tf.matmul(qc, _chunk_blocks(k, w), transpose_b=True), tf.float32)
        key_ok = tf.reshape(_chunk_blocks(local_keys[:, None, :, None], w), [b, 1, n // w, 1, -1])
        local = local + (1.0 - key_ok) * MASK_VALUE + _window_bias(w)
        k_slots = tf.gather(k, slots, axis=2, batch_dims=1)
        glob = tf.cast(tf.matmul(q, k_slots, transpose_b=True), tf.float32)
        glob = glob + (1.0 - slot_valid)[:, None, None, :] * MASK_VALUE
        slots_n = tf.shape(slots)[1]
        glob = tf.reshape(glob, [b, self.num_heads, n // w, w, slots_n])
        probs = tf.nn.softmax(tf.concat([glob, local], axis=-1), axis=-1)
        probs = probs * tf.reshape(1.0 - masked, [b, 1, n // w, w, 1])  # padding rows: zeros
        p = tf.cast(self.dropout(probs, training=training), v.dtype)
        p_glob = tf.reshape(p[..., :slots_n], [b, self.num_heads, n, slots_n])
        ctx = tf.matmul(p[..., slots_n:], _chunk_blocks(v, w))
        ctx = tf.reshape(ctx, [b, self.num_heads, n, self.head_dim])
        ctx = ctx + tf.matmul(p_glob, tf.gather(v, slots, axis=2, batch_dims=1))
        g_ctx, g_probs = self.global_attention(x, masked, slots, slot_valid, training)
        ctx = tf.where(is_global[:, None, :, None] > 0, g_ctx, ctx)
        band = _band(probs[..., slots_n:], w)
        local_probs = tf.reshape(tf.concat([probs[..., :slots_n], band], axis=-1),
                                 [b, self.num_heads, n, -1])
        local_probs = local_probs * (1.0 - is_global)[:, None, :, None]
        return self.out(merge_heads(ctx)), (local_probs, g_probs)

    def global_attention(self, x, masked, slots, slot_valid, training):
        """The global tokens' attention over every token: context (b, h, n, d) in the global
        tokens' rows (zeros elsewhere) and probabilities (b, h, n, K)."""
        q = self.heads(self.query_global, tf.gather(x, slots, axis=1, batch_dims=1),
                       1.0 / math.sqrt(self.head_dim))
        k, v = self.heads(self.key_global, x), self.heads(self.value_global, x)
        scores = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32)  # (b, h, K, n)
        scores = scores + masked[:, None, None, :] * MASK_VALUE
        # filler slots: a uniform row, as transformers' fully masked row gives
        scores = tf.where(slot_valid[:, None, :, None] > 0, scores, tf.zeros_like(scores))
        probs = tf.nn.softmax(scores, axis=-1)
        ctx = tf.matmul(tf.cast(self.dropout(probs, training=training), v.dtype), v)
        n = tf.shape(x)[1]
        place = tf.one_hot(slots, n, dtype=ctx.dtype) * tf.cast(slot_valid, ctx.dtype)[..., None]
        ctx = tf.matmul(tf.transpose(place, [0, 2, 1])[:, None], ctx)  # (b, h, n, d)
        return ctx, tf.transpose(probs, [0, 1, 3, 2])


@register_serializable()
class LongformerBlock(EncoderBlock):
    """BERT's post-LayerNorm block with :class:`LongformerSelfAttention`."""

    def __init__(self, hidden_size, num_heads, intermediate_size, attention_dropout=0.0,
                 init_std=0.02, **kwargs):
        super().__init__(hidden_size, num_heads, intermediate_size,
                         attention_dropout=attention_dropout, init_std=init_std,
                         attention=LongformerSelfAttention(
                             hidden_size, num_heads, attention_dropout, init_std,
                             name="attention"), **kwargs)


@register_serializable()
class LongformerStack(EncoderStack):
    """One :class:`LongformerBlock` per entry of ``attention_windows`` (even sizes)."""

    block_class = LongformerBlock

    def __init__(self, attention_windows, **block_kwargs):
        super().__init__(len(attention_windows), **block_kwargs)
        for i, (block, window) in enumerate(zip(self.blocks, attention_windows)):
            if window <= 0 or window % 2:
                raise ConfigError(f"attention_window[{i}]={window}: Longformer's windows must "
                                  "be positive even numbers.")
            block.attention.one_sided = window // 2
