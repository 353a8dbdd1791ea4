"""Multi-head self-attention for bidirectional encoders.

Scores are computed in the compute dtype, the mask is added and the softmax taken in
float32, and the probabilities are cast back for the value product. Masked positions get a
large finite negative (not -inf) so fully masked rows never turn into NaN.
"""

from __future__ import annotations

import math

import tensorflow as tf

from .._keras import keras, register_serializable
from .core import Dense

MASK_VALUE = -1e9


def attention_bias_from_mask(attention_mask, dtype=tf.float32):
    """(batch, k_len) 0/1 mask -> additive (batch, 1, 1, k_len) bias in ``dtype``."""
    m = tf.cast(attention_mask, dtype)
    return (1.0 - m)[:, None, None, :] * MASK_VALUE


def split_heads(x, num_heads, head_dim):
    b, t = tf.shape(x)[0], tf.shape(x)[1]
    return tf.transpose(tf.reshape(x, [b, t, num_heads, head_dim]), [0, 2, 1, 3])


def merge_heads(x):
    b, t = tf.shape(x)[0], tf.shape(x)[2]
    x = tf.transpose(x, [0, 2, 1, 3])
    return tf.reshape(x, [b, t, x.shape[2] * x.shape[3]])


def attend(q, k, v, bias=None, dropout=None, training=False, scale=None):
    """softmax(q k^T * scale + bias) v over (batch, heads, len, head_dim) tensors.

    Returns ``(context, probs)``; probs are float32.
    """
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    scores = tf.matmul(q, k, transpose_b=True)
    scores = tf.cast(scores, tf.float32) * scale
    if bias is not None:
        scores = scores + tf.cast(bias, tf.float32)
    probs = tf.nn.softmax(scores, axis=-1)
    p = dropout(probs, training=training) if dropout is not None else probs
    ctx = tf.matmul(tf.cast(p, v.dtype), v)
    return ctx, probs


@register_serializable()
class SelfAttention(keras.layers.Layer):
    """Q/K/V projections, scaled dot-product attention, output projection."""

    def __init__(self, hidden_size, num_heads, dropout=0.0, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            from ..errors import ConfigError

            raise ConfigError(f"hidden_size={hidden_size} is not a multiple of "
                              f"num_attention_heads={num_heads}.")
        self.hidden_size, self.num_heads = hidden_size, num_heads
        self.head_dim = hidden_size // num_heads
        self.query = Dense(hidden_size, hidden_size, init_std=init_std, name="query")
        self.key = Dense(hidden_size, hidden_size, init_std=init_std, name="key")
        self.value = Dense(hidden_size, hidden_size, init_std=init_std, name="value")
        self.out = Dense(hidden_size, hidden_size, init_std=init_std, name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        for d in (self.query, self.key, self.value, self.out):
            d.build(None)
        self.built = True

    def call(self, x, bias=None, training=False):
        q = split_heads(self.query(x), self.num_heads, self.head_dim)
        k = split_heads(self.key(x), self.num_heads, self.head_dim)
        v = split_heads(self.value(x), self.num_heads, self.head_dim)
        ctx, probs = attend(q, k, v, bias, self.dropout, training)
        return self.out(merge_heads(ctx)), probs
