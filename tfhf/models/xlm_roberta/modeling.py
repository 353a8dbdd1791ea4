"""XLM-RoBERTa (Conneau et al., 2019): RoBERTa's architecture and weight names trained on 100
languages with a 250k SentencePiece vocabulary. Only the config class and the class names are
its own; the classes are RoBERTa's (:func:`tfhf.models.roberta.modeling.variant_classes`)."""

from transformers import XLMRobertaConfig

from ..roberta.modeling import TFRobertaPreTrainedModel, variant_classes


class TFXLMRobertaPreTrainedModel(TFRobertaPreTrainedModel):
    config_class = XLMRobertaConfig


globals().update(variant_classes("XLMRoberta", TFXLMRobertaPreTrainedModel, __name__))
