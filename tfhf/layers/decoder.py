"""Blocks of decoder-only transformers: causal self-attention with a static KV cache,
MLPs and the pre-norm decoder block.

One block covers the Llama family (RMSNorm, rotary, grouped-query attention, gated MLP),
Gemma 3 (``(1 + w)`` norms, q/k norms, norms around both sublayers, soft-capping) and GPT-2
(LayerNorm, learned positions, fused QKV ``Conv1D``, plain MLP); a
:class:`~tfhf.layers.specs.DecoderSpec` says which parts a family uses.

Layouts, chosen so that a decode step reads the cache without copying it:

* per-token tensors are (batch, t, heads, head_dim);
* the cache is a tuple with one ``(keys, values)`` pair per layer, each
  ``(batch, kv_heads, max_length, head_dim)`` (docs/generation-design.md), written with XLA's
  dynamic-update-slice: a layer updates its own buffers in place, so a decode step touches
  one slot per layer instead of slicing and rewriting one big stacked tensor;
* grouped-query attention folds the query heads of a group into the query axis, so keys and
  values are never repeated per query head.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import keras, register_serializable
from .activations import get_activation
from .attention import decode_attention, grouped_attention, write_cache
from .core import Dense, build_sublayers
from .fused import can_fuse, fused_matmul
from .rotary import apply_rotary
from .specs import DecoderSpec


# ---------------------------------------------------------------------------- layers
class Conv1D(Dense):
    """GPT-2's ``Conv1D``: a dense layer whose HF weight is already stored (in, out).

    Conversion tables address its kernel as ``<path>.weight`` (an alias of ``kernel``): only
    paths ending in ``.kernel`` are transposed (tfhf/models/weights.py), so this one is not.
    """

    @property
    def weight(self):
        return self.kernel


@register_serializable()
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head causal attention with grouped kv heads, rotary positions and a KV cache."""

    def __init__(self, spec: DecoderSpec, layer_index: int, **kwargs):
        super().__init__(**kwargs)
        self.layer_index = layer_index
        self.num_heads, self.num_kv_heads = spec.num_heads, spec.num_kv_heads
        self.head_dim = spec.head_dim
        self.scale = (spec.attention_scale if spec.attention_scale is not None
                      else spec.head_dim ** -0.5)
        if spec.scale_by_inverse_layer:
            self.scale /= float(layer_index + 1)
        self.softcap = spec.attn_softcap
        h, q_dim, kv_dim = spec.hidden_size, spec.num_heads * spec.head_dim, \
            spec.num_kv_heads * spec.head_dim
        std = spec.init_std
        self.make_projections(spec, h, q_dim, kv_dim, std)
        self.o_proj = self.dense_class(q_dim, h, use_bias=spec.out_bias, init_std=std,
                                       name="o_proj")
        self.q_norm = spec.make_norm("q_norm", spec.head_dim) if spec.qk_norm else None
        self.k_norm = spec.make_norm("k_norm", spec.head_dim) if spec.qk_norm else None
        self.dropout = (keras.layers.Dropout(spec.attention_dropout)
                        if spec.attention_dropout else None)

    dense_class = Dense

    def make_projections(self, spec, h, q_dim, kv_dim, std):
        self.q_proj = Dense(h, q_dim, use_bias=spec.qkv_bias, init_std=std, name="q_proj")
        self.k_proj = Dense(h, kv_dim, use_bias=spec.qkv_bias, init_std=std, name="k_proj")
        self.v_proj = Dense(h, kv_dim, use_bias=spec.qkv_bias, init_std=std, name="v_proj")

    def project(self, x):
        """(batch, t, hidden) -> q (batch, t, heads, d), k and v (batch, t, kv_heads, d)."""
        b, t = tf.shape(x)[0], tf.shape(x)[1]
        parts = (self.q_proj, self.k_proj, self.v_proj)
        if can_fuse(parts):  # one matmul in compiled programs (tfhf/layers/fused.py)
            h, kvh = self.num_heads, self.num_kv_heads
            qkv = tf.reshape(fused_matmul(x, parts), [b, t, h + 2 * kvh, self.head_dim])
            return qkv[:, :, :h], qkv[:, :, h:h + kvh], qkv[:, :, h + kvh:]
        q = tf.reshape(self.q_proj(x), [b, t, self.num_heads, self.head_dim])
        k = tf.reshape(self.k_proj(x), [b, t, self.num_kv_heads, self.head_dim])
        v = tf.reshape(self.v_proj(x), [b, t, self.num_kv_heads, self.head_dim])
        return q, k, v

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, cos=None, sin=None, bias=None, cache=None, cache_index=None,
             training=False):
        q, k, v = self.project(x)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if cos is not None:
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        k = tf.transpose(k, [0, 2, 1, 3])  # (batch, kv_heads, t, d): the cache layout
        v = tf.transpose(v, [0, 2, 1, 3])
        if cache is not None:  # this layer's (keys, values)
            if q.shape[1] == 1 and bias is not None and not (training and self.dropout):
                return self._decode_step(q, k, v, bias, cache, cache_index)
            k, v = cache = write_cache(cache, cache_index, k, v)
        ctx = grouped_attention(q, k, v, bias, self.scale, self.softcap, self.dropout, training)
        return self.o_proj(ctx), cache


    def _decode_step(self, q, k, v, bias, cache, cache_index):
        """One new token per row: attend over the cache as it was plus the new key/value,
        then write them. The write takes a (zero) term computed from the attention output,
        so XLA orders it after the reads of the old buffers and updates them in place (no
        copy of every layer's K/V per step; docs/benchmarks.md, "decode step HLO")."""
        ctx = decode_attention(q, cache[0], cache[1], k, v, bias, cache_index, self.scale,
                               self.softcap)
        after = tf.cast(tf.reduce_sum(ctx[:, :, :1]), k.dtype) * 0.0
        cache = write_cache(cache, cache_index, k + after, v + after)
        return self.o_proj(ctx), cache


class FusedQKVAttention(CausalSelfAttention):
    """GPT-2: one ``c_attn`` Conv1D gives q, k and v (kv heads = heads)."""

    dense_class = Conv1D

    def make_projections(self, spec, h, q_dim, kv_dim, std):
        self.c_attn = Conv1D(h, q_dim + 2 * kv_dim, use_bias=spec.qkv_bias, init_std=std,
                             name="c_attn")

    def project(self, x):
        b, t = tf.shape(x)[0], tf.shape(x)[1]
        qkv = tf.reshape(self.c_attn(x), [b, t, 3, self.num_heads, self.head_dim])
        return qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]


@register_serializable()
class GatedMLP(keras.layers.Layer):
    """``down(act(gate(x)) * up(x))`` (SwiGLU / GeGLU)."""

    def __init__(self, spec: DecoderSpec, **kwargs):
        super().__init__(**kwargs)
        h, f, std = spec.hidden_size, spec.intermediate_size, spec.init_std
        self.gate_proj = Dense(h, f, use_bias=spec.mlp_bias, init_std=std, name="gate_proj")
        self.up_proj = Dense(h, f, use_bias=spec.mlp_bias, init_std=std, name="up_proj")
        self.down_proj = Dense(f, h, use_bias=spec.mlp_bias, init_std=std, name="down_proj")
        self.act = get_activation(spec.activation)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x):
        parts = (self.gate_proj, self.up_proj)
        if can_fuse(parts):  # one matmul in compiled programs (tfhf/layers/fused.py)
            gate, up = tf.split(fused_matmul(x, parts), 2, axis=-1)
        else:
            gate, up = self.gate_proj(x), self.up_proj(x)
        return self.down_proj(self.act(gate) * up)


@register_serializable()
class MLP(keras.layers.Layer):
    """``c_proj(act(c_fc(x)))`` with GPT-2's Conv1D weights."""

    def __init__(self, spec: DecoderSpec, **kwargs):
        super().__init__(**kwargs)
        h, f, std = spec.hidden_size, spec.intermediate_size, spec.init_std
        self.c_fc = Conv1D(h, f, use_bias=spec.mlp_bias, init_std=std, name="c_fc")
        self.c_proj = Conv1D(f, h, use_bias=spec.mlp_bias, init_std=std, name="c_proj")
        self.act = get_activation(spec.activation)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


@register_serializable()
class DecoderBlock(keras.layers.Layer):
    """Pre-norm block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))`` (with Gemma's extra
    norms on the sublayer outputs when ``spec.sandwich_norms``)."""

    def __init__(self, spec: DecoderSpec, layer_index: int, **kwargs):
        super().__init__(**kwargs)
        self.layer_type = spec.layer_types[layer_index]
        self.input_norm = spec.make_norm("input_norm")
        attention = FusedQKVAttention if spec.fused_qkv else CausalSelfAttention
        self.attention = attention(spec, layer_index, name="attention")
        self.mlp_norm = spec.make_norm("mlp_norm")
        self.mlp = GatedMLP(spec, name="mlp") if spec.gated_mlp else MLP(spec, name="mlp")
        if spec.sandwich_norms:
            self.attention_out_norm = spec.make_norm("attention_out_norm")
            self.mlp_out_norm = spec.make_norm("mlp_out_norm")
        else:
            self.attention_out_norm = self.mlp_out_norm = None
        self.dropout = (keras.layers.Dropout(spec.hidden_dropout) if spec.hidden_dropout
                        else None)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def _residual(self, x, h, training):
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        return x + h

    def call(self, x, cos=None, sin=None, bias=None, cache=None, cache_index=None,
             training=False):
        h, cache = self.attention(self.input_norm(x), cos, sin, bias, cache=cache,
                                  cache_index=cache_index, training=training)
        if self.attention_out_norm is not None:
            h = self.attention_out_norm(h)
        x = self._residual(x, h, training)
        h = self.mlp(self.mlp_norm(x))
        if self.mlp_out_norm is not None:
            h = self.mlp_out_norm(h)
        return self._residual(x, h, training), cache
