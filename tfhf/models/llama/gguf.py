"""llama.cpp's ``llama`` GGUF architecture -> ``LlamaConfig`` and HF weight names.

llama.cpp's converter permutes the q_proj/k_proj rows (weights and biases) for its
interleaved rotary; :func:`transform` restores HF's rotate-half layout.
"""

from __future__ import annotations

import numpy as np

from ...errors import CheckpointError
from ..gguf import DECODER_BLOCK, decoder_kwargs, rope_parameters

MODEL_TYPE = "llama"
BLOCK_NAMES = DECODER_BLOCK


def config_kwargs(gguf_file) -> dict:
    kw, dims = decoder_kwargs(gguf_file, head_dim_from_rope=True)
    kw["head_dim"] = dims.head_dim
    kw["attention_bias"] = "blk.0.attn_q.bias" in gguf_file.tensors
    kw["mlp_bias"] = "blk.0.ffn_up.bias" in gguf_file.tensors
    kw["rope_parameters"] = rope_parameters(gguf_file, dims.prefix, dims.rope_theta,
                                            dims.head_dim)
    return kw


def transform(gguf_name: str, values: np.ndarray, config) -> np.ndarray:
    if ".attn_q." in gguf_name:
        return unpermute_rotary_rows(values, config.num_attention_heads)
    if ".attn_k." in gguf_name:
        return unpermute_rotary_rows(values, config.num_key_value_heads)
    return values


def unpermute_rotary_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Invert llama.cpp's ``LlamaModel.permute`` of q_proj/k_proj rows (weight or bias).

    llama.cpp reshapes the rows as ``(n_head, 2, head_dim // 2)`` and swaps the last two
    axes (rotary pairs interleaved); this reshapes as ``(n_head, head_dim // 2, 2)`` and
    swaps back to HF's half-split layout.
    """
    rows = w.shape[0]
    if n_head <= 0 or rows % (2 * n_head):
        raise CheckpointError(f"Cannot undo llama.cpp's rotary permutation: {rows} rows do not "
                              f"split into {n_head} heads of an even size.")
    return (w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))
