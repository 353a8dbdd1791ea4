"""RoBERTa (Liu et al., 2019)."""

from .modeling import (TFRobertaForMaskedLM, TFRobertaForQuestionAnswering,
                       TFRobertaForSequenceClassification, TFRobertaForTokenClassification,
                       TFRobertaModel, TFRobertaPreTrainedModel)

__all__ = ["TFRobertaModel", "TFRobertaForSequenceClassification",
           "TFRobertaForTokenClassification", "TFRobertaForQuestionAnswering",
           "TFRobertaForMaskedLM", "TFRobertaPreTrainedModel"]
