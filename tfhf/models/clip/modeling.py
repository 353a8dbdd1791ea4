"""CLIP (Radford et al., 2021): a text transformer and a vision transformer whose pooled
states, projected and L2-normalised, are compared by a scaled cosine similarity.

Both towers are pre-LayerNorm transformers (:mod:`tfhf.layers.vision`). The text tower adds
learned positions to the token embeddings, attends causally (and not to padding), applies a
final LayerNorm and pools the state of the end-of-text token (the highest id when
``eos_token_id == 2``, as old configs had it, else the first ``eos_token_id``). The vision
tower normalises the embeddings before the layers (``pre_layrnorm``) and the class token
after them (``post_layernorm``).

``get_text_features`` / ``get_image_features`` return the projected embeddings (tensors), as
transformers 4.x's TF CLIP did.
"""

from __future__ import annotations

import tensorflow as tf
from transformers import CLIPConfig, CLIPTextConfig, CLIPVisionConfig

from ..._keras import add_weight, keras, register_serializable
from ...errors import InvalidInputError
from ...layers.attention import causal_bias
from ...layers.core import Dense, Embedding, LayerNorm, build_sublayers
from ...layers.specs import ViTSpec
from ...layers.vision import POST_NORM_POOLED, VisionTransformer, vit_encoder
from ... import outputs
from ..base import TFPreTrainedModel
from ..inputs import check_mask_shape, check_token_ids
from . import convert


def clip_tower_spec(config, **overrides) -> ViTSpec:
    """The :class:`ViTSpec` of a CLIP(-style) text or vision config."""
    kwargs = dict(hidden_size=config.hidden_size, num_layers=config.num_hidden_layers,
                  num_heads=config.num_attention_heads,
                  intermediate_size=config.intermediate_size, activation=config.hidden_act,
                  layer_norm_eps=config.layer_norm_eps,
                  init_std=getattr(config, "initializer_range", 0.02),
                  attention_dropout=config.attention_dropout)
    if hasattr(config, "image_size"):
        kwargs.update(image_size=config.image_size, patch_size=config.patch_size,
                      num_channels=config.num_channels)
    kwargs.update(overrides)
    return ViTSpec(**kwargs)


@register_serializable()
class CLIPTextTransformer(keras.layers.Layer):
    """Token + position embeddings -> causal pre-norm layers -> final LayerNorm; pools the
    end-of-text state."""

    def __init__(self, spec: ViTSpec, vocab_size, max_positions, eos_token_id, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.vocab_size, self.max_positions = spec, vocab_size, max_positions
        self.eos_token_id = eos_token_id
        self.token_embedding = Embedding(vocab_size, spec.hidden_size, spec.init_std,
                                         name="token_embedding")
        self.position_embedding = Embedding(max_positions, spec.hidden_size, spec.init_std,
                                            name="position_embedding")
        self.encoder = vit_encoder(spec)
        self.final_norm = LayerNorm(spec.hidden_size, spec.layer_norm_eps, name="final_norm")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, input_ids, attention_mask=None, position_ids=None,
             output_hidden_states=False, output_attentions=False, training=False):
        ids = check_token_ids(input_ids, self.vocab_size, max_length=self.max_positions,
                              length_note=f" (max_position_embeddings={self.max_positions}). "
                              "Truncate the text, e.g. tokenizer(..., truncation=True).")
        ids = tf.cast(ids, tf.int32)
        t = tf.shape(ids)[1]
        if attention_mask is None:
            attention_mask = tf.ones_like(ids)
        else:
            attention_mask = tf.cast(tf.convert_to_tensor(attention_mask), tf.int32)
            check_mask_shape(attention_mask, ids)
        if position_ids is None:
            position_ids = tf.range(t)[None, :]
        x = self.token_embedding(ids) + self.position_embedding(position_ids)
        bias = causal_bias(attention_mask, 0, t)[:, 0]
        x, hidden, attns = self.encoder(x, bias=bias, output_hidden_states=output_hidden_states,
                                        output_attentions=output_attentions, training=training)
        x = self.final_norm(x)
        if self.eos_token_id == 2:  # configs from before the eos fix: the highest id is eos
            eos_at = tf.argmax(ids, axis=-1, output_type=tf.int32)
        else:
            eos_at = tf.argmax(tf.cast(tf.equal(ids, self.eos_token_id), tf.int32), axis=-1,
                               output_type=tf.int32)
        return x, tf.gather(x, eos_at, batch_dims=1), hidden, attns


def text_tower(config, name="text_model"):
    return CLIPTextTransformer(clip_tower_spec(config), config.vocab_size,
                               config.max_position_embeddings, config.eos_token_id, name=name)


def vision_tower(config, name="vision_model", interpolate=False):
    return VisionTransformer(clip_tower_spec(config), pre_norm=True, post_norm=POST_NORM_POOLED,
                             interpolate=interpolate, name=name)


def tower_output(result):
    x, pooled, hidden, attns = result
    return outputs.TFBaseModelOutputWithPooling(last_hidden_state=x, pooler_output=pooled,
                                                hidden_states=hidden, attentions=attns)


def contrastive_loss(logits_per_text):
    """transformers' symmetric CLIP loss: cross-entropy of each text against the images and of
    each image against the texts, with the matching pairs on the diagonal."""
    def ce(logits):
        labels = tf.range(tf.shape(logits)[0])
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))

    return (ce(logits_per_text) + ce(tf.transpose(logits_per_text))) / 2.0


def similarity_logits(text_embeds, image_embeds, logit_scale):
    """(logits_per_text, logits_per_image, normalised text, normalised image) in float32."""
    text = tf.math.l2_normalize(tf.cast(text_embeds, tf.float32), axis=-1, epsilon=1e-30)
    image = tf.math.l2_normalize(tf.cast(image_embeds, tf.float32), axis=-1, epsilon=1e-30)
    per_text = tf.matmul(text, image, transpose_b=True) * tf.exp(
        tf.cast(logit_scale, tf.float32))
    return per_text, tf.transpose(per_text), text, image


@register_serializable()
class CLIPMainLayer(keras.layers.Layer):
    """Both towers, their projections and the learned temperature (a subclass sets another
    ``config_class``, and ``interpolate`` for images of any size: CLIPSeg)."""

    config_class = CLIPConfig
    interpolate = False

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        tc, vc = config.text_config, config.vision_config
        self.text_model = text_tower(tc)
        self.vision_model = vision_tower(vc, interpolate=self.interpolate)
        self.visual_projection = Dense(vc.hidden_size, config.projection_dim, use_bias=False,
                                       name="visual_projection")
        self.text_projection = Dense(tc.hidden_size, config.projection_dim, use_bias=False,
                                     name="text_projection")

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(cls.config_class.from_dict(config.pop("config")), **config)

    def build(self, input_shape=None):
        build_sublayers(self)
        value = float(self.config.logit_scale_init_value)
        self.logit_scale = add_weight(self, "logit_scale", (), keras.initializers.Constant(value))
        self.built = True


class TFCLIPPreTrainedModel(TFPreTrainedModel):
    config_class = CLIPConfig
    base_model_prefix = "clip"
    converter = convert
    main_input_name = "input_ids"
    model_input_names = ("input_ids", "pixel_values", "attention_mask", "position_ids")

    def load_hf_state(self, state, ignore_mismatched_sizes=False, source="checkpoint"):
        # a legacy tf_model.h5 of transformers 4.x's TFCLIP* classes loads too
        return super().load_hf_state(convert.LegacyTFNames(state), ignore_mismatched_sizes,
                                     source=source)

    def _options(self, output_hidden_states, output_attentions):
        if output_hidden_states is None:
            output_hidden_states = getattr(self.config, "output_hidden_states", False)
        if output_attentions is None:
            output_attentions = getattr(self.config, "output_attentions", False)
        return bool(output_hidden_states), bool(output_attentions)


class TFCLIPModel(TFCLIPPreTrainedModel):
    """``model(input_ids=..., pixel_values=..., attention_mask=...)`` -> ``logits_per_image``
    (images x texts), ``logits_per_text``, the normalised embeddings and both towers'
    outputs; ``return_loss=True`` adds the contrastive loss."""

    hf_architecture = "CLIPModel"
    main_layer_class = CLIPMainLayer

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.clip = self.main_layer_class(config, name="clip")

    def get_input_embeddings(self):
        return self.clip.text_model.token_embedding

    def get_text_features(self, input_ids=None, attention_mask=None, position_ids=None,
                          training=False, **kwargs):
        """(batch, projection_dim) projected pooled text states."""
        self.build_weights()
        input_ids, kwargs = self._unpack(input_ids, dict(attention_mask=attention_mask,
                                                         position_ids=position_ids, **kwargs))
        self._reject(kwargs, ("attention_mask", "position_ids"))
        _, pooled, _, _ = self.clip.text_model(input_ids, attention_mask=kwargs.get(
            "attention_mask"), position_ids=kwargs.get("position_ids"), training=training)
        return self.clip.text_projection(pooled)

    def get_image_features(self, pixel_values=None, training=False, **kwargs):
        """(batch, projection_dim) projected pooled image states."""
        self.build_weights()
        pixel_values, kwargs = self._unpack(pixel_values, kwargs)
        pixel_values = kwargs.pop("pixel_values", pixel_values)
        self._reject(kwargs, ())
        _, pooled, _, _ = self.clip.vision_model(pixel_values, training=training)
        return self.clip.visual_projection(pooled)

    def _reject(self, kwargs, allowed):
        unknown = sorted(k for k, v in kwargs.items() if v is not None and k not in allowed)
        if unknown:
            raise InvalidInputError(
                f"{type(self).__name__} got unexpected inputs {unknown}; it accepts "
                f"{list(self.model_input_names)} and return_loss. (tfhf does not interpolate "
                "position embeddings: resize images to the model's image_size.)")

    def call(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None,
             return_loss=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False, **kwargs):
        input_ids, kw = self._unpack(input_ids, dict(
            pixel_values=pixel_values, attention_mask=attention_mask,
            position_ids=position_ids, return_loss=return_loss, **kwargs))
        self._reject(kw, self.model_input_names + ("return_loss",))
        if input_ids is None or kw.get("pixel_values") is None:
            raise InvalidInputError("TFCLIPModel needs input_ids and pixel_values (use "
                                    "get_text_features / get_image_features for one side).")
        hs, att = self._options(output_hidden_states, output_attentions)
        opts = dict(output_hidden_states=hs, output_attentions=att, training=training)
        text = tower_output(self.clip.text_model(
            input_ids, attention_mask=kw.get("attention_mask"),
            position_ids=kw.get("position_ids"), **opts))
        vision = tower_output(self.clip.vision_model(kw["pixel_values"], **opts))
        per_text, per_image, text_embeds, image_embeds = similarity_logits(
            self.clip.text_projection(text.pooler_output),
            self.clip.visual_projection(vision.pooler_output), self.clip.logit_scale)
        loss = contrastive_loss(per_text) if kw.get("return_loss") else None
        return self._finish(outputs.TFCLIPOutput(
            loss=loss, logits_per_image=per_image, logits_per_text=per_text,
            text_embeds=text_embeds, image_embeds=image_embeds, text_model_output=text,
            vision_model_output=vision), return_dict)


class _TowerModel(TFCLIPPreTrainedModel):
    """One CLIP tower on its own config (``TFCLIPTextModel`` / ``TFCLIPVisionModel``)."""

    def weight_table(self):
        names = self.tower_table(self.config.num_hidden_layers)
        return {k: f"{self.base_model_prefix}.{v}" for k, v in names.items()}

    def run_tower(self, inputs, output_hidden_states, output_attentions, return_dict, training,
                  kwargs):
        inputs, kw = self._unpack(inputs, kwargs)
        inputs = kw.pop(self.main_input_name, inputs)
        allowed = set(self.model_input_names)
        unknown = sorted(k for k, v in kw.items() if v is not None and k not in allowed)
        if unknown or inputs is None:
            raise InvalidInputError(f"{type(self).__name__} takes {list(self.model_input_names)}"
                                    f"; got {unknown or 'no ' + self.main_input_name}.")
        hs, att = self._options(output_hidden_states, output_attentions)
        tower = getattr(self, self.base_model_prefix)
        result = tower(inputs, **{k: v for k, v in kw.items() if v is not None},
                       output_hidden_states=hs, output_attentions=att, training=training)
        return self._finish(tower_output(result), return_dict)


class TFCLIPTextModel(_TowerModel):
    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    hf_architecture = "CLIPTextModel"
    model_input_names = ("input_ids", "attention_mask", "position_ids")
    tower_table = staticmethod(convert.text_weights)

    def call(self, input_ids=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False, **kwargs):
        return self.run_tower(input_ids, output_hidden_states, output_attentions, return_dict,
                              training, kwargs)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.text_model = text_tower(config)


class TFCLIPVisionModel(_TowerModel):
    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    hf_architecture = "CLIPVisionModel"
    main_input_name = "pixel_values"
    model_input_names = ("pixel_values",)
    tower_table = staticmethod(convert.vision_weights)

    def call(self, pixel_values=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False, **kwargs):
        return self.run_tower(pixel_values, output_hidden_states, output_attentions,
                              return_dict, training, kwargs)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.vision_model = vision_tower(config)
