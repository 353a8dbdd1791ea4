"""CamemBERT (Martin et al., 2020): RoBERTa's architecture and weight names trained on French
with a SentencePiece vocabulary. Only the config class and the class names are its own; the
classes are RoBERTa's (:func:`tfhf.models.roberta.modeling.variant_classes`)."""

from transformers import CamembertConfig

from ..roberta.modeling import TFRobertaPreTrainedModel, variant_classes


class TFCamembertPreTrainedModel(TFRobertaPreTrainedModel):
    config_class = CamembertConfig


globals().update(variant_classes("Camembert", TFCamembertPreTrainedModel, __name__))
