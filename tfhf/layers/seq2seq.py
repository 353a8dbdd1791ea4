"""Blocks of encoder-decoder transformers (T5, BART, M2M100/NLLB, Whisper, SpeechT5).

A :class:`~tfhf.layers.specs.Seq2SeqSpec` says which parts a family uses: pre- or post-LayerNorm, T5's RMS
norm, learned / sinusoidal / relative (T5) positions or relative keys (SpeechT5), gated or plain feed-forward, biases,
query scaling and embedding scaling. One :class:`Seq2SeqStack` is an encoder or a decoder;
a decoder layer adds cross-attention over the encoder's states.

Layouts follow the cache contract (docs/generation-design.md, section "Encoder-decoder"):
keys and values are (batch, heads, length, head_dim); the decoder self-attention cache is a
tuple with one ``(keys, values)`` pair of (batch, heads, max_length, head_dim) buffers per
layer, written in place with XLA's dynamic-update-slice; the cross-attention keys/values are
computed once from the encoder output, one ``(keys, values)`` pair of (batch, heads,
source_length, head_dim) per layer.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from .._keras import add_weight, keras, track_layers
from .activations import get_activation
from .attention import (attend, attend_before_write, attention_bias_from_mask, causal_bias,
                        merge_heads, split_heads, write_cache)
from .core import Dense, Embedding, build_sublayers
from .specs import (LEARNED, RELATIVE, RELATIVE_KEYS, SINUSOIDAL, SINUSOIDAL_WEIGHT,
                    Seq2SeqSpec)


# ---------------------------------------------------------------------------- positions
def sinusoidal_table(num_positions, dim, padding_idx=None):
    """fairseq's table (M2M100, Whisper's initial encoder positions): ``[sin | cos]`` halves
    with ``log(10000) / (dim / 2 - 1)`` frequency steps; the padding row is zero."""
    half = dim // 2
    step = math.log(10000.0) / (half - 1)
    freqs = np.exp(np.arange(half, dtype=np.float32) * -step)
    angles = np.arange(num_positions, dtype=np.float32)[:, None] * freqs[None, :]
    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    if dim % 2:
        table = np.concatenate([table, np.zeros((num_positions, 1), np.float32)], axis=1)
    if padding_idx is not None:
        table[padding_idx] = 0.0
    return table.astype(np.float32)


class SinusoidalTable(Embedding):
    """A frozen (non-trainable) position table initialized with :func:`sinusoidal_table`
    (a subclass gives another ``table()``)."""

    def table(self):
        return sinusoidal_table(self.num_embeddings, self.dim)

    def build(self, input_shape=None):
        table = self.table()

        def init(shape, dtype=None):
            return tf.constant(table, dtype=dtype or tf.float32)

        self.embeddings = add_weight(self, "embeddings", (self.num_embeddings, self.dim), init,
                                     trainable=False, autocast=False)
        self.built = True


def padded_position_ids(input_ids, padding_idx, past_length=0):
    """fairseq / M2M100: real tokens count from ``padding_idx + 1``; pads sit at
    ``padding_idx`` (a zero row)."""
    mask = tf.cast(tf.not_equal(input_ids, padding_idx), tf.int32)
    return (tf.cumsum(mask, axis=1) + past_length) * mask + padding_idx


def relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """T5's bucketing of ``key_position - query_position`` (int32 in, int32 out)."""
    buckets = tf.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += tf.cast(relative_position > 0, tf.int32) * num_buckets
        n = tf.abs(relative_position)
    else:
        n = -tf.minimum(relative_position, 0)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + tf.cast(
        tf.math.log(tf.cast(tf.maximum(n, 1), tf.float32) / max_exact)
        / math.log(max_distance / max_exact) * (num_buckets - max_exact), tf.int32)
    large = tf.minimum(large, num_buckets - 1)
    return buckets + tf.where(is_small, n, large)


class RelativePositionBias(keras.layers.Layer):
    """T5's learned per-head bias over bucketed relative positions, (1, heads, q, k) float32."""

    def __init__(self, num_buckets, max_distance, num_heads, bidirectional, init_std=0.02,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.bidirectional = bidirectional
        self.embedding = Embedding(num_buckets, num_heads, init_std, name="embedding")

    def build(self, input_shape=None):
        self.embedding.build(None)
        self.built = True

    def call(self, query_positions, key_length):
        """``query_positions``: (q,) int32 absolute query positions; keys are 0..key_length-1."""
        rel = tf.range(key_length, dtype=tf.int32)[None, :] - query_positions[:, None]
        buckets = relative_position_bucket(rel, self.bidirectional, self.num_buckets,
                                           self.max_distance)
        values = tf.cast(self.embedding(buckets), tf.float32)  # (q, k, heads)
        return tf.transpose(values, [2, 0, 1])[None]


class RelativePositionKeys(keras.layers.Layer):
    """Shaw et al.'s relative keys (SpeechT5's encoder): ``pe_k[clamp(i - j) + max_distance]``
    for query i and key j, a (q, k, head_dim) tensor the attention dots with its queries."""

    def __init__(self, max_distance, head_dim, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.max_distance = max_distance
        self.pe_k = Embedding(2 * max_distance, head_dim, init_std, name="pe_k")

    def build(self, input_shape=None):
        self.pe_k.build(None)
        self.built = True

    def call(self, length):
        pos = tf.range(length, dtype=tf.int32)
        rel = tf.clip_by_value(pos[:, None] - pos[None, :], -self.max_distance,
                               self.max_distance - 1)
        return self.pe_k(rel + self.max_distance)


# ---------------------------------------------------------------------------- layers
class Attention(keras.layers.Layer):
    """q/k/v/out projections; self-attention (with a static cache) or cross-attention
    (``cross``: keys and values from ``spec.cross_attention_dim``-wide states, default
    ``d_model``)."""

    def __init__(self, spec: Seq2SeqSpec, decoder, cross=False, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim = spec.heads(decoder), spec.dim_per_head(decoder)
        inner, d, std, b = self.num_heads * self.head_dim, spec.d_model, spec.init_std, \
            spec.attention_bias
        kv = (spec.cross_attention_dim or d) if cross else d
        self.q_proj = Dense(d, inner, use_bias=b, init_std=std, name="q_proj")
        self.k_proj = Dense(kv, inner, use_bias=b and spec.key_bias, init_std=std, name="k_proj")
        self.v_proj = Dense(kv, inner, use_bias=b, init_std=std, name="v_proj")
        self.o_proj = Dense(inner, d, use_bias=b, init_std=std, name="o_proj")
        self.scale = self.head_dim ** -0.5 if spec.scale_queries else 1.0
        self.dropout = (keras.layers.Dropout(spec.attention_dropout)
                        if spec.attention_dropout else None)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def key_values(self, source):
        """(batch, s, d_model) -> k, v of shape (batch, heads, s, head_dim)."""
        return (split_heads(self.k_proj(source), self.num_heads, self.head_dim),
                split_heads(self.v_proj(source), self.num_heads, self.head_dim))

    def call(self, x, k, v, bias, training=False, position_keys=None):
        q = split_heads(self.q_proj(x), self.num_heads, self.head_dim)
        if position_keys is not None:  # relative keys: (q * scale) . pe_k[i, j]
            rel = tf.einsum("bhqd,qkd->bhqk", q, tf.cast(position_keys, q.dtype))
            rel = tf.cast(rel, tf.float32) * self.scale
            bias = rel if bias is None else tf.cast(bias, tf.float32) + rel
        ctx, _ = attend(q, k, v, bias, self.dropout, training, scale=self.scale)
        return self.o_proj(merge_heads(ctx))


    def decode_step(self, x, cache, cache_index, bias):
        """Self-attention of one new position per row (``x``: (batch, 1, d_model)) on a static
        cache: attend over the buffers as they were before this step plus the position's own
        key/value, then write them with a (zero) data dependence on the attention output.
        Same result as writing first and attending over the written buffers, but the write
        then has the loop state as its only reader, so XLA updates the buffers in place
        instead of copying both of every layer twice per step (as
        :func:`~tfhf.layers.attention.decode_attention` for decoder-only models).
        ``bias``: additive (batch or 1, heads or 1, 1, max_length). Returns (output, cache)."""
        k_buf, v_buf = cache
        q = split_heads(self.q_proj(x), self.num_heads, self.head_dim)  # (b, h, 1, d)
        k_new, v_new = self.key_values(x)
        k_new, v_new = tf.cast(k_new, k_buf.dtype), tf.cast(v_new, v_buf.dtype)
        ctx = attend_before_write(q, k_buf, v_buf, k_new, v_new, bias, cache_index, self.scale)
        after = tf.reduce_sum(ctx[:1, :1, :, :1]) * 0.0
        cache = write_cache(cache, cache_index, k_new + after, v_new + after)
        return self.o_proj(merge_heads(ctx)), cache


class FeedForward(keras.layers.Layer):
    """``fc2(act(fc1(x)))`` or, gated (T5 v1.1), ``fc2(act(gate(x)) * fc1(x))``."""

    def __init__(self, spec: Seq2SeqSpec, ffn_dim, **kwargs):
        super().__init__(**kwargs)
        d, std, b = spec.d_model, spec.init_std, spec.ffn_bias
        self.gate = Dense(d, ffn_dim, use_bias=b, init_std=std, name="gate") \
            if spec.gated_ffn else None
        self.fc1 = Dense(d, ffn_dim, use_bias=b, init_std=std, name="fc1")
        self.fc2 = Dense(ffn_dim, d, use_bias=b, init_std=std, name="fc2")
        self.act = get_activation(spec.activation)
        self.dropout = (keras.layers.Dropout(spec.activation_dropout)
                        if spec.activation_dropout else None)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, training=False):
        if self.gate is not None:
            h = self.act(self.gate(x)) * self.fc1(x)
        else:
            h = self.act(self.fc1(x))
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        return self.fc2(h)


class Seq2SeqLayer(keras.layers.Layer):
    """Self-attention [+ cross-attention] + feed-forward, pre- or post-norm residuals."""

    def __init__(self, spec: Seq2SeqSpec, decoder, layer_index, **kwargs):
        super().__init__(**kwargs)
        self.pre_norm, self.layer_index = spec.pre_norm, layer_index
        self.self_attn = Attention(spec, decoder, name="self_attn")
        self.self_attn_norm = spec.make_norm("self_attn_norm")
        if decoder:
            self.cross_attn = Attention(spec, decoder, cross=True, name="cross_attn")
            self.cross_attn_norm = spec.make_norm("cross_attn_norm")
        else:
            self.cross_attn = self.cross_attn_norm = None
        self.ffn = FeedForward(spec, spec.decoder_ffn if decoder else spec.encoder_ffn,
                               name="ffn")
        self.ffn_norm = spec.make_norm("ffn_norm")
        self.dropout = keras.layers.Dropout(spec.dropout) if spec.dropout else None
        positions = spec.decoder_positions if decoder else spec.encoder_positions
        self.relative_bias = (  # UMT5: this layer's own relative position bias
            RelativePositionBias(spec.relative_buckets, spec.relative_max_distance,
                                 spec.heads(decoder), bidirectional=not decoder,
                                 init_std=spec.init_std, name="relative_bias")
            if spec.relative_bias_per_layer and positions == RELATIVE else None)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def _sublayer(self, x, norm, fn, training):
        h = fn(norm(x) if self.pre_norm else x)
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        return x + h if self.pre_norm else norm(x + h)

    def call(self, x, self_bias, cache=None, cache_index=None, cross_kv=None, cross_bias=None,
             training=False, position_keys=None):
        def self_attention(h):
            nonlocal cache
            if cache is not None and h.shape[1] == 1 and not training:
                out, cache = self.self_attn.decode_step(h, cache, cache_index, self_bias)
                return out
            k, v = self.self_attn.key_values(h)
            if cache is not None:  # this layer's (keys, values)
                cache = write_cache(cache, cache_index, k, v)
                k, v = cache
            return self.self_attn(h, k, v, self_bias, training=training,
                                  position_keys=position_keys)

        x = self._sublayer(x, self.self_attn_norm, self_attention, training)
        if self.cross_attn is not None:
            k, v = cross_kv
            x = self._sublayer(x, self.cross_attn_norm,
                               lambda h: self.cross_attn(h, k, v, cross_bias, training=training),
                               training)
        return self._sublayer(x, self.ffn_norm, lambda h: self.ffn(h, training=training),
                             training), cache


class Seq2SeqStack(keras.layers.Layer):
    """Positions + layers + final norm: the encoder (``decoder=False``) or the decoder.

    Token embeddings belong to the model (shared by both stacks); ``call`` takes them already
    looked up (and scaled), so a non-text front end (Whisper's convolutions) plugs in too.
    """

    def __init__(self, spec: Seq2SeqSpec, decoder, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.is_decoder = spec, decoder
        self.position_kind = spec.decoder_positions if decoder else spec.encoder_positions
        max_pos = spec.max_target_positions if decoder else spec.max_source_positions
        self.embed_positions = self.relative_bias = self.relative_keys = None
        if self.position_kind == LEARNED:
            self.embed_positions = Embedding(max_pos + spec.position_offset, spec.d_model,
                                             spec.init_std, name="embed_positions")
        elif self.position_kind == SINUSOIDAL_WEIGHT:
            self.embed_positions = SinusoidalTable(max_pos, spec.d_model,
                                                   name="embed_positions")
        elif self.position_kind == SINUSOIDAL:  # a constant, not a weight
            self.sinusoids = tf.constant(sinusoidal_table(
                max_pos + spec.padding_idx + 1, spec.d_model, spec.padding_idx))
        elif self.position_kind == RELATIVE and not spec.relative_bias_per_layer:
            self.relative_bias = RelativePositionBias(
                spec.relative_buckets, spec.relative_max_distance, spec.heads(decoder),
                bidirectional=not decoder, init_std=spec.init_std, name="relative_bias")
        elif self.position_kind == RELATIVE_KEYS:
            self.relative_keys = RelativePositionKeys(
                spec.relative_max_distance, spec.dim_per_head(decoder), spec.init_std,
                name="relative_keys")
        self.embedding_norm = spec.make_norm("embedding_norm") if spec.embedding_norm else None
        n = spec.decoder_layers if decoder else spec.encoder_layers
        self.blocks = track_layers(self, "layer", [Seq2SeqLayer(spec, decoder, i,
                                                                name=f"layer_{i}")
                                                   for i in range(n)])
        self.final_norm = spec.make_norm("final_norm") if spec.final_norm else None
        self.dropout = keras.layers.Dropout(spec.dropout) if spec.dropout else None

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def add_positions(self, x, position_ids):
        """Add absolute positions; ``position_ids`` are 0-based (batch, t) (for sinusoidal
        positions, already in the padded fairseq numbering: see :func:`padded_position_ids`)."""
        if self.position_kind == LEARNED:
            x = x + self.embed_positions(position_ids + self.spec.position_offset)
        elif self.position_kind == SINUSOIDAL_WEIGHT:
            x = x + self.embed_positions(position_ids)
        elif self.position_kind == SINUSOIDAL:
            x = x + tf.cast(tf.gather(self.sinusoids, position_ids), x.dtype)
        return x

    def call(self, x, position_ids, self_bias, cache=None, cache_index=0, cross_kv=None,
             cross_bias=None, output_hidden_states=False, training=False):
        """``x``: scaled token embeddings (batch, t, d_model). ``self_bias``: additive float32
        (batch, 1, t or 1, L) (padding and, in the decoder, causality); relative position
        biases are added here. Returns ``(hidden, cache, hidden_states)``."""
        x = self.add_positions(x, position_ids)
        if self.embedding_norm is not None:
            x = self.embedding_norm(x)
        if self.dropout is not None:
            x = self.dropout(x, training=training)
        queries = tf.cast(cache_index, tf.int32) + tf.range(tf.shape(x)[1], dtype=tf.int32)
        length = tf.shape(self_bias)[-1] if self_bias is not None else tf.shape(x)[1]
        if self.relative_bias is not None:
            self_bias = self_bias + self.relative_bias(queries, length)
        keys = self.relative_keys(tf.shape(x)[1]) if self.relative_keys is not None else None
        hidden = [x] if output_hidden_states else None
        new_cache = []
        for i, layer in enumerate(self.blocks):
            kv = cross_kv[i] if cross_kv is not None else None
            bias = (self_bias if layer.relative_bias is None
                    else self_bias + layer.relative_bias(queries, length))
            x, layer_cache = layer(x, bias, cache=None if cache is None else cache[i],
                                   cache_index=cache_index, cross_kv=kv, cross_bias=cross_bias,
                                   training=training, position_keys=keys)
            new_cache.append(layer_cache)
            if hidden is not None:
                hidden.append(x)
        if self.final_norm is not None:
            x = self.final_norm(x)
            if self.dropout is not None:
                x = self.dropout(x, training=training)
        if hidden is not None:
            hidden[-1] = x  # as transformers: the last hidden state is the normed one
        return x, (None if cache is None else tuple(new_cache)), hidden

    def cross_key_values(self, encoder_hidden):
        """Per decoder layer, (k, v) of the encoder states: a list of pairs."""
        return [layer.cross_attn.key_values(encoder_hidden) for layer in self.blocks]


def encoder_bias(attention_mask):
    """(batch, s) mask -> additive float32 (batch, 1, 1, s)."""
    return attention_bias_from_mask(attention_mask)


def decoder_self_bias(attention_mask, cache_index, query_length):
    """Causal + padding bias (batch, 1, t, L) for queries at slots ``cache_index + i``."""
    return causal_bias(attention_mask, cache_index, query_length)[:, 0]


def shift_tokens_right(labels, pad_token_id, decoder_start_token_id):
    """Decoder inputs from labels: ``[start] + labels[:-1]`` with -100 replaced by pad."""
    labels = tf.cast(labels, tf.int32)
    start = tf.fill([tf.shape(labels)[0], 1], tf.constant(decoder_start_token_id, tf.int32))
    shifted = tf.concat([start, labels[:, :-1]], axis=1)
    return tf.where(tf.equal(shifted, -100), tf.constant(pad_token_id, tf.int32), shifted)
