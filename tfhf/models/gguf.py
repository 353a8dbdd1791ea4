"""GGUF files as tfhf models: from a file's architecture to its family's config and names.

:mod:`tfhf.hub.gguf` reads the format. Here :func:`load_gguf` looks the file's
``general.architecture`` up in the registry (``registry.GGUF``), whose module
``tfhf/models/<family>/gguf.py`` provides

* ``MODEL_TYPE``: the transformers ``model_type`` of the config;
* ``BLOCK_NAMES``: llama.cpp's per-block tensor names -> HF names inside ``model.layers.N``;
* ``config_kwargs(gguf_file)``: the transformers config keyword arguments;
* optionally ``transform(gguf_name, values, config)``: what undoes llama.cpp's converter on a
  tensor (Llama's q/k row permutation, Gemma's ``1 + w`` norms).

Shared by the decoder families: the top-level names, the usual block table, the metadata every
decoder has (:func:`decoder_kwargs`, which also checks sizes against sane limits and against
the file's own length) and the rope settings (:func:`rope_parameters`). A missing
``output.weight`` means a head tied to the embedding; ``rope_freqs.weight`` (Llama 3 rope
scaling) is folded into the config and left out of the state.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..errors import CheckpointError, UnsupportedModelError
from ..hub.gguf import GGUFFile, GGUFState
from .registry import gguf_family

TOP_LEVEL = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}
DECODER_BLOCK = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
# tensors the config already accounts for (Llama 3 rope scaling), left out of the state
CONSUMED = ("rope_freqs.weight",)
BLOCK_RE = re.compile(r"blk\.(\d+)\.([a-z0-9_]+)\.(weight|bias)")
TOP_RE = re.compile(r"([a-z0-9_]+)\.(weight|bias)")

# Sane limits on config values (the largest released models stay well under each): a corrupt
# or hostile header must not make tfhf build a config for a model no machine could hold.
LIMITS = {
    "block_count": 1024,
    "embedding_length": 1 << 17,
    "feed_forward_length": 1 << 20,
    "attention.head_count": 1 << 12,
    "attention.head_count_kv": 1 << 12,
    "attention.key_length": 1 << 14,
    "attention.value_length": 1 << 14,
    "rope.dimension_count": 1 << 14,
    "context_length": 1 << 24,
    "attention.sliding_window": 1 << 24,
    "rope.scaling.original_context_length": 1 << 24,
}
MAX_VOCAB = 1 << 22
# No ggml type stores more than ~5.1 weights per byte (IQ1_S: 256 in 50 bytes), so a file of
# n bytes describes at most 8 n weights; a config claiming more does not match the file.
MAX_WEIGHTS_PER_BYTE = 8


def meta_int(gguf_file, key, **kw):
    """``gguf_file.meta_int`` with the :data:`LIMITS` maximum of ``key`` (after the arch.)."""
    short = key.split(".", 1)[1]
    return gguf_file.meta_int(key, maximum=LIMITS.get(short, 1 << 32), **kw)


# ---------------------------------------------------------------------- names
def hf_name(name: str, block_names: dict) -> str | None:
    """The HF (PyTorch transformers) name of a GGUF tensor, or None if it has none."""
    m = BLOCK_RE.fullmatch(name)
    if m:
        part = block_names.get(m.group(2))
        return None if part is None else f"model.layers.{m.group(1)}.{part}.{m.group(3)}"
    m = TOP_RE.fullmatch(name)
    if m and m.group(1) in TOP_LEVEL:
        return f"{TOP_LEVEL[m.group(1)]}.{m.group(2)}"
    return None


def gguf_to_hf_name(name: str, architecture: str) -> str | None:
    """:func:`hf_name` with the block table of ``architecture``'s family."""
    return hf_name(name, gguf_family(architecture).BLOCK_NAMES)


def weight_names(gguf_file: GGUFFile, block_names: dict) -> dict:
    """HF name -> GGUF name for every tensor; one without an HF name keeps its GGUF name (a
    loader reports it as unexpected)."""
    names = {}
    for gguf_name in gguf_file.tensors:
        if gguf_name in CONSUMED:
            continue
        hf = hf_name(gguf_name, block_names) or gguf_name
        if hf in names:
            raise CheckpointError(f"'{gguf_file.path}': tensors '{names[hf]}' and '{gguf_name}' "
                                  f"both map to '{hf}'.")
        names[hf] = gguf_name
    return names


# ---------------------------------------------------------------------- config
@dataclass
class DecoderDims:
    """What a family needs beyond the shared kwargs: the metadata prefix and derived sizes."""

    prefix: str
    hidden: int
    heads: int
    layers: int
    head_dim: int
    rope_theta: float


def decoder_kwargs(gguf_file: GGUFFile, head_dim_from_rope=False) -> tuple[dict, DecoderDims]:
    """The config kwargs every decoder family shares, and :class:`DecoderDims`.

    ``head_dim_from_rope``: a ``rope.dimension_count`` gives the head size (llama.cpp's
    ``llama`` does; others state ``attention.key_length`` or use hidden / heads).
    """
    path, p = gguf_file.path, gguf_file.architecture + "."
    hidden = meta_int(gguf_file, p + "embedding_length")
    heads = meta_int(gguf_file, p + "attention.head_count")
    kv_heads = meta_int(gguf_file, p + "attention.head_count_kv", default=heads)
    layers = meta_int(gguf_file, p + "block_count")
    emb = gguf_file.tensors.get("token_embd.weight")
    if emb is None or len(emb.shape) != 2:
        raise CheckpointError(f"'{path}' has no 2-D token_embd.weight tensor.")
    vocab, emb_dim = emb.shape
    if emb_dim != hidden:
        raise CheckpointError(f"'{path}': token_embd.weight is {emb.shape} but "
                              f"{p}embedding_length is {hidden}.")
    if not 0 < vocab <= MAX_VOCAB:
        raise CheckpointError(f"'{path}': token_embd.weight has {vocab} rows; a vocabulary of "
                              f"1 to {MAX_VOCAB} tokens is expected.")
    if heads % kv_heads:
        raise CheckpointError(f"'{path}': {heads} attention heads do not split into "
                              f"{kv_heads} key/value heads.")
    kw = dict(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=meta_int(gguf_file, p + "feed_forward_length"),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        tie_word_embeddings="output.weight" not in gguf_file.tensors,
        bos_token_id=gguf_file.token_id("bos_token_id"),
        eos_token_id=gguf_file.token_id("eos_token_id"),
        pad_token_id=gguf_file.token_id("padding_token_id"),
    )
    context = meta_int(gguf_file, p + "context_length", required=False)
    if context:
        kw["max_position_embeddings"] = context
    eps = gguf_file.meta_float(p + "attention.layer_norm_rms_epsilon")
    if eps is not None:
        kw["rms_norm_eps"] = eps
    head_dim = _head_dim(gguf_file, p, hidden, heads, head_dim_from_rope)
    _check_blocks(gguf_file, layers)
    _check_weight_count(gguf_file, kw, head_dim)
    theta = gguf_file.meta_float(p + "rope.freq_base", default=10000.0)  # llama.cpp's default
    return kw, DecoderDims(p, hidden, heads, layers, head_dim, theta)


def _head_dim(gguf_file, p, hidden, heads, from_rope):
    path = gguf_file.path
    key_length = meta_int(gguf_file, p + "attention.key_length", required=False)
    value_length = meta_int(gguf_file, p + "attention.value_length", required=False)
    if key_length and value_length and key_length != value_length:
        raise UnsupportedModelError(f"'{path}': key length {key_length} differs from value "
                                    f"length {value_length}.")
    rope_dim = meta_int(gguf_file, p + "rope.dimension_count", required=False)
    head_dim = key_length or (rope_dim if from_rope else None) or hidden // heads
    if rope_dim and rope_dim != head_dim:
        raise UnsupportedModelError(f"'{path}': rotary dimension {rope_dim} differs from the "
                                    f"head size {head_dim} (partial rotary is not supported).")
    q = gguf_file.tensors.get("blk.0.attn_q.weight")
    if q is not None and q.shape[0] != heads * head_dim:
        raise CheckpointError(f"'{path}': blk.0.attn_q.weight has {q.shape[0]} rows, not "
                              f"{heads} heads x {head_dim}.")
    return head_dim


def _check_blocks(gguf_file, layers):
    """Block tensors must be numbered 0 .. block_count - 1."""
    blocks = {int(m.group(1)) for m in map(BLOCK_RE.fullmatch, gguf_file.tensors) if m}
    if blocks and blocks != set(range(layers)):
        have = f"{min(blocks)}..{max(blocks)}" if len(blocks) > 1 else str(min(blocks))
        raise CheckpointError(f"'{gguf_file.path}': block_count is {layers} but the file holds "
                              f"tensors of {len(blocks)} blocks ({have}).")


def _check_weight_count(gguf_file, kw, head_dim):
    """The weights the config describes must fit in the file (before anything is built)."""
    hidden, layers = kw["hidden_size"], kw["num_hidden_layers"]
    attention = hidden * head_dim * 2 * (kw["num_attention_heads"] + kw["num_key_value_heads"])
    mlp = 3 * hidden * kw["intermediate_size"]
    embeddings = kw["vocab_size"] * hidden * (1 if kw["tie_word_embeddings"] else 2)
    total = embeddings + layers * (attention + mlp)
    most = MAX_WEIGHTS_PER_BYTE * gguf_file.size
    if total > most:
        raise CheckpointError(
            f"'{gguf_file.path}': its metadata describes a model of {total:,} weights "
            f"({layers} blocks, hidden size {hidden}, feed-forward {kw['intermediate_size']}), "
            f"more than a file of {gguf_file.size:,} bytes can hold ({most:,}); the header is "
            "corrupt.")


def rope_parameters(gguf_file: GGUFFile, prefix: str, theta: float, head_dim: int) -> dict:
    """transformers' ``rope_parameters`` of the file: the base ``theta`` plus the file's rope
    scaling (linear / yarn, or Llama 3's ``rope_freqs`` tensor)."""
    params = {"rope_type": "default", "rope_theta": theta}
    kind = gguf_file.metadata.get(f"{prefix}rope.scaling.type")
    factor = gguf_file.meta_float(f"{prefix}rope.scaling.factor")
    if kind in (None, "none") or (kind == "linear" and factor in (None, 1.0)):
        pass
    elif kind == "linear":
        params.update(rope_type="linear", factor=factor)
    elif kind == "yarn":
        params.update(rope_type="yarn", factor=factor or 1.0)
        orig = meta_int(gguf_file, f"{prefix}rope.scaling.original_context_length",
                        required=False)
        if orig:
            params["original_max_position_embeddings"] = orig
        for key, hf in (("yarn_beta_fast", "beta_fast"), ("yarn_beta_slow", "beta_slow"),
                        ("attn_factor", "attention_factor")):
            v = gguf_file.metadata.get(f"{prefix}rope.scaling.{key}")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                params[hf] = float(v)
    else:
        raise UnsupportedModelError(f"'{gguf_file.path}': rope scaling type {kind!r} is not "
                                    "supported (tfhf reads none, linear and yarn).")
    if "rope_freqs.weight" in gguf_file.tensors:
        params.update(_llama3_rope_from_freqs(gguf_file, theta, head_dim))
    return params


def _llama3_rope_from_freqs(gguf_file, base, head_dim):
    """llama.cpp stores Llama 3.x rope scaling as per-frequency divisors (``rope_freqs``).

    Recover transformers' ``llama3`` parameters: the factor is the largest divisor; the other
    three are Meta's published values, accepted only if they reproduce the stored divisors.
    """
    freqs = np.asarray(gguf_file.dequantize("rope_freqs.weight"), np.float64).reshape(-1)
    if freqs.size != head_dim // 2 or not np.all(np.isfinite(freqs)) or freqs.min() <= 0:
        raise CheckpointError(f"'{gguf_file.path}': rope_freqs.weight has {freqs.size} values; "
                              f"expected {head_dim // 2} positive divisors.")
    if np.allclose(freqs, 1.0):
        return {}
    factor = float(freqs.max())
    inv = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    low, high = 1.0, 4.0
    wavelen = 2 * math.pi / inv
    for orig in (8192, 4096, 2048, 16384, 32768, 131072):
        smooth = (orig / wavelen - low) / (high - low)
        expected = np.where(wavelen < orig / high, 1.0,
                            np.where(wavelen > orig / low, factor,
                                     1 / ((1 - smooth) / factor + smooth)))
        if np.allclose(expected, freqs, rtol=1e-4, atol=1e-5):
            return {"rope_type": "llama3", "factor": factor, "low_freq_factor": low,
                    "high_freq_factor": high, "original_max_position_embeddings": orig}
    raise UnsupportedModelError(
        f"'{gguf_file.path}': its rope_freqs.weight rope scaling does not match Llama 3's "
        "scheme with Meta's parameters; tfhf cannot rebuild the rope settings of this file.")


# ---------------------------------------------------------------------- loading
def gguf_config(gguf_file: GGUFFile, family=None):
    """The transformers config of a GGUF file (LlamaConfig, Qwen2Config, Gemma3TextConfig, ...)."""
    family = family or gguf_family(gguf_file.architecture, gguf_file.path)
    kw = family.config_kwargs(gguf_file)  # every check runs before transformers is imported
    from transformers import AutoConfig

    try:
        return AutoConfig.for_model(family.MODEL_TYPE, **kw)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"'{gguf_file.path}': its metadata gives an invalid "
                              f"{family.MODEL_TYPE} config: {e}") from None


def load_gguf(path):
    """``(config, state)`` of a GGUF file: a transformers config and a lazy
    :class:`~tfhf.hub.gguf.GGUFState` under HF weight names."""
    gguf_file = GGUFFile(path)
    try:
        family = gguf_family(gguf_file.architecture, gguf_file.path)
        config = gguf_config(gguf_file, family)
        names = weight_names(gguf_file, family.BLOCK_NAMES)
        transform = getattr(family, "transform", None)
        if transform is not None:
            transform = partial(transform, config=config)
        return config, GGUFState(gguf_file, config, names, transform)
    except BaseException:
        gguf_file.close()
        raise
