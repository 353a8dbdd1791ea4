"""RoBERTa (Liu et al., 2019): BERT's post-LayerNorm encoder trained without next-sentence
prediction. Two differences in the model: positions count only non-pad tokens and start at
``pad_token_id + 1``, and the heads are named and shaped differently (a dense+tanh
classification head on ``<s>``, a gelu LM head). Only the bare model has a pooler."""

from transformers import RobertaConfig

from ...layers.specs import EncoderSpec
from ..bert.modeling import bert_spec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, QuestionAnsweringModel,
                       SequenceClassificationModel, TokenClassificationModel)
from . import convert


def roberta_spec(config) -> EncoderSpec:
    return bert_spec(config, roberta_positions=True)


class TFRobertaPreTrainedModel(EncoderPreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"
    converter = convert
    spec = staticmethod(roberta_spec)

    @property
    def tied_keys(self):
        return convert.tied_keys(self.config)


class TFRobertaModel(BaseModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaModel"


class TFRobertaForSequenceClassification(SequenceClassificationModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForSequenceClassification"
    classifier_activation = "tanh"  # classifier.dense -> tanh -> classifier.out_proj on <s>


class TFRobertaForTokenClassification(TokenClassificationModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForTokenClassification"


class TFRobertaForQuestionAnswering(QuestionAnsweringModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForQuestionAnswering"


class TFRobertaForMaskedLM(MaskedLMModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForMaskedLM"
    mlm_activation = "gelu"  # RobertaLMHead calls gelu whatever hidden_act says
