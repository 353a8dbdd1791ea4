"""Funnel Transformer's attention (Dai et al., 2020, appendix A.2).

Every layer scores ``query . key`` (content), ``query . R`` (relative position: sinusoids of
``i - j`` projected by ``r_kernel``, either gathered with the "relative shift" of A.2.1 or
factorized into four position tables as in A.2.2) and ``query . seg_embed`` (same or
different segment), each with its own learned per-head bias. Between blocks the queries are
mean-pooled (stride 2, the ``<cls>`` token kept apart with ``separate_cls``); the first layer
of a pooled block attends from the pooled queries to the unpooled keys (``pool_q_only``).

:class:`AttentionStructure` builds and pools what the layers share (position encodings,
segment matrix, mask, ``<cls>`` mask); positions are tracked as Python ints or scalar tensors,
so the same code serves static shapes (eager, XLA) and unknown lengths (a graph in ``fit``).
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from ..._keras import add_weight, keras, register_serializable
from ...layers import Dense, LayerNorm, get_activation
from ...layers.core import normal_init

INF = 1e6  # transformers' masking constant
CLS_TOKEN_TYPE = 2  # FunnelTokenizer's token type of <cls>: same segment as both A and B


def length_of(x, axis=1):
    """The static length of ``x`` along ``axis`` as an int, else a scalar tensor."""
    n = x.shape[axis]
    return int(n) if n is not None else tf.shape(x)[axis]


def pick(flag, true_fn, false_fn):
    """``true_fn()`` or ``false_fn()``: in Python for a bool, with ``tf.cond`` for a tensor
    (the branches may return structures holding None where both have None)."""
    if not tf.is_tensor(flag):
        return true_fn() if flag else false_fn()
    layout = {}

    def leaves_of(fn):
        def run():
            result = fn()
            leaves = tf.nest.flatten(result)
            layout["structure"], layout["none"] = result, [v is None for v in leaves]
            return [v for v in leaves if v is not None]
        return run

    kept = iter(tf.cond(flag, leaves_of(true_fn), leaves_of(false_fn)))
    leaves = [None if none else next(kept) for none in layout["none"]]
    return tf.nest.pack_sequence_as(layout["structure"], leaves)


@dataclass
class Positions:
    """Token positions ``[first] + [second + i * step for i in range(length - 1)]``: the
    original ``0..T-1``, then each pooling's (with ``separate_cls`` the ``<cls>`` sits at
    ``1 - 2 ** block``, one step before the first real token)."""

    first: int
    second: int
    step: int
    length: object  # int, or a scalar tensor when the sequence length is unknown

    def last(self):
        tail = self.second + (self.length - 2) * self.step
        if isinstance(self.length, int):
            return self.first if self.length == 1 else tail
        return tf.where(self.length > 1, tail, self.first)

    def pooled(self, block, separate_cls, truncate_seq):
        n, step = self.length, 2 * self.step
        if separate_cls:
            kept = (n - 1) // 2 if truncate_seq else n // 2
            return Positions(1 - 2 ** block, self.second, step, 1 + kept)
        return Positions(self.first, self.first + step, step, (n + 1) // 2)

    def relative_to(self, keys, stride, shift=1):
        """The relative positions ``query - key`` the shifted gather reads, largest first."""
        top = self.first - keys.first + shift * self.length * stride
        bottom = self.first - keys.last()
        return tf.range(top, bottom - 1, -stride)


@register_serializable()
class AttentionStructure(keras.layers.Layer):
    """Position encodings, segment matrix and masks of one stack, and their pooling."""

    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.sin_dropout = keras.layers.Dropout(spec.hidden_dropout)
        self.cos_dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        self.built = True

    def sinusoids(self, positions):
        half = self.spec.hidden_size // 2
        inv_freq = 1.0 / (10000.0 ** (tf.range(half, dtype=tf.float32) / half))
        angle = tf.cast(positions, tf.float32)[:, None] * inv_freq[None]
        return tf.sin(angle), tf.cos(angle)

    def position_embeds(self, seq_len, dtype, training):
        spec = self.spec
        if spec.attention_type == "factorized":  # A.2.2: (phi, pi, psi, omega)
            sin, cos = self.sinusoids(tf.range(seq_len))
            sin_d = self.sin_dropout(sin, training=training)
            cos_d = self.cos_dropout(cos, training=training)
            tables = (tf.concat([sin_d, sin_d], -1), tf.concat([cos_d, cos_d], -1),
                      tf.concat([cos, sin], -1), tf.concat([-sin, cos], -1))
            return tuple(tf.cast(t, dtype) for t in tables)

        def encode(rel):  # A.2.1: the sinusoid of every relative position the gather reads
            sin, cos = self.sinusoids(rel)
            return tf.cast(tf.concat([self.sin_dropout(sin, training=training),
                                      self.cos_dropout(cos, training=training)], -1), dtype)

        pos, out = Positions(0, 1, 1, seq_len), []
        for block in range(len(spec.block_sizes)):
            from_unpooled = None
            if block > 0:  # pooled queries attending to the previous block's keys
                pooled = pos.pooled(block, spec.separate_cls, spec.truncate_seq)
                from_unpooled = encode(pooled.relative_to(pos, 2 ** (block - 1), shift=2))
                pos = pooled
            out.append([encode(pos.relative_to(pos, 2 ** block)), from_unpooled])
        return out

    def initial(self, x, attention_mask, token_type_ids, training):
        """``{"pos", "token_type", "mask", "cls"}`` for hidden states ``x``."""
        seq_len = length_of(x)
        same = token_type_ids[:, :, None] == token_type_ids[:, None]
        is_cls = token_type_ids == CLS_TOKEN_TYPE
        cls = None
        if self.spec.separate_cls:
            cls = tf.pad(tf.ones([seq_len - 1, seq_len - 1], x.dtype), [[1, 0], [1, 0]])
        return {"pos": self.position_embeds(seq_len, x.dtype, training),
                "token_type": same | (is_cls[:, :, None] | is_cls[:, None]),
                "mask": attention_mask, "cls": cls}

    # ------------------------------------------------------------------ pooling
    def stride_pool(self, t, axis):
        """Every other entry along ``axis`` (``<cls>`` kept apart)."""
        if t is None:
            return None
        lead = (slice(None),) * axis
        spec = self.spec
        if spec.separate_cls:
            t = tf.concat([t[lead + (slice(None, 1),)], t], axis)
        step = slice(None, -1, 2) if spec.separate_cls and spec.truncate_seq else slice(None, None, 2)
        return t[lead + (step,)]

    def pool(self, t, mode):
        """Stride-2 pooling over axis 1 of (batch, length[, dim]); a last odd token alone."""
        spec = self.spec
        if spec.separate_cls:
            t = tf.concat([t[:, :1], t[:, :-1] if spec.truncate_seq else t], 1)
        flat = t.shape.rank == 2
        if flat:
            t = t[:, :, None]
        if mode == "mean":
            t = tf.nn.avg_pool1d(t, 2, 2, "SAME")
        elif mode == "max":
            t = tf.nn.max_pool1d(t, 2, 2, "SAME")
        else:  # "min"
            t = -tf.nn.max_pool1d(-t, 2, 2, "SAME")
        return t[:, :, 0] if flat else t

    def before_attention(self, hidden, inputs):
        """Pool ``hidden`` (the queries) and what the pooling layer's scores need."""
        spec, inputs = self.spec, dict(inputs)
        factorized = spec.attention_type == "factorized"
        if spec.pool_q_only:
            if factorized:
                pos = inputs["pos"]
                inputs["pos"] = tuple(self.stride_pool(p, 0) for p in pos[:2]) + pos[2:]
            inputs["token_type"] = self.stride_pool(inputs["token_type"], 1)
            inputs["cls"] = self.stride_pool(inputs["cls"], 0)
        else:
            if factorized:
                inputs["pos"] = tuple(self.stride_pool(p, 0) for p in inputs["pos"])
            inputs["token_type"] = self.stride_pool(self.stride_pool(inputs["token_type"], 1), 2)
            inputs["cls"] = self.stride_pool(self.stride_pool(inputs["cls"], 0), 1)
            inputs["mask"] = self.pool(inputs["mask"], "min")
        return self.pool(hidden, spec.pooling_type), inputs

    def after_attention(self, inputs):
        """Pool the key side once the pooling layer has run (``pool_q_only``)."""
        spec, inputs = self.spec, dict(inputs)
        if spec.pool_q_only:
            if spec.attention_type == "factorized":
                pos = inputs["pos"]
                inputs["pos"] = pos[:2] + tuple(self.stride_pool(p, 0) for p in pos[2:])
            inputs["token_type"] = self.stride_pool(inputs["token_type"], 2)
            inputs["cls"] = self.stride_pool(inputs["cls"], 1)
            inputs["mask"] = self.pool(inputs["mask"], "min")
        return inputs


@register_serializable()
class RelativeAttention(keras.layers.Layer):
    """Multi-head attention with Transformer-XL style position and segment terms, then
    dropout, residual and LayerNorm (HF ``FunnelRelMultiheadAttention``)."""

    def __init__(self, spec, block_index, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.block_index = spec, block_index
        d, n, h, std = spec.hidden_size, spec.num_heads, spec.head_dim, spec.init_std
        self.q_head = Dense(d, n * h, use_bias=False, init_std=std, name="q_head")
        self.k_head = Dense(d, n * h, init_std=std, name="k_head")
        self.v_head = Dense(d, n * h, init_std=std, name="v_head")
        self.post_proj = Dense(n * h, d, init_std=std, name="post_proj")
        self.layer_norm = LayerNorm(d, spec.layer_norm_eps, name="layer_norm")
        self.hidden_dropout = keras.layers.Dropout(spec.hidden_dropout)
        self.attention_dropout = keras.layers.Dropout(spec.attention_dropout)
        self.scale = 1.0 / h ** 0.5

    def build(self, input_shape=None):
        for layer in (self.q_head, self.k_head, self.v_head, self.post_proj, self.layer_norm):
            layer.build(None)
        d, n, h = self.spec.hidden_size, self.spec.num_heads, self.spec.head_dim
        init = normal_init(self.spec.init_std)
        for name in ("r_w_bias", "r_r_bias", "r_s_bias"):
            setattr(self, name, add_weight(self, name, (n, h), init))
        self.r_kernel = add_weight(self, "r_kernel", (d, n, h), init)
        self.seg_embed = add_weight(self, "seg_embed", (2, n, h), init)
        self.built = True

    def _w(self, var):
        return tf.cast(var, self.compute_dtype)

    def positional_scores(self, pos, q, context_len, shift):
        if self.spec.attention_type == "factorized":
            phi, pi, psi, omega = pos
            qr = tf.einsum("binh,dnh->bind", q + self._w(self.r_r_bias) * self.scale,
                           self._w(self.r_kernel))
            return (tf.einsum("bind,jd->bnij", qr * phi[:, None], psi)
                    + tf.einsum("bind,jd->bnij", qr * pi[:, None], omega))
        r = pos[self.block_index][shift - 1]
        r_head = tf.einsum("td,dnh->tnh", r, self._w(self.r_kernel))
        scores = tf.einsum("binh,tnh->bnit", q + self._w(self.r_r_bias) * self.scale, r_head)
        # the relative shift: row i keeps the context_len entries starting at offset ``shift``
        b, n, s, t = (tf.shape(scores)[k] for k in range(4))
        scores = tf.reshape(tf.reshape(scores, [b, n, t, s])[:, :, shift:], [b, n, s, t - shift])
        return scores[..., :context_len]

    def segment_scores(self, token_type, q):
        bias = tf.einsum("bind,snd->bnis", q + self._w(self.r_s_bias) * self.scale,
                         self._w(self.seg_embed))
        return tf.where(token_type[:, None], bias[..., 1:], bias[..., :1])

    def call(self, query, key, att, shift=1, training=False):
        n, h = self.spec.num_heads, self.spec.head_dim
        b, s, c = tf.shape(query)[0], tf.shape(query)[1], tf.shape(key)[1]
        q = tf.reshape(self.q_head(query), [b, s, n, h]) * self.scale
        k = tf.reshape(self.k_head(key), [b, c, n, h])
        v = tf.reshape(self.v_head(key), [b, c, n, h])
        content = tf.einsum("bind,bjnd->bnij", q + self._w(self.r_w_bias) * self.scale, k)
        extra = (self.positional_scores(att["pos"], q, c, shift)
                 + self.segment_scores(att["token_type"], q))
        if att["cls"] is not None:
            extra = extra * tf.cast(att["cls"], extra.dtype)
        scores = tf.cast(content + extra, tf.float32)
        scores -= INF * (1.0 - tf.cast(att["mask"], tf.float32)[:, None, None])
        probs = tf.nn.softmax(scores, axis=-1)
        p = tf.cast(self.attention_dropout(probs, training=training), v.dtype)
        out = tf.reshape(tf.einsum("bnij,bjnd->bind", p, v), [b, s, n * h])
        out = self.hidden_dropout(self.post_proj(out), training=training)
        return self.layer_norm(query + out), probs


@register_serializable()
class FunnelLayer(keras.layers.Layer):
    """Relative attention, then ``LayerNorm(x + linear_2(act(linear_1(x))))``."""

    def __init__(self, spec, block_index, **kwargs):
        super().__init__(**kwargs)
        d, std = spec.hidden_size, spec.init_std
        self.attention = RelativeAttention(spec, block_index, name="attention")
        self.linear_1 = Dense(d, spec.intermediate_size, init_std=std, name="linear_1")
        self.linear_2 = Dense(spec.intermediate_size, d, init_std=std, name="linear_2")
        self.layer_norm = LayerNorm(d, spec.layer_norm_eps, name="layer_norm")
        self.act = get_activation(spec.activation)
        self.activation_dropout = keras.layers.Dropout(spec.activation_dropout)
        self.dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        for layer in (self.attention, self.linear_1, self.linear_2, self.layer_norm):
            layer.build(None)
        self.built = True

    def call(self, query, key, att, shift=1, training=False):
        x, probs = self.attention(query, key, att, shift=shift, training=training)
        h = self.activation_dropout(self.act(self.linear_1(x)), training=training)
        h = self.dropout(self.linear_2(h), training=training)
        return self.layer_norm(x + h), probs
