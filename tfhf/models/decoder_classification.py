"""Sequence classification on decoder-only LMs (transformers' ``LlamaForSequenceClassification``,
``GPT2ForSequenceClassification``, ...): the backbone's last hidden state at each row's last
non-pad token goes through ``score`` (a dense layer without bias) to ``num_labels`` logits.

As transformers does: the pooled position is the rightmost token that is not
``config.pad_token_id`` (so left and right padding both work; a row of pads pools position 0);
without a ``pad_token_id`` only batches of one row are accepted (the last position is pooled);
the loss follows ``config.problem_type`` (inferred from ``num_labels`` and the label dtype).

Token classification and question answering (transformers' ``GenericForTokenClassification``,
``GenericForQuestionAnswering``, GPT-2's own pair) put a per-token dense layer on every
hidden state: ``score`` (GPT-2: ``classifier``) after a dropout of
``config.classifier_dropout``, else ``config.hidden_dropout``, else 0.1, to ``num_labels``
logits, with the token-classification loss over labels other than -100; ``qa_outputs`` (no
dropout) to start and end logits, with the mean of the two span losses (positions clamped
to ``[0, length]``, ``length`` ignored).

A family's class is ``class TFLlamaForSequenceClassification(DecoderForSequenceClassification,
TFLlamaPreTrainedModel)``; its weight table names the heads ``score.weight``, ``score.bias``,
``qa_outputs.weight``... (:func:`tfhf.models.weights.decoder_head_weights`).
"""

from __future__ import annotations

import tensorflow as tf

from ..errors import ConfigError
from ..hub.state import PrefixedState
from ..layers.core import Dense
from ..training import losses
from .. import outputs
from .heads import TokenHead
from .weights import token_head_bias


def last_non_pad_index(input_ids, pad_token_id):
    """(batch,) int32: the rightmost position whose token is not ``pad_token_id`` (0 for a
    row of pads), or the last position when ``pad_token_id`` is ``None``."""
    t = tf.shape(input_ids)[1]
    if pad_token_id is None:
        return tf.fill(tf.shape(input_ids)[:1], t - 1)
    not_pad = tf.cast(tf.not_equal(input_ids, pad_token_id), tf.int32)
    return tf.argmax(tf.range(t)[None, :] * not_pad, axis=1, output_type=tf.int32)


def check_batch_without_pad(input_ids, pad_token_id):
    """transformers' rule: without ``pad_token_id`` only one row at a time."""
    if pad_token_id is not None:
        return
    message = ("Cannot handle batch sizes > 1 if no padding token is defined: the model pools "
               "each row at its last non-pad token and config.pad_token_id is None. Set "
               "model.config.pad_token_id (e.g. to tokenizer.pad_token_id, or "
               "tokenizer.eos_token_id where the tokenizer has no pad token), or pass one row "
               "at a time.")
    batch = input_ids.shape[0]
    if batch is not None:
        if batch != 1:
            raise ConfigError(message)
    elif tf.executing_eagerly():  # pragma: no cover - eager tensors have static shapes
        raise ConfigError(message)
    else:
        tf.debugging.assert_equal(tf.shape(input_ids)[0], 1, message=message)


def run_backbone(model, input_ids, inputs, label_names, output_hidden_states, training):
    """Unpack a head's inputs, set its labels aside and run the decoder: returns
    ``(input_ids, last hidden state, hidden_states, {label name: value or None})``."""
    input_ids, inputs = model._unpack(input_ids, inputs)
    mask, pos = inputs.pop("attention_mask", None), inputs.pop("position_ids", None)
    labels = {k: inputs.pop(k, None) for k in label_names}
    x, hidden = model._run(input_ids, mask, pos, output_hidden_states, training, inputs)
    return input_ids, x, hidden, labels


class DecoderForSequenceClassification:
    """Mixed in before a decoder family's ``TF<Family>PreTrainedModel``."""

    task = "sequence_classification"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.decoder_spec
        self.score = Dense(spec.hidden_size, config.num_labels, use_bias=False,
                           init_std=spec.init_std, name="score")

    @property
    def label_names(self):
        return ("labels",)

    def _pad_token_id(self):
        config = self.config
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        return text.pad_token_id

    def call(self, input_ids=None, attention_mask=None, position_ids=None, labels=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        input_ids, x, hidden, lab = run_backbone(
            self, input_ids, dict(attention_mask=attention_mask, position_ids=position_ids,
                                  labels=labels, **kwargs), ("labels",), output_hidden_states,
            training)
        labels = lab["labels"]
        ids = tf.cast(tf.convert_to_tensor(input_ids), tf.int32)
        pad = self._pad_token_id()
        check_batch_without_pad(ids, pad)
        pooled = tf.gather(x, last_non_pad_index(ids, pad), batch_dims=1)
        logits = tf.cast(self.score(pooled), tf.float32)
        loss = None
        if labels is not None:
            loss = losses.sequence_classification_loss(
                tf.convert_to_tensor(labels), logits, self.config.problem_type,
                self.config.num_labels)
        return self._finish(outputs.TFSequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=hidden), return_dict)


def token_classifier_dropout(config):
    """transformers' rule: ``classifier_dropout``, else ``hidden_dropout``, else 0.1."""
    for name in ("classifier_dropout", "hidden_dropout"):
        value = getattr(config, name, None)
        if value is not None:
            return value
    return 0.1


class DecoderForTokenClassification:
    """Mixed in before a decoder family's ``TF<Family>PreTrainedModel``: one ``num_labels``
    logit vector per token. ``token_head`` is the head's name (GPT-2: ``"classifier"``)."""

    task = "token_classification"
    token_head = "score"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.decoder_spec
        setattr(self, self.token_head, TokenHead(
            spec.hidden_size, config.num_labels, token_classifier_dropout(config),
            spec.init_std, use_bias=token_head_bias(config, self.token_head),
            name=self.token_head))

    def call(self, input_ids=None, attention_mask=None, position_ids=None, labels=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        _, x, hidden, lab = run_backbone(
            self, input_ids, dict(attention_mask=attention_mask, position_ids=position_ids,
                                  labels=labels, **kwargs), ("labels",), output_hidden_states,
            training)
        labels = lab["labels"]
        logits = tf.cast(getattr(self, self.token_head)(x, training=training), tf.float32)
        loss = None if labels is None else losses.masked_sparse_ce(labels, logits)
        return self._finish(outputs.TFTokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=hidden), return_dict)


class DecoderForQuestionAnswering:
    """Mixed in before a decoder family's ``TF<Family>PreTrainedModel``: start and end logits
    per token from ``qa_outputs`` (hidden -> 2, whatever ``num_labels`` says). Llama and Qwen2
    keep transformers' backbone name ``transformer`` here (``base_model_prefix``)."""

    task = "question_answering"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.decoder_spec
        self.qa_outputs = TokenHead(spec.hidden_size, 2, 0.0, spec.init_std, name="qa_outputs")

    def load_hf_state(self, state, ignore_mismatched_sizes=False, source="checkpoint"):
        """A checkpoint with the backbone under ``model.`` (the family's causal LM, sequence
        classifier...) loads into a ``transformer.`` backbone too, where transformers would
        leave it random: the start of fine-tuning a QA model from an LM."""
        prefix = self.base_model_prefix + "."
        keys = list(state.keys())
        if (prefix != "model." and any(k.startswith("model.") for k in keys)
                and not any(k.startswith(prefix) for k in keys)):
            state = PrefixedState(state, "model.", prefix)
        return super().load_hf_state(state, ignore_mismatched_sizes, source)

    def call(self, input_ids=None, attention_mask=None, position_ids=None, start_positions=None,
             end_positions=None, output_hidden_states=None, return_dict=None, training=False,
             **kwargs):
        _, x, hidden, lab = run_backbone(
            self, input_ids, dict(attention_mask=attention_mask, position_ids=position_ids,
                                  start_positions=start_positions, end_positions=end_positions,
                                  **kwargs), ("start_positions", "end_positions"),
            output_hidden_states, training)
        start_positions, end_positions = lab["start_positions"], lab["end_positions"]
        logits = tf.cast(self.qa_outputs(x, training=training), tf.float32)
        start, end = logits[..., 0], logits[..., 1]
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = losses.question_answering_loss(start_positions, end_positions, start, end)
        return self._finish(outputs.TFQuestionAnsweringModelOutput(
            loss=loss, start_logits=start, end_logits=end, hidden_states=hidden), return_dict)
