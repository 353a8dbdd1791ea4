"""Whisper (Radford et al., 2022): a pre-LayerNorm encoder-decoder over log-mel features.

The encoder reads ``input_features`` (batch, num_mel_bins, 2 * max_source_positions): two
1-D convolutions (kernel 3; the second with stride 2) each followed by GELU halve the time
axis, a saved sinusoidal position table is added, then pre-LN layers and a final LayerNorm.
The decoder is a pre-LN text decoder with learned positions and a final LayerNorm; its
cross-attention never masks (Whisper does not mask audio). ``proj_out`` is tied to the
decoder's token embeddings. ``k_proj`` has no bias.

``from_pretrained`` also takes a CTranslate2 Whisper folder (``model.bin`` + its
``config.json``, as faster-whisper uses) and converts it on the fly: see
:mod:`tfhf.models.whisper.ct2` and docs/whisper-ct2.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import tensorflow as tf
from transformers import WhisperConfig

from ...errors import InvalidInputError
from ...layers.activations import get_activation
from ...layers.conv import Conv1D
from ...layers.specs import LEARNED, SINUSOIDAL_WEIGHT, Seq2SeqSpec
from ..seq2seq import (Seq2SeqMainLayer, TFSeq2SeqLMBase, TFSeq2SeqModel,
                       TFSeq2SeqPreTrainedModel)
from . import convert


@dataclass
class WhisperSpec(Seq2SeqSpec):
    num_mel_bins: int = 80


def whisper_spec(config) -> WhisperSpec:
    return WhisperSpec(
        vocab_size=config.vocab_size, d_model=config.d_model,
        encoder_layers=config.encoder_layers, decoder_layers=config.decoder_layers,
        encoder_heads=config.encoder_attention_heads,
        decoder_heads=config.decoder_attention_heads, encoder_ffn=config.encoder_ffn_dim,
        decoder_ffn=config.decoder_ffn_dim, activation=config.activation_function,
        key_bias=False, norm="layer", norm_eps=1e-5, pre_norm=True, embedding_norm=False,
        final_norm=True, encoder_positions=SINUSOIDAL_WEIGHT, decoder_positions=LEARNED,
        max_source_positions=config.max_source_positions,
        max_target_positions=config.max_target_positions, position_offset=0,
        padding_idx=config.pad_token_id if config.pad_token_id is not None else 0,
        embed_scale=1.0,  # transformers' Whisper never scales embeddings
        init_std=config.init_std, dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        activation_dropout=config.activation_dropout, num_mel_bins=config.num_mel_bins)


class WhisperMainLayer(Seq2SeqMainLayer):
    """The shared encoder-decoder with Whisper's convolutional front end."""

    def __init__(self, spec: WhisperSpec, with_decoder=True, **kwargs):
        super().__init__(spec, with_decoder=with_decoder, **kwargs)
        d, std = spec.d_model, spec.init_std
        self.conv1 = Conv1D(spec.num_mel_bins, d, 3, padding=1, init_std=std, name="conv1")
        self.conv2 = Conv1D(d, d, 3, stride=2, padding=1, init_std=std, name="conv2")
        self.act = get_activation("gelu")

    def build(self, input_shape=None):
        for layer in (self.conv1, self.conv2):
            if not layer.built:
                layer.build(None)
        super().build(input_shape)

    def encoder_inputs(self, features):
        """(batch, mels, frames) -> (batch, frames / 2, d_model) and positions 0..S-1."""
        x = tf.transpose(features, [0, 2, 1])
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return x, tf.range(tf.shape(x)[1], dtype=tf.int32)[None, :]

    def encode(self, inputs, attention_mask=None, output_hidden_states=False, training=False):
        x, pos = self.encoder_inputs(inputs)
        x, _, hidden = self.encoder(x, pos, None, output_hidden_states=output_hidden_states,
                                    training=training)
        return x, hidden

    def decode(self, ids, attention_mask, encoder_hidden, encoder_mask, cross_kv=None,
               **kwargs):
        # Whisper never masks the audio: every encoder position is seen, whatever mask the
        # caller has (a features-length mask from a feature extractor included)
        length = (tf.shape(cross_kv[0][0])[2] if cross_kv is not None
                  else tf.shape(encoder_hidden)[1])
        every = tf.ones([tf.shape(ids)[0], length], tf.int32)
        return super().decode(ids, attention_mask, encoder_hidden, every, cross_kv=cross_kv,
                              **kwargs)


class TFWhisperPreTrainedModel(TFSeq2SeqPreTrainedModel):
    config_class = WhisperConfig
    base_model_prefix = "model"
    converter = convert
    main_layer_class = WhisperMainLayer
    main_input_name = "input_features"
    model_input_names = ("input_features", "decoder_input_ids", "decoder_attention_mask")
    spec = staticmethod(whisper_spec)

    # ------------------------------------------------------------------ inputs
    def _encoder_input(self, features):
        if features is None:
            raise InvalidInputError("Pass input_features (log-mel features, e.g. from "
                                    "tfhf.audio.WhisperFeatures or WhisperFeatureExtractor).")
        x = tf.convert_to_tensor(features)
        if not x.dtype.is_floating:
            raise InvalidInputError(f"input_features must be floats (log-mel features), got "
                                    f"{x.dtype.name}; token ids go in decoder_input_ids.")
        if x.shape.rank != 3:
            raise InvalidInputError(f"input_features must have shape (batch, num_mel_bins, "
                                    f"frames); got {x.shape}.")
        mels, frames = self.config.num_mel_bins, 2 * self.config.max_source_positions
        if x.shape[1] is not None and x.shape[1] != mels:
            raise InvalidInputError(f"input_features has {x.shape[1]} mel bins; this model "
                                    f"takes num_mel_bins={mels}.")
        if x.shape[2] is not None and x.shape[2] != frames:
            raise InvalidInputError(
                f"Whisper expects input_features of length {frames} (frames), got "
                f"{x.shape[2]}: pad or trim the log-mel features to {frames} frames "
                "(WhisperFeatureExtractor and tfhf.audio.WhisperFeatures do).")
        return x

    def _encoder_mask(self, attention_mask, inputs):
        return None  # Whisper attends to every frame (transformers ignores the mask too)

    def encoder_output_mask(self, attention_mask, encoder_hidden):
        """Every encoder position: Whisper's cross-attention never masks (a features-length
        mask would not even fit the halved encoder length)."""
        return tf.ones(tf.shape(encoder_hidden)[:2], tf.int32)

    @property
    def dummy_inputs(self):
        c = self.config
        return {"input_features": tf.zeros([1, c.num_mel_bins, 2 * c.max_source_positions]),
                "decoder_input_ids": tf.constant([[c.decoder_start_token_id or 0]], tf.int32)}

    @property
    def _default_save_signature(self):
        spec = {"input_features": tf.TensorSpec([None, self.config.num_mel_bins, None],
                                                tf.float32, name="input_features"),
                "decoder_input_ids": tf.TensorSpec([None, None], tf.int32,
                                                   name="decoder_input_ids")}

        @tf.function(input_signature=[spec])
        def serving_default(inputs):
            out = self(inputs, training=False)
            return {k: v for k, v in dict(out).items() if isinstance(v, tf.Tensor)}

        return serving_default

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """As :meth:`TFPreTrainedModel.from_pretrained`; a local CTranslate2 Whisper folder
        (``model.bin`` + CTranslate2's ``config.json``, as faster-whisper uses) is converted
        on the fly: config and generation config inferred, weights split and dequantized in
        memory (nothing is written)."""
        from . import ct2

        path = pretrained_model_name_or_path
        if not (isinstance(path, (str, os.PathLike)) and ct2.is_ct2_folder(os.fspath(path))):
            return super().from_pretrained(path, *args, **kwargs)
        path = os.fspath(path)
        for key in ("gguf_file", "subfolder"):
            if kwargs.get(key):
                raise InvalidInputError(f"{key}= does not apply to the CTranslate2 folder "
                                        f"'{path}'.")
        config, gen = ct2.inferred_configs(path)
        if kwargs.get("config") is None:
            kwargs["config"] = config
        token = ct2.LOADING.set(path)
        try:
            out = super().from_pretrained(path, *args, **kwargs)
        finally:
            ct2.LOADING.reset(token)
        (out[0] if isinstance(out, tuple) else out).generation_config = gen
        return out

    @classmethod
    def _open_checkpoint(cls, source, use_safetensors=None, gguf_file=None):
        from . import ct2

        folder = ct2.LOADING.get()
        if folder is not None:
            return ct2.open_ct2_state(folder)
        return super()._open_checkpoint(source, use_safetensors, gguf_file)


# ``call``'s first argument is named ``input_features``, so ``model(input_features=...)``
# works under tf_keras too (it requires the first argument of ``call``, by name or position)
class TFWhisperModel(TFSeq2SeqModel, TFWhisperPreTrainedModel):
    hf_architecture = "WhisperModel"

    def call(self, input_features=None, attention_mask=None, decoder_input_ids=None,
             decoder_attention_mask=None, encoder_outputs=None, output_hidden_states=None,
             return_dict=None, training=False, **kwargs):
        return super().call(input_features, attention_mask=attention_mask,
                            decoder_input_ids=decoder_input_ids,
                            decoder_attention_mask=decoder_attention_mask,
                            encoder_outputs=encoder_outputs,
                            output_hidden_states=output_hidden_states, return_dict=return_dict,
                            training=training, **kwargs)


class TFWhisperForConditionalGeneration(TFSeq2SeqLMBase, TFWhisperPreTrainedModel):
    hf_architecture = "WhisperForConditionalGeneration"

    def call(self, input_features=None, attention_mask=None, decoder_input_ids=None,
             decoder_attention_mask=None, labels=None, encoder_outputs=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        return super().call(input_features, attention_mask=attention_mask,
                            decoder_input_ids=decoder_input_ids,
                            decoder_attention_mask=decoder_attention_mask, labels=labels,
                            encoder_outputs=encoder_outputs,
                            output_hidden_states=output_hidden_states, return_dict=return_dict,
                            training=training, **kwargs)
