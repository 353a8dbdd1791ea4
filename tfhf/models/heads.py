"""Task heads shared by the encoder families, and the task models built on them.

A family class is ``class TFBertForSequenceClassification(BertPreTrainedModel,
SequenceClassificationModel)``: the family part brings the backbone and its weight names,
the task part brings the head, the loss and the output type.
"""

from __future__ import annotations

import tensorflow as tf

from .._keras import keras, register_serializable
from ..errors import InvalidInputError
from ..layers import Dense, LayerNorm, get_activation
from ..training import losses
from .. import outputs as O
from .base import TFPreTrainedModel
from .encoder import EncoderMainLayer


# ---------------------------------------------------------------------------- head layers
@register_serializable()
class ClassificationHead(keras.layers.Layer):
    """[dropout] -> [dense -> activation -> dropout] -> out, on the pooled output or first token.

    ``input_dropout=False`` skips the first dropout (DistilBERT's pre_classifier sees the
    first token as is).
    """

    def __init__(self, hidden_size, num_labels, dropout=0.1, inner_activation=None,
                 use_pooled=False, init_std=0.02, input_dropout=True, **kwargs):
        super().__init__(**kwargs)
        self.use_pooled, self.input_dropout = use_pooled, input_dropout
        self.dense = (Dense(hidden_size, hidden_size, init_std=init_std, name="dense")
                      if inner_activation else None)
        self.act = get_activation(inner_activation) if inner_activation else None
        self.out = Dense(hidden_size, num_labels, init_std=init_std, name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        if self.dense is not None:
            self.dense.build(None)
        self.out.build(None)
        self.built = True

    def call(self, hidden, pooled=None, training=False):
        x = pooled if self.use_pooled else hidden[:, 0]
        if self.dense is not None:
            if self.input_dropout:
                x = self.dropout(x, training=training)
            x = self.act(self.dense(x))
        return self.out(self.dropout(x, training=training))


@register_serializable()
class TokenHead(keras.layers.Layer):
    """Dropout then a per-token dense projection (token classification, QA span logits)."""

    def __init__(self, hidden_size, num_outputs, dropout=0.1, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.out = Dense(hidden_size, num_outputs, init_std=init_std, name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        self.out.build(None)
        self.built = True

    def call(self, hidden, training=False):
        return self.out(self.dropout(hidden, training=training))


@register_serializable()
class MaskedLMHead(keras.layers.Layer):
    """dense -> activation -> LayerNorm -> tied (or own) vocabulary projection + bias."""

    def __init__(self, hidden_size, vocab_size, activation="gelu", layer_norm_eps=1e-12,
                 tied=True, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.dense = Dense(hidden_size, hidden_size, init_std=init_std, name="dense")
        self.act = get_activation(activation)
        self.norm = LayerNorm(hidden_size, layer_norm_eps, name="norm")
        self.decoder = None if tied else Dense(hidden_size, vocab_size, use_bias=False,
                                               init_std=init_std, name="decoder")

    def build(self, input_shape=None):
        self.dense.build(None)
        self.norm.build(None)
        if self.decoder is not None:
            self.decoder.build(None)
        from .._keras import add_weight

        self.bias = add_weight(self, "bias", (self.vocab_size,), "zeros")
        self.built = True

    def call(self, hidden, embedding):
        h = self.norm(self.act(self.dense(hidden)))
        logits = embedding.attend(h) if self.decoder is None else self.decoder(h)
        return logits + tf.cast(self.bias, logits.dtype)


# ---------------------------------------------------------------------------- models
class EncoderPreTrainedModel(TFPreTrainedModel):
    """A model whose backbone is :class:`EncoderMainLayer`; families give ``spec(config)``."""

    uses_pooler = False
    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids",
                         "inputs_embeds")

    @staticmethod
    def spec(config):  # pragma: no cover - families override
        raise NotImplementedError

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        main = EncoderMainLayer(self.spec(config), with_pooler=self._uses_pooler(),
                                name=self.base_model_prefix)
        setattr(self, self.base_model_prefix, main)

    @property
    def main_layer(self):
        return getattr(self, self.base_model_prefix)

    def _uses_pooler(self):
        return self.task is None or self.uses_pooler

    def get_input_embeddings(self):
        return self.main_layer.embeddings.word_embeddings

    def _run_backbone(self, input_ids, inputs, output_hidden_states, output_attentions, training):
        allowed = set(self.model_input_names) - {"input_ids"}
        unknown = sorted(k for k, v in inputs.items() if v is not None and k not in allowed)
        if unknown:
            raise InvalidInputError(
                f"{type(self).__name__} got unexpected inputs {unknown}; it accepts "
                f"{sorted(self.model_input_names)} (and labels).")
        return self.main_layer(
            input_ids, **{k: v for k, v in inputs.items() if v is not None},
            output_hidden_states=bool(output_hidden_states if output_hidden_states is not None
                                      else self.config.output_hidden_states),
            output_attentions=bool(output_attentions if output_attentions is not None
                                   else getattr(self.config, "output_attentions", False)),
            training=training)

    def _prepare(self, input_ids, inputs, label_names):
        input_ids, inputs = self._unpack(input_ids, inputs)
        labels = {k: inputs.pop(k, None) for k in label_names}
        return input_ids, inputs, labels

    @staticmethod
    def _finish(out, return_dict):
        return out if return_dict is None or return_dict else out.to_tuple()


class BaseModel:
    """The bare backbone: ``last_hidden_state`` and ``pooler_output``."""

    task = None

    def call(self, input_ids=None, attention_mask=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        input_ids, inputs, _ = self._prepare(input_ids, dict(attention_mask=attention_mask,
                                                             **inputs), ())
        x, pooled, hidden, attns = self._run_backbone(input_ids, inputs, output_hidden_states,
                                                      output_attentions, training)
        if pooled is None:  # a backbone without pooler (DistilBERT)
            return self._finish(O.TFBaseModelOutput(
                last_hidden_state=x, hidden_states=hidden, attentions=attns), return_dict)
        return self._finish(O.TFBaseModelOutputWithPooling(
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
        d = getattr(config, "classifier_dropout", None)
        return d if d is not None else getattr(config, "hidden_dropout_prob", 0.1)

    def call(self, input_ids=None, attention_mask=None, labels=None, output_hidden_states=None,
             output_attentions=None, return_dict=None, training=False, **inputs):
        input_ids, inputs, lab = self._prepare(
            input_ids, dict(attention_mask=attention_mask, labels=labels, **inputs), ("labels",))
        x, pooled, hidden, attns = self._run_backbone(input_ids, inputs, output_hidden_states,
                                                      output_attentions, training)
        logits = tf.cast(self.classifier(x, pooled, training=training), tf.float32)
        loss = None
        if lab["labels"] is not None:
            loss = losses.sequence_classification_loss(
                tf.convert_to_tensor(lab["labels"]), logits, self.config.problem_type,
                self.config.num_labels)
        return self._finish(O.TFSequenceClassifierOutput(
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
        input_ids, inputs, lab = self._prepare(
            input_ids, dict(attention_mask=attention_mask, labels=labels, **inputs), ("labels",))
        x, _, hidden, attns = self._run_backbone(input_ids, inputs, output_hidden_states,
                                                 output_attentions, training)
        logits = tf.cast(self.classifier(x, training=training), tf.float32)
        loss = None if lab["labels"] is None else losses.masked_sparse_ce(lab["labels"], logits)
        return self._finish(O.TFTokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)


class QuestionAnsweringModel:
    task = "question_answering"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.qa_outputs = TokenHead(spec.hidden_size, config.num_labels, self.qa_dropout(config), spec.init_std,
                                    name="qa_outputs")

    @staticmethod
    def qa_dropout(config):
        return 0.0  # BERT and RoBERTa apply none; DistilBERT overrides

    def call(self, input_ids=None, attention_mask=None, start_positions=None,
             end_positions=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False, **inputs):
        input_ids, inputs, lab = self._prepare(
            input_ids, dict(attention_mask=attention_mask, start_positions=start_positions,
                            end_positions=end_positions, **inputs),
            ("start_positions", "end_positions"))
        x, _, hidden, attns = self._run_backbone(input_ids, inputs, output_hidden_states,
                                                 output_attentions, training)
        logits = tf.cast(self.qa_outputs(x, training=training), tf.float32)
        start, end = logits[..., 0], logits[..., 1]  # num_labels is 2 for QA heads
        loss = None
        if lab["start_positions"] is not None and lab["end_positions"] is not None:
            loss = losses.question_answering_loss(lab["start_positions"], lab["end_positions"],
                                                  start, end)
        return self._finish(O.TFQuestionAnsweringModelOutput(
            loss=loss, start_logits=start, end_logits=end, hidden_states=hidden,
            attentions=attns), return_dict)


class MaskedLMModel:
    task = "masked_lm"
    mlm_activation = None  # defaults to the config's hidden activation

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        spec = self.spec(config)
        self.mlm = MaskedLMHead(spec.hidden_size, spec.vocab_size,
                                self.mlm_activation or spec.activation, spec.layer_norm_eps,
                                tied=getattr(config, "tie_word_embeddings", True),
                                init_std=spec.init_std, name="mlm")

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
        input_ids, inputs, lab = self._prepare(
            input_ids, dict(attention_mask=attention_mask, labels=labels, **inputs), ("labels",))
        x, _, hidden, attns = self._run_backbone(input_ids, inputs, output_hidden_states,
                                                 output_attentions, training)
        logits = tf.cast(self.mlm(x, embedding=self.get_input_embeddings()), tf.float32)
        loss = None if lab["labels"] is None else losses.masked_sparse_ce(lab["labels"], logits)
        return self._finish(O.TFMaskedLMOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)
