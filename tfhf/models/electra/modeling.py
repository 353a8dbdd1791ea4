"""ELECTRA (Clark et al., 2020): BERT's encoder (no pooler) with embeddings of their own width
(``embedding_size``) projected to the hidden size, trained as a replaced-token
discriminator (:class:`TFElectraForPreTraining`) next to a small masked-LM generator
(:class:`TFElectraForMaskedLM`). The classification head is dense + gelu + out_proj on the
first token; multiple choice puts a summary dense + ``summary_activation`` first."""

import dataclasses

import tensorflow as tf
from transformers import ElectraConfig

from ... import outputs
from ...layers.specs import EncoderSpec
from ..bert.modeling import bert_spec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, SequenceClassificationModel,
                       TokenClassificationModel)
from ..heads import TokenScoreHead
from . import convert


def electra_spec(config) -> EncoderSpec:
    factorized = config.embedding_size != config.hidden_size
    return dataclasses.replace(bert_spec(config),
                               embedding_size=config.embedding_size if factorized else None)


class TFElectraPreTrainedModel(EncoderPreTrainedModel):
    config_class = ElectraConfig
    base_model_prefix = "electra"
    converter = convert
    spec = staticmethod(electra_spec)

    def _uses_pooler(self):
        return False

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config)


class TFElectraModel(BaseModel, TFElectraPreTrainedModel):
    hf_architecture = "ElectraModel"


class TFElectraForSequenceClassification(SequenceClassificationModel, TFElectraPreTrainedModel):
    hf_architecture = "ElectraForSequenceClassification"
    classifier_activation = "gelu"


class TFElectraForTokenClassification(TokenClassificationModel, TFElectraPreTrainedModel):
    hf_architecture = "ElectraForTokenClassification"


class TFElectraForQuestionAnswering(QuestionAnsweringModel, TFElectraPreTrainedModel):
    hf_architecture = "ElectraForQuestionAnswering"


class TFElectraForMultipleChoice(MultipleChoiceModel, TFElectraPreTrainedModel):
    hf_architecture = "ElectraForMultipleChoice"
    choice_summary = True


class TFElectraForMaskedLM(MaskedLMModel, TFElectraPreTrainedModel):
    hf_architecture = "ElectraForMaskedLM"
    mlm_activation = "gelu"  # ElectraGeneratorPredictions: gelu whatever hidden_act says


class TFElectraForPreTraining(TFElectraPreTrainedModel):
    """The discriminator: one logit per token, > 0 meaning "replaced". ``labels`` (0/1 per
    token) give the binary cross entropy over the tokens the attention mask keeps."""

    hf_architecture = "ElectraForPreTraining"
    task = "pretraining"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.discriminator = TokenScoreHead(config.hidden_size, config.hidden_act,
                                            config.initializer_range, name="discriminator")

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
        return self._finish(outputs.TFElectraForPreTrainingOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)
