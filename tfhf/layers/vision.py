"""The vision-transformer block shared by CLIP, CLIPSeg, BLIP and ViLT.

* :class:`PatchEmbedding`: ``nn.Conv2d(kernel=stride=patch)`` with PyTorch's weight layout
  (out, in, patch, patch); pixels come channels-first (batch, channels, height, width), as
  the image processors give them, and leave as (batch, patches, hidden);
* :class:`ViTEmbeddings`: ``[class token; patches] + positions``;
* :class:`ViTLayer`: ``x + Attn(LN(x)); x + MLP(LN(x))`` (pre-LayerNorm), on the BERT
  encoder's attention and feed-forward (:mod:`tfhf.layers.encoder`), or with one fused
  ``qkv`` projection (BLIP);
* :class:`ViTEncoder`: a stack of them (the BERT encoder's stack with this block);
* :class:`VisionTransformer`: embeddings, optional pre-LayerNorm, the encoder and the
  post-LayerNorm as a family applies it (:data:`POST_NORM_POOLED` for CLIP,
  :data:`POST_NORM_ALL` for BLIP); ``interpolate=True`` (CLIPSeg) takes images of any size
  and resizes the position grid bicubically as PyTorch does;
* :class:`Conv2D` / :class:`PatchConvTranspose2D`: the convolutions of CLIPSeg's decoder.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import add_weight, keras, register_serializable
from ..errors import InvalidInputError
from .attention import attend, merge_heads, split_heads
from .core import Dense, LayerNorm, build_sublayers, normal_init
from .encoder import EncoderStack, FeedForward, SelfAttention
from .specs import ViTSpec

POST_NORM_POOLED = "pooled"  # CLIP: LayerNorm on the class token only
POST_NORM_ALL = "all"  # BLIP: LayerNorm on every state, and again on the class token


def check_pixel_values(pixel_values, spec: ViTSpec, name="pixel_values", any_size=False):
    """A float (batch, channels, size, size) tensor of the model's image size (``any_size``:
    (batch, channels, height, width), each side at least one patch)."""
    x = tf.convert_to_tensor(pixel_values)
    if not x.dtype.is_floating:
        raise InvalidInputError(f"{name} must be floats (an image processor's output), got "
                                f"{x.dtype.name}.")
    if any_size:
        small = any(d is not None and d < spec.patch_size for d in x.shape[2:])
        if x.shape.rank != 4 or x.shape[1] != spec.num_channels or small:
            raise InvalidInputError(
                f"{name} must have shape (batch, {spec.num_channels}, height, width) (channels "
                f"first, sides of at least patch_size={spec.patch_size}); got "
                f"{tuple(x.shape)}.")
        return x
    want = (spec.num_channels, spec.image_size, spec.image_size)
    if x.shape.rank != 4 or (x.shape[1:].is_fully_defined() and tuple(x.shape[1:]) != want):
        raise InvalidInputError(
            f"{name} must have shape (batch, {', '.join(map(str, want))}) (channels first, the "
            f"model's image_size); got {tuple(x.shape)}. Resize the images with the model's "
            "image processor.")
    return x


@register_serializable()
class PatchEmbedding(keras.layers.Layer):
    """Non-overlapping patches projected to ``hidden_size`` (a strided 2-D convolution)."""

    def __init__(self, in_channels, hidden_size, patch_size, use_bias=False, init_std=0.02,
                 **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.hidden_size = int(in_channels), int(hidden_size)
        self.patch_size, self.use_bias, self.init_std = int(patch_size), use_bias, init_std

    def build(self, input_shape=None):
        p = self.patch_size
        self.weight = add_weight(self, "weight", (self.hidden_size, self.in_channels, p, p),
                                 normal_init(self.init_std))
        self.bias = (add_weight(self, "bias", (self.hidden_size,), "zeros")
                     if self.use_bias else None)
        self.built = True

    def grid(self, pixel_values):
        """(batch, channels, H, W) -> (batch, H / p, W / p, hidden)."""
        x = tf.transpose(tf.cast(pixel_values, self.compute_dtype), [0, 2, 3, 1])
        kernel = tf.transpose(tf.cast(self.weight, self.compute_dtype), [2, 3, 1, 0])
        y = tf.nn.conv2d(x, kernel, strides=self.patch_size, padding="VALID")
        if self.bias is not None:
            y = y + tf.cast(self.bias, self.compute_dtype)
        return y

    def call(self, pixel_values):
        y = self.grid(pixel_values)
        return tf.reshape(y, [tf.shape(y)[0], -1, self.hidden_size])


def bicubic_matrix(out_len, in_len):
    """(out_len, in_len) weights of PyTorch's ``interpolate(mode="bicubic",
    align_corners=False)`` along one axis (Keys' cubic with a = -0.75, edges clamped)."""
    a = -0.75
    scale = tf.cast(in_len, tf.float32) / tf.cast(out_len, tf.float32)
    src = (tf.cast(tf.range(out_len), tf.float32) + 0.5) * scale - 0.5
    start = tf.floor(src)
    t = (src - start)[:, None]

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    taps = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    first = tf.cast(start, tf.int32) - 1
    return tf.add_n([tf.one_hot(tf.clip_by_value(first + k, 0, in_len - 1), in_len) * w
                     for k, w in enumerate(taps)])


def resize_positions(table, side, rows, cols):
    """A ``[class; side x side grid]`` position table with the grid resized bicubically to
    ``rows x cols`` (CLIPSeg's ``interpolate_pos_encoding``)."""
    d = table.shape[-1]
    grid = tf.reshape(tf.cast(table[1:], tf.float32), [side, side, d])
    pos = tf.einsum("ip,pqd,jq->ijd", bicubic_matrix(rows, side), grid,
                    bicubic_matrix(cols, side))
    return tf.concat([table[:1], tf.cast(tf.reshape(pos, [-1, d]), table.dtype)], axis=0)


@register_serializable()
class ViTEmbeddings(keras.layers.Layer):
    """Class token + patch embeddings + learned positions (checkpoint shapes per
    ``spec.param_rank``)."""

    def __init__(self, spec: ViTSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.patch_embedding = PatchEmbedding(spec.num_channels, spec.hidden_size,
                                              spec.patch_size, spec.patch_bias, spec.init_std,
                                              name="patch_embedding")

    def build(self, input_shape=None):
        s, d = self.spec, self.spec.hidden_size
        lead = (1, 1) if s.param_rank == 3 else ()
        self.class_embedding = add_weight(self, "class_embedding", lead + (d,),
                                          normal_init(s.init_std))
        pos_shape = ((1,) if s.param_rank == 3 else ()) + (s.num_positions, d)
        self.position_embedding = add_weight(self, "position_embedding", pos_shape,
                                             normal_init(s.init_std))
        self.patch_embedding.build(None)
        self.built = True

    def positions(self):
        return tf.reshape(tf.cast(self.position_embedding, self.compute_dtype),
                          [self.spec.num_positions, self.spec.hidden_size])

    def call(self, pixel_values, interpolate=False):
        """``interpolate``: the position grid resized to the image's patch grid (images of
        another size than ``image_size``)."""
        grid = self.patch_embedding.grid(pixel_values)
        shape = tf.shape(grid)
        patches = tf.reshape(grid, [shape[0], -1, self.spec.hidden_size])
        positions = self.positions()
        if interpolate:
            positions = resize_positions(positions, self.spec.grid, shape[1], shape[2])
        cls = tf.reshape(tf.cast(self.class_embedding, patches.dtype), [1, 1, -1])
        cls = tf.tile(cls, [shape[0], 1, 1])
        return tf.concat([cls, patches], axis=1) + positions[None]


@register_serializable()
class FusedSelfAttention(keras.layers.Layer):
    """Self-attention with one ``qkv`` projection (hidden -> 3 * hidden: q, k, v) and an
    output projection ``out`` (BLIP's vision layers)."""

    def __init__(self, hidden_size, num_heads, dropout=0.0, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.qkv = Dense(hidden_size, 3 * hidden_size, init_std=init_std, name="qkv")
        self.out = Dense(hidden_size, hidden_size, init_std=init_std, name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, bias=None, training=False):
        q, k, v = (split_heads(t, self.num_heads, self.head_dim)
                   for t in tf.split(self.qkv(x), 3, axis=-1))
        ctx, probs = attend(q, k, v, bias, self.dropout, training)
        return self.out(merge_heads(ctx)), probs


@register_serializable()
class ViTLayer(keras.layers.Layer):
    """``x = x + Attn(norm1(x)); x = x + MLP(norm2(x))``."""

    def __init__(self, hidden_size, num_heads, intermediate_size, activation="gelu",
                 layer_norm_eps=1e-5, fused_qkv=False, attention_dropout=0.0,
                 hidden_dropout=0.0, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        attention = FusedSelfAttention if fused_qkv else SelfAttention
        self.norm1 = LayerNorm(hidden_size, layer_norm_eps, name="norm1")
        self.attention = attention(hidden_size, num_heads, attention_dropout, init_std,
                                   name="attention")
        self.norm2 = LayerNorm(hidden_size, layer_norm_eps, name="norm2")
        self.mlp = FeedForward(hidden_size, intermediate_size, activation, init_std, name="mlp")
        self.dropout = keras.layers.Dropout(hidden_dropout)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x, bias=None, training=False):
        a, probs = self.attention(self.norm1(x), bias=bias, training=training)
        x = x + self.dropout(a, training=training)
        x = x + self.dropout(self.mlp(self.norm2(x)), training=training)
        return x, probs


@register_serializable()
class ViTEncoder(EncoderStack):
    """A stack of :class:`ViTLayer` s (``encoder.blocks.<i>``)."""

    block_class = ViTLayer


def vit_encoder(spec: ViTSpec, name="encoder", activation=None):
    """The :class:`ViTEncoder` of ``spec`` (``activation`` overrides the spec's)."""
    return ViTEncoder(spec.num_layers, hidden_size=spec.hidden_size, num_heads=spec.num_heads,
                      intermediate_size=spec.intermediate_size,
                      activation=activation or spec.activation,
                      layer_norm_eps=spec.layer_norm_eps, fused_qkv=spec.fused_qkv,
                      attention_dropout=spec.attention_dropout,
                      hidden_dropout=spec.hidden_dropout, init_std=spec.init_std, name=name)


@register_serializable()
class VisionTransformer(keras.layers.Layer):
    """Embeddings -> [pre_norm] -> encoder -> post_norm (``post_norm`` as the family applies
    it). ``call`` returns ``(last_hidden_state, pooled, hidden_states, attentions)``."""

    def __init__(self, spec: ViTSpec, pre_norm=False, post_norm=POST_NORM_POOLED,
                 interpolate=False, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.post_norm_mode, self.interpolate = spec, post_norm, interpolate
        eps = spec.layer_norm_eps
        self.embeddings = ViTEmbeddings(spec, name="embeddings")
        self.pre_norm = LayerNorm(spec.hidden_size, eps, name="pre_norm") if pre_norm else None
        self.encoder = vit_encoder(spec)
        self.post_norm = LayerNorm(spec.hidden_size, eps, name="post_norm")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, pixel_values, output_hidden_states=False, output_attentions=False,
             training=False):
        x = self.embeddings(check_pixel_values(pixel_values, self.spec,
                                               any_size=self.interpolate),
                            interpolate=self.interpolate)
        if self.pre_norm is not None:
            x = self.pre_norm(x)
        x, hidden, attns = self.encoder(x, output_hidden_states=output_hidden_states,
                                        output_attentions=output_attentions, training=training)
        if self.post_norm_mode == POST_NORM_ALL:
            x = self.post_norm(x)
        return x, self.post_norm(x[:, 0]), hidden, attns


@register_serializable()
class Conv2D(keras.layers.Layer):
    """``nn.Conv2d(in, out, kernel, padding=kernel // 2)`` (stride 1) with PyTorch's weight
    layout (out, in, k, k); channels-last input (batch, height, width, in)."""

    def __init__(self, in_channels, out_channels, kernel_size, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.init_std = int(kernel_size), init_std

    def kernel_shape(self):
        return (self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)

    def build(self, input_shape=None):
        self.weight = add_weight(self, "weight", self.kernel_shape(), normal_init(self.init_std))
        self.bias = add_weight(self, "bias", (self.out_channels,), "zeros")
        self.built = True

    def call(self, x):
        kernel = tf.transpose(tf.cast(self.weight, self.compute_dtype), [2, 3, 1, 0])
        y = tf.nn.conv2d(tf.cast(x, self.compute_dtype), kernel, strides=1, padding="SAME")
        return y + tf.cast(self.bias, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel_size": self.kernel_size,
                "init_std": self.init_std}


@register_serializable()
class PatchConvTranspose2D(Conv2D):
    """``nn.ConvTranspose2d(in, out, k, stride=k)``: every input pixel becomes a k x k block
    (weight (in, out, k, k)); (batch, h, w, in) -> (batch, h * k, w * k, out)."""

    def kernel_shape(self):
        return (self.in_channels, self.out_channels, self.kernel_size, self.kernel_size)

    def call(self, x):
        k, x = self.kernel_size, tf.cast(x, self.compute_dtype)
        y = tf.einsum("bhwc,cokl->bhkwlo", x, tf.cast(self.weight, self.compute_dtype))
        shape = tf.shape(x)
        y = tf.reshape(y, [shape[0], shape[1] * k, shape[2] * k, self.out_channels])
        return y + tf.cast(self.bias, self.compute_dtype)
