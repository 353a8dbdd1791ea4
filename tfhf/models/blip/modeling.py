"""BLIP (Li et al., 2022) for image captioning: a ViT image encoder and a BERT text decoder
that reads the image through cross-attention.

* Vision: :class:`tfhf.layers.vision.VisionTransformer` with BLIP's fused ``qkv``
  projection, a biased patch convolution, no pre-LayerNorm and ``post_layernorm`` on every
  output state.
* Text: BERT's decoder layers (self-attention, cross-attention, feed-forward, each followed
  by a residual LayerNorm) on word + learned position embeddings and an embedding
  LayerNorm: the post-norm decoder of :mod:`tfhf.layers.seq2seq` (its cross-attention reads
  ``encoder_hidden_size``-wide image states). The LM head is BERT's (dense, activation,
  LayerNorm, the word embeddings as output matrix plus a bias).

``generate`` runs tfhf's compiled encoder-decoder loop: the image is encoded and its
cross-attention keys/values projected once per call. As transformers does, the decoder starts
from ``[DEC]`` (``text_config.bos_token_id``) or from ``input_ids`` whose first token is
replaced by it and whose last token (the tokenizer's ``[SEP]``) is dropped, and stops at
``text_config.sep_token_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from transformers import BlipConfig

from ...errors import InvalidInputError
from ...generation.seq2seq import generate_seq2seq
from ...generation.streamers import as_numpy
from ...layers.specs import LEARNED, Seq2SeqSpec, ViTSpec
from ...layers.vision import POST_NORM_ALL, VisionTransformer, check_pixel_values
from ... import outputs
from ..heads import MaskedLMHead
from ..inputs import merge_first_input
from ..seq2seq import Seq2SeqMainLayer, TFSeq2SeqLMBase
from . import convert


@dataclass
class BlipSpec(Seq2SeqSpec):
    vision: ViTSpec | None = None


def blip_vision_spec(vc) -> ViTSpec:
    return ViTSpec(hidden_size=vc.hidden_size, num_layers=vc.num_hidden_layers,
                   num_heads=vc.num_attention_heads, intermediate_size=vc.intermediate_size,
                   image_size=vc.image_size, patch_size=vc.patch_size,
                   activation=vc.hidden_act, layer_norm_eps=vc.layer_norm_eps, patch_bias=True,
                   fused_qkv=True, param_rank=3, init_std=vc.initializer_range,
                   attention_dropout=vc.attention_dropout)


def blip_spec(config) -> BlipSpec:
    """The text decoder as a post-norm encoder-decoder decoder with no text encoder."""
    tc = config.text_config
    return BlipSpec(
        vocab_size=tc.vocab_size, d_model=tc.hidden_size, encoder_layers=0,
        decoder_layers=tc.num_hidden_layers, encoder_heads=tc.num_attention_heads,
        decoder_heads=tc.num_attention_heads, encoder_ffn=tc.intermediate_size,
        decoder_ffn=tc.intermediate_size, activation=tc.hidden_act, norm="layer",
        norm_eps=tc.layer_norm_eps, pre_norm=False, embedding_norm=True, final_norm=False,
        decoder_positions=LEARNED, max_target_positions=tc.max_position_embeddings,
        init_std=tc.initializer_range, dropout=tc.hidden_dropout_prob,
        attention_dropout=tc.attention_probs_dropout_prob,
        cross_attention_dim=tc.encoder_hidden_size,
        vision=blip_vision_spec(config.vision_config))


class BlipMainLayer(Seq2SeqMainLayer):
    """Word embeddings + the text decoder, with the vision transformer as the encoder."""

    def __init__(self, spec: BlipSpec, with_decoder=True, **kwargs):
        super().__init__(spec, with_decoder=with_decoder, **kwargs)
        self.vision_model = VisionTransformer(spec.vision, post_norm=POST_NORM_ALL,
                                              name="vision_model")

    def build(self, input_shape=None):
        if not self.vision_model.built:
            self.vision_model.build(None)
        super().build(input_shape)

    def encode(self, inputs, attention_mask=None, output_hidden_states=False, training=False):
        x, _, hidden, _ = self.vision_model(inputs, output_hidden_states=output_hidden_states,
                                            training=training)
        return x, hidden


def smoothed_lm_loss(labels, logits, smoothing):
    """transformers' BLIP loss: next-token cross-entropy with label smoothing, -100 ignored,
    averaged over the counted tokens."""
    labels = tf.cast(labels[:, 1:], tf.int32)
    logp = tf.nn.log_softmax(tf.cast(logits[:, :-1], tf.float32), axis=-1)
    valid = tf.not_equal(labels, -100)
    nll = -tf.gather(logp, tf.where(valid, labels, 0), batch_dims=2)
    per_token = (1.0 - smoothing) * nll - smoothing * tf.reduce_mean(logp, axis=-1)
    weights = tf.cast(valid, tf.float32)
    return tf.reduce_sum(per_token * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


class TFBlipForConditionalGeneration(TFSeq2SeqLMBase):
    """``model(pixel_values, input_ids, attention_mask, labels)`` -> caption logits;
    ``generate(pixel_values, input_ids=None)`` -> caption token ids."""

    config_class = BlipConfig
    base_model_prefix = "blip"
    main_input_name = "pixel_values"
    main_layer_class = BlipMainLayer
    hf_architecture = "BlipForConditionalGeneration"
    model_input_names = ("pixel_values", "input_ids", "attention_mask")
    tied_keys = convert.TIED_KEYS
    spec = staticmethod(blip_spec)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        tc = config.text_config
        self.mlm = MaskedLMHead(tc.hidden_size, tc.vocab_size, tc.hidden_act, tc.layer_norm_eps,
                                tied=True, init_std=tc.initializer_range, name="mlm")

    @property
    def logits_size(self):
        return self.config.text_config.vocab_size

    def tied_head(self):
        return True

    def weight_table(self):
        return convert.weights(self.config)

    def lm_logits(self, x):
        return tf.cast(self.mlm(x, embedding=self.model.shared), tf.float32)

    def _encoder_input(self, inputs):
        return check_pixel_values(inputs, self.seq2seq_spec.vision)

    def _encoder_mask(self, attention_mask, inputs):
        return None  # every image patch is attended

    def call(self, pixel_values=None, input_ids=None, attention_mask=None, labels=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        kw = merge_first_input(pixel_values, "pixel_values", dict(
            input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs))
        pixel_values = kw.pop("pixel_values", None)
        ids, mask, labels = kw.pop("input_ids"), kw.pop("attention_mask"), kw.pop("labels")
        self._check_unknown(kw)
        if pixel_values is None or ids is None:
            raise InvalidInputError("TFBlipForConditionalGeneration needs pixel_values and "
                                    "input_ids (the caption tokens); use generate() to write "
                                    "a caption.")
        if output_hidden_states is None:
            output_hidden_states = getattr(self.config, "output_hidden_states", False)
        image, hidden = self.model.encode(self._encoder_input(pixel_values),
                                          output_hidden_states=bool(output_hidden_states),
                                          training=training)
        ids = self._ids(ids, "input_ids")
        mask = tf.ones_like(ids) if mask is None else tf.cast(mask, tf.int32)
        x, _, _ = self.model.decode(ids, mask, image, tf.ones(tf.shape(image)[:2], tf.int32),
                                    training=training)
        logits = self.lm_logits(x)
        loss = None if labels is None else smoothed_lm_loss(
            tf.convert_to_tensor(labels), logits, self.config.text_config.label_smoothing)
        return self._finish(outputs.TFBlipForConditionalGenerationModelOutput(
            loss=loss, logits=logits, image_embeds=image, last_hidden_state=image,
            hidden_states=None if hidden is None else tuple(hidden)), return_dict)

    def generate(self, pixel_values=None, input_ids=None, attention_mask=None,
                 generation_config=None, streamer=None, seed=None, **kwargs):
        """Caption ``pixel_values`` (batch, 3, size, size); ``input_ids`` (every row the same
        length, ending in ``[SEP]``) is a text prompt the caption continues. Returns the
        decoder tokens, ``[DEC]`` first (transformers' BLIP ``generate``)."""
        if pixel_values is None:
            pixel_values = kwargs.pop("pixel_values", None)
        if pixel_values is None:
            raise InvalidInputError("generate needs pixel_values (batch, 3, height, width).")
        pixel_values = check_pixel_values(pixel_values, self.seq2seq_spec.vision)
        tc = self.config.text_config
        batch = int(pixel_values.shape[0])
        if input_ids is None:
            prompt = np.full((batch, 1), tc.bos_token_id, np.int64)
            mask = None
        else:
            prompt = np.array(as_numpy(input_ids), dtype=np.int64)
            if prompt.ndim != 2 or prompt.shape[1] < 2:
                raise InvalidInputError(f"input_ids must be (batch, length >= 2) token ids "
                                        f"ending with [SEP]; got shape {prompt.shape}.")
            prompt[:, 0] = tc.bos_token_id
            prompt = prompt[:, :-1]
            mask = None if attention_mask is None else as_numpy(attention_mask)[:, :-1]
        for key, value in (("eos_token_id", tc.sep_token_id), ("pad_token_id", tc.pad_token_id),
                           ("decoder_start_token_id", tc.bos_token_id),
                           ("bos_token_id", tc.bos_token_id)):
            if kwargs.get(key) is None and (generation_config is None
                                            or getattr(generation_config, key) is None):
                kwargs[key] = value
        return generate_seq2seq(self, None, generation_config=generation_config,
                                streamer=streamer, seed=seed, pixel_values=pixel_values,
                                decoder_input_ids=prompt, decoder_attention_mask=mask, **kwargs)
