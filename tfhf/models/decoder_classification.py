"""Sequence classification on decoder-only LMs (transformers' ``LlamaForSequenceClassification``,
``GPT2ForSequenceClassification``, ...): the backbone's last hidden state at each row's last
non-pad token goes through ``score`` (a dense layer without bias) to ``num_labels`` logits.

As transformers does: the pooled position is the rightmost token that is not
``config.pad_token_id`` (so left and right padding both work; a row of pads pools position 0);
without a ``pad_token_id`` only batches of one row are accepted (the last position is pooled);
the loss follows ``config.problem_type`` (inferred from ``num_labels`` and the label dtype).

A family's class is ``class TFLlamaForSequenceClassification(DecoderForSequenceClassification,
TFLlamaPreTrainedModel)``; its weight table names the head ``score.weight``
(:func:`tfhf.models.weights.decoder_head_weights`).
"""

from __future__ import annotations

import tensorflow as tf

from ..errors import ConfigError
from ..layers.core import Dense
from ..training import losses
from .. import outputs


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
        input_ids, kwargs = self._unpack(input_ids, dict(
            attention_mask=attention_mask, position_ids=position_ids, labels=labels, **kwargs))
        mask, pos = kwargs.pop("attention_mask"), kwargs.pop("position_ids")
        labels = kwargs.pop("labels")
        x, hidden = self._run(input_ids, mask, pos, output_hidden_states, training, kwargs)
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
