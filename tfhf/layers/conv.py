"""1-D convolutions with PyTorch's weight layouts (Whisper's audio front end, SpeechT5's
post-net, the HiFi-GAN vocoder).

The kernel is stored as PyTorch saves ``nn.Conv1d.weight``: (out_channels, in_channels,
kernel_size), so checkpoints load and save without a transpose; ``call`` takes
channels-last input (batch, time, channels) and transposes the kernel for ``tf.nn.conv1d``
(a constant transpose XLA folds). Zero padding on both sides of the time axis, as
``nn.Conv1d(padding=p)``. :class:`ConvTranspose1D` stores ``nn.ConvTranspose1d.weight``:
(in_channels, out_channels, kernel_size).
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import add_weight, keras, register_serializable
from .core import normal_init


@register_serializable()
class Conv1D(keras.layers.Layer):
    """``y[t] = bias + sum_k x[t * stride + k - padding] @ W[:, :, k].T`` (channels last)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 use_bias=True, init_std=0.02, dilation=1, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        self.use_bias, self.init_std, self.dilation = use_bias, init_std, int(dilation)

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
        y = tf.nn.conv1d(x, kernel, stride=self.stride, padding="VALID",
                         dilations=self.dilation)
        if self.bias is not None:
            y = y + tf.cast(self.bias, self.compute_dtype)
        return y

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding, "use_bias": self.use_bias,
                "init_std": self.init_std, "dilation": self.dilation}


@register_serializable()
class ConvTranspose1D(Conv1D):
    """``nn.ConvTranspose1d``: output length ``(L - 1) * stride - 2 * padding + kernel_size``
    (channels last); the kernel is (in_channels, out_channels, kernel_size)."""

    def build(self, input_shape=None):
        self.weight = add_weight(self, "weight",
                                 (self.in_channels, self.out_channels, self.kernel_size),
                                 normal_init(self.init_std))
        self.bias = (add_weight(self, "bias", (self.out_channels,), "zeros")
                     if self.use_bias else None)
        self.built = True

    def call(self, x):
        x = tf.cast(x, self.compute_dtype)
        kernel = tf.transpose(tf.cast(self.weight, self.compute_dtype), [2, 1, 0])  # (k, out, in)
        b, t = tf.shape(x)[0], tf.shape(x)[1]
        full = (t - 1) * self.stride + self.kernel_size
        y = tf.nn.conv1d_transpose(x, kernel, tf.stack([b, full, self.out_channels]),
                                   strides=self.stride, padding="VALID")
        if self.padding:
            y = y[:, self.padding:full - self.padding]
        if self.bias is not None:
            y = y + tf.cast(self.bias, self.compute_dtype)
        return y
