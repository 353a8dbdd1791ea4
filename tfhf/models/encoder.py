"""BERT-style encoders (BERT, RoBERTa, DistilBERT, XLM-R, CamemBERT, ELECTRA, ALBERT, MPNet,
RoFormer):
the backbone and the task models.

A family describes itself with an :class:`~tfhf.layers.specs.EncoderSpec` built from its
config; :class:`EncoderMainLayer` turns ids into hidden states with ``tfhf.layers`` blocks
and checks its inputs. A family class is ``class TFBertForSequenceClassification(
SequenceClassificationModel, TFBertPreTrainedModel)``: the family part brings the backbone
and its weight names, the task part brings the head (:mod:`tfhf.models.heads`), the loss
and the output type.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import keras, register_serializable
from ..errors import InvalidInputError
from ..layers import Dense, EncoderStack, Pooler, TextEmbeddings, attention_bias_from_mask
from ..layers.core import build_sublayers
from ..layers.rotary import RotaryTable
from ..layers.seq2seq import RelativePositionBias
from ..layers.specs import EncoderSpec
from ..training import losses
from .. import outputs
from .base import TFPreTrainedModel
from .heads import ClassificationHead, MaskedLMHead, TokenHead, TokenScoreHead
from .inputs import check_mask_shape, check_token_ids, check_token_type_ids, reject_unexpected



def check_encoder_inputs(spec, input_ids, attention_mask, token_type_ids, inputs_embeds):
    """Checked ``(input_ids, attention_mask, token_type_ids)`` for an encoder of ``spec``:
    ids inside the vocabulary and not longer than ``spec.max_length()``, a (batch, sequence)
    mask (all ones when None), token types inside ``spec.type_vocab_size``."""
    if input_ids is None and inputs_embeds is None:
        raise InvalidInputError("Pass input_ids (or inputs_embeds) to the model.")
    if input_ids is not None:
        input_ids = check_token_ids(
            input_ids, spec.vocab_size, max_length=spec.max_length(),
            length_note=f" (max_position_embeddings={spec.max_positions}). Truncate the "
            "input, e.g. tokenizer(..., truncation=True, max_length=...).")
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
        if input_ids is not None:
            check_mask_shape(attention_mask, input_ids)
    if token_type_ids is not None:
        token_type_ids = check_token_type_ids(token_type_ids, spec.type_vocab_size)
    return input_ids, attention_mask, token_type_ids


@register_serializable()
class EncoderMainLayer(keras.layers.Layer):
    """Embeddings -> encoder blocks [-> pooler]; checks its inputs (tfhf.models.inputs).

    A family with blocks of its own (MobileBERT) subclasses it and overrides
    ``make_embeddings`` / ``make_encoder`` / ``make_pooler``.
    """

    def __init__(self, spec: EncoderSpec, with_pooler=True, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.embeddings = self.make_embeddings(spec)
        self.embeddings_project = (
            Dense(spec.embedding_size, spec.hidden_size, init_std=spec.init_std,
                  name="embeddings_project") if spec.embedding_size else None)
        self.relative_bias = (
            RelativePositionBias(spec.relative_buckets, spec.relative_max_distance,
                                 spec.num_heads, bidirectional=True, init_std=spec.init_std,
                                 name="relative_bias") if spec.relative_buckets else None)
        self.encoder = self.make_encoder(spec)
        # RoFormer: a frozen sinusoid table (saved as encoder.embed_positions), rotary
        self.rotary = (RotaryTable(spec.max_positions, spec.hidden_size // spec.num_heads,
                                   name="rotary") if spec.rotary else None)
        self.pooler = self.make_pooler(spec) if with_pooler else None

    @staticmethod
    def make_embeddings(spec):
        return TextEmbeddings(
            spec.vocab_size, spec.embedding_dim,
            spec.max_positions if spec.absolute_positions else 0, spec.type_vocab_size,
            spec.layer_norm_eps, spec.hidden_dropout, spec.init_std,
            padding_idx=spec.pad_token_id, position_offset=spec.roberta_positions,
            name="embeddings")

    @staticmethod
    def make_encoder(spec):
        """The block stack (a subclass makes another: Longformer's windowed attention)."""
        return EncoderStack(
            spec.num_layers, layer_groups=spec.layer_groups,
            blocks_per_group=spec.blocks_per_group, hidden_size=spec.hidden_size,
            num_heads=spec.num_heads,
            intermediate_size=spec.intermediate_size, activation=spec.activation,
            layer_norm_eps=spec.layer_norm_eps, hidden_dropout=spec.hidden_dropout,
            attention_dropout=spec.attention_dropout, init_std=spec.init_std,
            attention_output_dropout=spec.attention_output_dropout,
            rotary_value=spec.rotary_value, name="encoder")

    @staticmethod
    def make_pooler(spec):
        return Pooler(spec.hidden_size, spec.init_std, name="pooler")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
             inputs_embeds=None, output_hidden_states=False, output_attentions=False,
             training=False):
        input_ids, attention_mask, token_type_ids = check_encoder_inputs(
            self.spec, input_ids, attention_mask, token_type_ids, inputs_embeds)
        x = self.embeddings(input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                            inputs_embeds=inputs_embeds, training=training)
        if self.embeddings_project is not None:
            x = self.embeddings_project(x)
        bias = attention_bias_from_mask(attention_mask)
        if self.relative_bias is not None:
            t = tf.shape(x)[1]
            bias = bias + self.relative_bias(tf.range(t), t)
        rotary = self.rotary(tf.shape(x)[1]) if self.rotary is not None else None
        x, hidden, attns = self.encoder(x, bias=bias, output_hidden_states=output_hidden_states,
                                        output_attentions=output_attentions, training=training,
                                        rotary=rotary)
        pooled = self.pooler(x) if self.pooler is not None else None
        return x, pooled, hidden, attns


# ---------------------------------------------------------------------------- task models
class EncoderPreTrainedModel(TFPreTrainedModel):
    """A model whose backbone is :class:`EncoderMainLayer`; families give ``spec(config)``."""

    uses_pooler = False
    main_layer_class = EncoderMainLayer  # a family with another backbone sets its own
    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids",
                         "inputs_embeds")

    @staticmethod
    def spec(config):  # pragma: no cover - families override
        raise NotImplementedError

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        main = self.main_layer_class(self.spec(config), with_pooler=self._uses_pooler(),
                                     name=self.base_model_prefix)
        setattr(self, self.base_model_prefix, main)

    @property
    def main_layer(self):
        return getattr(self, self.base_model_prefix)

    def _uses_pooler(self):
        return self.task is None or self.uses_pooler

    def get_input_embeddings(self):
        return self.main_layer.embeddings.word_embeddings

    def _forward(self, input_ids, inputs, label_names, output_hidden_states, output_attentions,
                 training):
        """Unpack the inputs, set the labels aside and run the backbone: returns
        ``(hidden, pooled, hidden_states, attentions, labels)``."""
        input_ids, inputs = self._unpack(input_ids, inputs)
        labels = {k: inputs.pop(k, None) for k in label_names}
        allowed = set(self.model_input_names) - {"input_ids"}
        reject_unexpected(self, {k: v for k, v in inputs.items() if k not in allowed},
                          sorted(self.model_input_names))
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if output_attentions is None:
            output_attentions = getattr(self.config, "output_attentions", False)
        return (*self.main_layer(input_ids, **{k: v for k, v in inputs.items() if v is not None},
                                 output_hidden_states=bool(output_hidden_states),
                                 output_attentions=bool(output_attentions), training=training),
                labels)


class BaseModel:
    """The bare backbone: ``last_hidden_state`` and ``pooler_output``."""

    task = None

    def call(self, input_ids=None, attention_mask=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        x, pooled, hidden, attns, _ = self._forward(
            input_ids, dict(attention_mask=attention_mask, **inputs), (),
            output_hidden_states, output_attentions, training)
        if pooled is None:  # a backbone without pooler (DistilBERT)
            return self._finish(outputs.TFBaseModelOutput(
                last_hidden_state=x, hidden_states=hidden, attentions=attns), return_dict)
        return self._finish(outputs.TFBaseModelOutputWithPooling(
            last_hidden_state=x, pooler_output=pooled, hidden_states=hidden, attentions=attns),
            return_dict)


class SequenceClassificationModel:
    task = "sequence_classification"
    classifier_activation = None  # e.g. "tanh" (RoBERTa) or "relu" (DistilBERT)
    classifier_input_dropout = True  # dropout before the inner dense (False: DistilBERT)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.classifier = ClassificationHead(
            spec.hidden_size, config.num_labels, dropout=self.classifier_dropout(config),
            inner_activation=self.classifier_activation, use_pooled=self.uses_pooler,
            init_std=spec.init_std, input_dropout=self.classifier_input_dropout,
            name="classifier")

    @staticmethod
    def classifier_dropout(config):
        for name in ("classifier_dropout", "classifier_dropout_prob"):  # the latter: ALBERT
            if getattr(config, name, None) is not None:
                return getattr(config, name)
        return getattr(config, "hidden_dropout_prob", 0.1)

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        x, pooled, hidden, attns, lab = self._forward(
            input_ids, dict(attention_mask=attention_mask, labels=labels, **inputs), ("labels",),
            output_hidden_states, output_attentions, training)
        logits = tf.cast(self.classifier(x, pooled, training=training), tf.float32)
        loss = None
        if lab["labels"] is not None:
            loss = losses.sequence_classification_loss(
                tf.convert_to_tensor(lab["labels"]), logits, self.config.problem_type,
                self.config.num_labels)
        return self._finish(outputs.TFSequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)


class TokenClassificationModel:
    task = "token_classification"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.classifier = TokenHead(spec.hidden_size, config.num_labels,
                                    self.classifier_dropout(config), spec.init_std,
                                    name="classifier")

    classifier_dropout = staticmethod(SequenceClassificationModel.classifier_dropout)

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        x, _, hidden, attns, lab = self._forward(
            input_ids, dict(attention_mask=attention_mask, labels=labels, **inputs), ("labels",),
            output_hidden_states, output_attentions, training)
        logits = tf.cast(self.classifier(x, training=training), tf.float32)
        loss = None if lab["labels"] is None else losses.masked_sparse_ce(lab["labels"], logits)
        return self._finish(outputs.TFTokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)


class QuestionAnsweringModel:
    task = "question_answering"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.qa_outputs = TokenHead(spec.hidden_size, config.num_labels,
                                    self.qa_dropout(config), spec.init_std, name="qa_outputs")

    @staticmethod
    def qa_dropout(config):
        return 0.0  # BERT and RoBERTa apply none; DistilBERT overrides

    def call(self, input_ids=None, attention_mask=None, start_positions=None,
             end_positions=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False, **inputs):
        x, _, hidden, attns, lab = self._forward(
            input_ids, dict(attention_mask=attention_mask, start_positions=start_positions,
                            end_positions=end_positions, **inputs),
            ("start_positions", "end_positions"), output_hidden_states, output_attentions,
            training)
        logits = tf.cast(self.qa_outputs(x, training=training), tf.float32)
        start, end = logits[..., 0], logits[..., 1]  # num_labels is 2 for QA heads
        loss = None
        if lab["start_positions"] is not None and lab["end_positions"] is not None:
            loss = losses.question_answering_loss(lab["start_positions"], lab["end_positions"],
                                                  start, end)
        return self._finish(outputs.TFQuestionAnsweringModelOutput(
            loss=loss, start_logits=start, end_logits=end, hidden_states=hidden,
            attentions=attns), return_dict)


class MaskedLMModel:
    task = "masked_lm"
    mlm_activation = None  # defaults to the config's hidden activation

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.mlm = self.make_mlm_head(config, self.spec(config))

    def make_mlm_head(self, config, spec):
        return MaskedLMHead(spec.hidden_size, spec.vocab_size,
                            self.mlm_activation or spec.activation, spec.layer_norm_eps,
                            tied=getattr(config, "tie_word_embeddings", True),
                            init_std=spec.init_std, embedding_size=spec.embedding_size,
                            name="mlm")

    def hf_state_dict(self):
        state = super().hf_state_dict()
        if not getattr(self.config, "tie_word_embeddings", True):
            # An untied PyTorch head still has its (unused) tied-mode output bias; write it
            # so that from_pretrained there reports no missing weight.
            decoder_bias = [k for k in state if k.endswith("decoder.bias")]
            for unused in self.tied_keys if decoder_bias else ():
                state.setdefault(unused, state[decoder_bias[0]])
        return state

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        x, _, hidden, attns, lab = self._forward(
            input_ids, dict(attention_mask=attention_mask, labels=labels, **inputs), ("labels",),
            output_hidden_states, output_attentions, training)
        logits = tf.cast(self.mlm(x, embedding=self.get_input_embeddings()), tf.float32)
        loss = None if lab["labels"] is None else losses.masked_sparse_ce(lab["labels"], logits)
        return self._finish(outputs.TFMaskedLMOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)


class MultipleChoiceModel:
    """Inputs of shape (batch, num_choices, length): every choice runs through the backbone as
    its own row, the head gives one logit per choice, the loss is a softmax over choices.

    The head is dropout + a (hidden, 1) dense on the pooled output; ``choice_summary=True``
    puts ELECTRA's summary (dense + ``config.summary_activation`` on the first token) first.
    A family changes the head's options in ``choice_head`` (RoFormer reads the last token).
    """

    task = "multiple_choice"
    uses_pooler = True
    choice_summary = False

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.classifier = ClassificationHead(spec.hidden_size, 1, init_std=spec.init_std,
                                             name="classifier", **self.choice_head(config))

    def choice_head(self, config):
        """The choice head's :class:`ClassificationHead` options (a family may override)."""
        summary = self.choice_summary
        return dict(
            dropout=(getattr(config, "summary_last_dropout", 0.0) if summary
                     else getattr(config, "hidden_dropout_prob", 0.1)),
            inner_activation=(getattr(config, "summary_activation", None) or "linear"
                              if summary else None),
            use_pooled=self.uses_pooler and not summary, input_dropout=False)

    @staticmethod
    def _flatten(value):
        """(batch, choices, ...) -> (batch * choices, ...)."""
        if value is None:
            return None
        value = tf.convert_to_tensor(value)
        return tf.reshape(value, tf.concat([[-1], tf.shape(value)[2:]], axis=0))

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        input_ids, inputs = self._unpack(input_ids, dict(attention_mask=attention_mask,
                                                         labels=labels, **inputs))
        ref = input_ids if input_ids is not None else inputs.get("inputs_embeds")
        if ref is None:
            raise InvalidInputError("Pass input_ids (or inputs_embeds) to the model.")
        ref = tf.convert_to_tensor(ref)
        if ref.shape.rank != (3 if input_ids is not None else 4):
            raise InvalidInputError(
                "A multiple-choice model takes inputs of shape (batch, num_choices, "
                f"sequence_length); got {'input_ids' if input_ids is not None else 'inputs_embeds'}"
                f" of shape {tuple(ref.shape)}. Tokenize each (context, choice) pair and stack "
                "the choices on axis 1.")
        num_choices = ref.shape[1] if ref.shape[1] is not None else tf.shape(ref)[1]
        for k in ("attention_mask", "token_type_ids", "position_ids", "inputs_embeds"):
            inputs[k] = self._flatten(inputs.get(k))
        x, pooled, hidden, attns, lab = self._forward(
            self._flatten(input_ids), inputs, ("labels",), output_hidden_states,
            output_attentions, training)
        logits = tf.cast(self.classifier(x, pooled, training=training), tf.float32)
        logits = tf.reshape(logits, [-1, num_choices])
        loss = None if lab["labels"] is None else losses.masked_sparse_ce(lab["labels"], logits)
        return self._finish(outputs.TFMultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)


class ReplacedTokenDetectionModel:
    """ELECTRA's discriminator objective (ELECTRA, Funnel): one logit per token, > 0 meaning
    "replaced". ``labels`` (0/1 per token) give the binary cross entropy over the tokens the
    attention mask keeps. Families set ``output_class``."""

    task = "pretraining"
    output_class = None

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.discriminator = TokenScoreHead(spec.hidden_size, spec.activation, spec.init_std,
                                            name="discriminator")

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        input_ids, inputs = self._unpack(input_ids, dict(attention_mask=attention_mask,
                                                         labels=labels, **inputs))
        mask = inputs.get("attention_mask")
        x, _, hidden, attns, lab = self._forward(input_ids, inputs, ("labels",),
                                                 output_hidden_states, output_attentions,
                                                 training)
        logits = tf.cast(self.discriminator(x), tf.float32)
        loss = None
        if lab["labels"] is not None:
            per = tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.cast(lab["labels"], tf.float32), logits=logits)
            keep = tf.ones_like(per) if mask is None else tf.cast(tf.equal(mask, 1), tf.float32)
            loss = tf.reduce_sum(per * keep) / tf.maximum(tf.reduce_sum(keep), 1.0)
        return self._finish(self.output_class(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)
