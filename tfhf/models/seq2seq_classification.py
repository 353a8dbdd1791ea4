"""Sequence classification on encoder-decoders (transformers' ``BartForSequenceClassification``,
``MBartForSequenceClassification``, ``T5ForSequenceClassification``, ``MT5...``, ``UMT5...``):
the whole encoder-decoder runs on the input (the decoder reads ``input_ids`` shifted right
unless ``decoder_input_ids`` are given), and the decoder's last hidden state at each row's
last ``eos_token_id`` of ``input_ids`` goes through ``classification_head``
(dropout -> dense -> tanh -> dropout -> out_proj).

As transformers does, every row must hold the same number of ``<eos>`` tokens, at least one:
otherwise :class:`~tfhf.errors.InvalidInputError` with transformers' messages (checked eagerly
and in a graph; under XLA the checks are compiled out, so check a batch eagerly first);
``prepare_tf_dataset`` checks every example of the dataset the same way before ``fit``
(``tfhf train`` on a tokenizer that adds no eos stops there, not inside ``fit``). The
loss follows ``config.problem_type`` (inferred from ``num_labels`` and the label dtype).

A family's class is ``class TFT5ForSequenceClassification(Seq2SeqForSequenceClassification,
TFT5PreTrainedModel)``; its converter's ``head_weights("sequence_classification", config)``
names the head (``classification_head.{dense,out_proj}.{weight,bias}``, see
:data:`HEAD_WEIGHTS`).

The other heads transformers has on T5 / mT5 / UMT5 and BART / mBART:

* :class:`Seq2SeqForTokenClassification` (``T5ForTokenClassification``): the *encoder* alone
  (``transformer.shared``, ``transformer.encoder...``), dropout (``config.classifier_dropout``)
  and a per-token ``classifier``; the loss is the mean cross entropy over labels that are
  not -100.
* :class:`Seq2SeqForQuestionAnswering` (``T5ForQuestionAnswering``,
  ``BartForQuestionAnswering``): the whole encoder-decoder (the decoder reads ``input_ids``
  shifted right unless ``decoder_input_ids`` are given) and ``qa_outputs`` on the decoder's
  last hidden state: ``start_logits`` / ``end_logits`` over the *decoder* positions; the loss
  with ``start_positions`` / ``end_positions`` clamps them to ``[0, length]`` and ignores
  ``length`` (the mean of the two cross entropies), as transformers does.

A family's converter maps each task to :data:`HEADS` ``[task]``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..errors import ConfigError, InvalidInputError
from ..training import losses
from .. import outputs
from .heads import ClassificationHead, TokenHead

HEAD_WEIGHTS = {
    "classification_head.dense.weight": "classification_head.dense.kernel",
    "classification_head.dense.bias": "classification_head.dense.bias",
    "classification_head.out_proj.weight": "classification_head.out.kernel",
    "classification_head.out_proj.bias": "classification_head.out.bias",
}
HEADS = {
    "sequence_classification": HEAD_WEIGHTS,
    "token_classification": {"classifier.weight": "classifier.out.kernel",
                             "classifier.bias": "classifier.out.bias"},
    "question_answering": {"qa_outputs.weight": "qa_outputs.out.kernel",
                           "qa_outputs.bias": "qa_outputs.out.bias"},
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


def check_dataset_eos(rows, eos_token_id, model_name):
    """transformers' rules on every example of a dataset (lists of ids), before training."""
    counts = np.array([np.count_nonzero(np.asarray(r) == eos_token_id) for r in rows])
    if not len(counts):
        return
    where = np.flatnonzero(counts < 1)
    if len(where):
        raise InvalidInputError(
            f"{AT_LEAST_ONE} {len(where)} of {len(counts)} examples (the first: example "
            f"{where[0]}) hold no token id {eos_token_id} (config.eos_token_id) in input_ids, "
            f"and {model_name} classifies the decoder state at each example's last <eos>. "
            "Tokenize with a tokenizer that ends every text with eos (the checkpoint's own "
            "T5 / BART tokenizer does, with add_special_tokens=True), or append "
            f"{eos_token_id} to each example's input_ids.")
    if (counts != counts[0]).any():
        j = int(np.flatnonzero(counts != counts[0])[0])
        raise InvalidInputError(
            f"{SAME_COUNT} Example 0 holds {counts[0]} tokens of id {eos_token_id} "
            f"(config.eos_token_id), example {j} holds {counts[j]}, and a batch may mix them: "
            "end every example with exactly one eos (the tokenizer does) and keep it out of "
            "the texts.")


class Seq2SeqHead:
    """A task head instead of the LM head (no ``lm_head`` weight to tie on load)."""

    @property
    def tied_keys(self):
        return super().tied_keys - {"lm_head.weight", f"{self.base_model_prefix}.lm_head.weight"}


class Seq2SeqForSequenceClassification(Seq2SeqHead):
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

    def check_dataset(self, dataset):
        """``prepare_tf_dataset``'s check: every example holds the same number of eos, at
        least one (so ``fit`` cannot stop on a batch that breaks transformers' rules)."""
        if "input_ids" in getattr(dataset, "column_names", ()):
            check_dataset_eos(dataset["input_ids"], self.config.eos_token_id,
                              type(self).__name__)

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


class Seq2SeqForTokenClassification(Seq2SeqHead):
    """The encoder alone -> dropout -> ``classifier`` on every token (transformers'
    ``T5ForTokenClassification``: its backbone is a ``T5EncoderModel`` under
    ``base_model_prefix``)."""

    task = "token_classification"
    with_decoder = False
    model_input_names = ("input_ids", "attention_mask")

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.classifier = TokenHead(
            config.d_model, config.num_labels, getattr(config, "classifier_dropout", 0.0) or 0.0,
            self.seq2seq_spec.init_std, name="classifier")

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             return_dict=None, training=False, **kwargs):
        input_ids, kw = self._unpack_all(input_ids, dict(attention_mask=attention_mask,
                                                         labels=labels, **kwargs))
        mask, labels = kw.pop("attention_mask"), kw.pop("labels")
        self._check_unknown(kw, also="labels")
        x, hidden = self._encode_only(input_ids, mask, output_hidden_states, training)
        logits = tf.cast(self.classifier(x, training=training), tf.float32)
        loss = None if labels is None else losses.masked_sparse_ce(labels, logits)
        return self._finish(outputs.TFTokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=hidden), return_dict)


NO_DECODER_INPUTS = ("If no `decoder_input_ids` or `decoder_inputs_embeds` are passed, "
                     "`input_ids` cannot be `None`. Please pass either `input_ids` or "
                     "`decoder_input_ids` or `decoder_inputs_embeds`.")


class Seq2SeqForQuestionAnswering(Seq2SeqHead):
    """The encoder-decoder -> ``qa_outputs`` (2 outputs) on the decoder's hidden states.

    ``forces_two_labels``: BART and mBART set ``config.num_labels = 2`` as transformers does;
    T5's head has ``config.num_labels`` outputs, which must be 2 (a ConfigError otherwise)."""

    task = "question_answering"
    forces_two_labels = False

    def __init__(self, config, **kwargs):
        if self.forces_two_labels:
            config.num_labels = 2
        if config.num_labels != 2:
            raise ConfigError(
                f"{type(self).__name__} predicts a start and an end logit per token: "
                f"config.num_labels must be 2, not {config.num_labels}; load it with "
                "num_labels=2.")
        super().__init__(config, **kwargs)
        self.qa_outputs = TokenHead(config.d_model, 2, 0.0, self.seq2seq_spec.init_std,
                                    name="qa_outputs")

    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None,
             decoder_attention_mask=None, start_positions=None, end_positions=None,
             encoder_outputs=None, output_hidden_states=None, return_dict=None,
             training=False, **kwargs):
        input_ids, mask, dec_ids, dec_mask, _, enc_out, kw = self._call_inputs(
            input_ids, dict(attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                            decoder_attention_mask=decoder_attention_mask, labels=None,
                            encoder_outputs=encoder_outputs, start_positions=start_positions,
                            end_positions=end_positions, **kwargs))
        start_positions, end_positions = kw.pop("start_positions"), kw.pop("end_positions")
        self._check_unknown(kw, also="start_positions, end_positions, encoder_outputs")
        if dec_ids is None:
            if input_ids is None:
                raise InvalidInputError(NO_DECODER_INPUTS)
            dec_ids = self.shift_right(self._ids(input_ids, "input_ids"))
        x, enc, dec_hidden, enc_hidden = self._run(input_ids, mask, dec_ids, dec_mask, enc_out,
                                                   output_hidden_states, training)
        logits = tf.cast(self.qa_outputs(x, training=training), tf.float32)
        start, end = logits[..., 0], logits[..., 1]
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = losses.question_answering_loss(start_positions, end_positions, start, end)
        return self._finish(outputs.TFSeq2SeqQuestionAnsweringModelOutput(
            loss=loss, start_logits=start, end_logits=end, decoder_hidden_states=dec_hidden,
            encoder_last_hidden_state=enc, encoder_hidden_states=enc_hidden), return_dict)
