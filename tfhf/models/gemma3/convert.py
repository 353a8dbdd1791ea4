"""Gemma 3 (text): HF weight names -> tfhf attribute paths.

Gemma's ``post_attention_layernorm`` normalizes the attention *output* (Llama's of that name
is the pre-MLP norm); ``pre_feedforward_layernorm`` is the pre-MLP norm.
"""

from ..weights import lm_head_weights


def base_weights(config, with_pooler=False):
    bias = getattr(config, "attention_bias", False)
    t = {
        "embed_tokens.weight": "embed_tokens.embeddings",
        "norm.weight": "norm.weight",
    }
    for i in range(config.num_hidden_layers):
        hf, tf = f"layers.{i}.", f"blocks.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t[f"{hf}self_attn.{name}.weight"] = f"{tf}attention.{name}.kernel"
            if bias:
                t[f"{hf}self_attn.{name}.bias"] = f"{tf}attention.{name}.bias"
        t[f"{hf}self_attn.q_norm.weight"] = f"{tf}attention.q_norm.weight"
        t[f"{hf}self_attn.k_norm.weight"] = f"{tf}attention.k_norm.weight"
        for name in ("gate_proj", "up_proj", "down_proj"):
            t[f"{hf}mlp.{name}.weight"] = f"{tf}mlp.{name}.kernel"
        t[f"{hf}input_layernorm.weight"] = f"{tf}input_norm.weight"
        t[f"{hf}post_attention_layernorm.weight"] = f"{tf}attention_out_norm.weight"
        t[f"{hf}pre_feedforward_layernorm.weight"] = f"{tf}mlp_norm.weight"
        t[f"{hf}post_feedforward_layernorm.weight"] = f"{tf}mlp_out_norm.weight"
    return t


def head_weights(task, config):
    return lm_head_weights(config)
