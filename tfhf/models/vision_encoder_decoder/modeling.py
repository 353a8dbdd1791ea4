"""VisionEncoderDecoder with Donut's pieces (Kim et al., 2022): a DonutSwin image encoder and
an MBart text decoder with cross-attention, as ``naver-clova-ix/donut-*`` checkpoints use.

The decoder is tfhf's encoder-decoder stack (:mod:`tfhf.layers.seq2seq`) with MBart's
spec: BART's blocks with pre-LayerNorm residuals and a final LayerNorm (:func:`mbart_spec`).
``generate`` runs the compiled encoder-decoder loop: the image is encoded once per call and
the task prompt (``<s_docvqa><s_question>...</s_question><s_answer>``) is the decoder prompt,
used as given (Donut prompts carry their own start token, as in transformers). Encoder
states wider than the decoder go through ``enc_to_dec_proj`` as in transformers.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
from transformers import VisionEncoderDecoderConfig

from ..._keras import keras
from ...errors import ConfigError, UnsupportedModelError
from ...layers.core import Dense, Embedding
from ...layers.seq2seq import Seq2SeqStack
from ...layers.specs import Seq2SeqSpec
from ...layers.swin import SwinSpec, relative_position_index
from ..bart.modeling import bart_spec
from ..donut import convert as donut_convert
from ..donut.modeling import DonutSwinMainLayer, check_pixel_values, swin_spec
from ..seq2seq import Seq2SeqMainLayer, TFSeq2SeqLMBase
from . import convert


def mbart_spec(config, **overrides) -> Seq2SeqSpec:
    """MBart = BART with pre-LayerNorm residuals and a final LayerNorm per stack."""
    return bart_spec(config, **{"pre_norm": True, "final_norm": True, **overrides})


@dataclass
class VisionSeq2SeqSpec(Seq2SeqSpec):
    """The decoder's spec plus the image encoder's."""

    encoder_spec: SwinSpec | None = None


def vision_seq2seq_spec(config) -> VisionSeq2SeqSpec:
    enc, dec = config.encoder, config.decoder
    if enc.model_type != "donut-swin":
        raise UnsupportedModelError(
            f"tfhf's TFVisionEncoderDecoderModel takes a DonutSwin encoder; this config's "
            f"encoder is '{enc.model_type}'.")
    if dec.model_type != "mbart":
        raise UnsupportedModelError(
            f"tfhf's TFVisionEncoderDecoderModel takes an MBart decoder; this config's decoder "
            f"is '{dec.model_type}'.")
    cross = getattr(dec, "cross_attention_hidden_size", None)
    if cross is not None and cross != dec.d_model:
        raise ConfigError(f"decoder.cross_attention_hidden_size={cross} differs from "
                          f"d_model={dec.d_model}; MBart's cross-attention cannot read it.")
    base = mbart_spec(dec)
    return VisionSeq2SeqSpec(**{**vars(base), "encoder_layers": 0,
                                "encoder_spec": swin_spec(enc)})


class VisionSeq2SeqMainLayer(Seq2SeqMainLayer):
    """Image encoder + token embeddings + decoder stack (+ the encoder-to-decoder projection
    when their widths differ)."""

    def __init__(self, spec: VisionSeq2SeqSpec, with_decoder=True, **kwargs):
        keras.layers.Layer.__init__(self, **kwargs)
        self.spec = spec
        self.encoder = DonutSwinMainLayer(spec.encoder_spec, name="encoder")
        self.shared = Embedding(spec.vocab_size, spec.d_model, spec.init_std, name="shared")
        self.decoder = Seq2SeqStack(spec, decoder=True, name="decoder")
        width = spec.encoder_spec.hidden_size
        self.enc_to_dec_proj = (Dense(width, spec.d_model, init_std=spec.init_std,
                                      name="enc_to_dec_proj") if width != spec.d_model else None)

    def build(self, input_shape=None):
        for layer in (self.encoder, self.shared, self.decoder, self.enc_to_dec_proj):
            if layer is not None and not layer.built:
                layer.build(None)
        self.built = True

    def project(self, encoder_hidden):
        return encoder_hidden if self.enc_to_dec_proj is None else \
            self.enc_to_dec_proj(encoder_hidden)

    def encode(self, inputs, attention_mask=None, output_hidden_states=False, training=False):
        return self.encoder(inputs, output_hidden_states=output_hidden_states)

    def decode(self, ids, attention_mask, encoder_hidden, encoder_mask, cross_kv=None,
               **kwargs):
        if cross_kv is None:
            encoder_hidden = self.project(encoder_hidden)
            length = tf.shape(encoder_hidden)[1]
        else:
            length = tf.shape(cross_kv[0][0])[2]
        every = tf.ones([tf.shape(ids)[0], length], tf.int32)  # images are never masked
        return super().decode(ids, attention_mask, encoder_hidden, every, cross_kv=cross_kv,
                              **kwargs)


class TFVisionEncoderDecoderModel(TFSeq2SeqLMBase):
    """Donut: ``model(pixel_values, decoder_input_ids=...)`` -> logits; ``generate(pixel_values,
    decoder_input_ids=task_prompt_ids)``."""

    config_class = VisionEncoderDecoderConfig
    hf_architecture = "VisionEncoderDecoderModel"
    task = "vision2seq"
    base_model_prefix = ""
    converter = convert
    main_layer_class = VisionSeq2SeqMainLayer
    main_input_name = "pixel_values"
    model_input_names = ("pixel_values", "decoder_input_ids", "decoder_attention_mask")
    keeps_decoder_prompt = True  # generate: the prompt is not prefixed with the start token
    spec = staticmethod(vision_seq2seq_spec)

    @property
    def logits_size(self):
        return int(self.config.decoder.vocab_size)

    def tied_head(self):
        return bool(getattr(self.config.decoder, "tie_word_embeddings", True))

    def weight_table(self):
        table = {k: f"model.{v}" for k, v in convert.base_weights(self.config).items()}
        if not self.tied_head():
            table["decoder.lm_head.weight"] = "lm_head.kernel"
        return table

    @property
    def tied_keys(self):
        return set(convert.tied_keys(self.config)) if self.tied_head() else set()

    def hf_state_dict(self):
        """As PyTorch saves it: with the Swin relative-position-index buffers."""
        state = super().hf_state_dict()
        keys = donut_convert.relative_index_keys(self.config.encoder, "encoder.")
        state.update({k: relative_position_index(w) for k, w in keys.items()})
        return state

    # ------------------------------------------------------------------ inputs
    def _encoder_input(self, pixel_values):
        return check_pixel_values(pixel_values, self.config.encoder.num_channels)

    def _encoder_mask(self, attention_mask, inputs):
        return None

    def encoder_output_mask(self, attention_mask, encoder_hidden):
        return tf.ones(tf.shape(encoder_hidden)[:2], tf.int32)

    def generation_max_source_length(self):
        return None

    def _decoder_start(self):
        start = getattr(self.config, "decoder_start_token_id", None)
        pad = getattr(self.config, "pad_token_id", None)
        if start is None or pad is None:
            raise ConfigError("Training with labels needs config.decoder_start_token_id and "
                              "config.pad_token_id (set them on the model config, as for "
                              "transformers' VisionEncoderDecoderModel), or pass "
                              "decoder_input_ids.")
        return pad, start

    def cross_cache(self, encoder_hidden):
        self.build_weights()
        hidden = self.model.project(tf.cast(encoder_hidden, self.cache_dtype))
        return tuple((k, v) for k, v in self.model.decoder.cross_key_values(hidden))

    @property
    def dummy_inputs(self):
        c = self.config.encoder
        h, w = (c.image_size, c.image_size) if isinstance(c.image_size, int) else c.image_size
        return {"pixel_values": tf.zeros([1, c.num_channels, h, w]),
                "decoder_input_ids": tf.constant([[0]], tf.int32)}

    def call(self, pixel_values=None, decoder_input_ids=None, decoder_attention_mask=None,
             labels=None, encoder_outputs=None, output_hidden_states=None, return_dict=None,
             training=False, **kwargs):
        return super().call(pixel_values, decoder_input_ids=decoder_input_ids,
                            decoder_attention_mask=decoder_attention_mask, labels=labels,
                            encoder_outputs=encoder_outputs,
                            output_hidden_states=output_hidden_states, return_dict=return_dict,
                            training=training, **kwargs)


__all__ = ["TFVisionEncoderDecoderModel", "mbart_spec"]
