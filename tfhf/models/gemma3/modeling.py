"""Gemma 3, text part (Gemma Team, 2025): a pre- and post-norm decoder.

Every sublayer is wrapped in RMSNorms that scale by ``(1 + weight)``, before and after;
queries and keys get their own RMSNorm over ``head_dim``; the MLP is GeGLU
(``gelu_pytorch_tanh``); token embeddings are multiplied by ``sqrt(hidden_size)`` (in the
compute dtype); attention scores are scaled by ``query_pre_attn_scalar ** -0.5``.
Layers alternate, per ``config.layer_types``, between local sliding-window attention with its
own rope theta (``rope_parameters["sliding_attention"]``, formerly ``rope_local_base_freq``)
and global attention (``rope_parameters["full_attention"]``, possibly scaled). Optional
soft-capping of the final logits: ``cap * tanh(x / cap)``.
"""

from transformers import Gemma3TextConfig

from ...errors import ConfigError
from ...layers.rotary import rope_parameters
from ...layers.specs import FULL, SLIDING, DecoderSpec
from ..causal_lm import TFCausalLMBase, TFDecoderModel, TFDecoderPreTrainedModel
from ..decoder_classification import DecoderForSequenceClassification
from . import convert


def gemma3_spec(config) -> DecoderSpec:
    if getattr(config, "use_bidirectional_attention", False):
        raise ConfigError("Gemma 3 with use_bidirectional_attention=True (an encoder) is not "
                          "supported by tfhf's causal LM.")
    return DecoderSpec(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
        num_kv_heads=config.num_key_value_heads, head_dim=config.head_dim,
        intermediate_size=config.intermediate_size,
        max_positions=config.max_position_embeddings, activation=config.hidden_activation,
        norm="rms", norm_eps=config.rms_norm_eps, norm_offset=1.0,
        qkv_bias=config.attention_bias, out_bias=config.attention_bias,
        qk_norm=True, sandwich_norms=True,
        attention_scale=config.query_pre_attn_scalar ** -0.5,
        # transformers' Gemma 3 never applies attn_logit_softcapping (the Gemma 3 report
        # replaced Gemma 2's soft-capping with the q/k norms), so neither does tfhf
        attn_softcap=None,
        final_softcap=config.final_logit_softcapping,
        embed_scale=config.hidden_size ** 0.5,
        layer_types=tuple(config.layer_types), sliding_window=config.sliding_window,
        rope={FULL: rope_parameters(config, FULL), SLIDING: rope_parameters(config, SLIDING)},
        tie_word_embeddings=bool(config.tie_word_embeddings),
        init_std=config.initializer_range,
        attention_dropout=float(config.attention_dropout or 0.0))


class TFGemma3PreTrainedModel(TFDecoderPreTrainedModel):
    config_class = Gemma3TextConfig
    base_model_prefix = "model"
    converter = convert
    spec = staticmethod(gemma3_spec)


class TFGemma3TextModel(TFDecoderModel, TFGemma3PreTrainedModel):
    hf_architecture = "Gemma3TextModel"


class TFGemma3ForCausalLM(TFCausalLMBase, TFGemma3PreTrainedModel):
    hf_architecture = "Gemma3ForCausalLM"


class TFGemma3TextForSequenceClassification(DecoderForSequenceClassification, TFGemma3PreTrainedModel):
    hf_architecture = "Gemma3TextForSequenceClassification"
