"""llama.cpp's ``qwen2`` GGUF architecture -> ``Qwen2Config`` and HF weight names (stored
unpermuted, with q/k/v biases)."""

from __future__ import annotations

from ...errors import UnsupportedModelError
from ..gguf import DECODER_BLOCK, decoder_kwargs, rope_parameters

MODEL_TYPE = "qwen2"
BLOCK_NAMES = DECODER_BLOCK


def config_kwargs(gguf_file) -> dict:
    kw, dims = decoder_kwargs(gguf_file)
    if dims.head_dim != dims.hidden // dims.heads:
        raise UnsupportedModelError(f"'{gguf_file.path}': Qwen2 needs head size hidden/heads.")
    kw["rope_parameters"] = rope_parameters(gguf_file, dims.prefix, dims.rope_theta,
                                            dims.head_dim)
    return kw
