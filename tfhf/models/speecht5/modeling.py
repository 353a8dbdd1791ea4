"""SpeechT5 text-to-speech (Ao et al., 2022): a text encoder pre-net, a post-LayerNorm
transformer encoder-decoder, a speech decoder pre-net and a post-net.

The encoder and decoder are the shared :class:`~tfhf.layers.seq2seq.Seq2SeqStack` (post-norm
layers; the encoder has a LayerNorm before its first layer and Shaw-style relative position
keys, the decoder no positions of its own: the speech pre-net adds them). The pre-nets and the
post-net live in :mod:`.layers`; the compiled synthesis loop (``generate_speech``) in
:mod:`.generate`; the HiFi-GAN vocoder in :mod:`.hifigan`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
from transformers import SpeechT5Config

from ... import outputs
from ...errors import InvalidInputError
from ...layers.seq2seq import Seq2SeqStack, decoder_self_bias, encoder_bias
from ...layers.specs import NO_POSITIONS, RELATIVE_KEYS, Seq2SeqSpec
from ..base import TFPreTrainedModel
from ..inputs import check_token_ids, mask_or_ones
from . import convert
from .layers import SpeechDecoderPostnet, SpeechDecoderPrenet, TextEncoderPrenet


def speecht5_spec(config) -> Seq2SeqSpec:
    return Seq2SeqSpec(
        vocab_size=config.vocab_size, d_model=config.hidden_size,
        encoder_layers=config.encoder_layers, decoder_layers=config.decoder_layers,
        encoder_heads=config.encoder_attention_heads, decoder_heads=config.decoder_attention_heads,
        encoder_ffn=config.encoder_ffn_dim, decoder_ffn=config.decoder_ffn_dim,
        activation=config.hidden_act, norm="layer", norm_eps=config.layer_norm_eps,
        pre_norm=False, embedding_norm=True, final_norm=False,
        encoder_positions=RELATIVE_KEYS, decoder_positions=NO_POSITIONS,
        max_source_positions=config.max_text_positions,
        max_target_positions=config.max_speech_positions,
        relative_max_distance=config.encoder_max_relative_position,
        init_std=config.initializer_range, dropout=config.hidden_dropout,
        attention_dropout=config.attention_dropout, activation_dropout=config.activation_dropout)


class TFSpeechT5PreTrainedModel(TFPreTrainedModel):
    config_class = SpeechT5Config
    base_model_prefix = "speecht5"
    converter = convert


class TFSpeechT5ForTextToSpeech(TFSpeechT5PreTrainedModel):
    """Text -> log-mel spectrogram (and, with :meth:`generate_speech` and a vocoder, speech).

    ``model(input_ids, decoder_input_values=frames, speaker_embeddings=...)`` runs the
    teacher-forced decoder (transformers' ``forward``); :meth:`generate_speech` (also
    ``generate``) the autoregressive loop, compiled with XLA.
    """

    hf_architecture = "SpeechT5ForTextToSpeech"
    task = "text_to_spectrogram"
    model_input_names = ("input_ids", "attention_mask", "decoder_input_values",
                         "speaker_embeddings")

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = speecht5_spec(config)
        self.seq2seq_spec = spec
        self.text_prenet = TextEncoderPrenet(config, name="text_prenet")
        self.encoder = Seq2SeqStack(spec, decoder=False, name="encoder")
        self.speech_prenet = SpeechDecoderPrenet(config, name="speech_prenet")
        self.decoder = Seq2SeqStack(dataclasses.replace(spec, embedding_norm=False),
                                    decoder=True, name="decoder")
        self.postnet = SpeechDecoderPostnet(config, name="postnet")
        self._compiled = {}

    # ------------------------------------------------------------------ weights
    def weight_table(self):
        return convert.text_to_speech_weights(self.config)

    def hf_state_dict(self):
        state = super().hf_state_dict()
        for name in convert.batch_norm_counters(self.config):
            state[name] = np.zeros((), np.int64)
        return state

    # ------------------------------------------------------------------ parts
    def encode(self, input_ids, attention_mask, output_hidden_states=False, training=False):
        x = self.text_prenet(input_ids, training=training)
        x, _, hidden = self.encoder(x, None, encoder_bias(attention_mask),
                                    output_hidden_states=output_hidden_states, training=training)
        return x, hidden

    def check_text(self, input_ids):
        """Integer ids (batch, length), 1 <= length <= max_text_positions, in the vocabulary."""
        ids = tf.convert_to_tensor(input_ids)
        if ids.shape.rank == 1:
            ids = ids[None]
        if ids.shape.rank == 2 and ids.shape[1] == 0:
            raise InvalidInputError("input_ids is empty: SpeechT5 needs at least one token of "
                                    "text to read (got an empty text?).")
        n = self.config.max_text_positions
        return check_token_ids(ids, self.config.vocab_size, max_length=n, length_note=(
            f" (max_text_positions={n}): SpeechT5 refuses longer text rather than cutting it; "
            "split the text into sentences and synthesize them one by one."))

    # ------------------------------------------------------------------ forward
    def call(self, input_ids=None, attention_mask=None, decoder_input_values=None,
             decoder_attention_mask=None, speaker_embeddings=None, encoder_outputs=None,
             output_hidden_states=None, return_dict=None, prenet_dropout=True, seed=None,
             training=False, **kwargs):
        """Teacher-forced forward pass: ``decoder_input_values`` (batch, frames, mels) are the
        decoder's mel inputs (an all-zero first frame starts a spectrogram). Returns the
        spectrogram after and before the post-net and the stop-token logits."""
        input_ids, kwargs = self._unpack(input_ids, kwargs)
        attention_mask = kwargs.pop("attention_mask", attention_mask)
        decoder_input_values = kwargs.pop("decoder_input_values", decoder_input_values)
        speaker_embeddings = kwargs.pop("speaker_embeddings", speaker_embeddings)
        if kwargs:
            raise InvalidInputError(f"TFSpeechT5ForTextToSpeech got unexpected inputs "
                                    f"{sorted(kwargs)}.")
        if decoder_input_values is None:
            raise InvalidInputError("Pass decoder_input_values (batch, frames, num_mel_bins) "
                                    "for the teacher-forced pass, or use generate_speech(...) "
                                    "to synthesize speech from text.")
        ids = self.check_text(input_ids)
        mask = mask_or_ones(attention_mask, ids)
        if encoder_outputs is None:
            enc, enc_hidden = self.encode(ids, mask, bool(output_hidden_states), training)
        else:
            enc, enc_hidden = encoder_outputs[0], None
        frames = tf.convert_to_tensor(decoder_input_values)
        t = tf.shape(frames)[1]
        speakers = None
        if speaker_embeddings is not None:
            from .speakers import check_speaker_embeddings

            speakers = check_speaker_embeddings(speaker_embeddings, self.config,
                                                int(ids.shape[0]) if ids.shape[0] else None)
        seed = tf.constant([0, 0], tf.int32) if seed is None else tf.cast(seed, tf.int32)
        x = self.speech_prenet(frames, tf.range(t), speakers, seed=seed,
                               prenet_dropout=prenet_dropout, training=training)
        dmask = (tf.ones(tf.shape(frames)[:2], tf.int32) if decoder_attention_mask is None
                 else tf.cast(decoder_attention_mask, tf.int32))
        cross_kv = self.decoder.cross_key_values(enc)
        h, _, dec_hidden = self.decoder(x, None, decoder_self_bias(dmask, 0, t),
                                        cross_kv=cross_kv, cross_bias=encoder_bias(mask),
                                        output_hidden_states=bool(output_hidden_states),
                                        training=training)
        before = self.postnet.frames(h)
        out = outputs.TFSeq2SeqSpectrogramOutput(
            spectrogram=self.postnet.postnet(before, training=training),
            spectrogram_before_postnet=before, stop_logits=self.postnet.stop_logits(h),
            decoder_hidden_states=tuple(dec_hidden) if dec_hidden else None,
            encoder_last_hidden_state=enc,
            encoder_hidden_states=tuple(enc_hidden) if enc_hidden else None)
        return self._finish(out, return_dict)

    # ------------------------------------------------------------------ synthesis
    def generate_speech(self, input_ids, speaker_embeddings=None, attention_mask=None,
                        threshold=0.5, minlenratio=0.0, maxlenratio=20.0, vocoder=None,
                        output_cross_attentions=False, return_output_lengths=False,
                        prenet_dropout=True, seed=None, jit_compile=True):
        """transformers' ``generate_speech``; see :func:`.generate.generate_speech`."""
        from .generate import generate_speech

        return generate_speech(self, input_ids, speaker_embeddings, attention_mask=attention_mask,
                               threshold=threshold, minlenratio=minlenratio,
                               maxlenratio=maxlenratio, vocoder=vocoder,
                               output_cross_attentions=output_cross_attentions,
                               return_output_lengths=return_output_lengths,
                               prenet_dropout=prenet_dropout, seed=seed,
                               jit_compile=jit_compile)

    generate = generate_speech

    @property
    def dummy_inputs(self):
        c = self.config
        return {"input_ids": tf.constant([[4, 5, 6]], tf.int32),
                "decoder_input_values": tf.zeros([1, 2, c.num_mel_bins]),
                "speaker_embeddings": tf.zeros([1, c.speaker_embedding_dim])}
