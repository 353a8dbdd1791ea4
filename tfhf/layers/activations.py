"""Activation functions by their Hugging Face config names (``hidden_act``)."""

import math

import tensorflow as tf

from ..errors import ConfigError


def gelu(x):
    return 0.5 * x * (1.0 + tf.math.erf(x / tf.cast(math.sqrt(2.0), x.dtype)))


def gelu_tanh(x):
    c = tf.cast(math.sqrt(2.0 / math.pi), x.dtype)
    return 0.5 * x * (1.0 + tf.tanh(c * (x + tf.cast(0.044715, x.dtype) * tf.pow(x, 3))))


def quick_gelu(x):
    return x * tf.sigmoid(tf.cast(1.702, x.dtype) * x)


def silu(x):
    return x * tf.sigmoid(x)


def relu(x):
    return tf.nn.relu(x)


def identity(x):
    return x


ACTIVATIONS = {
    "gelu": gelu,
    "gelu_python": gelu,
    "gelu_new": gelu_tanh,
    "gelu_fast": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_accurate": gelu_tanh,
    "quick_gelu": quick_gelu,
    "silu": silu,
    "swish": silu,
    "relu": relu,
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
    "linear": identity,
}


def get_activation(name):
    if callable(name):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown activation hidden_act={name!r}; supported: {', '.join(sorted(ACTIVATIONS))}."
        ) from None
