"""Whisper: HF weight names -> tfhf attribute paths (relative to the main layer / the model).

The layers use BART's names (``self_attn``, ``encoder_attn``, ``fc1``/``fc2``, three layer
norms) with a final ``layer_norm`` per stack; ``k_proj`` has no bias. The encoder starts with
two convolutions and a saved sinusoidal position table; the decoder's token embeddings
(``decoder.embed_tokens``) are tfhf's ``shared`` table, which ``proj_out`` is tied to.
"""

from ..bart.convert import stack_weights


def base_weights(config, with_decoder=True):
    t = stack_weights(config, with_decoder, learned_positions=True, embedding_norm=False,
                      final_norm=True)
    # Whisper's k projections have no bias and the token table belongs to the decoder
    t = {k: v for k, v in t.items() if not k.endswith("k_proj.bias")}
    shared = t.pop("shared.weight")
    if with_decoder:
        t["decoder.embed_tokens.weight"] = shared
    for conv in ("conv1", "conv2"):
        t[f"encoder.{conv}.weight"] = f"{conv}.weight"
        t[f"encoder.{conv}.bias"] = f"{conv}.bias"
    return t


def head_weights(task, config):
    if task == "seq2seq_lm" and not getattr(config, "tie_word_embeddings", True):
        return {"proj_out.weight": "lm_head.kernel"}
    return {}


def tied_keys(config):
    """``proj_out.weight`` is the decoder's token table when tied (PyTorch may save it)."""
    return {"proj_out.weight"} if getattr(config, "tie_word_embeddings", True) else set()
