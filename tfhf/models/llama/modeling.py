"""Llama (Touvron et al., 2023): a pre-norm decoder with RMSNorm, rotary positions
(with the RoPE scaling variants of ``rope_parameters``), grouped-query attention
(``num_key_value_heads``) and a SwiGLU MLP. The blocks are :mod:`tfhf.layers.decoder`'s."""

from transformers import LlamaConfig

from ...layers.rotary import rope_parameters
from ...layers.specs import FULL, SLIDING, DecoderSpec
from ..causal_lm import TFCausalLMBase, TFDecoderModel, TFDecoderPreTrainedModel
from ..decoder_classification import (DecoderForQuestionAnswering,
                                      DecoderForSequenceClassification,
                                      DecoderForTokenClassification)
from . import convert


def llama_spec(config, **overrides) -> DecoderSpec:
    """The spec of a Llama-style config (also Mistral's and Qwen2's).

    Sliding-window layers: ``config.layer_types`` where the config has them (Qwen2), else
    every layer when ``config.sliding_window`` is set (Mistral).
    """
    n = config.num_hidden_layers
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    window = getattr(config, "sliding_window", None)
    layer_types = getattr(config, "layer_types", None) or [SLIDING if window else FULL] * n
    if not window:  # transformers: no window, no sliding mask, whatever layer_types says
        layer_types = [FULL] * n
    rope = rope_parameters(config)
    kwargs = dict(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size, num_layers=n,
        num_heads=config.num_attention_heads,
        num_kv_heads=getattr(config, "num_key_value_heads", None) or config.num_attention_heads,
        head_dim=head_dim, intermediate_size=config.intermediate_size,
        max_positions=config.max_position_embeddings, activation=config.hidden_act,
        norm="rms", norm_eps=config.rms_norm_eps,
        qkv_bias=getattr(config, "attention_bias", False),
        out_bias=getattr(config, "attention_bias", False),
        mlp_bias=getattr(config, "mlp_bias", False),
        layer_types=tuple(layer_types), sliding_window=window, rope={FULL: rope, SLIDING: rope},
        tie_word_embeddings=bool(config.tie_word_embeddings),
        init_std=config.initializer_range,
        attention_dropout=float(getattr(config, "attention_dropout", 0.0) or 0.0))
    kwargs.update(overrides)
    return DecoderSpec(**kwargs)


class TFLlamaPreTrainedModel(TFDecoderPreTrainedModel):
    config_class = LlamaConfig
    base_model_prefix = "model"
    converter = convert
    spec = staticmethod(llama_spec)


class TFLlamaModel(TFDecoderModel, TFLlamaPreTrainedModel):
    hf_architecture = "LlamaModel"


class TFLlamaForCausalLM(TFCausalLMBase, TFLlamaPreTrainedModel):
    hf_architecture = "LlamaForCausalLM"


class TFLlamaForSequenceClassification(DecoderForSequenceClassification, TFLlamaPreTrainedModel):
    hf_architecture = "LlamaForSequenceClassification"


class TFLlamaForTokenClassification(DecoderForTokenClassification, TFLlamaPreTrainedModel):
    hf_architecture = "LlamaForTokenClassification"


class TFLlamaForQuestionAnswering(DecoderForQuestionAnswering, TFLlamaPreTrainedModel):
    hf_architecture = "LlamaForQuestionAnswering"
    base_model_prefix = "transformer"  # as transformers (kept there for old checkpoints)
