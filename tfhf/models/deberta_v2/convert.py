"""DeBERTa-v2/v3: HF weight names -> tfhf attribute paths.

Embeddings and heads are named as DeBERTa's (:mod:`tfhf.models.deberta.convert`); the
attention has separate ``query_proj`` / ``key_proj`` / ``value_proj`` (with biases) and,
unless ``share_att_key``, ``pos_key_proj`` / ``pos_query_proj``; the encoder may hold a
LayerNorm for the relative embeddings and a convolution.
"""

from ..deberta.convert import (BLOCK_DENSES, BLOCK_NORMS, embedding_weights, head_weights,  # noqa: F401
                               tied_keys)
from ..weights import encoder_layer_table

PROJECTIONS = [("attention.self.query_proj", "attention.query"),
               ("attention.self.key_proj", "attention.key"),
               ("attention.self.value_proj", "attention.value")]


def base_weights(config, with_pooler=False):
    t = embedding_weights(config)
    types = (config.pos_att_type or ()) if config.relative_attention else ()
    separate = []
    if not getattr(config, "share_att_key", False):
        if "c2p" in types:
            separate.append(("attention.self.pos_key_proj", "attention.pos_key"))
        if "p2c" in types:
            separate.append(("attention.self.pos_query_proj", "attention.pos_query"))
    t.update(encoder_layer_table("encoder.layer", config.num_hidden_layers,
                                 PROJECTIONS + separate + BLOCK_DENSES, BLOCK_NORMS))
    norm_rel = getattr(config, "norm_rel_ebd", "none").lower().split("|")
    if config.relative_attention and "layer_norm" in [x.strip() for x in norm_rel]:
        t["encoder.LayerNorm.weight"] = "encoder.rel_norm.weight"
        t["encoder.LayerNorm.bias"] = "encoder.rel_norm.bias"
    if getattr(config, "conv_kernel_size", 0) > 0:
        t["encoder.conv.conv.weight"] = "encoder.conv.conv.weight"
        t["encoder.conv.conv.bias"] = "encoder.conv.conv.bias"
        t["encoder.conv.LayerNorm.weight"] = "encoder.conv.norm.weight"
        t["encoder.conv.LayerNorm.bias"] = "encoder.conv.norm.bias"
    return t
