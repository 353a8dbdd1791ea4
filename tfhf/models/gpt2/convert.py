"""GPT-2: HF weight names -> tfhf attribute paths.

GPT-2's ``Conv1D`` stores its weight as (in, out), the layout of tfhf's dense kernels, so
those entries name the ``Conv1D.weight`` alias of the kernel: only paths ending in
``.kernel`` are transposed. The fused ``c_attn`` (hidden -> 3 * hidden: q, k, v) stays one
matmul in tfhf and is split after it.
"""

from ..weights import decoder_head_weights


def base_weights(config, with_pooler=False):
    t = {
        "wte.weight": "embed_tokens.embeddings",
        "wpe.weight": "embed_positions.embeddings",
        "ln_f.weight": "norm.weight",
        "ln_f.bias": "norm.bias",
    }
    for i in range(config.n_layer):
        hf, tf = f"h.{i}.", f"blocks.{i}."
        for name, path in [("ln_1", "input_norm"), ("ln_2", "mlp_norm"),
                           ("attn.c_attn", "attention.c_attn"),
                           ("attn.c_proj", "attention.o_proj"),
                           ("mlp.c_fc", "mlp.c_fc"), ("mlp.c_proj", "mlp.c_proj")]:
            t[f"{hf}{name}.weight"] = f"{tf}{path}.weight"  # Conv1D/LayerNorm: no transpose
            t[f"{hf}{name}.bias"] = f"{tf}{path}.bias"
    return t


def head_weights(task, config):
    return decoder_head_weights(task, config, token_head="classifier")


def ignored_keys(config):
    """Causal-mask buffers that old GPT-2 checkpoints carry."""
    keys = set()
    for i in range(config.n_layer):
        for name in ("attn.bias", "attn.masked_bias"):
            keys.update({f"h.{i}.{name}", f"transformer.h.{i}.{name}"})
    return keys
