"""DeBERTa's disentangled attention (He et al., 2020), shared by DeBERTa and DeBERTa-v2/v3.

A token's attention score to another is the sum of three dot products: content to content
(BERT's ``q k^T``), content to position (``c2p``: the query against the projected embedding
of the relative distance ``i - j``) and position to content (``p2c``: the key against the
projected embedding of ``j - i``), divided by ``sqrt(head_dim * (1 + number of position
terms))``. The relative-distance embeddings are one table for all layers; v2 buckets large
distances logarithmically (``position_buckets``), can normalize the table and project it
with the content query/key denses (``share_att_key``), and runs a convolution beside the
first layer (``conv_kernel_size``). Everything else is BERT's post-LayerNorm block
(:class:`~tfhf.layers.encoder.EncoderBlock`).

Masking is DeBERTa's: a (query, key) pair counts when both tokens are real; a padding query
row is masked everywhere, so its softmax is uniform, as in transformers.
"""

from __future__ import annotations

import math

import tensorflow as tf

from .._keras import add_weight, keras, register_serializable
from ..errors import ConfigError
from .activations import get_activation
from .attention import merge_heads, split_heads
from .conv import Conv1D
from .core import Dense, Embedding, LayerNorm, build_sublayers
from .encoder import EncoderBlock, EncoderStack
from .specs import DisentangledSpec  # noqa: F401  (from_config finds the spec type here)


# ---------------------------------------------------------------------------- positions
def log_bucket_positions(relative, bucket_size, max_position):
    """v2's buckets: distances below ``bucket_size // 2`` stay exact, larger ones grow
    logarithmically up to ``max_position`` (float32 maths, as transformers computes it)."""
    mid = bucket_size // 2
    sign = tf.sign(relative)
    abs_pos = tf.where((relative < mid) & (relative > -mid), tf.constant(mid - 1, tf.int32),
                       tf.abs(relative))
    ratio = tf.math.log(tf.cast(abs_pos, tf.float32) / mid)
    log_pos = tf.math.ceil(ratio / tf.math.log(tf.constant((max_position - 1) / mid, tf.float32))
                           * (mid - 1)) + mid
    bucketed = tf.cast(log_pos, tf.int32) * sign
    return tf.where(abs_pos <= mid, relative, bucketed)


def relative_positions(length, bucket_size=0, max_position=0):
    """(length, length) int32 ``i - j``, log-bucketed when ``bucket_size > 0``."""
    ids = tf.range(length, dtype=tf.int32)
    relative = ids[:, None] - ids[None, :]
    if bucket_size > 0 and max_position > 0:
        relative = log_bucket_positions(relative, bucket_size, max_position)
    return relative


def take_positions(scores, index):
    """``out[..., i, j] = scores[..., i, index[i, j]]`` for (batch, heads, n, span) scores."""
    index = tf.broadcast_to(index, tf.concat([tf.shape(scores)[:2], tf.shape(index)], 0))
    return tf.gather(scores, index, batch_dims=3)


# ---------------------------------------------------------------------------- attention
@register_serializable()
class DisentangledSelfAttention(keras.layers.Layer):
    """Projections, content + c2p + p2c scores, masked softmax, output projection.

    ``call(x, pair_mask=..., rel_embeddings=..., rel_pos=...)``: ``pair_mask`` (batch, 1, t, t)
    bool,
    ``rel_embeddings`` the (possibly normalized) table, ``rel_pos`` (t, t) relative positions.
    """

    def __init__(self, spec: DisentangledSpec, **kwargs):
        super().__init__(**kwargs)
        if spec.hidden_size % spec.num_heads:
            raise ConfigError(f"hidden_size={spec.hidden_size} is not a multiple of "
                              f"num_attention_heads={spec.num_heads}.")
        unknown = set(spec.pos_att_type) - {"c2p", "p2c"}
        if unknown:
            raise ConfigError(f"pos_att_type {sorted(unknown)} is not supported; DeBERTa "
                              "knows 'c2p' and 'p2c'.")
        self.spec = spec
        h, std = spec.hidden_size, spec.init_std
        self.num_heads, self.head_dim = spec.num_heads, h // spec.num_heads
        self.types = tuple(t for t in ("c2p", "p2c") if t in spec.pos_att_type) \
            if spec.relative_attention else ()
        self.scale = math.sqrt(self.head_dim * (1 + len(spec.pos_att_type)))
        if spec.fused_qkv:
            self.in_proj = Dense(h, 3 * h, use_bias=False, init_std=std, name="in_proj")
        else:
            self.query = Dense(h, h, init_std=std, name="query")
            self.key = Dense(h, h, init_std=std, name="key")
            self.value = Dense(h, h, init_std=std, name="value")
        separate = spec.relative_attention and not spec.share_att_key
        self.pos_key = (Dense(h, h, use_bias=spec.pos_key_bias, init_std=std, name="pos_key")
                        if separate and "c2p" in self.types else None)
        self.pos_query = (Dense(h, h, init_std=std, name="pos_query")
                          if separate and "p2c" in self.types else None)
        self.out = Dense(h, h, init_std=std, name="out")
        self.dropout = keras.layers.Dropout(spec.attention_dropout)
        self.pos_dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        if self.spec.fused_qkv:
            self.q_bias = add_weight(self, "q_bias", (self.spec.hidden_size,), "zeros")
            self.v_bias = add_weight(self, "v_bias", (self.spec.hidden_size,), "zeros")
        self.built = True

    def _heads(self, x):
        return split_heads(x, self.num_heads, self.head_dim)

    def _project(self, x):
        if not self.spec.fused_qkv:
            return self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        # v1's in_proj holds, head after head, that head's query, key and value columns
        qkv = split_heads(self.in_proj(x), self.num_heads, 3 * self.head_dim)
        q, k, v = tf.split(qkv, 3, axis=-1)
        bias_shape = [1, self.num_heads, 1, self.head_dim]
        q = q + tf.reshape(tf.cast(self.q_bias, q.dtype), bias_shape)
        v = v + tf.reshape(tf.cast(self.v_bias, v.dtype), bias_shape)
        return q, k, v

    def call(self, x, bias=None, training=False, pair_mask=None, rel_embeddings=None,
             rel_pos=None):
        q, k, v = self._project(x)
        scores = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32) / self.scale
        if self.types:
            scores = scores + self._position_scores(q, k, rel_embeddings, rel_pos, training)
        if bias is not None:
            scores = scores + tf.cast(bias, tf.float32)
        if pair_mask is not None:
            scores = tf.where(pair_mask, scores, tf.float32.min)
        probs = tf.nn.softmax(scores, axis=-1)
        ctx = tf.matmul(tf.cast(self.dropout(probs, training=training), v.dtype), v)
        return self.out(merge_heads(ctx)), probs

    def _span(self, length):
        """Half-width of the slice of the table in use, and the slice."""
        spec = self.spec
        if spec.position_buckets > 0 or not spec.fused_qkv:
            return spec.relative_span, slice(0, 2 * spec.relative_span)
        # v1 uses the rows around the table's middle that the length can reach
        span = tf.minimum(length, spec.relative_span)
        return span, slice(spec.relative_span - span, spec.relative_span + span)

    def _position_scores(self, q, k, rel_embeddings, rel_pos, training):
        span, rows = self._span(tf.shape(q)[2])
        table = self.pos_dropout(rel_embeddings, training=training)[None, rows]
        score = 0.0
        if "c2p" in self.types:
            pos_key = self._heads(self.key(table) if self.pos_key is None
                                  else self.pos_key(table))
            c2p = tf.matmul(q, tf.cast(pos_key, q.dtype), transpose_b=True)
            index = tf.clip_by_value(rel_pos + span, 0, 2 * span - 1)
            score += tf.cast(take_positions(c2p, index), tf.float32) / self.scale
        if "p2c" in self.types:
            pos_query = self._heads(self.query(table) if self.pos_query is None
                                    else self.pos_query(table))
            p2c = tf.matmul(k, tf.cast(pos_query, k.dtype), transpose_b=True)
            index = tf.clip_by_value(-rel_pos + span, 0, 2 * span - 1)
            p2c = tf.linalg.matrix_transpose(take_positions(p2c, index))
            score += tf.cast(p2c, tf.float32) / self.scale
        return score


@register_serializable()
class DisentangledBlock(EncoderBlock):
    """BERT's post-LayerNorm block around :class:`DisentangledSelfAttention`."""

    def __init__(self, spec: DisentangledSpec, **kwargs):
        super().__init__(spec.hidden_size, spec.num_heads, spec.intermediate_size,
                         spec.activation, spec.layer_norm_eps, spec.hidden_dropout,
                         spec.attention_dropout, spec.init_std,
                         attention=DisentangledSelfAttention(spec, name="attention"), **kwargs)


@register_serializable()
class MaskedConv(keras.layers.Layer):
    """v2's ConvLayer: ``LN(residual + act(conv(x) with padding zeroed)) * mask``."""

    def __init__(self, spec: DisentangledSpec, **kwargs):
        super().__init__(**kwargs)
        size = spec.conv_kernel_size
        self.conv = Conv1D(spec.hidden_size, spec.hidden_size, size, padding=(size - 1) // 2,
                           init_std=spec.init_std, name="conv")
        self.act = get_activation(spec.conv_act)
        self.norm = LayerNorm(spec.hidden_size, spec.layer_norm_eps, name="LayerNorm")
        self.dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, residual, input_mask, training=False):
        keep = tf.cast(input_mask, self.compute_dtype)[:, :, None]
        out = self.act(self.dropout(self.conv(x) * keep, training=training))
        return self.norm(tf.cast(residual, out.dtype) + out) * keep


# ---------------------------------------------------------------------------- embeddings
@register_serializable()
class DisentangledEmbeddings(keras.layers.Layer):
    """Words (+ absolute positions when ``position_biased_input``) (+ token types), projected
    to ``hidden_size`` (no bias) when narrower, LayerNorm, zeroed at padding, dropout."""

    def __init__(self, spec: DisentangledSpec, **kwargs):
        super().__init__(**kwargs)
        dim, std = spec.embedding_dim, spec.init_std
        self.word_embeddings = Embedding(spec.vocab_size, dim, std, name="word_embeddings")
        self.position_embeddings = (Embedding(spec.max_positions, dim, std,
                                              name="position_embeddings")
                                    if spec.position_biased_input else None)
        self.token_type_embeddings = (Embedding(spec.type_vocab_size, dim, std,
                                                name="token_type_embeddings")
                                      if spec.type_vocab_size else None)
        self.project = (Dense(dim, spec.hidden_size, use_bias=False, init_std=std,
                              name="embed_proj") if dim != spec.hidden_size else None)
        self.norm = LayerNorm(spec.hidden_size, spec.layer_norm_eps, name="LayerNorm")
        self.dropout = keras.layers.Dropout(spec.hidden_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
             padding_mask=None, training=False):
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = tf.range(tf.shape(x)[1])[None, :]
            x = x + self.position_embeddings(position_ids)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = tf.zeros(tf.shape(x)[:2], tf.int32)
            x = x + self.token_type_embeddings(token_type_ids)
        if self.project is not None:
            x = self.project(x)
        x = self.norm(x)
        if padding_mask is not None:
            x = x * tf.cast(padding_mask, x.dtype)[:, :, None]
        return self.dropout(x, training=training)


# ---------------------------------------------------------------------------- stack
@register_serializable()
class DisentangledStack(EncoderStack):
    """The blocks, the relative-embedding table they share (LayerNorm'd when
    ``norm_rel_embeddings``) and v2's convolution beside the first block."""

    block_class = DisentangledBlock

    def __init__(self, spec: DisentangledSpec, **kwargs):
        super().__init__(spec.num_layers, spec=spec, **kwargs)
        self.spec = spec
        self.rel_embeddings = (Embedding(2 * spec.relative_span, spec.hidden_size,
                                         spec.init_std, name="rel_embeddings")
                               if spec.relative_attention else None)
        self.rel_norm = (LayerNorm(spec.hidden_size, spec.layer_norm_eps, name="LayerNorm")
                         if spec.relative_attention and spec.norm_rel_embeddings else None)
        self.conv = MaskedConv(spec, name="conv") if spec.conv_kernel_size > 0 else None

    def build(self, input_shape=None):
        super().build(input_shape)
        build_sublayers(self)
        self.built = True

    def call(self, x, attention_mask, output_hidden_states=False, output_attentions=False,
             training=False):
        spec = self.spec
        keep = tf.not_equal(attention_mask, 0)
        extra = {"pair_mask": tf.logical_and(keep[:, None, :, None], keep[:, None, None, :])}
        if self.rel_embeddings is not None:
            table = tf.cast(self.rel_embeddings.embeddings, self.compute_dtype)
            extra["rel_embeddings"] = self.rel_norm(table) if self.rel_norm is not None \
                else table
            extra["rel_pos"] = relative_positions(tf.shape(x)[1], spec.position_buckets,
                                                  spec.max_distance)
        hidden, attns = [x], []
        first = x
        for i, block in enumerate(self.schedule()):
            x, probs = block(x, training=training, **extra)
            if i == 0 and self.conv is not None:
                x = self.conv(first, x, attention_mask, training=training)
            hidden.append(x)
            attns.append(probs)
        return x, (tuple(hidden) if output_hidden_states else None), (
            tuple(attns) if output_attentions else None)
