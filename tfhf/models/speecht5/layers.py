"""SpeechT5's pre-nets and post-net (Ao et al., 2022), the parts around the shared
encoder-decoder stacks of :mod:`tfhf.layers.seq2seq`.

* :class:`TextEncoderPrenet`: token embeddings + ``alpha``-scaled sinusoidal positions;
* :class:`SpeechDecoderPrenet`: two ReLU layers over the previous mel frame with *consistent
  dropout*, a projection, scaled positions, then the L2-normalized speaker embedding
  concatenated and projected back (ReLU);
* :class:`SpeechDecoderPostnet`: ``feat_out`` (``reduction_factor`` frames per decoder step),
  ``prob_out`` (stop-token logits) and five convolution + BatchNorm (+ tanh) layers added
  residually to the frames.

Consistent dropout: transformers applies the pre-net's dropout even at inference
(Tacotron 2, section 2.2), with one mask per frame and unit shared by the whole batch, drawn as
``torch.bernoulli(x, p)``: a unit is *kept* with probability ``p`` and scaled by
``1 / (1 - p)``. tfhf does the same (``p = 0`` therefore zeroes the pre-net's hidden units,
exactly as transformers does); ``prenet_dropout=False`` switches it off for deterministic
output (tests compare against PyTorch that way).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ..._keras import add_weight, keras, track_layers
from ...layers.conv import Conv1D
from ...layers.core import Dense, Embedding, build_sublayers


def scaled_position_table(max_len, dim):
    """``pe[:, 0::2] = sin(pos * div)``, ``pe[:, 1::2] = cos(pos * div)`` (interleaved)."""
    pe = np.zeros((max_len, dim), np.float32)
    position = np.arange(max_len, dtype=np.float32)[:, None]
    div = np.exp(np.arange(0, dim, 2, dtype=np.float32) * -(math.log(10000.0) / dim))
    pe[:, 0::2] = np.sin(position * div)
    pe[:, 1::2] = np.cos(position * div)[:, : dim // 2]
    return pe


class ScaledPositions(keras.layers.Layer):
    """``x + alpha * pe[positions]`` (transformers' ``SpeechT5ScaledPositionalEncoding``)."""

    def __init__(self, max_len, dim, **kwargs):
        super().__init__(**kwargs)
        self.max_len, self.dim = int(max_len), int(dim)
        self.table = None

    def build(self, input_shape=None):
        self.alpha = add_weight(self, "alpha", (), "ones")
        self.built = True

    def call(self, x, positions):
        if self.table is None:  # numpy: a tensor made here would belong to one graph
            self.table = scaled_position_table(self.max_len, self.dim)
        pe = tf.gather(tf.constant(self.table), positions)  # (t, dim)
        return x + tf.cast(tf.cast(self.alpha, tf.float32) * pe, x.dtype)[None]


class TextEncoderPrenet(keras.layers.Layer):
    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        d = config.hidden_size
        self.embed_tokens = Embedding(config.vocab_size, d, config.initializer_range,
                                      name="embed_tokens")
        self.encode_positions = ScaledPositions(config.max_text_positions, d,
                                                name="encode_positions")
        self.dropout = keras.layers.Dropout(config.positional_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, ids, training=False):
        x = self.embed_tokens(ids)
        x = self.encode_positions(x, tf.range(tf.shape(ids)[1]))
        return self.dropout(x, training=training)


def consistent_dropout(x, p, seed):
    """transformers' ``_consistent_dropout``: keep a unit where ``bernoulli(p) == 1`` (one
    mask over (frames, units), shared by the batch), scaled by ``1 / (1 - p)``."""
    shape = tf.shape(x)[1:]
    keep = tf.random.stateless_uniform(shape, seed=seed) < p
    return tf.where(keep[None], x, tf.zeros_like(x)) * (1.0 / (1.0 - p))


def normalize_speakers(speakers):
    """``F.normalize``: each row divided by max(its L2 norm, 1e-12)."""
    norm = tf.sqrt(tf.reduce_sum(tf.square(speakers), axis=-1, keepdims=True))
    return speakers / tf.maximum(norm, 1e-12)


class SpeechDecoderPrenet(keras.layers.Layer):
    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.p = float(config.speech_decoder_prenet_dropout)
        units, d, std = (config.speech_decoder_prenet_units, config.hidden_size,
                         config.initializer_range)
        self.layers = track_layers(self, "layer", [
            Dense(config.num_mel_bins if i == 0 else units, units, init_std=std, name=f"layer_{i}")
            for i in range(config.speech_decoder_prenet_layers)])
        self.final_layer = Dense(units, d, init_std=std, name="final_layer")
        self.encode_positions = ScaledPositions(config.max_speech_positions, d,
                                                name="encode_positions")
        self.speaker_embeds_layer = Dense(config.speaker_embedding_dim + d, d, init_std=std,
                                          name="speaker_embeds_layer")
        self.dropout = keras.layers.Dropout(config.positional_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, frames, positions, speakers=None, seed=None, prenet_dropout=True,
             training=False):
        """``frames`` (batch, t, mels) at ``positions`` (t,); ``seed``: int32 (2,) for the
        consistent dropout masks (one per layer, derived from it)."""
        x = frames
        for i, layer in enumerate(self.layers):
            x = tf.nn.relu(layer(x))
            if prenet_dropout:
                x = consistent_dropout(x, self.p, seed + tf.constant([0, 7919], tf.int32) * i)
        x = self.final_layer(x)
        x = self.dropout(self.encode_positions(x, positions), training=training)
        if speakers is not None:
            s = tf.cast(normalize_speakers(tf.cast(speakers, tf.float32)), x.dtype)
            s = tf.broadcast_to(s[:, None, :], [tf.shape(x)[0], tf.shape(x)[1], tf.shape(s)[-1]])
            x = tf.nn.relu(self.speaker_embeds_layer(tf.concat([x, s], axis=-1)))
        return x


class BatchNorm1D(keras.layers.Layer):
    """``nn.BatchNorm1d`` in inference mode: running statistics, eps 1e-5, channels last."""

    def __init__(self, channels, eps=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.eps = int(channels), float(eps)

    def build(self, input_shape=None):
        c = (self.channels,)
        self.weight = add_weight(self, "weight", c, "ones", autocast=False)
        self.bias = add_weight(self, "bias", c, "zeros", autocast=False)
        self.running_mean = add_weight(self, "running_mean", c, "zeros", trainable=False,
                                       autocast=False)
        self.running_var = add_weight(self, "running_var", c, "ones", trainable=False,
                                      autocast=False)
        self.built = True

    def call(self, x):
        f32 = [tf.cast(w, tf.float32) for w in (self.running_mean, self.running_var,
                                                 self.weight, self.bias)]
        y = (tf.cast(x, tf.float32) - f32[0]) * tf.math.rsqrt(f32[1] + self.eps)
        return tf.cast(y * f32[2] + f32[3], x.dtype)


class PostnetLayer(keras.layers.Layer):
    def __init__(self, config, index, **kwargs):
        super().__init__(**kwargs)
        n, units, k = (config.speech_decoder_postnet_layers, config.speech_decoder_postnet_units,
                       config.speech_decoder_postnet_kernel)
        c_in = config.num_mel_bins if index == 0 else units
        c_out = config.num_mel_bins if index == n - 1 else units
        self.conv = Conv1D(c_in, c_out, k, padding=(k - 1) // 2, use_bias=False,
                           init_std=config.initializer_range, name="conv")
        self.batch_norm = BatchNorm1D(c_out, name="batch_norm")
        self.tanh = index < n - 1
        self.dropout = keras.layers.Dropout(config.speech_decoder_postnet_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, training=False):
        y = self.batch_norm(self.conv(x))
        if self.tanh:
            y = tf.tanh(y)
        return self.dropout(y, training=training)


def length_mask(lengths, length, dtype):
    """(batch,) valid lengths -> (batch, length, 1) 0/1 mask."""
    return tf.cast(tf.range(length)[None, :] < tf.cast(lengths, tf.int32)[:, None], dtype)[..., None]


class SpeechDecoderPostnet(keras.layers.Layer):
    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        d, std, r = config.hidden_size, config.initializer_range, config.reduction_factor
        self.mels, self.r = config.num_mel_bins, r
        self.feat_out = Dense(d, config.num_mel_bins * r, init_std=std, name="feat_out")
        self.prob_out = Dense(d, r, init_std=std, name="prob_out")
        self.layers = track_layers(self, "layer", [
            PostnetLayer(config, i, name=f"layer_{i}")
            for i in range(config.speech_decoder_postnet_layers)])

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def frames(self, hidden):
        """(batch, steps, d) -> (batch, steps * reduction_factor, mels)."""
        b = tf.shape(hidden)[0]
        return tf.reshape(self.feat_out(hidden), [b, -1, self.mels])

    def stop_logits(self, hidden):
        return tf.reshape(self.prob_out(hidden), [tf.shape(hidden)[0], -1])

    def postnet(self, frames, lengths=None, training=False):
        """``frames + convs(frames)``; with ``lengths`` (batch,), each row is computed as if
        it ended there (every convolution's input is zeroed past it, as the zero padding of
        a spectrogram cut to that length would be)."""
        h = frames
        for layer in self.layers:
            if lengths is not None:
                h = h * length_mask(lengths, tf.shape(h)[1], h.dtype)
            h = layer(h, training=training)
        return frames + tf.cast(h, frames.dtype)
