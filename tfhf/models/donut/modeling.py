"""Donut's image encoder: DonutSwin (a Swin Transformer without a final norm).

Pixels (batch, channels, height, width) -> 4x4 patches embedded by a convolution and a
LayerNorm -> stages of (shifted) window attention with patch merging in between (see
:mod:`tfhf.layers.swin`). ``TFDonutSwinModel`` returns the last hidden state (batch,
patches, hidden_size) and its mean over patches as ``pooler_output``. The image size must be
known when the graph is built (the window layout depends on it); the document encoder of
:class:`~tfhf.models.vision_encoder_decoder.TFVisionEncoderDecoderModel` is this main layer.
"""

from __future__ import annotations

import tensorflow as tf
from transformers import DonutSwinConfig

from ..._keras import keras, track_layers
from ...errors import ConfigError, InvalidInputError
from ...layers.core import build_sublayers
from ...layers.swin import PatchEmbedding, SwinSpec, SwinStage, relative_position_index
from ... import outputs
from ..base import TFPreTrainedModel
from ..inputs import reject_unexpected
from . import convert


def swin_spec(config) -> SwinSpec:
    if getattr(config, "use_absolute_embeddings", False):
        raise ConfigError("DonutSwin with use_absolute_embeddings=True is not supported by "
                          "tfhf (no Donut checkpoint uses it).")
    patch = config.patch_size
    if not isinstance(patch, int):
        if len(set(patch)) != 1:
            raise ConfigError(f"patch_size {patch} is not square; tfhf's DonutSwin takes square "
                              "patches.")
        patch = patch[0]
    return SwinSpec(embed_dim=config.embed_dim, depths=tuple(config.depths),
                    num_heads=tuple(config.num_heads), window_size=config.window_size,
                    patch_size=int(patch), num_channels=config.num_channels,
                    mlp_ratio=config.mlp_ratio, qkv_bias=config.qkv_bias,
                    activation=config.hidden_act, layer_norm_eps=config.layer_norm_eps,
                    init_std=config.initializer_range)


def check_pixel_values(pixel_values, channels, name="pixel_values"):
    """float (batch, channels, height, width) with a static height and width."""
    if pixel_values is None:
        raise InvalidInputError(f"Pass {name} (batch, {channels}, height, width), e.g. from "
                                "tfhf.AutoImageProcessor(..., return_tensors='tf').")
    x = tf.convert_to_tensor(pixel_values)
    if not x.dtype.is_floating:
        raise InvalidInputError(f"{name} must be floats (normalized pixels), got "
                                f"{x.dtype.name}.")
    if x.shape.rank != 4 or (x.shape[1] is not None and x.shape[1] != channels):
        raise InvalidInputError(f"{name} must have shape (batch, {channels}, height, width); "
                                f"got {x.shape}.")
    if x.shape[2] is None or x.shape[3] is None:
        raise InvalidInputError(f"{name}: the image height and width must be known when the "
                                "graph is built (the Swin window layout depends on them); use "
                                "an input signature with fixed height and width.")
    return x


class DonutSwinMainLayer(keras.layers.Layer):
    """Patch embedding + Swin stages."""

    def __init__(self, spec: SwinSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.embeddings = PatchEmbedding(spec, name="embeddings")
        self.stages = track_layers(self, "stage", [SwinStage(spec, i, name=f"stage_{i}")
                                                   for i in range(len(spec.depths))])

    def build(self, input_shape=None):
        build_sublayers(self)
        for stage in self.stages:
            if not stage.built:
                stage.build(None)
        self.built = True

    def call(self, pixel_values, output_hidden_states=False):
        x, (h, w) = self.embeddings(pixel_values)
        hidden = [x] if output_hidden_states else None
        for stage in self.stages:
            x, (h, w) = stage(x, height=h, width=w)
            if hidden is not None:
                hidden.append(x)
        return x, hidden


class TFDonutSwinPreTrainedModel(TFPreTrainedModel):
    config_class = DonutSwinConfig
    base_model_prefix = "donut"
    converter = convert
    main_input_name = "pixel_values"
    model_input_names = ("pixel_values",)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.swin_spec = swin_spec(config)
        self.donut = DonutSwinMainLayer(self.swin_spec, name="donut")

    @property
    def main_layer(self):
        return self.donut

    def hf_state_dict(self):
        """As PyTorch saves it: the relative-position-index buffers too."""
        state = super().hf_state_dict()
        prefix = f"{self.base_model_prefix}." if self.task is not None else ""
        for key, window in convert.relative_index_keys(self.config, prefix).items():
            state[key] = relative_position_index(window)
        return state

    @property
    def dummy_inputs(self):
        size = self.config.image_size
        h, w = (size, size) if isinstance(size, int) else size
        return {"pixel_values": tf.zeros([1, self.config.num_channels, h, w])}


class TFDonutSwinModel(TFDonutSwinPreTrainedModel):
    hf_architecture = "DonutSwinModel"

    def call(self, pixel_values=None, output_hidden_states=None, return_dict=None,
             training=False, **kwargs):
        pixel_values, kw = self._unpack(pixel_values, kwargs)
        if isinstance(pixel_values, dict):  # pragma: no cover - _unpack handles dicts
            pixel_values = pixel_values.get("pixel_values")
        if pixel_values is None:
            pixel_values = kw.pop("pixel_values", None)
        kw.pop("attention_mask", None)
        reject_unexpected(self, kw, self.model_input_names, also="")
        x = check_pixel_values(pixel_values, self.config.num_channels)
        if output_hidden_states is None:
            output_hidden_states = getattr(self.config, "output_hidden_states", False)
        last, hidden = self.donut(x, output_hidden_states=bool(output_hidden_states))
        return self._finish(outputs.TFBaseModelOutputWithPooling(
            last_hidden_state=last, pooler_output=tf.reduce_mean(last, axis=1),
            hidden_states=tuple(hidden) if hidden else None), return_dict)


__all__ = ["TFDonutSwinModel", "TFDonutSwinPreTrainedModel", "DonutSwinMainLayer",
           "swin_spec", "check_pixel_values"]
