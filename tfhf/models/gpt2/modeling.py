"""GPT-2 (Radford et al., 2019): a pre-LayerNorm decoder with learned absolute positions,
a fused q/k/v projection (``c_attn``), a ``gelu_new`` MLP and an LM head tied to the token
embeddings. Every head is its own kv head (``kv_heads = heads``)."""

from transformers import GPT2Config

from ...errors import ConfigError
from ...layers.specs import DecoderSpec
from ..causal_lm import TFCausalLMBase, TFDecoderModel, TFDecoderPreTrainedModel
from ..decoder_classification import (DecoderForQuestionAnswering,
                                      DecoderForSequenceClassification,
                                      DecoderForTokenClassification)
from . import convert


def gpt2_spec(config) -> DecoderSpec:
    if getattr(config, "add_cross_attention", False):
        raise ConfigError("GPT-2 with add_cross_attention=True (an encoder-decoder part) is "
                          "not supported by tfhf.")
    head_dim = config.n_embd // config.n_head
    return DecoderSpec(
        vocab_size=config.vocab_size, hidden_size=config.n_embd, num_layers=config.n_layer,
        num_heads=config.n_head, num_kv_heads=config.n_head, head_dim=head_dim,
        intermediate_size=config.n_inner or 4 * config.n_embd,
        max_positions=config.n_positions, activation=config.activation_function,
        norm="layer", norm_eps=config.layer_norm_epsilon, gated_mlp=False,
        qkv_bias=True, out_bias=True, mlp_bias=True, fused_qkv=True,
        attention_scale=head_dim ** -0.5 if config.scale_attn_weights else 1.0,
        scale_by_inverse_layer=bool(config.scale_attn_by_inverse_layer_idx),
        learned_positions=True, tie_word_embeddings=bool(config.tie_word_embeddings),
        init_std=config.initializer_range, embedding_dropout=config.embd_pdrop,
        attention_dropout=config.attn_pdrop, hidden_dropout=config.resid_pdrop)


class TFGPT2PreTrainedModel(TFDecoderPreTrainedModel):
    config_class = GPT2Config
    base_model_prefix = "transformer"
    converter = convert
    spec = staticmethod(gpt2_spec)


class TFGPT2Model(TFDecoderModel, TFGPT2PreTrainedModel):
    hf_architecture = "GPT2Model"


class TFGPT2LMHeadModel(TFCausalLMBase, TFGPT2PreTrainedModel):
    hf_architecture = "GPT2LMHeadModel"


class TFGPT2ForSequenceClassification(DecoderForSequenceClassification, TFGPT2PreTrainedModel):
    hf_architecture = "GPT2ForSequenceClassification"


class TFGPT2ForTokenClassification(DecoderForTokenClassification, TFGPT2PreTrainedModel):
    hf_architecture = "GPT2ForTokenClassification"
    token_head = "classifier"


class TFGPT2ForQuestionAnswering(DecoderForQuestionAnswering, TFGPT2PreTrainedModel):
    hf_architecture = "GPT2ForQuestionAnswering"
