"""Gemma 3 (text): HF weight names -> tfhf attribute paths.

Gemma's ``post_attention_layernorm`` normalizes the attention *output* (Llama's of that name
is the pre-MLP norm); ``pre_feedforward_layernorm`` is the pre-MLP norm.
"""

from ..llama.convert import base_weights as llama_base_weights
from ..weights import decoder_head_weights


def base_weights(config, with_pooler=False):
    # Llama's names (no MLP biases), then Gemma's q/k norms and its four norms per layer
    t = llama_base_weights(config, mlp_bias=False)
    for i in range(config.num_hidden_layers):
        hf, tf = f"layers.{i}.", f"blocks.{i}."
        t[f"{hf}self_attn.q_norm.weight"] = f"{tf}attention.q_norm.weight"
        t[f"{hf}self_attn.k_norm.weight"] = f"{tf}attention.k_norm.weight"
        t[f"{hf}post_attention_layernorm.weight"] = f"{tf}attention_out_norm.weight"
        t[f"{hf}pre_feedforward_layernorm.weight"] = f"{tf}mlp_norm.weight"
        t[f"{hf}post_feedforward_layernorm.weight"] = f"{tf}mlp_out_norm.weight"
    return t


def head_weights(task, config):
    return decoder_head_weights(task, config)
