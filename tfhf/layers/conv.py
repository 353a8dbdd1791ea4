"""A 1-D convolution with PyTorch's weight layout (Whisper's audio front end).

The kernel is stored as PyTorch saves ``nn.Conv1d.weight``: (out_channels, in_channels,
kernel_size), so checkpoints load and save without a transpose; ``call`` takes
channels-last input (batch, time, channels) and transposes the kernel for ``tf.nn.conv1d``
(a constant transpose XLA folds). Zero padding on both sides of the time axis, as
``nn.Conv1d(padding=p)``.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import add_weight, keras, register_serializable
from .core import normal_init


@register_serializable()
class Conv1D(keras.layers.Layer):
    """``y[t] = bias + sum_k x[t * stride + k - padding] @ W[:, :, k].T`` (channels last)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 use_bias=True, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        self.use_bias, self.init_std = use_bias, init_std

    def build(self, input_shape=None):
        self.weight = add_weight(self, "weight",
                                 (self.out_channels, self.in_channels, self.kernel_size),
                                 normal_init(self.init_std))
        self.bias = (add_weight(self, "bias", (self.out_channels,), "zeros")
                     if self.use_bias else None)
        self.built = True

    def call(self, x):
        x = tf.cast(x, self.compute_dtype)
        if self.padding:
            x = tf.pad(x, [[0, 0], [self.padding, self.padding], [0, 0]])
        kernel = tf.transpose(tf.cast(self.weight, self.compute_dtype), [2, 1, 0])
        y = tf.nn.conv1d(x, kernel, stride=self.stride, padding="VALID")
        if self.bias is not None:
            y = y + tf.cast(self.bias, self.compute_dtype)
        return y

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding, "use_bias": self.use_bias,
                "init_std": self.init_std}
