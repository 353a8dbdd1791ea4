"""BERT: HF weight names -> tfhf attribute paths (relative to the backbone / the model)."""

from ..weights import (ENCODER_CHOICE_HEAD, ENCODER_TOKEN_HEADS, encoder_embedding_table,
                       encoder_layer_table, masked_lm_head_names)


def base_weights(config, with_pooler=True):
    t = encoder_embedding_table(token_types=True)
    t.update(encoder_layer_table("encoder.layer", config.num_hidden_layers, [
        ("attention.self.query", "attention.query"),
        ("attention.self.key", "attention.key"),
        ("attention.self.value", "attention.value"),
        ("attention.output.dense", "attention.out"),
        ("intermediate.dense", "ffn.up"),
        ("output.dense", "ffn.down"),
    ], [("attention.output.LayerNorm", "attention_norm"), ("output.LayerNorm", "output_norm")]))
    if with_pooler:
        t["pooler.dense.weight"] = "pooler.dense.kernel"
        t["pooler.dense.bias"] = "pooler.dense.bias"
    return t


HEADS = {
    **ENCODER_TOKEN_HEADS,
    **ENCODER_CHOICE_HEAD,
    "sequence_classification": {
        "classifier.weight": "classifier.out.kernel",
        "classifier.bias": "classifier.out.bias",
    },
    "masked_lm": {
        "cls.predictions.transform.dense.weight": "mlm.dense.kernel",
        "cls.predictions.transform.dense.bias": "mlm.dense.bias",
        "cls.predictions.transform.LayerNorm.weight": "mlm.norm.weight",
        "cls.predictions.transform.LayerNorm.bias": "mlm.norm.bias",
        "cls.predictions.bias": "mlm.bias",
    },
}


def head_weights(task, config):
    return masked_lm_head_names(HEADS, task, config, "cls.predictions.bias",
                                "cls.predictions.decoder")[0]


def tied_keys(config):
    """Checkpoint names that are not separate weights of the tfhf model (skipped on load)."""
    return masked_lm_head_names(HEADS, "masked_lm", config, "cls.predictions.bias",
                                "cls.predictions.decoder")[1]
