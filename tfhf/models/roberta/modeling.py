"""RoBERTa (Liu et al., 2019): BERT's post-LayerNorm encoder trained without next-sentence
prediction. Two differences in the model: positions count only non-pad tokens and start at
``pad_token_id + 1``, and the heads are named and shaped differently (a dense+tanh
classification head on ``<s>``, a gelu LM head). Only the bare model has a pooler."""

from transformers import RobertaConfig

from ...layers.specs import EncoderSpec
from ..bert.modeling import bert_spec
from ..encoder import (BaseModel, EncoderPreTrainedModel, MaskedLMModel, MultipleChoiceModel,
                       QuestionAnsweringModel, SequenceClassificationModel,
                       TokenClassificationModel)
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


class TFRobertaForMultipleChoice(MultipleChoiceModel, TFRobertaPreTrainedModel):
    hf_architecture = "RobertaForMultipleChoice"


HEAD_CLASSES = {
    # transformers class suffix -> RoBERTa's class (XLM-R and CamemBERT reuse them)
    "Model": TFRobertaModel,
    "ForSequenceClassification": TFRobertaForSequenceClassification,
    "ForTokenClassification": TFRobertaForTokenClassification,
    "ForQuestionAnswering": TFRobertaForQuestionAnswering,
    "ForMultipleChoice": TFRobertaForMultipleChoice,
    "ForMaskedLM": TFRobertaForMaskedLM,
}


def variant_classes(prefix, pretrained, module):
    """RoBERTa's heads under another family's names: ``TF<prefix><suffix>`` for every head,
    a subclass of RoBERTa's class and of the family's ``pretrained`` class (its config class,
    and for MPNet its own backbone spec and weight names), saved as ``<prefix><suffix>``.
    XLM-RoBERTa and CamemBERT are RoBERTa's architecture outright; MPNet's heads are
    RoBERTa's, names included."""
    classes = {}
    for suffix, roberta_cls in HEAD_CLASSES.items():
        name = f"TF{prefix}{suffix}"
        classes[name] = type(name, (roberta_cls, pretrained), {
            "hf_architecture": f"{prefix}{suffix}", "__module__": module, "__qualname__": name,
            "__doc__": f"transformers' ``{prefix}{suffix}`` (RoBERTa's architecture)."})
    return classes
