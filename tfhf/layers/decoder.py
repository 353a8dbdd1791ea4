"""Blocks of decoder-only transformers: causal self-attention with a static KV cache,
MLPs and the pre-norm decoder block.

One block covers the Llama family (RMSNorm, rotary, grouped-query attention, gated MLP),
Gemma 3 (``(1 + w)`` norms, q/k norms, norms around both sublayers, soft-capping) and GPT-2
(LayerNorm, learned positions, fused QKV ``Conv1D``, plain MLP); a :class:`DecoderSpec`
says which parts a family uses.

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

from dataclasses import dataclass, field

import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from .._keras import keras, register_serializable
from ..errors import ConfigError
from .activations import get_activation
from .core import Dense, LayerNorm, RMSNorm
from .rotary import apply_rotary

# Masked scores: a large finite negative, so fully masked rows (left padding) stay finite.
MASK_VALUE = -1e9

FULL, SLIDING = "full_attention", "sliding_attention"


@dataclass
class DecoderSpec:
    """What a decoder family is made of (built by each family's ``modeling.py``)."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    max_positions: int
    activation: str = "silu"
    norm: str = "rms"  # "rms" or "layer"
    norm_eps: float = 1e-6
    norm_offset: float = 0.0  # Gemma's RMSNorm scales by (1 + weight)
    gated_mlp: bool = True  # down(act(gate(x)) * up(x)); else down(act(up(x)))
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    fused_qkv: bool = False  # GPT-2: one (hidden, 3 * hidden) Conv1D
    qk_norm: bool = False  # Gemma 3: RMSNorm over head_dim on queries and keys
    sandwich_norms: bool = False  # Gemma: norms after attention and after the MLP as well
    attention_scale: float | None = None  # default head_dim ** -0.5
    scale_by_inverse_layer: bool = False  # GPT-2 option: scores also / (layer_index + 1)
    attn_softcap: float | None = None
    final_softcap: float | None = None
    embed_scale: float | None = None  # Gemma: sqrt(hidden_size)
    learned_positions: bool = False  # GPT-2's wpe table instead of rotary
    layer_types: tuple = ()  # FULL or SLIDING per layer
    sliding_window: int | None = None
    rope: dict = field(default_factory=dict)  # layer type -> rope_parameters dict
    tie_word_embeddings: bool = False
    init_std: float = 0.02
    embedding_dropout: float = 0.0
    attention_dropout: float = 0.0
    hidden_dropout: float = 0.0  # after each sublayer, before the residual add

    def __post_init__(self):
        if not self.layer_types:
            self.layer_types = (FULL,) * self.num_layers
        self.layer_types = tuple(self.layer_types)
        if len(self.layer_types) != self.num_layers:
            raise ConfigError(f"layer_types has {len(self.layer_types)} entries but "
                              f"num_hidden_layers={self.num_layers}.")
        unknown = set(self.layer_types) - {FULL, SLIDING}
        if unknown:
            raise ConfigError(f"layer_types {sorted(unknown)} are not supported; tfhf knows "
                              f"'{FULL}' and '{SLIDING}'.")
        if SLIDING in self.layer_types and not self.sliding_window:
            raise ConfigError("layer_types has sliding_attention layers but sliding_window "
                              f"is {self.sliding_window!r}.")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(f"num_attention_heads={self.num_heads} is not a multiple of "
                              f"num_key_value_heads={self.num_kv_heads}.")

    def window(self, layer_type):
        return self.sliding_window if layer_type == SLIDING else None


# ---------------------------------------------------------------------------- masks / cache
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


def write_cache(layer_cache, cache_index, k, v):
    """Write new keys/values (batch, kv_heads, t, head_dim) at slot ``cache_index`` of one
    layer's ``(keys, values)`` buffers (batch, kv_heads, max_length, head_dim)."""
    zero = tf.constant(0, tf.int32)
    start = tf.stack([zero, zero, tf.cast(cache_index, tf.int32), zero])
    k_buf, v_buf = layer_cache
    return (dynamic_update_slice(k_buf, tf.cast(k, k_buf.dtype), start),
            dynamic_update_slice(v_buf, tf.cast(v, v_buf.dtype), start))


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


# ---------------------------------------------------------------------------- layers
class Conv1D(Dense):
    """GPT-2's ``Conv1D``: a dense layer whose HF weight is already stored (in, out).

    Conversion tables address its kernel as ``<path>.weight`` (an alias of ``kernel``): only
    paths ending in ``.kernel`` are transposed (tfhf/models/weights.py), so this one is not.
    """

    @property
    def weight(self):
        return self.kernel


def make_norm(spec: DecoderSpec, dim=None, name=None):
    dim = dim or spec.hidden_size
    if spec.norm == "layer":
        return LayerNorm(dim, spec.norm_eps, name=name)
    return RMSNorm(dim, spec.norm_eps, offset=spec.norm_offset, name=name)


def _build_all(layer):
    for v in list(vars(layer).values()):
        if isinstance(v, keras.layers.Layer) and v is not layer and not v.built:
            v.build(None)


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
        self.q_norm = make_norm(spec, spec.head_dim, "q_norm") if spec.qk_norm else None
        self.k_norm = make_norm(spec, spec.head_dim, "k_norm") if spec.qk_norm else None
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
        q = tf.reshape(self.q_proj(x), [b, t, self.num_heads, self.head_dim])
        k = tf.reshape(self.k_proj(x), [b, t, self.num_kv_heads, self.head_dim])
        v = tf.reshape(self.v_proj(x), [b, t, self.num_kv_heads, self.head_dim])
        return q, k, v

    def build(self, input_shape=None):
        _build_all(self)
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
            cache = write_cache(cache, cache_index, k, v)
            k, v = cache
        ctx = grouped_attention(q, k, v, bias, self.scale, self.softcap, self.dropout, training)
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
        _build_all(self)
        self.built = True

    def call(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


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
        _build_all(self)
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
        self.input_norm = make_norm(spec, name="input_norm")
        attention = FusedQKVAttention if spec.fused_qkv else CausalSelfAttention
        self.attention = attention(spec, layer_index, name="attention")
        self.mlp_norm = make_norm(spec, name="mlp_norm")
        self.mlp = GatedMLP(spec, name="mlp") if spec.gated_mlp else MLP(spec, name="mlp")
        if spec.sandwich_norms:
            self.attention_out_norm = make_norm(spec, name="attention_out_norm")
            self.mlp_out_norm = make_norm(spec, name="mlp_out_norm")
        else:
            self.attention_out_norm = self.mlp_out_norm = None
        self.dropout = (keras.layers.Dropout(spec.hidden_dropout) if spec.hidden_dropout
                        else None)

    def build(self, input_shape=None):
        _build_all(self)
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
