"""HiFi-GAN (Kong et al., 2020) as SpeechT5 uses it: log-mel frames -> a 16 kHz waveform.

``conv_pre``, then per upsampling stage a leaky ReLU, a transposed convolution and the mean of
``len(resblock_kernel_sizes)`` residual blocks (dilated convolution pairs), then a leaky ReLU
(slope 0.01), ``conv_post`` and tanh. With ``normalize_before`` the input is first
standardized with the saved ``mean`` / ``scale``. Weight names are transformers'
``SpeechT5HifiGan`` (weight norm already folded in, as the published checkpoint saves them).

``lengths`` (frames per row) make every convolution see zeros past a row's end, so a
spectrogram padded to a bucket gives exactly the waveform of the unpadded one (each upsampling
stage multiplies lengths by its rate): :meth:`TFSpeechT5HifiGan.synthesize` with
``jit_compile=True`` uses that to compile once per bucket of frames with XLA. Its default is a
plain TensorFlow graph with a dynamic frame axis instead (traced once, no padding): on CPU
TensorFlow's oneDNN convolutions ran this network faster than XLA's, with no compilation per
length.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from transformers import SpeechT5HifiGanConfig

from ..._keras import add_weight, keras, track_layers
from ...errors import InvalidInputError
from ...layers.conv import Conv1D, ConvTranspose1D
from ...layers.core import build_sublayers
from ..base import TFPreTrainedModel
from . import convert
from .layers import length_mask

FRAME_BUCKET = 64


def _masked(x, lengths):
    return x if lengths is None else x * length_mask(lengths, tf.shape(x)[1], x.dtype)


class HifiGanResidualBlock(keras.layers.Layer):
    def __init__(self, channels, kernel_size, dilations, slope, std, **kwargs):
        super().__init__(**kwargs)
        self.slope = slope
        self.convs1 = track_layers(self, "convs1", [
            Conv1D(channels, channels, kernel_size, padding=(kernel_size * d - d) // 2,
                   dilation=d, init_std=std, name=f"convs1_{i}") for i, d in enumerate(dilations)])
        self.convs2 = track_layers(self, "convs2", [
            Conv1D(channels, channels, kernel_size, padding=(kernel_size - 1) // 2, init_std=std,
                   name=f"convs2_{i}") for i in range(len(dilations))])

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, lengths=None):
        for conv1, conv2 in zip(self.convs1, self.convs2):
            h = conv1(_masked(tf.nn.leaky_relu(x, self.slope), lengths))
            h = conv2(_masked(tf.nn.leaky_relu(h, self.slope), lengths))
            x = h + x
        return x


class TFSpeechT5HifiGan(TFPreTrainedModel):
    """The vocoder: ``vocoder(spectrogram)`` with (frames, mels) -> (samples,) or
    (batch, frames, mels) -> (batch, samples), as transformers."""

    config_class = SpeechT5HifiGanConfig
    hf_architecture = "SpeechT5HifiGan"
    main_input_name = "spectrogram"
    model_input_names = ("spectrogram",)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        c, std = config, config.initializer_range
        ch = c.upsample_initial_channel
        self.conv_pre = Conv1D(c.model_in_dim, ch, 7, padding=3, init_std=std, name="conv_pre")
        self.upsampler = track_layers(self, "upsampler", [
            ConvTranspose1D(ch // 2 ** i, ch // 2 ** (i + 1), k, stride=u, padding=(k - u) // 2,
                            init_std=std, name=f"upsampler_{i}")
            for i, (u, k) in enumerate(zip(c.upsample_rates, c.upsample_kernel_sizes))])
        blocks = []
        for i in range(len(c.upsample_rates)):
            for k, d in zip(c.resblock_kernel_sizes, c.resblock_dilation_sizes):
                blocks.append(HifiGanResidualBlock(ch // 2 ** (i + 1), k, d, c.leaky_relu_slope,
                                                   std, name=f"resblocks_{len(blocks)}"))
        self.resblocks = track_layers(self, "resblocks", blocks)
        self.conv_post = Conv1D(ch // 2 ** len(c.upsample_rates), 1, 7, padding=3, init_std=std,
                                name="conv_post")
        self._compiled = {}

    def build(self, input_shape=None):
        if not self.built:
            self.mean = add_weight(self, "mean", (self.config.model_in_dim,), "zeros",
                                   trainable=False, autocast=False)
            self.scale = add_weight(self, "scale", (self.config.model_in_dim,), "ones",
                                    trainable=False, autocast=False)
        super().build(input_shape)

    def weight_table(self):
        return convert.hifigan_weights(self.config)

    @property
    def upsample_factor(self):
        return int(np.prod(self.config.upsample_rates))

    def call(self, spectrogram=None, lengths=None, training=False, **kwargs):
        if isinstance(spectrogram, dict):
            spectrogram = spectrogram.get("spectrogram")
        if spectrogram is None:
            raise InvalidInputError("Pass spectrogram: log-mel frames (frames, mels) or "
                                    "(batch, frames, mels).")
        x = tf.convert_to_tensor(spectrogram)
        if not x.dtype.is_floating or x.shape.rank not in (2, 3) or \
                x.shape[-1] != self.config.model_in_dim:
            raise InvalidInputError(
                f"The vocoder takes float log-mel frames of shape (frames, "
                f"{self.config.model_in_dim}) or (batch, frames, {self.config.model_in_dim}); "
                f"got {x.dtype.name} {tuple(x.shape)}.")
        batched = x.shape.rank == 3
        x = tf.cast(x if batched else x[None], self.compute_dtype)
        if self.config.normalize_before:
            x = (x - tf.cast(self.mean, x.dtype)) / tf.cast(self.scale, x.dtype)
        c, n = self.config, len(self.config.resblock_kernel_sizes)
        x = self.conv_pre(_masked(x, lengths))
        for i, up in enumerate(self.upsampler):
            x = up(_masked(tf.nn.leaky_relu(x, c.leaky_relu_slope), lengths))
            if lengths is not None:
                lengths = lengths * c.upsample_rates[i]
            res = self.resblocks[i * n](x, lengths)
            for j in range(1, n):
                res = res + self.resblocks[i * n + j](x, lengths)
            x = res / n
        x = self.conv_post(_masked(tf.nn.leaky_relu(x, 0.01), lengths))
        wave = tf.tanh(tf.cast(x[..., 0], tf.float32))
        return wave if batched else wave[0]

    def synthesize(self, spectrogram, jit_compile=False):
        """``self(spectrogram)`` as a compiled call.

        By default one TensorFlow graph (no XLA) with a dynamic frame axis: traced once per
        model, no padding, TensorFlow's oneDNN convolutions (on CPU faster than XLA's for
        HiFi-GAN's long, narrow dilated convolutions, and no per-length compilation).
        ``jit_compile=True``: XLA, compiled once per (batch, bucket of 64 frames); the frames
        are padded to the bucket and masked, and the waveform cut back."""
        x = tf.convert_to_tensor(spectrogram, tf.float32)
        batched = x.shape.rank == 3
        x = x if batched else x[None]
        if not jit_compile:
            fn = self._compiled.get("graph")
            if fn is None:
                spec = tf.TensorSpec([None, None, self.config.model_in_dim], tf.float32)
                fn = tf.function(lambda s: self(s), input_signature=[spec])
                self._compiled["graph"] = fn
            wave = fn(x)
            return wave if batched else wave[0]
        frames = int(x.shape[1])
        bucket = max(FRAME_BUCKET, -(-frames // FRAME_BUCKET) * FRAME_BUCKET)
        x = tf.pad(x, [[0, 0], [0, bucket - frames], [0, 0]])
        key = f"xla/{int(x.shape[0])}x{bucket}"  # str keys: tf_keras sorts a tracked dict's
        fn = self._compiled.get(key)
        if fn is None:
            fn = tf.function(lambda s, n: self(s, lengths=n), jit_compile=True)
            self._compiled[key] = fn
        wave = fn(x, tf.fill([int(x.shape[0])], tf.constant(frames, tf.int32)))
        wave = wave[:, :frames * self.upsample_factor]
        return wave if batched else wave[0]

    @property
    def dummy_inputs(self):
        return {"spectrogram": tf.zeros([1, 4, self.config.model_in_dim])}
