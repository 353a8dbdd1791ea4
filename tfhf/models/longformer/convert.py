"""Longformer: HF weight names -> tfhf attribute paths.

The backbone is BERT's layout under the ``longformer.`` prefix plus each layer's global
projections (``attention.self.query_global`` / ``key_global`` / ``value_global``); the heads
are named as RoBERTa's, so their table is RoBERTa's.
"""

from ..bert.convert import base_weights as bert_base_weights
from ..roberta.convert import head_weights, tied_keys  # noqa: F401  (RoBERTa's head names)

GLOBAL_PROJECTIONS = ("query_global", "key_global", "value_global")


def base_weights(config, with_pooler=True):
    t = bert_base_weights(config, with_pooler=with_pooler)
    for i in range(config.num_hidden_layers):
        for name in GLOBAL_PROJECTIONS:
            for part, var in (("weight", "kernel"), ("bias", "bias")):
                t[f"encoder.layer.{i}.attention.self.{name}.{part}"] = (
                    f"encoder.blocks.{i}.attention.{name}.{var}")
    return t
