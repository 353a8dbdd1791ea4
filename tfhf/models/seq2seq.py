"""Encoder-decoder models: the backbone shared by T5, BART, M2M100/NLLB and Whisper, and the
encoder-decoder cache contract (docs/generation-design.md, "Encoder-decoder").

A family describes itself with a :class:`~tfhf.layers.seq2seq.Seq2SeqSpec` and picks its
classes by mixing its ``TF<Family>PreTrainedModel`` with :class:`TFSeq2SeqModel` (bare
encoder-decoder) or :class:`TFSeq2SeqLMBase` (+ LM head):

* ``model(input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, labels,
  encoder_outputs)``; with ``labels`` and no ``decoder_input_ids`` the decoder inputs are
  the labels shifted right behind ``decoder_start_token_id``; the loss ignores -100;
* ``encode``, ``init_cache``, ``cross_cache``, ``decoder_forward_with_cache``: see
  :class:`TFSeq2SeqLMBase`.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import add_weight, keras
from ..errors import InvalidInputError
from ..generation.seq2seq import Seq2SeqGenerationMixin
from ..layers.core import Dense, Embedding
from ..layers.seq2seq import (Seq2SeqStack, decoder_self_bias, encoder_bias, padded_position_ids,
                              shift_tokens_right)
from ..layers.specs import LEARNED, SINUSOIDAL, Seq2SeqSpec
from ..training import losses
from .. import outputs
from .base import TFPreTrainedModel
from .inputs import check_token_ids, mask_or_ones, reject_unexpected


class Seq2SeqMainLayer(keras.layers.Layer):
    """Shared token embeddings + encoder stack + decoder stack."""

    def __init__(self, spec: Seq2SeqSpec, with_decoder=True, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.shared = Embedding(spec.vocab_size, spec.d_model, spec.init_std, name="shared")
        # no text encoder when the encoder is another model (BLIP's vision transformer)
        self.encoder = (Seq2SeqStack(spec, decoder=False, name="encoder")
                        if spec.encoder_layers else None)
        self.decoder = Seq2SeqStack(spec, decoder=True, name="decoder") if with_decoder else None

    def build(self, input_shape=None):
        for layer in (self.shared, self.encoder, self.decoder):
            if layer is not None and not layer.built:
                layer.build(None)
        self.built = True

    def embed(self, ids):
        x = self.shared(ids)
        if self.spec.embed_scale != 1.0:
            x = x * tf.cast(self.spec.embed_scale, x.dtype)
        return x

    def positions(self, stack, ids, past_length=0):
        if stack.position_kind == SINUSOIDAL:
            return padded_position_ids(ids, self.spec.padding_idx, past_length)
        t = tf.shape(ids)[1]
        return tf.range(past_length, past_length + t, dtype=tf.int32)[None, :]

    def encoder_inputs(self, inputs):
        """Token ids -> (scaled embeddings, position ids); Whisper overrides (features)."""
        return self.embed(inputs), self.positions(self.encoder, inputs)

    def encode(self, inputs, attention_mask, output_hidden_states=False, training=False):
        x, pos = self.encoder_inputs(inputs)
        bias = encoder_bias(attention_mask)
        x, _, hidden = self.encoder(x, pos, bias, output_hidden_states=output_hidden_states,
                                    training=training)
        return x, hidden

    def decode(self, ids, attention_mask, encoder_hidden, encoder_mask, position_ids=None,
               cache=None, cache_index=0, cross_kv=None, output_hidden_states=False,
               training=False):
        if position_ids is None:
            position_ids = self.positions(self.decoder, ids)
        elif self.decoder.position_kind == SINUSOIDAL:  # 0-based -> fairseq numbering
            # (a pad token sits on the zero row, as fairseq / transformers number tokens)
            pad = self.spec.padding_idx
            position_ids = tf.where(tf.equal(ids, pad), pad, position_ids + pad + 1)
        if cross_kv is None:
            cross_kv = self.decoder.cross_key_values(encoder_hidden)
        self_bias = decoder_self_bias(attention_mask, cache_index, tf.shape(ids)[1])
        return self.decoder(self.embed(ids), position_ids, self_bias, cache=cache,
                            cache_index=cache_index, cross_kv=cross_kv,
                            cross_bias=encoder_bias(encoder_mask),
                            output_hidden_states=output_hidden_states, training=training)


def _first(encoder_outputs):
    if isinstance(encoder_outputs, dict) or hasattr(encoder_outputs, "keys"):
        return encoder_outputs["last_hidden_state"]
    if isinstance(encoder_outputs, (list, tuple)):
        return encoder_outputs[0]
    return encoder_outputs


class TFSeq2SeqPreTrainedModel(TFPreTrainedModel):
    """A model whose backbone is :class:`Seq2SeqMainLayer` (attribute ``model``).

    Families set ``spec(config)``, ``converter`` (``base_weights(config)`` relative to the
    main layer, ``head_weights(task, config)``, ``tied_keys(config)``) and
    ``base_model_prefix`` (the HF prefix of the backbone in head checkpoints: ``"model"``
    for BART, ``""`` for T5, whose checkpoints have none).
    """

    model_input_names = ("input_ids", "attention_mask", "decoder_input_ids",
                         "decoder_attention_mask")
    main_layer_class = Seq2SeqMainLayer
    with_decoder = True

    @staticmethod
    def spec(config) -> Seq2SeqSpec:  # pragma: no cover - families override
        raise NotImplementedError

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.seq2seq_spec = self.spec(config)
        self.model = self.main_layer_class(self.seq2seq_spec, with_decoder=self.with_decoder,
                                           name="model")

    @property
    def main_layer(self):
        return self.model

    def get_input_embeddings(self):
        return self.model.shared

    def weight_table(self):
        conv, p = self.converter, self.base_model_prefix
        base = conv.base_weights(self.config, with_decoder=self.with_decoder)
        hf = (lambda k: f"{p}.{k}") if (p and self.task is not None) else (lambda k: k)
        table = {hf(k): f"model.{v}" for k, v in base.items()}
        if self.task is not None:
            table.update(conv.head_weights(self.task, self.config))
        return table

    @property
    def tied_keys(self):
        p = self.base_model_prefix
        keys = set(self.converter.tied_keys(self.config))
        return keys | {f"{p}.{k}" for k in keys if p}

    # ------------------------------------------------------------------ inputs
    def _ids(self, ids, name):
        return tf.cast(check_token_ids(ids, self.seq2seq_spec.vocab_size, name), tf.int32)

    def _encoder_input(self, inputs):
        """Checks the encoder's input (token ids; Whisper: log-mel features)."""
        return self._ids(inputs, "input_ids")

    def _encoder_mask(self, attention_mask, inputs):
        return mask_or_ones(attention_mask, inputs)

    def _check_unknown(self, extra, also="labels, encoder_outputs"):
        reject_unexpected(self, extra, self.model_input_names, also=also)

    def _encode_only(self, inputs, attention_mask, output_hidden_states, training):
        """The encoder alone (the models without decoder): ``(last hidden state, hidden
        states or None)``."""
        if inputs is None:
            raise InvalidInputError(f"{type(self).__name__} needs {self.main_input_name}.")
        if output_hidden_states is None:
            output_hidden_states = getattr(self.config, "output_hidden_states", False)
        inputs = self._encoder_input(inputs)
        x, hidden = self.model.encode(inputs, self._encoder_mask(attention_mask, inputs),
                                      bool(output_hidden_states), training)
        return x, (tuple(hidden) if hidden else None)

    def _run(self, inputs, attention_mask, decoder_input_ids, decoder_attention_mask,
             encoder_outputs, output_hidden_states, training):
        if output_hidden_states is None:
            output_hidden_states = getattr(self.config, "output_hidden_states", False)
        output_hidden_states = bool(output_hidden_states)
        if encoder_outputs is None:
            if inputs is None:
                raise InvalidInputError(f"Pass {self.main_input_name} (or encoder_outputs).")
            inputs = self._encoder_input(inputs)
            enc_mask = self._encoder_mask(attention_mask, inputs)
            enc, enc_hidden = self.model.encode(inputs, enc_mask, output_hidden_states,
                                                training)
        else:
            enc, enc_hidden = _first(encoder_outputs), None
            enc_mask = (tf.ones(tf.shape(enc)[:2], tf.int32) if attention_mask is None
                        else tf.cast(attention_mask, tf.int32))
        if decoder_input_ids is None:
            raise InvalidInputError(f"{type(self).__name__} needs decoder_input_ids (or labels, "
                                    "which are shifted right to make them).")
        dec_ids = self._ids(decoder_input_ids, "decoder_input_ids")
        dec_mask = mask_or_ones(decoder_attention_mask, dec_ids)
        x, _, dec_hidden = self.model.decode(dec_ids, dec_mask, enc, enc_mask,
                                             output_hidden_states=output_hidden_states,
                                             training=training)
        return x, enc, (tuple(dec_hidden) if dec_hidden is not None else None), (
            tuple(enc_hidden) if enc_hidden is not None else None)

    def _decoder_start(self):
        start = getattr(self.config, "decoder_start_token_id", None)
        pad = getattr(self.config, "pad_token_id", None)
        if start is None:
            raise InvalidInputError("config.decoder_start_token_id is not set: pass "
                                    "decoder_input_ids explicitly.")
        return pad if pad is not None else 0, start

    def shift_right(self, ids):
        """Decoder inputs from ``ids`` (labels, or BART's input_ids): ``[start] + ids[:-1]``,
        -100 as pad (mBART overrides: it starts with each row's last non-pad token)."""
        pad, start = self._decoder_start()
        return shift_tokens_right(ids, pad, start)

    def _unpack_all(self, input_ids, kwargs):
        input_ids, kwargs = self._unpack(input_ids, kwargs)
        # model([ids, mask]) fills attention_mask / token_type_ids; the latter is not ours
        if kwargs.get("token_type_ids") is not None:
            raise InvalidInputError(f"{type(self).__name__} takes no token_type_ids.")
        kwargs.pop("token_type_ids", None)
        return input_ids, kwargs

    def _call_inputs(self, input_ids, kwargs):
        """``call``'s inputs: (input_ids, attention_mask, decoder_input_ids,
        decoder_attention_mask, labels, encoder_outputs, the other keyword arguments)."""
        input_ids, kw = self._unpack_all(input_ids, kwargs)
        return (input_ids, kw.pop("attention_mask"), kw.pop("decoder_input_ids"),
                kw.pop("decoder_attention_mask"), kw.pop("labels"), kw.pop("encoder_outputs"), kw)


class TFSeq2SeqModel(TFSeq2SeqPreTrainedModel):
    """The bare encoder-decoder: the decoder's last hidden state and the encoder's."""

    task = None

    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None,
             decoder_attention_mask=None, encoder_outputs=None, output_hidden_states=None,
             return_dict=None, training=False, **kwargs):
        input_ids, kw = self._unpack_all(input_ids, dict(
            attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask, encoder_outputs=encoder_outputs,
            **kwargs))
        mask, dec_ids, dec_mask = (kw.pop("attention_mask"), kw.pop("decoder_input_ids"),
                                   kw.pop("decoder_attention_mask"))
        enc_out = kw.pop("encoder_outputs")
        if self.main_input_name != "input_ids" and input_ids is None:
            input_ids = kw.pop(self.main_input_name, None)
        self._check_unknown(kw)
        if dec_ids is None and self.shift_inputs_for_decoder and input_ids is not None:
            dec_ids = self.shift_right(input_ids)  # BART's default
        x, enc, dec_hidden, enc_hidden = self._run(input_ids, mask, dec_ids, dec_mask, enc_out,
                                                   output_hidden_states, training)
        return self._finish(outputs.TFSeq2SeqModelOutput(
            last_hidden_state=x, decoder_hidden_states=dec_hidden,
            encoder_last_hidden_state=enc, encoder_hidden_states=enc_hidden), return_dict)

    shift_inputs_for_decoder = False


class TFSeq2SeqLMBase(Seq2SeqGenerationMixin, TFSeq2SeqPreTrainedModel):
    """Encoder-decoder + LM head (tied to the shared embeddings unless the family says not),
    with the cache methods an encoder-decoder ``generate`` uses and ``generate`` itself
    (:class:`tfhf.generation.Seq2SeqGenerationMixin`)."""

    task = "seq2seq_lm"
    final_logits_bias = False  # BART: a (1, vocab) bias buffer added to the logits
    cache_batch_axis = 0  # init_cache: per layer (keys, values), each (batch, heads, L, d)
    cross_cache_batch_axis = 0  # cross_cache: per layer (keys, values), (batch, heads, S, d)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.seq2seq_spec
        self.lm_head = (None if self.tied_head() else
                        Dense(spec.d_model, spec.vocab_size, use_bias=False,
                              init_std=spec.init_std, name="lm_head"))

    def tied_head(self):
        return bool(getattr(self.config, "tie_word_embeddings", True))

    def head_scale(self):
        return 1.0

    def build(self, input_shape=None):
        if self.final_logits_bias:
            self.logits_bias = add_weight(self, "final_logits_bias",
                                          (1, self.seq2seq_spec.vocab_size), "zeros",
                                          trainable=False)
        super().build(input_shape)

    @property
    def label_names(self):
        return ("labels",)

    def lm_logits(self, x):
        """Decoder hidden states -> float32 logits."""
        scale = self.head_scale()
        if scale != 1.0:
            x = x * tf.cast(scale, x.dtype)
        logits = (self.model.shared.attend(x) if self.lm_head is None else self.lm_head(x))
        logits = tf.cast(logits, tf.float32)
        if self.final_logits_bias:
            logits = logits + tf.cast(self.logits_bias, tf.float32)
        return logits

    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None,
             decoder_attention_mask=None, labels=None, encoder_outputs=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        input_ids, mask, dec_ids, dec_mask, labels, enc_out, kw = self._call_inputs(
            input_ids, dict(attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                            decoder_attention_mask=decoder_attention_mask, labels=labels,
                            encoder_outputs=encoder_outputs, **kwargs))
        if self.main_input_name != "input_ids" and input_ids is None:
            input_ids = kw.pop(self.main_input_name, None)
        self._check_unknown(kw)
        if labels is not None:
            labels = tf.cast(tf.convert_to_tensor(labels), tf.int32)
            if dec_ids is None:
                dec_ids = self.shift_right(labels)
        x, enc, dec_hidden, enc_hidden = self._run(input_ids, mask, dec_ids, dec_mask, enc_out,
                                                   output_hidden_states, training)
        logits = self.lm_logits(x)
        loss = None if labels is None else losses.masked_sparse_ce(labels, logits)
        return self._finish(outputs.TFSeq2SeqLMOutput(
            loss=loss, logits=logits, decoder_hidden_states=dec_hidden,
            encoder_last_hidden_state=enc, encoder_hidden_states=enc_hidden), return_dict)

    # ------------------------------------------------------------------ cache contract
    @property
    def cache_dtype(self):
        return tf.as_dtype(self.model.compute_dtype)

    def encode(self, input_ids, attention_mask=None):
        """The encoder's last hidden state (batch, source_length, d_model), compute dtype."""
        self.build_weights()
        inputs = self._encoder_input(input_ids)
        return self.model.encode(inputs, self._encoder_mask(attention_mask, inputs))[0]

    def encoder_output_mask(self, attention_mask, encoder_hidden):
        """The (batch, source_length) int32 mask the decoder's cross-attention uses for
        ``encoder_hidden`` given the encoder input's ``attention_mask`` (None: all ones).
        Text encoders keep their input's mask; an encoder that changes the length (Whisper's
        strided convolutions) overrides this."""
        if attention_mask is None:
            return tf.ones(tf.shape(encoder_hidden)[:2], tf.int32)
        return tf.cast(attention_mask, tf.int32)

    def generation_max_source_length(self):
        """The longest encoder input ``generate`` accepts (its absolute position table), or
        None when positions are relative (T5); source buckets never exceed it."""
        s = self.seq2seq_spec
        if s.encoder_positions in (LEARNED, SINUSOIDAL):
            return int(s.max_source_positions)
        return None

    def init_cache(self, batch_size, max_length):
        """Decoder self-attention cache: one ``(keys, values)`` pair of zeros per layer, each
        (batch, heads, max_length, head_dim) in the compute dtype (separate buffers let each
        layer update its slot in place inside the compiled loop)."""
        s = self.seq2seq_spec
        shape = [batch_size, s.heads(True), max_length, s.dim_per_head(True)]
        return tuple((tf.zeros(shape, self.cache_dtype), tf.zeros(shape, self.cache_dtype))
                     for _ in range(s.decoder_layers))

    def cross_cache(self, encoder_hidden):
        """Cross-attention keys/values of every decoder layer, computed once per input: one
        ``(keys, values)`` pair per layer, each (batch, heads, source_length, head_dim)."""
        self.build_weights()
        kv = self.model.decoder.cross_key_values(tf.cast(encoder_hidden, self.cache_dtype))
        return tuple((k, v) for k, v in kv)

    def decoder_forward_with_cache(self, decoder_input_ids, position_ids, self_mask, cache,
                                   cache_index, cross_kv, encoder_mask):
        """Run ``decoder_input_ids`` (batch, t) at cache slots ``cache_index ...``.

        ``position_ids`` (batch, t): 0-based decoder positions; ``self_mask`` (batch,
        max_length) marks the decoder slots holding (or about to hold) real tokens; query i
        attends to slot j iff ``self_mask[:, j] == 1`` and ``j <= cache_index + i`` (T5's
        relative bias uses the slot numbers). ``cross_kv`` is :meth:`cross_cache`'s pairs,
        ``encoder_mask`` (batch, source_length) the encoder's attention mask.
        Returns ``(logits (batch, t, vocab) float32, cache)``.
        """
        self.build_weights()
        kv = [tuple(pair) for pair in cross_kv]
        x, cache, _ = self.model.decode(
            tf.cast(decoder_input_ids, tf.int32), tf.cast(self_mask, tf.int32), None,
            tf.cast(encoder_mask, tf.int32), position_ids=tf.cast(position_ids, tf.int32),
            cache=cache, cache_index=tf.cast(cache_index, tf.int32), cross_kv=kv)
        return self.lm_logits(x), cache
