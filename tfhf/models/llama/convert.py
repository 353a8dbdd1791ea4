"""Llama: HF weight names -> tfhf attribute paths (relative to the backbone / the model).

Mistral and Qwen2 checkpoints use the same names (Qwen2 adds q/k/v biases).
"""

from ..weights import decoder_head_weights


def base_weights(config, with_pooler=False, qkv_bias=None, mlp_bias=None):
    qkv_bias = getattr(config, "attention_bias", False) if qkv_bias is None else qkv_bias
    out_bias = getattr(config, "attention_bias", False)
    mlp_bias = getattr(config, "mlp_bias", False) if mlp_bias is None else mlp_bias
    t = {
        "embed_tokens.weight": "embed_tokens.embeddings",
        "norm.weight": "norm.weight",
    }
    for i in range(config.num_hidden_layers):
        hf, tf = f"layers.{i}.", f"blocks.{i}."
        for name, bias in [("q_proj", qkv_bias), ("k_proj", qkv_bias), ("v_proj", qkv_bias),
                           ("o_proj", out_bias)]:
            t[f"{hf}self_attn.{name}.weight"] = f"{tf}attention.{name}.kernel"
            if bias:
                t[f"{hf}self_attn.{name}.bias"] = f"{tf}attention.{name}.bias"
        for name in ("gate_proj", "up_proj", "down_proj"):
            t[f"{hf}mlp.{name}.weight"] = f"{tf}mlp.{name}.kernel"
            if mlp_bias:
                t[f"{hf}mlp.{name}.bias"] = f"{tf}mlp.{name}.bias"
        t[f"{hf}input_layernorm.weight"] = f"{tf}input_norm.weight"
        t[f"{hf}post_attention_layernorm.weight"] = f"{tf}mlp_norm.weight"
    return t


def head_weights(task, config):
    return decoder_head_weights(task, config)
