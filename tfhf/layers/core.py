"""Dense, embedding and normalization layers with HF-shaped weights.

Weights are created in ``build`` from constructor arguments, so a model is complete before
it sees data. Under a mixed policy the matmuls run in the compute dtype while normalization
statistics are taken in float32.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import add_weight, keras, register_serializable
from .streamed import bias_row_apart, matmul_weight


def normal_init(std):
    return keras.initializers.TruncatedNormal(stddev=std)


def build_sublayers(layer):
    """Build every not-yet-built layer held in an attribute of ``layer`` (weights come from
    constructor arguments, so no input shape is needed)."""
    for v in list(vars(layer).values()):
        if isinstance(v, keras.layers.Layer) and v is not layer and not v.built:
            v.build(None)


def make_norm(kind, dim, eps, offset=0.0, name=None):
    """``kind`` "layer" -> :class:`LayerNorm`, "rms" -> :class:`RMSNorm` (with ``offset``)."""
    if kind == "layer":
        return LayerNorm(dim, eps, name=name)
    return RMSNorm(dim, eps, offset=offset, name=name)


@register_serializable()
class Dense(keras.layers.Layer):
    """``y = x @ kernel + bias`` with ``kernel`` of shape (in, out) (HF ``weight`` transposed)."""

    def __init__(self, in_features, out_features, use_bias=True, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.use_bias, self.init_std = use_bias, init_std

    quantized = None  # a tfhf.quantization QuantizedWeight once quantized (no float kernel)

    def build(self, input_shape=None):
        self.kernel = add_weight(self, "kernel", (self.in_features, self.out_features),
                                 normal_init(self.init_std))
        self.bias = (add_weight(self, "bias", (self.out_features,), "zeros")
                     if self.use_bias else None)
        self.built = True

    def call(self, x):
        if self.quantized is not None:
            y = self.quantized.matmul(x, self.compute_dtype)
        else:
            x = tf.cast(x, self.compute_dtype)
            y = matmul_weight(x, tf.cast(self.kernel, self.compute_dtype))
            if self.bias is not None and bias_row_apart(y):
                return y - (-tf.cast(self.bias, self.compute_dtype))
        if self.bias is not None:
            bias = tf.cast(self.bias, self.compute_dtype)
            # BiasAdd: fused into oneDNN's MatMul; its gradient is one BiasAddGrad
            y = tf.nn.bias_add(y, bias) if (y.shape.rank or 0) >= 2 else y + bias
        return y

    def get_config(self):
        return {**super().get_config(), "in_features": self.in_features,
                "out_features": self.out_features, "use_bias": self.use_bias,
                "init_std": self.init_std}


@register_serializable()
class Embedding(keras.layers.Layer):
    """A lookup table of shape (num, dim). The table is never autocast as a whole."""

    def __init__(self, num_embeddings, dim, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_embeddings, self.dim, self.init_std = int(num_embeddings), int(dim), init_std

    quantized = None  # a tfhf.quantization QuantizedWeight once quantized (tied LM heads)

    def build(self, input_shape=None):
        self.embeddings = add_weight(self, "embeddings", (self.num_embeddings, self.dim),
                                     normal_init(self.init_std), autocast=False)
        self.built = True

    def call(self, ids):
        if self.quantized is not None:
            return self.quantized.gather(ids, self.compute_dtype)
        return tf.cast(tf.gather(self.embeddings, ids), self.compute_dtype)

    def attend(self, x):
        """Project hidden states onto the table (a tied output head): ``x @ table.T``."""
        if self.quantized is not None:
            return self.quantized.matmul(x, self.compute_dtype)
        table = tf.cast(self.embeddings, self.compute_dtype)
        return matmul_weight(tf.cast(x, self.compute_dtype), table, transpose_b=True)

    def get_config(self):
        return {**super().get_config(), "num_embeddings": self.num_embeddings,
                "dim": self.dim, "init_std": self.init_std}


@register_serializable()
class LayerNorm(keras.layers.Layer):
    """Layer normalization over the last axis, statistics in float32 (HF ``weight``/``bias``)."""

    def __init__(self, dim, eps=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.eps = int(dim), float(eps)

    def build(self, input_shape=None):
        # named gamma/beta so optimizers' weight-decay exclusions recognise them
        self.weight = add_weight(self, "gamma", (self.dim,), "ones", autocast=False)
        self.bias = add_weight(self, "beta", (self.dim,), "zeros", autocast=False)
        self.built = True

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        mean, var = tf.nn.moments(x32, axes=[-1], keepdims=True)
        y = (x32 - mean) * tf.math.rsqrt(var + self.eps)
        y = y * tf.cast(self.weight, tf.float32) + tf.cast(self.bias, tf.float32)
        return tf.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "eps": self.eps}


@register_serializable()
class RMSNorm(keras.layers.Layer):
    """Root-mean-square normalization; ``offset=1.0`` gives Gemma's ``(1 + weight)`` scale."""

    def __init__(self, dim, eps=1e-6, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.eps, self.offset = int(dim), float(eps), float(offset)

    def build(self, input_shape=None):
        init = "zeros" if self.offset else "ones"
        self.weight = add_weight(self, "gamma", (self.dim,), init, autocast=False)
        self.built = True

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        y = x32 * tf.math.rsqrt(tf.reduce_mean(tf.square(x32), axis=-1, keepdims=True) + self.eps)
        y = y * (self.offset + tf.cast(self.weight, tf.float32))
        return tf.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "eps": self.eps, "offset": self.offset}
