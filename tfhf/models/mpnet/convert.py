"""MPNet: HF weight names -> tfhf attribute paths.

The backbone has its own names (``attention.attn.q``, one relative-attention bias table for
all layers); the heads are named as RoBERTa's, so their table is RoBERTa's.
"""

from ..roberta.convert import head_weights, tied_keys  # noqa: F401  (RoBERTa's head names)
from ..weights import encoder_embedding_table, encoder_layer_table


def base_weights(config, with_pooler=True):
    t = encoder_embedding_table(token_types=False)
    t.update(encoder_layer_table("encoder.layer", config.num_hidden_layers, [
        ("attention.attn.q", "attention.query"),
        ("attention.attn.k", "attention.key"),
        ("attention.attn.v", "attention.value"),
        ("attention.attn.o", "attention.out"),
        ("intermediate.dense", "ffn.up"),
        ("output.dense", "ffn.down"),
    ], [("attention.LayerNorm", "attention_norm"), ("output.LayerNorm", "output_norm")]))
    t["encoder.relative_attention_bias.weight"] = "relative_bias.embedding.embeddings"
    if with_pooler:
        t["pooler.dense.weight"] = "pooler.dense.kernel"
        t["pooler.dense.bias"] = "pooler.dense.bias"
    return t
