"""ViLT: HF weight names -> tfhf attribute paths (relative to the ``vilt`` layer / the model)."""

from ..weights import encoder_embedding_table, encoder_layer_table


def base_weights(config, with_pooler=True):
    t = {f"embeddings.text_{k}": f"text_{v}"
         for k, v in encoder_embedding_table(token_types=True).items()}
    t.update({
        "embeddings.cls_token": "patches.class_embedding",
        "embeddings.position_embeddings": "patches.position_embedding",
        "embeddings.patch_embeddings.projection.weight": "patches.patch_embedding.weight",
        "embeddings.patch_embeddings.projection.bias": "patches.patch_embedding.bias",
        "embeddings.token_type_embeddings.weight": "modality_embeddings.embeddings",
        "layernorm.weight": "final_norm.weight",
        "layernorm.bias": "final_norm.bias",
    })
    t.update(encoder_layer_table("encoder.layer", config.num_hidden_layers, [
        ("attention.attention.query", "attention.query"),
        ("attention.attention.key", "attention.key"),
        ("attention.attention.value", "attention.value"),
        ("attention.output.dense", "attention.out"),
        ("intermediate.dense", "mlp.up"),
        ("output.dense", "mlp.down"),
    ], [("layernorm_before", "norm1"), ("layernorm_after", "norm2")]))
    if with_pooler:
        t["pooler.dense.weight"] = "pooler.dense.kernel"
        t["pooler.dense.bias"] = "pooler.dense.bias"
    return t


HEADS = {
    "visual_question_answering": {
        "classifier.0.weight": "classifier.dense.kernel",
        "classifier.0.bias": "classifier.dense.bias",
        "classifier.1.weight": "classifier.norm.weight",
        "classifier.1.bias": "classifier.norm.bias",
        "classifier.3.weight": "classifier.out.kernel",
        "classifier.3.bias": "classifier.out.bias",
    },
}


def head_weights(task, config):
    return dict(HEADS[task])
