"""Whisper's log-mel features computed with TensorFlow ops, equal to transformers'
``WhisperFeatureExtractor`` (defaults: 16 kHz, 80 mel bins, 30 s chunks).

Steps (as the extractor): pad with zeros / trim to ``chunk_length`` seconds; reflect-pad
``n_fft // 2`` samples at both ends (``center=True``); STFT with a periodic Hann window of
``n_fft = 400`` samples and hop 160; power spectrum; drop the last frame; slaney mel filters
(transformers' ``audio_utils.mel_filter_bank``, a torch-free numpy function, evaluated once);
``log10(max(mel, 1e-10))``; clamp to (per-example maximum - 8); ``(x + 4) / 4``. The result
is (batch, n_mels, frames) float32. Everything is TF ops with static shapes, so it runs
inside ``tf.function(jit_compile=True)`` and a SavedModel.

``read_wav`` reads PCM WAV files with the standard library; ``resample`` converts sample
rates with scipy's polyphase filter (``scipy.signal.resample_poly``).
"""

from __future__ import annotations

import functools
import logging
import math
import wave

import numpy as np
import tensorflow as tf

from ..errors import InvalidInputError
from .io import resample  # noqa: F401  (re-exported: tfhf.audio.features.resample)

logger = logging.getLogger("tfhf")


@functools.lru_cache(maxsize=8)
def mel_filters(n_fft=400, n_mels=80, sampling_rate=16000):
    """(n_fft // 2 + 1, n_mels) float32 slaney mel filter bank (Whisper's)."""
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(num_frequency_bins=1 + n_fft // 2, num_mel_filters=n_mels,
                           min_frequency=0.0, max_frequency=sampling_rate / 2.0,
                           sampling_rate=sampling_rate, norm="slaney",
                           mel_scale="slaney").astype(np.float32)


def pad_or_trim(audio, n_samples):
    """(batch, n) -> (batch, n_samples): zeros appended, or the tail cut."""
    n = tf.shape(audio)[1]
    audio = audio[:, :n_samples]
    return tf.pad(audio, [[0, 0], [0, tf.maximum(n_samples - n, 0)]])


def log_mel_spectrogram(audio, n_fft=400, hop_length=160, n_mels=80, sampling_rate=16000,
                        chunk_length=30):
    """Waveforms (batch, samples) or (samples,) float at ``sampling_rate`` -> log-mel
    features (batch, n_mels, chunk_length * sampling_rate // hop_length) float32."""
    audio = tf.convert_to_tensor(audio)
    if not audio.dtype.is_floating:
        raise InvalidInputError(f"audio must be a float waveform, got {audio.dtype.name}.")
    audio = tf.cast(audio, tf.float32)
    if audio.shape.rank == 1:
        audio = audio[None]
    if audio.shape.rank != 2:
        raise InvalidInputError(f"audio must have shape (samples,) or (batch, samples); got "
                                f"{audio.shape}.")
    audio = pad_or_trim(audio, chunk_length * sampling_rate)
    audio = tf.pad(audio, [[0, 0], [n_fft // 2, n_fft // 2]], mode="REFLECT")
    stft = tf.signal.stft(audio, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft,
                          window_fn=functools.partial(tf.signal.hann_window, periodic=True),
                          pad_end=False)
    power = tf.math.square(tf.math.abs(stft))[:, :-1]  # (batch, frames, n_fft // 2 + 1)
    mel = tf.matmul(power, tf.constant(mel_filters(n_fft, n_mels, sampling_rate)))
    log_spec = tf.math.log(tf.maximum(mel, 1e-10)) / math.log(10.0)
    log_spec = tf.maximum(log_spec, tf.reduce_max(log_spec, axis=[1, 2], keepdims=True) - 8.0)
    return tf.transpose((log_spec + 4.0) / 4.0, [0, 2, 1])


class WhisperFeatures:
    """``WhisperFeatureExtractor``-like callable returning ``{"input_features": tf.Tensor}``."""

    def __init__(self, feature_size=80, sampling_rate=16000, hop_length=160, chunk_length=30,
                 n_fft=400):
        self.feature_size, self.sampling_rate = feature_size, sampling_rate
        self.hop_length, self.chunk_length, self.n_fft = hop_length, chunk_length, n_fft
        self._warned = False

    @property
    def n_samples(self):
        """Samples in one window (480000 for 30 s at 16 kHz)."""
        return self.chunk_length * self.sampling_rate

    def __call__(self, raw_speech, sampling_rate=None):
        if sampling_rate is None and not self._warned:
            self._warned = True
            logger.warning("WhisperFeatures was called without sampling_rate: the audio is taken "
                           "to be at %d Hz. Pass sampling_rate= so that audio at another rate "
                           "is refused instead of silently giving wrong features.",
                           self.sampling_rate)
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise InvalidInputError(
                f"audio sampled at {sampling_rate} Hz; this feature extractor expects "
                f"{self.sampling_rate} Hz. Resample first (tfhf.audio.resample).")
        if isinstance(raw_speech, (list, tuple)) and raw_speech and np.ndim(raw_speech[0]) == 1:
            n = max(len(x) for x in raw_speech)
            raw_speech = np.stack([np.pad(np.asarray(x, np.float32), (0, n - len(x)))
                                   for x in raw_speech])
        return {"input_features": log_mel_spectrogram(
            np.asarray(raw_speech, np.float32), self.n_fft, self.hop_length, self.feature_size,
            self.sampling_rate, self.chunk_length)}


def read_wav(path):
    """A PCM WAV file -> (mono float32 waveform in [-1, 1], sample rate). Channels are
    averaged. 8/16/24/32-bit integer PCM (the ``wave`` module reads no float WAV)."""
    try:
        with wave.open(path if hasattr(path, "read") else str(path), "rb") as f:
            rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
            raw = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise InvalidInputError(f"{path}: not a PCM WAV file tfhf can read ({e}). Convert it "
                                "to 16-bit PCM WAV (e.g. `sox in.x -b 16 out.wav`).") from None
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        data = np.frombuffer(raw, dtype).astype(np.float32) / float(2 ** (8 * width - 1))
    else:
        raise InvalidInputError(f"{path}: {8 * width}-bit samples are not supported.")
    return data.reshape(-1, channels).mean(axis=1), rate
