"""Swin Transformer blocks (Liu et al., 2021) as Donut's image encoder uses them.

A :class:`SwinStage` runs windowed self-attention blocks over a (height, width) grid of
patch features: every block attends inside non-overlapping ``window x window`` windows with
a learned relative position bias, every second block first rolls the grid by half a window
(shifted windows, with a mask of -100 between the regions the roll glued together), and a
:class:`PatchMerging` step halves the grid and doubles the channels between stages.

Grid sizes are static Python ints (read from the input's shape), so the window layout, the
masks and the paddings are constants the graph (and XLA) folds. Layouts: hidden states are
(batch, height * width, channels), row-major, as transformers' DonutSwin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .._keras import add_weight, keras, track_layers
from .activations import get_activation
from .core import Dense, LayerNorm, build_sublayers, normal_init

SHIFT_MASK_VALUE = -100.0  # transformers' (and the paper's) value between shifted regions


@dataclass
class SwinSpec:
    """A Swin encoder: patch embedding then ``len(depths)`` stages."""

    embed_dim: int
    depths: tuple
    num_heads: tuple
    window_size: int
    patch_size: int = 4
    num_channels: int = 3
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    activation: str = "gelu"
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02

    def stage_dim(self, i):
        return int(self.embed_dim * 2 ** i)

    @property
    def hidden_size(self):
        return self.stage_dim(len(self.depths) - 1)


def relative_position_index(window):
    """(window², window²) indices into the ((2 window - 1)², heads) bias table."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij"))
    flat = coords.reshape(2, -1)
    rel = (flat[:, :, None] - flat[:, None, :]).transpose(1, 2, 0)
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    return rel.sum(-1).astype(np.int64)


def shift_mask(height, width, window, shift):
    """(num_windows, window², window²) additive mask of a shifted-window layer (numpy)."""
    def regions(n):
        idx = np.arange(n)
        return (idx >= n - window).astype(np.int64) + (idx >= n - shift).astype(np.int64)

    img = regions(height)[:, None] * 3 + regions(width)[None, :]
    wins = img.reshape(height // window, window, width // window, window)
    wins = wins.transpose(0, 2, 1, 3).reshape(-1, window * window)
    diff = wins[:, None, :] - wins[:, :, None]
    return np.where(diff != 0, SHIFT_MASK_VALUE, 0.0).astype(np.float32)


def window_partition(x, window):
    """(batch, H, W, C) -> (batch * num_windows, window², C); H and W static multiples."""
    _, h, w, c = x.shape
    x = tf.reshape(x, [-1, h // window, window, w // window, window, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, window * window, c])


def window_reverse(windows, window, h, w):
    """(batch * num_windows, window², C) -> (batch, H, W, C)."""
    c = windows.shape[-1]
    x = tf.reshape(windows, [-1, h // window, w // window, window, window, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, h, w, c])


class WindowAttention(keras.layers.Layer):
    """Multi-head self-attention inside windows, with the relative position bias table."""

    def __init__(self, spec: SwinSpec, dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.num_heads, self.window = dim, num_heads, spec.window_size
        self.head_dim = dim // num_heads
        std, b = spec.init_std, spec.qkv_bias
        self.query = Dense(dim, dim, use_bias=b, init_std=std, name="query")
        self.key = Dense(dim, dim, use_bias=b, init_std=std, name="key")
        self.value = Dense(dim, dim, use_bias=b, init_std=std, name="value")
        self.out = Dense(dim, dim, init_std=std, name="out")

    def build(self, input_shape=None):
        build_sublayers(self)
        size = (2 * self.window - 1) ** 2
        self.relative_position_bias_table = add_weight(
            self, "relative_position_bias_table", (size, self.num_heads), "zeros",
            autocast=False)
        self.built = True

    def _heads(self, x, n):
        return tf.transpose(tf.reshape(x, [-1, n, self.num_heads, self.head_dim]), [0, 2, 1, 3])

    def call(self, windows, window, shift_bias=None):
        """``windows`` (batch * nW, window², dim); ``shift_bias`` (nW, window², window²) or None."""
        n = window * window
        q, k, v = (self._heads(layer(windows), n) for layer in (self.query, self.key, self.value))
        scores = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32) / float(
            np.sqrt(self.head_dim))
        index = relative_position_index(window).reshape(-1)
        bias = tf.gather(tf.cast(self.relative_position_bias_table, tf.float32), index)
        scores = scores + tf.transpose(tf.reshape(bias, [n, n, self.num_heads]), [2, 0, 1])[None]
        if shift_bias is not None:
            nw = shift_bias.shape[0]
            scores = tf.reshape(scores, [-1, nw, self.num_heads, n, n]) + shift_bias[None, :, None]
            scores = tf.reshape(scores, [-1, self.num_heads, n, n])
        probs = tf.nn.softmax(scores, axis=-1)
        ctx = tf.matmul(tf.cast(probs, v.dtype), v)
        ctx = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [-1, n, self.dim])
        return self.out(ctx)


class SwinBlock(keras.layers.Layer):
    """Pre-LN (shifted) window attention + MLP, both residual."""

    def __init__(self, spec: SwinSpec, dim, num_heads, shift, **kwargs):
        super().__init__(**kwargs)
        self.window, self.shift = spec.window_size, shift
        eps, std = spec.layer_norm_eps, spec.init_std
        hidden = int(spec.mlp_ratio * dim)
        self.layernorm_before = LayerNorm(dim, eps, name="layernorm_before")
        self.attention = WindowAttention(spec, dim, num_heads, name="attention")
        self.layernorm_after = LayerNorm(dim, eps, name="layernorm_after")
        self.intermediate = Dense(dim, hidden, init_std=std, name="intermediate")
        self.output_dense = Dense(hidden, dim, init_std=std, name="output_dense")
        self.act = get_activation(spec.activation)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, height, width):
        window, shift = self.window, self.shift
        if min(height, width) <= window:  # the grid fits one window: no shift
            window, shift = min(height, width), 0
        c = x.shape[-1]
        h = tf.reshape(self.layernorm_before(x), [-1, height, width, c])
        pad_h, pad_w = (-height) % window, (-width) % window
        if pad_h or pad_w:
            h = tf.pad(h, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
        hp, wp = height + pad_h, width + pad_w
        if shift:
            h = tf.roll(h, shift=[-shift, -shift], axis=[1, 2])
        mask = tf.constant(shift_mask(hp, wp, window, shift)) if shift else None
        att = self.attention(window_partition(h, window), window=window, shift_bias=mask)
        att = window_reverse(att, window, hp, wp)
        if shift:
            att = tf.roll(att, shift=[shift, shift], axis=[1, 2])
        att = tf.reshape(att[:, :height, :width, :], [-1, height * width, c])
        x = x + tf.cast(att, x.dtype)
        return x + self.output_dense(self.act(self.intermediate(self.layernorm_after(x))))


class PatchMerging(keras.layers.Layer):
    """2x2 neighbouring patches concatenated (4C), normed, reduced to 2C (no bias)."""

    def __init__(self, spec: SwinSpec, dim, **kwargs):
        super().__init__(**kwargs)
        self.norm = LayerNorm(4 * dim, 1e-5, name="norm")  # nn.LayerNorm default eps
        self.reduction = Dense(4 * dim, 2 * dim, use_bias=False, init_std=spec.init_std,
                               name="reduction")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, height, width):
        c = x.shape[-1]
        x = tf.reshape(x, [-1, height, width, c])
        if height % 2 or width % 2:
            x = tf.pad(x, [[0, 0], [0, height % 2], [0, width % 2], [0, 0]])
        x = tf.concat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]],
                      axis=-1)
        x = tf.reshape(x, [-1, ((height + 1) // 2) * ((width + 1) // 2), 4 * c])
        return self.reduction(self.norm(x))


class SwinStage(keras.layers.Layer):
    """``depth`` blocks (odd ones shifted by half a window) then, but for the last stage,
    patch merging."""

    def __init__(self, spec: SwinSpec, index, **kwargs):
        super().__init__(**kwargs)
        dim, heads = spec.stage_dim(index), spec.num_heads[index]
        self.blocks = track_layers(self, "block", [
            SwinBlock(spec, dim, heads, 0 if i % 2 == 0 else spec.window_size // 2,
                      name=f"block_{i}") for i in range(spec.depths[index])])
        last = index == len(spec.depths) - 1
        self.downsample = None if last else PatchMerging(spec, dim, name="downsample")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, height, width):
        """-> (output, (height, width) of the output)."""
        for block in self.blocks:
            x = block(x, height=height, width=width)
        if self.downsample is None:
            return x, (height, width)
        return self.downsample(x, height=height, width=width), ((height + 1) // 2, (width + 1) // 2)


class PatchEmbedding(keras.layers.Layer):
    """Non-overlapping ``patch x patch`` convolution with PyTorch's Conv2d weight layout
    (out, in, kh, kw), images zero-padded at the bottom/right to a multiple of the patch,
    then a LayerNorm. NCHW pixels in, (batch, gh * gw, dim) and (gh, gw) out."""

    def __init__(self, spec: SwinSpec, **kwargs):
        super().__init__(**kwargs)
        self.patch, self.channels, self.dim = spec.patch_size, spec.num_channels, spec.embed_dim
        self.init_std = spec.init_std
        self.norm = LayerNorm(spec.embed_dim, 1e-5, name="norm")  # nn.LayerNorm default eps

    def build(self, input_shape=None):
        p = self.patch
        self.weight = add_weight(self, "weight", (self.dim, self.channels, p, p),
                                 normal_init(self.init_std))
        self.bias = add_weight(self, "bias", (self.dim,), "zeros")
        self.norm.build(None)
        self.built = True

    def call(self, pixel_values):
        p = self.patch
        x = tf.transpose(tf.cast(pixel_values, self.compute_dtype), [0, 2, 3, 1])  # NHWC
        h, w = x.shape[1], x.shape[2]
        if h % p or w % p:
            x = tf.pad(x, [[0, 0], [0, (-h) % p], [0, (-w) % p], [0, 0]])
        kernel = tf.transpose(tf.cast(self.weight, self.compute_dtype), [2, 3, 1, 0])
        x = tf.nn.conv2d(x, kernel, strides=p, padding="VALID")
        x = x + tf.cast(self.bias, self.compute_dtype)
        gh, gw = x.shape[1], x.shape[2]
        return self.norm(tf.reshape(x, [-1, gh * gw, self.dim])), (gh, gw)
