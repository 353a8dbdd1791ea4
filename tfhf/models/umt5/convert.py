"""UMT5: T5's names, with a ``relative_attention_bias`` in every self-attention layer."""

from ..t5.convert import base_weights as t5_base_weights
from ..t5.convert import head_weights, tied_keys  # noqa: F401


def base_weights(config, with_decoder=True):
    t = t5_base_weights(config, with_decoder)
    for stack, n in (("encoder", config.num_layers), ("decoder", config.num_decoder_layers)):
        if stack == "decoder" and not with_decoder:
            continue
        del t[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        for i in range(n):
            t[f"{stack}.block.{i}.layer.0.SelfAttention.relative_attention_bias.weight"] = \
                f"{stack}.blocks.{i}.relative_bias.embedding.embeddings"
    return t
