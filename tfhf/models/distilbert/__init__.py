"""DistilBERT (Sanh et al., 2019)."""

from .modeling import (TFDistilBertForMaskedLM, TFDistilBertForQuestionAnswering,
                       TFDistilBertForSequenceClassification, TFDistilBertForTokenClassification,
                       TFDistilBertModel, TFDistilBertPreTrainedModel)

__all__ = ["TFDistilBertModel", "TFDistilBertForSequenceClassification",
           "TFDistilBertForTokenClassification", "TFDistilBertForQuestionAnswering",
           "TFDistilBertForMaskedLM", "TFDistilBertPreTrainedModel"]
