"""llama.cpp's ``gemma3`` GGUF architecture -> ``Gemma3TextConfig`` and HF weight names.

Gemma 3 has four norms per block (llama.cpp calls the one before the MLP ``ffn_norm``), and
llama.cpp stores every ``*norm.weight`` as ``1 + w`` (Gemma's RMSNorm scales by
``1 + weight``): :func:`transform` subtracts the one again. What the GGUF does not state,
llama.cpp hard-codes (llama-model.cpp): local rope base 10000, every 6th layer global, and the
query scale 1/sqrt(head_dim) except for the 27B model (62 layers), which scales by
1/sqrt(hidden/heads).
"""

from __future__ import annotations

import numpy as np

from ...errors import CheckpointError
from ..gguf import DECODER_BLOCK, decoder_kwargs, meta_int, rope_parameters

MODEL_TYPE = "gemma3_text"
BLOCK_NAMES = {
    **DECODER_BLOCK,
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
}


def config_kwargs(gguf_file) -> dict:
    kw, dims = decoder_kwargs(gguf_file)
    p, layers = dims.prefix, dims.layers
    kw["head_dim"] = dims.head_dim
    window = meta_int(gguf_file, p + "attention.sliding_window", required=False)
    if window:
        kw["sliding_window"] = window
    kw["layer_types"] = _layer_types(gguf_file, p, layers)
    full = rope_parameters(gguf_file, p, dims.rope_theta, dims.head_dim)
    local = {"rope_type": "default",
             "rope_theta": gguf_file.meta_float(p + "rope.freq_base_swa", default=10000.0)}
    kw["rope_parameters"] = {"full_attention": full, "sliding_attention": local}
    kw["query_pre_attn_scalar"] = dims.hidden // dims.heads if layers == 62 else dims.head_dim
    for key in ("attn_logit_softcapping", "final_logit_softcapping"):
        value = gguf_file.meta_float(p + key)
        if value:
            kw[key] = value
    return kw


def _layer_types(gguf_file, p, layers):
    pattern = gguf_file.metadata.get(p + "attention.sliding_window_pattern", 6)
    if isinstance(pattern, np.ndarray):
        if pattern.shape != (layers,):
            raise CheckpointError(f"'{gguf_file.path}': sliding_window_pattern has "
                                  f"{pattern.size} entries for {layers} layers.")
        return ["sliding_attention" if s else "full_attention" for s in pattern.tolist()]
    if isinstance(pattern, int) and not isinstance(pattern, bool) and pattern > 0:
        return ["sliding_attention" if (i + 1) % pattern else "full_attention"
                for i in range(layers)]
    raise CheckpointError(f"'{gguf_file.path}': sliding_window_pattern = {pattern!r} is invalid.")


def transform(gguf_name: str, values: np.ndarray, config) -> np.ndarray:
    if gguf_name.endswith("norm.weight"):
        return values - np.float32(1.0)
    return values
