"""ELECTRA (Clark et al., 2020): BERT's encoder (no pooler) with embeddings of their own width
(``embedding_size``) projected to the hidden size, trained as a replaced-token
discriminator (:class:`TFElectraForPreTraining`) next to a small masked-LM generator
(:class:`TFElectraForMaskedLM`). The classification head is dense + gelu + out_proj on the
first token; multiple choice puts a summary dense + ``summary_activation`` first."""

import dataclasses

from transformers import ElectraConfig

from ... import outputs
from ...layers.specs import EncoderSpec
from ..bert.modeling import bert_spec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, ReplacedTokenDetectionModel,
                       SequenceClassificationModel, TokenClassificationModel)
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


class TFElectraForPreTraining(ReplacedTokenDetectionModel, TFElectraPreTrainedModel):
    """The discriminator: one logit per token, > 0 meaning "replaced"."""

    hf_architecture = "ElectraForPreTraining"
    output_class = outputs.TFElectraForPreTrainingOutput
