"""Rotary position embeddings (Su et al., 2021, "RoFormer") and their scaled variants.

A query or key vector at position p is rotated, pair by pair, by angles ``p * inv_freq``.
Pairs are (i, i + head_dim/2) — the "rotate half" layout of Hugging Face checkpoints.
``inv_freq`` and the attention scaling (a factor on cos/sin, used by YaRN) are computed the
way transformers 5 does in ``modeling_rope_utils.py`` (float32 arithmetic) from a
``rope_parameters`` dict:

* ``default``: ``inv_freq = 1 / theta ** (2i / dim)``;
* ``linear``: position interpolation, ``inv_freq / factor``;
* ``dynamic``: NTK-aware scaling whose base grows with the sequence length once it passes
  ``max_position_embeddings`` (computed in the graph from the largest position id);
* ``yarn``: interpolation blended with extrapolation over a ramp of dimensions, plus an
  attention factor ``0.1 ln(factor) + 1`` (or from ``mscale``/``mscale_all_dim``);
* ``llama3``: Llama 3.1's wavelength-banded interpolation.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from .._keras import register_serializable
from ..errors import ConfigError
from .seq2seq import SinusoidalTable

ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "llama3")


def rope_parameters(config, layer_type=None) -> dict:
    """``config.rope_parameters`` (or the entry for ``layer_type`` where it is per layer type)."""
    params = getattr(config, "rope_parameters", None)
    if params is None:
        theta = getattr(config, "rope_theta", 10000.0)
        return {"rope_type": "default", "rope_theta": theta}
    if layer_type is not None and isinstance(params.get(layer_type), dict):
        return params[layer_type]
    return params


def _exponents(dim):
    return np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / np.float32(dim)


def _default_inv_freq(base, dim):
    return (np.float32(1.0) / (np.float32(base) ** _exponents(dim))).astype(np.float32)


def _yarn(params, base, dim, max_positions):
    factor = params.get("factor")
    original = params["original_max_position_embeddings"]
    if factor is None:
        factor = max_positions / original
    attention_factor = params.get("attention_factor")
    mscale, mscale_all_dim = params.get("mscale"), params.get("mscale_all_dim")

    def get_mscale(scale, m=1):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
        else:
            attention_factor = get_mscale(factor)
    beta_fast = params.get("beta_fast") or 32
    beta_slow = params.get("beta_slow") or 1

    def correction_dim(rotations):
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if params.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # no singularity
    ramp = np.clip((np.arange(dim // 2, dtype=np.float32) - np.float32(low))
                   / np.float32(high - low), 0, 1).astype(np.float32)
    pos_freqs = np.float32(base) ** _exponents(dim)
    extrapolation = np.float32(1.0) / pos_freqs
    interpolation = np.float32(1.0) / (np.float32(factor) * pos_freqs)
    extrapolation_factor = np.float32(1.0) - ramp
    inv_freq = (interpolation * (np.float32(1.0) - extrapolation_factor)
                + extrapolation * extrapolation_factor)
    return inv_freq.astype(np.float32), float(attention_factor)


def _llama3(params, base, dim):
    inv_freq = _default_inv_freq(base, dim)
    factor = params["factor"]
    low_freq_factor, high_freq_factor = params["low_freq_factor"], params["high_freq_factor"]
    old_context = params["original_max_position_embeddings"]
    low_freq_wavelen = old_context / low_freq_factor
    high_freq_wavelen = old_context / high_freq_factor
    wavelen = np.float32(2 * math.pi) / inv_freq
    scaled = np.where(wavelen > low_freq_wavelen, inv_freq / np.float32(factor), inv_freq)
    smooth = (np.float32(old_context) / wavelen - np.float32(low_freq_factor)) / np.float32(
        high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / np.float32(factor) + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return np.where(medium, smoothed, scaled).astype(np.float32)


class RotaryEmbedding:
    """cos/sin tables for one ``rope_parameters`` dict; no weights, so not a Keras layer."""

    def __init__(self, params: dict, head_dim: int, max_position_embeddings: int):
        self.rope_type = params.get("rope_type", params.get("type", "default"))
        if self.rope_type not in ROPE_TYPES:
            raise ConfigError(f"rope_parameters rope_type={self.rope_type!r} is not supported by "
                              f"tfhf; supported: {', '.join(ROPE_TYPES)}.")
        if params.get("partial_rotary_factor", 1.0) != 1.0:
            raise ConfigError("rope_parameters partial_rotary_factor != 1.0 is not supported by "
                              "tfhf's rotary embedding.")
        self.dim = int(head_dim)
        self.base = float(params["rope_theta"])
        self.max_positions = int(max_position_embeddings)
        self.attention_scaling = 1.0
        self.factor = params.get("factor")
        if self.rope_type in ("default", "dynamic"):
            # dynamic equals default up to max_position_embeddings
            self.inv_freq = _default_inv_freq(self.base, self.dim)
        elif self.rope_type == "linear":
            self.inv_freq = _default_inv_freq(self.base, self.dim) / np.float32(self.factor)
        elif self.rope_type == "yarn":
            self.inv_freq, self.attention_scaling = _yarn(params, self.base, self.dim,
                                                          self.max_positions)
        else:
            self.inv_freq = _llama3(params, self.base, self.dim)

    def key(self):
        """Equal keys give equal tables (layers of two types may share one)."""
        return (self.rope_type, self.base, self.factor, self.attention_scaling,
                self.inv_freq.tobytes())

    def _inv_freq(self, position_ids):
        if self.rope_type != "dynamic":
            return tf.constant(self.inv_freq)
        # NTK: base * (factor * len / max - (factor - 1)) ** (dim / (dim - 2)), len >= max
        seq_len = tf.cast(tf.reduce_max(position_ids) + 1, tf.float32)
        seq_len = tf.maximum(seq_len, float(self.max_positions))
        factor = float(self.factor)
        base = self.base * ((factor * seq_len / self.max_positions) - (factor - 1)) ** (
            self.dim / (self.dim - 2))
        return 1.0 / tf.pow(base, tf.constant(_exponents(self.dim)))

    def cos_sin(self, position_ids, dtype):
        """(batch, t) positions -> cos, sin of shape (batch, t, 1, head_dim) in ``dtype``."""
        freqs = tf.cast(position_ids, tf.float32)[..., None] * self._inv_freq(position_ids)
        emb = tf.concat([freqs, freqs], axis=-1)[:, :, None, :]
        cos, sin = tf.cos(emb), tf.sin(emb)
        if self.attention_scaling != 1.0:
            cos, sin = cos * self.attention_scaling, sin * self.attention_scaling
        return tf.cast(cos, dtype), tf.cast(sin, dtype)


def apply_rotary(x, cos, sin):
    """Rotate (batch, t, heads, head_dim) vectors: ``x cos + rotate_half(x) sin``."""
    x1, x2 = tf.split(x, 2, axis=-1)
    return x * cos + tf.concat([-x2, x1], axis=-1) * sin


# ---------------------------------------------------------------------------- RoFormer's layout
def interleaved_sinusoids(num_positions, dim):
    """RoFormer's ``embed_positions`` table: ``[sin | cos]`` halves of the angles
    ``pos / 10000 ** (2j / dim)``, computed in float64 as transformers does."""
    if dim % 2:
        raise ConfigError(f"Rotary position embeddings need an even head size; got {dim} "
                          "(hidden_size / num_attention_heads).")
    pos = np.arange(num_positions, dtype=np.float64)[:, None]
    angles = pos / np.power(10000.0, 2 * np.arange(dim // 2, dtype=np.float64) / dim)[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


def apply_rotary_interleaved(x, sin, cos):
    """Rotate (batch, heads, t, head_dim) vectors pair by pair, pairs (2i, 2i + 1) by angle i
    (RoFormer's layout); ``sin`` and ``cos`` are (t, head_dim / 2)."""
    sin, cos = tf.cast(sin, x.dtype), tf.cast(cos, x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = tf.stack([even * cos - odd * sin, odd * cos + even * sin], axis=-1)
    return tf.reshape(rotated, tf.shape(x))


@register_serializable()
class RotaryTable(SinusoidalTable):
    """A frozen table of :func:`interleaved_sinusoids` (a saved, non-trainable weight, as
    RoFormer's checkpoints carry it); ``call(length)`` gives ``(sin, cos)`` of the first
    ``length`` positions, each (length, dim / 2)."""

    def table(self):
        return interleaved_sinusoids(self.num_embeddings, self.dim)

    def call(self, length):
        rows = tf.cast(self.embeddings[:length], tf.float32)
        return rows[:, : self.dim // 2], rows[:, self.dim // 2:]
