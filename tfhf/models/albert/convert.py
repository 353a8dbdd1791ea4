"""ALBERT: HF weight names -> tfhf attribute paths.

Blocks are stored once per group: ``encoder.albert_layer_groups.{g}.albert_layers.{j}`` is
block ``g * inner_group_num + j`` of the shared stack.
"""

from ..weights import (ENCODER_CHOICE_HEAD, ENCODER_TOKEN_HEADS, encoder_embedding_table,
                       masked_lm_head_names)

BLOCK_DENSES = [("attention.query", "attention.query"), ("attention.key", "attention.key"),
                ("attention.value", "attention.value"), ("attention.dense", "attention.out"),
                ("ffn", "ffn.up"), ("ffn_output", "ffn.down"),
                ("attention.LayerNorm", "attention_norm"),
                ("full_layer_layer_norm", "output_norm")]


def base_weights(config, with_pooler=True):
    t = encoder_embedding_table(token_types=True)
    t["encoder.embedding_hidden_mapping_in.weight"] = "embeddings_project.kernel"
    t["encoder.embedding_hidden_mapping_in.bias"] = "embeddings_project.bias"
    for g in range(config.num_hidden_groups):
        for j in range(config.inner_group_num):
            hf = f"encoder.albert_layer_groups.{g}.albert_layers.{j}."
            block = f"encoder.blocks.{g * config.inner_group_num + j}."
            for name, path in BLOCK_DENSES:
                weight = "weight" if path.endswith("norm") else "kernel"
                t[f"{hf}{name}.weight"] = f"{block}{path}.{weight}"
                t[f"{hf}{name}.bias"] = f"{block}{path}.bias"
    if with_pooler:
        t["pooler.weight"] = "pooler.dense.kernel"
        t["pooler.bias"] = "pooler.dense.bias"
    return t


HEADS = {
    **ENCODER_TOKEN_HEADS,
    **ENCODER_CHOICE_HEAD,
    "sequence_classification": ENCODER_CHOICE_HEAD["multiple_choice"],  # classifier on pooled
    "masked_lm": {
        "predictions.dense.weight": "mlm.dense.kernel",
        "predictions.dense.bias": "mlm.dense.bias",
        "predictions.LayerNorm.weight": "mlm.norm.weight",
        "predictions.LayerNorm.bias": "mlm.norm.bias",
        "predictions.bias": "mlm.bias",
    },
}


def head_weights(task, config):
    return masked_lm_head_names(HEADS, task, config, "predictions.bias",
                                "predictions.decoder")[0]


def tied_keys(config):
    return masked_lm_head_names(HEADS, "masked_lm", config, "predictions.bias",
                                "predictions.decoder")[1]
