"""CLIPSeg (Lüddecke and Ecker, 2022): a frozen CLIP and a light decoder that turns the
activations of selected vision layers into a segmentation map, conditioned on a text prompt
(or an example image, or a given embedding).

* The CLIP part is :class:`tfhf.models.clip.modeling.CLIPMainLayer` with the vision tower
  taking images of any size: its position grid is resized bicubically to the image's patch
  grid, as transformers' ``interpolate_pos_encoding`` does (CIDAS/clipseg-rd64-refined: a
  224-pixel CLIP fed 352-pixel images).
* The decoder: the states of the vision layers ``config.extract_layers``, deepest first, are
  each projected to ``reduce_dim`` (``reduces``) and added to the running state; at
  ``conditional_layer`` the state is modulated by the prompt's embedding (FiLM: ``film_mul``,
  ``film_add``); each step then runs one post-norm transformer layer (ReLU feed-forward) of
  :mod:`tfhf.layers.encoder`. The patch states (class token dropped), laid out on the square
  patch grid, go through a transposed convolution (patch x patch) or, with
  ``use_complex_transposed_convolution``, a 3 x 3 convolution and two transposed ones.

``logits`` are (batch, height, width): one map per (image, prompt) pair.
"""

from __future__ import annotations

import tensorflow as tf
from transformers import CLIPSegConfig

from ..._keras import keras, register_serializable, track_layers
from ...errors import InvalidInputError
from ...layers import Dense, EncoderBlock
from ...layers.core import build_sublayers
from ...layers.vision import Conv2D, PatchConvTranspose2D
from ... import outputs
from ..base import TFPreTrainedModel
from ..clip.modeling import CLIPMainLayer, TFCLIPModel, tower_output
from ..inputs import merge_first_input
from . import convert


@register_serializable()
class CLIPSegMainLayer(CLIPMainLayer):
    config_class = CLIPSegConfig
    interpolate = True


class TFCLIPSegModel(TFCLIPModel):
    """The base CLIPSeg model: CLIP on a ``CLIPSegConfig`` (``logits_per_image`` /
    ``logits_per_text``, ``get_text_features`` / ``get_image_features``), its vision tower
    taking images of any size (the position grid resized, transformers'
    ``interpolate_pos_encoding=True``, CLIPSeg's default)."""

    config_class = CLIPSegConfig
    hf_architecture = "CLIPSegModel"
    main_layer_class = CLIPSegMainLayer

    def call(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None,
             return_loss=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False, interpolate_pos_encoding=True, **kwargs):
        self._check_interpolate(interpolate_pos_encoding)
        return super().call(input_ids, pixel_values, attention_mask, position_ids,
                            return_loss=return_loss, output_hidden_states=output_hidden_states,
                            output_attentions=output_attentions, return_dict=return_dict,
                            training=training, **kwargs)

    def get_image_features(self, pixel_values=None, training=False,
                           interpolate_pos_encoding=True, **kwargs):
        self._check_interpolate(interpolate_pos_encoding)
        return super().get_image_features(pixel_values, training=training, **kwargs)

    @staticmethod
    def _check_interpolate(value):
        if not value:
            raise InvalidInputError("TFCLIPSegModel always resizes its position grid to the "
                                    "image (interpolate_pos_encoding=True); resize the images "
                                    "to the model's image_size instead of passing False.")


@register_serializable()
class CLIPSegUpsampler(keras.layers.Layer):
    """(batch, grid, grid, reduce_dim) -> (batch, grid * patch, grid * patch, 1)."""

    def __init__(self, reduce_dim, patch_size, complex_=False, **kwargs):
        super().__init__(**kwargs)
        self.reduce_dim, self.patch_size, self.complex_ = reduce_dim, patch_size, complex_
        if complex_:
            k = patch_size // 4
            self.conv = Conv2D(reduce_dim, reduce_dim, 3, name="conv")
            self.up1 = PatchConvTranspose2D(reduce_dim, reduce_dim // 2, k, name="up1")
            self.up2 = PatchConvTranspose2D(reduce_dim // 2, 1, k, name="up2")
        else:
            self.conv = self.up2 = None
            self.up1 = PatchConvTranspose2D(reduce_dim, 1, patch_size, name="up1")

    def get_config(self):
        return {**super().get_config(), "reduce_dim": self.reduce_dim,
                "patch_size": self.patch_size, "complex_": self.complex_}

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, x):
        if self.conv is None:
            return self.up1(x)
        x = self.up1(tf.nn.relu(self.conv(x)))
        return self.up2(tf.nn.relu(x))


@register_serializable()
class CLIPSegDecoder(keras.layers.Layer):
    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        vc, d = config.vision_config, config.reduce_dim
        self.conditional_layer = config.conditional_layer
        self.film_mul = Dense(config.projection_dim, d, name="film_mul")
        self.film_add = Dense(config.projection_dim, d, name="film_add")
        n = len(config.extract_layers)
        self.reduces = track_layers(self, "reduce", [
            Dense(vc.hidden_size, d, name=f"reduces_{i}") for i in range(n)])
        self.layers = track_layers(self, "layer", [
            EncoderBlock(d, config.decoder_num_attention_heads,
                         config.decoder_intermediate_size, activation="relu",
                         layer_norm_eps=vc.layer_norm_eps,
                         attention_dropout=vc.attention_dropout, name=f"layers_{i}")
            for i in range(n)])
        self.transposed_convolution = CLIPSegUpsampler(
            d, vc.patch_size, config.use_complex_transposed_convolution,
            name="transposed_convolution")

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(CLIPSegConfig.from_dict(config.pop("config")), **config)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, activations, conditional_embeddings, training=False):
        """``activations``: the selected vision states, shallowest first."""
        x = None
        for i, (act, reduce, layer) in enumerate(zip(activations[::-1], self.reduces,
                                                     self.layers)):
            x = reduce(act) if x is None else reduce(act) + x
            if i == self.conditional_layer:
                cond = tf.cast(conditional_embeddings, x.dtype)
                x = self.film_mul(cond)[:, None] * x + self.film_add(cond)[:, None]
            x, _ = layer(x, training=training)
        x = x[:, 1:]
        shape = tf.shape(x)
        side = tf.cast(tf.round(tf.sqrt(tf.cast(shape[1], tf.float32))), tf.int32)
        x = tf.reshape(x, [shape[0], side, side, self.config.reduce_dim])
        return tf.cast(self.transposed_convolution(x)[..., 0], tf.float32)


class TFCLIPSegForImageSegmentation(TFPreTrainedModel):
    """``model(pixel_values=..., input_ids=..., attention_mask=...)`` -> ``logits``
    (batch, height, width), one prompt per image; or ``conditional_pixel_values`` (an example
    image per image) / ``conditional_embeddings`` (batch, projection_dim) instead of text.
    ``labels`` (batch, height, width) in [0, 1] give the binary cross-entropy."""

    config_class = CLIPSegConfig
    base_model_prefix = "clip"
    converter = convert
    hf_architecture = "CLIPSegForImageSegmentation"
    task = "image_segmentation"
    main_input_name = "pixel_values"
    model_input_names = ("pixel_values", "input_ids", "attention_mask", "position_ids",
                         "conditional_pixel_values", "conditional_embeddings")

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.clip = CLIPSegMainLayer(config, name="clip")
        self.decoder = CLIPSegDecoder(config, name="decoder")

    def get_input_embeddings(self):
        return self.clip.text_model.token_embedding

    def get_conditional_embeddings(self, batch_size, input_ids=None, attention_mask=None,
                                   position_ids=None, conditional_pixel_values=None):
        """(batch, projection_dim): the projected prompt text or example image."""
        clip = self.clip
        if input_ids is not None:
            _, pooled, _, _ = clip.text_model(input_ids, attention_mask=attention_mask,
                                              position_ids=position_ids)
            emb, what = clip.text_projection(pooled), "prompt texts"
        elif conditional_pixel_values is not None:
            _, pooled, _, _ = clip.vision_model(conditional_pixel_values)
            emb, what = clip.visual_projection(pooled), "prompt images"
        else:
            raise InvalidInputError("TFCLIPSegForImageSegmentation needs a prompt: input_ids "
                                    "(text), conditional_pixel_values (an example image) or "
                                    "conditional_embeddings.")
        return self._same_batch(emb, batch_size, what)

    @staticmethod
    def _same_batch(emb, batch_size, what):
        if emb.shape[0] is not None and batch_size is not None and emb.shape[0] != batch_size:
            raise InvalidInputError(f"Give as many {what} as there are images: got "
                                    f"{emb.shape[0]} for {batch_size} images (repeat the image "
                                    "once per prompt).")
        return emb

    def call(self, pixel_values=None, input_ids=None, conditional_pixel_values=None,
             conditional_embeddings=None, attention_mask=None, position_ids=None, labels=None,
             output_hidden_states=None, output_attentions=None, return_dict=None,
             training=False, **kwargs):
        kw = merge_first_input(pixel_values, "pixel_values", dict(
            input_ids=input_ids, conditional_pixel_values=conditional_pixel_values,
            conditional_embeddings=conditional_embeddings, attention_mask=attention_mask,
            position_ids=position_ids, labels=labels, **kwargs))
        labels = kw.pop("labels", None)
        unknown = sorted(k for k, v in kw.items()
                         if v is not None and k not in self.model_input_names)
        if unknown:
            raise InvalidInputError(f"TFCLIPSegForImageSegmentation got unexpected inputs "
                                    f"{unknown}; it accepts {list(self.model_input_names)} "
                                    "and labels.")
        if kw.get("pixel_values") is None:
            raise InvalidInputError("TFCLIPSegForImageSegmentation needs pixel_values (the "
                                    "images to segment, batch x 3 x height x width).")
        px = kw["pixel_values"]
        hs = bool(self.config.output_hidden_states if output_hidden_states is None
                  else output_hidden_states)
        att = bool(self.config.output_attentions if output_attentions is None
                   else output_attentions)
        x, pooled, hidden, attns = self.clip.vision_model(px, output_hidden_states=True,
                                                          output_attentions=att,
                                                          training=training)
        self._check_square(hidden[0])
        vision = tower_output((x, self.clip.visual_projection(pooled),
                               hidden if hs else None, attns))
        batch = tf.convert_to_tensor(px).shape[0]
        cond = kw.get("conditional_embeddings")
        if cond is None:
            cond = self.get_conditional_embeddings(
                batch, kw.get("input_ids"), kw.get("attention_mask"),
                kw.get("position_ids"), kw.get("conditional_pixel_values"))
        else:
            cond = self._check_embeddings(cond, batch)
        logits = self.decoder([hidden[i + 1] for i in self.config.extract_layers], cond,
                              training=training)
        loss = None
        if labels is not None:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                tf.cast(labels, tf.float32), logits))
        return self._finish(outputs.TFCLIPSegImageSegmentationOutput(
            loss=loss, logits=logits, conditional_embeddings=cond,
            pooled_output=vision.pooler_output, vision_model_output=vision), return_dict)

    def _check_embeddings(self, cond, batch):
        cond = tf.convert_to_tensor(cond)
        if cond.shape.rank != 2 or cond.shape[-1] != self.config.projection_dim:
            raise InvalidInputError(f"conditional_embeddings must be (batch, projection_dim="
                                    f"{self.config.projection_dim}); got {tuple(cond.shape)}.")
        return self._same_batch(cond, batch, "conditional embeddings")

    def _check_square(self, states):
        n = states.shape[1]
        if n is not None and round((n - 1) ** 0.5) ** 2 != n - 1:
            raise InvalidInputError(f"CLIPSeg's decoder needs square images (a square patch "
                                    f"grid); got {n - 1} patches. Resize the images to a square "
                                    "with the model's image processor.")
