"""Qwen2: Llama's weight names, with biases on q/k/v (not on o_proj)."""

from ..llama import convert as _llama

head_weights = _llama.head_weights


def base_weights(config, with_pooler=False):
    return _llama.base_weights(config, qkv_bias=True)
