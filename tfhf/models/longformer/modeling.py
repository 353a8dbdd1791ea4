"""Longformer (Beltagy et al., 2020): RoBERTa with sliding-window + global self-attention
(:mod:`tfhf.models.longformer.attention`), for documents of thousands of tokens.

As transformers does, the sequence is padded to a multiple of the largest attention window
(pad ids, attention mask 0) and the outputs are cut back; ``global_attention_mask`` (1 =
global) marks the tokens that attend to and are attended by every token. When it is not
given, sequence classification puts global attention on the first token, question answering
on the question (the tokens before the first ``sep_token_id``) and multiple choice on the
tokens after the question's separators. The heads and their weight names are RoBERTa's, so
the task classes are RoBERTa's under Longformer's names
(:func:`tfhf.models.roberta.modeling.variant_classes`); the outputs carry
``global_attentions`` as well.
"""

from __future__ import annotations

import tensorflow as tf
from transformers import LongformerConfig

from ... import outputs
from ..._keras import register_serializable
from ...errors import ConfigError, InvalidInputError
from ...layers.specs import EncoderSpec
from ..base import TFPreTrainedModel
from ..bert.modeling import bert_spec
from ..encoder import EncoderMainLayer, check_encoder_inputs
from ..inputs import check_mask_shape
from ..roberta.modeling import TFRobertaPreTrainedModel, variant_classes
from . import convert
from .attention import LongformerStack, longformer_masks


def attention_windows(config):
    window = config.attention_window
    windows = [window] * config.num_hidden_layers if isinstance(window, int) else list(window)
    if len(windows) != config.num_hidden_layers:
        raise ConfigError(f"attention_window has {len(windows)} entries but num_hidden_layers="
                          f"{config.num_hidden_layers}; give one window per layer or one int.")
    if any(max(windows) % w for w in windows if w > 0):
        raise ConfigError(f"attention_window={windows}: tfhf pads sequences to a multiple of "
                          "the largest window, which every other window must divide.")
    return tuple(windows)


def longformer_spec(config) -> EncoderSpec:
    return bert_spec(config, roberta_positions=True,
                     attention_windows=attention_windows(config))


@register_serializable()
class LongformerMainLayer(EncoderMainLayer):
    """Embeddings -> Longformer blocks [-> pooler], with window padding and global tokens."""

    @staticmethod
    def make_encoder(spec):
        return LongformerStack(
            spec.attention_windows, hidden_size=spec.hidden_size, num_heads=spec.num_heads,
            intermediate_size=spec.intermediate_size, activation=spec.activation,
            layer_norm_eps=spec.layer_norm_eps, hidden_dropout=spec.hidden_dropout,
            attention_dropout=spec.attention_dropout, init_std=spec.init_std, name="encoder")

    def call(self, input_ids=None, attention_mask=None, global_attention_mask=None,
             token_type_ids=None, position_ids=None, inputs_embeds=None,
             output_hidden_states=False, output_attentions=False, training=False):
        input_ids, mask, token_type_ids = check_encoder_inputs(
            self.spec, input_ids, attention_mask, token_type_ids, inputs_embeds)
        mask = tf.cast(mask, tf.int32)
        if global_attention_mask is not None:
            global_attention_mask = tf.cast(global_attention_mask, tf.int32)
            check_mask_shape(global_attention_mask, mask)
            mask = mask * (global_attention_mask + 1)  # 0 pad, 1 local, 2 global
        length = tf.shape(mask)[1]
        window = max(self.spec.attention_windows)
        pad = (window - length % window) % window
        pad_id = self.spec.pad_token_id
        if input_ids is not None:
            input_ids = tf.pad(input_ids, [[0, 0], [0, pad]], constant_values=pad_id)
        if position_ids is not None:
            position_ids = tf.pad(tf.convert_to_tensor(position_ids), [[0, 0], [0, pad]],
                                  constant_values=pad_id)
        if inputs_embeds is not None:  # transformers pads with the embeddings of pad ids
            pad_ids = tf.fill([tf.shape(mask)[0], pad], pad_id)
            inputs_embeds = tf.concat([inputs_embeds, tf.cast(
                self.embeddings(pad_ids, training=training), inputs_embeds.dtype)], axis=1)
        if token_type_ids is not None:
            token_type_ids = tf.pad(token_type_ids, [[0, 0], [0, pad]])
        mask = tf.pad(mask, [[0, 0], [0, pad]])
        x = self.embeddings(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                            inputs_embeds=inputs_embeds, training=training)
        x, hidden, attns = self.encoder(x, bias=longformer_masks(mask),
                                        output_hidden_states=output_hidden_states,
                                        output_attentions=output_attentions, training=training)
        x = x[:, :length]
        if hidden is not None:
            hidden = tuple(h[:, :length] for h in hidden)
        if attns is not None:  # (window probs cut to the input, global probs as they are)
            attns = (tuple(a[:, :, :length] for a, _ in attns), tuple(g for _, g in attns))
        pooled = self.pooler(x) if self.pooler is not None else None
        return x, pooled, hidden, attns


def _first_sep(input_ids, sep_token_id):
    """Index of each row's first ``sep_token_id``; in eager mode, a clear error unless every
    row has the three separators of a ``<s> question </s></s> text </s>`` pair."""
    is_sep = tf.cast(tf.equal(input_ids, sep_token_id), tf.int32)
    if tf.executing_eagerly() and not bool(tf.reduce_all(tf.reduce_sum(is_sep, -1) == 3)):
        raise InvalidInputError(
            f"Longformer puts global attention on the question automatically, which needs "
            f"exactly three separator tokens (sep_token_id={sep_token_id}) in every row "
            "(tokenizer(question, text)); pass global_attention_mask (1 = global) instead.")
    return tf.argmax(is_sep, axis=-1, output_type=tf.int32)[:, None]


_OUTPUTS = {cls.__name__: cls for cls in outputs.LONGFORMER_OUTPUTS}


class TFLongformerPreTrainedModel(TFRobertaPreTrainedModel):
    config_class = LongformerConfig
    base_model_prefix = "longformer"
    converter = convert
    spec = staticmethod(longformer_spec)
    main_layer_class = LongformerMainLayer
    model_input_names = ("input_ids", "attention_mask", "global_attention_mask",
                         "token_type_ids", "position_ids", "inputs_embeds")

    def default_global_attention(self, input_ids):
        """transformers' global attention when none is given: the first token (sequence
        classification), the question (QA), the text after the question (multiple choice)."""
        positions = tf.range(tf.shape(input_ids)[1])[None, :]
        if self.task == "sequence_classification":
            return tf.cast(tf.equal(positions, 0), tf.int32) * tf.ones_like(input_ids, tf.int32)
        if self.task == "question_answering":
            return tf.cast(positions < _first_sep(input_ids, self.config.sep_token_id), tf.int32)
        if self.task == "multiple_choice":
            sep = _first_sep(input_ids, self.config.sep_token_id)
            return tf.cast(positions > sep + 1, tf.int32)
        return None

    def _forward(self, input_ids, inputs, label_names, output_hidden_states, output_attentions,
                 training):
        input_ids, inputs = self._unpack(input_ids, inputs)
        global_mask = inputs.get("global_attention_mask")
        if global_mask is not None and input_ids is not None:
            global_mask = tf.reshape(global_mask, tf.shape(input_ids))  # multiple choice
        elif input_ids is not None:
            global_mask = self.default_global_attention(tf.convert_to_tensor(input_ids))
        inputs["global_attention_mask"] = global_mask
        return super()._forward(input_ids, inputs, label_names, output_hidden_states,
                                output_attentions, training)

    @staticmethod
    def _finish(out, return_dict):
        """The output as transformers' Longformer output: ``attentions`` (the window probs)
        and ``global_attentions`` (None when no token is global, as transformers)."""
        fields = dict(out)
        pair = fields.pop("attentions", None)
        if pair is not None:
            fields["attentions"], fields["global_attentions"] = pair
            g = fields["global_attentions"]
            if tf.executing_eagerly() and all(a.shape[-1] == 0 for a in g):
                fields["global_attentions"] = None
        out = _OUTPUTS["TFLongformer" + type(out).__name__[2:]](**fields)
        return TFPreTrainedModel._finish(out, return_dict)


globals().update(variant_classes("Longformer", TFLongformerPreTrainedModel, __name__))
