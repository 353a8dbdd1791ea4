"""Sequence classification on encoder-decoders (transformers' ``BartForSequenceClassification``,
``MBartForSequenceClassification``, ``T5ForSequenceClassification``, ``MT5...``, ``UMT5...``):
the whole encoder-decoder runs on the input (the decoder reads ``input_ids`` shifted right
unless ``decoder_input_ids`` are given), and the decoder's last hidden state at each row's
last ``eos_token_id`` of ``input_ids`` goes through ``classification_head``
(dropout -> dense -> tanh -> dropout -> out_proj).

As transformers does, every row must hold the same number of ``<eos>`` tokens, at least one:
otherwise :class:`~tfhf.errors.InvalidInputError` with transformers' messages (checked eagerly
and in a graph; under XLA the checks are compiled out, so check a batch eagerly first). The
loss follows ``config.problem_type`` (inferred from ``num_labels`` and the label dtype).

A family's class is ``class TFT5ForSequenceClassification(Seq2SeqForSequenceClassification,
TFT5PreTrainedModel)``; its converter's ``head_weights("sequence_classification", config)``
names the head (``classification_head.{dense,out_proj}.{weight,bias}``, see
:data:`HEAD_WEIGHTS`).
"""

from __future__ import annotations

import tensorflow as tf

from ..errors import InvalidInputError
from ..training import losses
from .. import outputs
from .heads import ClassificationHead

HEAD_WEIGHTS = {
    "classification_head.dense.weight": "classification_head.dense.kernel",
    "classification_head.dense.bias": "classification_head.dense.bias",
    "classification_head.out_proj.weight": "classification_head.out.kernel",
    "classification_head.out_proj.bias": "classification_head.out.bias",
}
SAME_COUNT = "All examples must have the same number of <eos> tokens."
AT_LEAST_ONE = "Each example must contain at least one <eos> token."


def last_eos_states(hidden, input_ids, eos_token_id):
    """The decoder state at each row's last ``eos_token_id`` (the sentence vector)."""
    is_eos = tf.cast(tf.equal(input_ids, eos_token_id), tf.int32)
    t = tf.shape(input_ids)[1]
    last = t - 1 - tf.argmax(tf.reverse(is_eos, [1]), axis=1, output_type=tf.int32)
    return tf.gather(hidden, last, batch_dims=1)


def check_eos_counts(input_ids, eos_token_id):
    """transformers' rules: the same number of ``<eos>`` in every row, at least one."""
    counts = tf.reduce_sum(tf.cast(tf.equal(input_ids, eos_token_id), tf.int32), axis=1)
    if tf.executing_eagerly():
        counts = counts.numpy()
        if len(set(counts.tolist())) > 1:
            raise InvalidInputError(
                f"{SAME_COUNT} Rows hold {counts.tolist()} tokens of id {eos_token_id} "
                "(config.eos_token_id): end every example with exactly one eos (the tokenizer "
                "does) and keep it out of the text.")
        if len(counts) and counts[0] < 1:
            raise InvalidInputError(
                f"{AT_LEAST_ONE} No row holds id {eos_token_id} (config.eos_token_id): "
                "tokenize with the tokenizer's special tokens (add_special_tokens=True).")
        return []
    return [tf.debugging.assert_equal(counts, counts[:1], message=SAME_COUNT),
            tf.debugging.assert_positive(counts, message=AT_LEAST_ONE)]


class Seq2SeqForSequenceClassification:
    """Mixed in before a family's ``TF<Family>PreTrainedModel`` (a
    :class:`~tfhf.models.seq2seq.TFSeq2SeqPreTrainedModel`)."""

    task = "sequence_classification"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        dropout = getattr(config, "classifier_dropout", None) or 0.0
        self.classification_head = ClassificationHead(
            config.d_model, config.num_labels, dropout=dropout, inner_activation="tanh",
            use_pooled=True, init_std=self.seq2seq_spec.init_std, name="classification_head")

    @property
    def label_names(self):
        return ("labels",)

    @property
    def tied_keys(self):  # no LM head here
        return super().tied_keys - {"lm_head.weight", f"{self.base_model_prefix}.lm_head.weight"}

    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None,
             decoder_attention_mask=None, labels=None, encoder_outputs=None,
             output_hidden_states=None, return_dict=None, training=False, **kwargs):
        input_ids, mask, dec_ids, dec_mask, labels, enc_out, kw = self._call_inputs(
            input_ids, dict(attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                            decoder_attention_mask=decoder_attention_mask, labels=labels,
                            encoder_outputs=encoder_outputs, **kwargs))
        self._check_unknown(kw)
        if input_ids is None:
            raise InvalidInputError(f"{type(self).__name__} needs input_ids: it pools the "
                                    "decoder state at the last <eos> token of the input.")
        input_ids = self._ids(input_ids, "input_ids")
        eos = self.config.eos_token_id
        checks = check_eos_counts(input_ids, eos)
        if dec_ids is None:
            dec_ids = self.shift_right(input_ids)
        x, enc, dec_hidden, enc_hidden = self._run(input_ids, mask, dec_ids, dec_mask, enc_out,
                                                   output_hidden_states, training)
        with tf.control_dependencies(checks):
            pooled = last_eos_states(x, input_ids, eos)
        logits = tf.cast(self.classification_head(x, pooled, training=training), tf.float32)
        loss = None
        if labels is not None:
            loss = losses.sequence_classification_loss(
                tf.convert_to_tensor(labels), logits, self.config.problem_type,
                self.config.num_labels)
        return self._finish(outputs.TFSeq2SeqSequenceClassifierOutput(
            loss=loss, logits=logits, decoder_hidden_states=dec_hidden,
            encoder_last_hidden_state=enc, encoder_hidden_states=enc_hidden), return_dict)
