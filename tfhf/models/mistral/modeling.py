"""Mistral (Jiang et al., 2023): Llama with sliding-window attention — each query sees the
last ``config.sliding_window`` positions, itself included (every layer)."""

from transformers import MistralConfig

from ..causal_lm import TFCausalLMBase, TFDecoderModel, TFDecoderPreTrainedModel
from ..decoder_classification import (DecoderForQuestionAnswering,
                                      DecoderForSequenceClassification,
                                      DecoderForTokenClassification)
from ..llama.modeling import llama_spec
from . import convert


class TFMistralPreTrainedModel(TFDecoderPreTrainedModel):
    config_class = MistralConfig
    base_model_prefix = "model"
    converter = convert
    spec = staticmethod(llama_spec)  # sliding_window set: every layer is a sliding one


class TFMistralModel(TFDecoderModel, TFMistralPreTrainedModel):
    hf_architecture = "MistralModel"


class TFMistralForCausalLM(TFCausalLMBase, TFMistralPreTrainedModel):
    hf_architecture = "MistralForCausalLM"


class TFMistralForSequenceClassification(DecoderForSequenceClassification, TFMistralPreTrainedModel):
    hf_architecture = "MistralForSequenceClassification"


class TFMistralForTokenClassification(DecoderForTokenClassification, TFMistralPreTrainedModel):
    hf_architecture = "MistralForTokenClassification"


class TFMistralForQuestionAnswering(DecoderForQuestionAnswering, TFMistralPreTrainedModel):
    hf_architecture = "MistralForQuestionAnswering"
