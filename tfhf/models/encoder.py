"""The backbone shared by BERT-style encoders (BERT, RoBERTa, DistilBERT).

A family describes itself with an :class:`~tfhf.layers.specs.EncoderSpec` built from its config; the layer
below turns ids into hidden states with ``tfhf.layers`` blocks and checks its inputs.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import keras, register_serializable
from ..errors import InvalidInputError
from ..layers import EncoderStack, Pooler, TextEmbeddings, attention_bias_from_mask
from ..layers.specs import EncoderSpec


@register_serializable()
class EncoderMainLayer(keras.layers.Layer):
    def __init__(self, spec: EncoderSpec, with_pooler=True, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.embeddings = TextEmbeddings(
            spec.vocab_size, spec.hidden_size, spec.max_positions, spec.type_vocab_size,
            spec.layer_norm_eps, spec.hidden_dropout, spec.init_std,
            padding_idx=spec.pad_token_id, position_offset=spec.roberta_positions,
            name="embeddings")
        self.encoder = EncoderStack(
            spec.num_layers, hidden_size=spec.hidden_size, num_heads=spec.num_heads,
            intermediate_size=spec.intermediate_size, activation=spec.activation,
            layer_norm_eps=spec.layer_norm_eps, hidden_dropout=spec.hidden_dropout,
            attention_dropout=spec.attention_dropout, init_std=spec.init_std,
            attention_output_dropout=spec.attention_output_dropout, name="encoder")
        self.pooler = Pooler(spec.hidden_size, spec.init_std, name="pooler") if with_pooler else None

    def build(self, input_shape=None):
        self.embeddings.build(None)
        self.encoder.build(None)
        if self.pooler is not None:
            self.pooler.build(None)
        self.built = True

    def check_inputs(self, input_ids):
        """Shape and range checks with tfhf errors (static shapes, and ids when eager)."""
        spec = self.spec
        limit = spec.max_positions - ((spec.pad_token_id or 0) + 1 if spec.roberta_positions else 0)
        length = input_ids.shape[1] if input_ids.shape.rank == 2 else None
        if input_ids.shape.rank is not None and input_ids.shape.rank != 2:
            raise InvalidInputError(f"input_ids must have shape (batch, sequence); got "
                                    f"{input_ids.shape}.")
        if length is not None and length > limit:
            raise InvalidInputError(
                f"Sequence length {length} is longer than this model's maximum of {limit} "
                f"positions (max_position_embeddings={spec.max_positions}). Truncate the input, "
                "e.g. tokenizer(..., truncation=True, max_length=...).")
        if tf.executing_eagerly():
            ids = input_ids.numpy()
            if ids.size and (ids.max() >= spec.vocab_size or ids.min() < 0):
                bad = int(ids.max() if ids.max() >= spec.vocab_size else ids.min())
                raise InvalidInputError(
                    f"input_ids contains token id {bad}, outside the vocabulary "
                    f"[0, {spec.vocab_size}). The tokenizer and the model do not match.")

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
             inputs_embeds=None, output_hidden_states=False, output_attentions=False,
             training=False):
        if input_ids is None and inputs_embeds is None:
            raise InvalidInputError("Pass input_ids (or inputs_embeds) to the model.")
        if input_ids is not None:
            input_ids = tf.convert_to_tensor(input_ids)
            if not input_ids.dtype.is_integer:
                raise InvalidInputError(f"input_ids must be integers, got {input_ids.dtype.name}.")
            self.check_inputs(input_ids)
            shape = tf.shape(input_ids)
        else:
            shape = tf.shape(inputs_embeds)[:2]
        if attention_mask is None:
            attention_mask = tf.ones(shape, tf.int32)
        else:
            attention_mask = tf.convert_to_tensor(attention_mask)
            if attention_mask.shape.rank is not None and attention_mask.shape.rank != 2:
                raise InvalidInputError(f"attention_mask must have shape (batch, sequence); got "
                                        f"{tuple(attention_mask.shape)}.")
            if (input_ids is not None and input_ids.shape.is_fully_defined()
                    and attention_mask.shape.is_fully_defined()
                    and tuple(attention_mask.shape) != tuple(input_ids.shape)):
                raise InvalidInputError(f"attention_mask has shape {tuple(attention_mask.shape)} "
                                        f"but input_ids has shape {tuple(input_ids.shape)}.")
        if token_type_ids is not None:
            token_type_ids = tf.convert_to_tensor(token_type_ids)
            n_types = self.spec.type_vocab_size
            if tf.executing_eagerly() and token_type_ids.shape.num_elements():
                top = int(tf.reduce_max(token_type_ids))
                if top >= n_types or int(tf.reduce_min(token_type_ids)) < 0:
                    raise InvalidInputError(
                        f"token_type_ids contains {top}, outside [0, {n_types}) "
                        f"(type_vocab_size={n_types}).")
        x = self.embeddings(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                            inputs_embeds=inputs_embeds, training=training)
        bias = attention_bias_from_mask(attention_mask)
        x, hidden, attns = self.encoder(x, bias=bias, output_hidden_states=output_hidden_states,
                                        output_attentions=output_attentions, training=training)
        pooled = self.pooler(x) if self.pooler is not None else None
        return x, pooled, hidden, attns
