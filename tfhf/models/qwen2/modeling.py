"""Qwen2 (Qwen team, 2024): Llama with biases on the q/k/v projections. Sliding-window
attention applies only with ``use_sliding_window`` (then to the layers from
``max_window_layers`` on, as ``config.layer_types`` says)."""

from transformers import Qwen2Config

from ..causal_lm import TFCausalLMBase, TFDecoderModel, TFDecoderPreTrainedModel
from ..decoder_classification import (DecoderForQuestionAnswering,
                                      DecoderForSequenceClassification,
                                      DecoderForTokenClassification)
from ..llama.modeling import llama_spec
from . import convert


def qwen2_spec(config):
    # transformers' Qwen2Config clears sliding_window unless use_sliding_window
    return llama_spec(config, qkv_bias=True, out_bias=False, mlp_bias=False)


class TFQwen2PreTrainedModel(TFDecoderPreTrainedModel):
    config_class = Qwen2Config
    base_model_prefix = "model"
    converter = convert
    spec = staticmethod(qwen2_spec)


class TFQwen2Model(TFDecoderModel, TFQwen2PreTrainedModel):
    hf_architecture = "Qwen2Model"


class TFQwen2ForCausalLM(TFCausalLMBase, TFQwen2PreTrainedModel):
    hf_architecture = "Qwen2ForCausalLM"


class TFQwen2ForSequenceClassification(DecoderForSequenceClassification, TFQwen2PreTrainedModel):
    hf_architecture = "Qwen2ForSequenceClassification"


class TFQwen2ForTokenClassification(DecoderForTokenClassification, TFQwen2PreTrainedModel):
    hf_architecture = "Qwen2ForTokenClassification"


class TFQwen2ForQuestionAnswering(DecoderForQuestionAnswering, TFQwen2PreTrainedModel):
    hf_architecture = "Qwen2ForQuestionAnswering"
    base_model_prefix = "transformer"  # as transformers (kept there for old checkpoints)
