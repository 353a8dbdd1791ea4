"""DistilBERT: HF weight names -> tfhf attribute paths (relative to the backbone / the model)."""

from ..weights import ENCODER_TOKEN_HEADS, encoder_embedding_table, encoder_layer_table


def base_weights(config, with_pooler=False):
    t = encoder_embedding_table(token_types=False)
    t.update(encoder_layer_table("transformer.layer", config.n_layers, [
        ("attention.q_lin", "attention.query"),
        ("attention.k_lin", "attention.key"),
        ("attention.v_lin", "attention.value"),
        ("attention.out_lin", "attention.out"),
        ("ffn.lin1", "ffn.up"),
        ("ffn.lin2", "ffn.down"),
    ], [("sa_layer_norm", "attention_norm"), ("output_layer_norm", "output_norm")]))
    return t  # DistilBERT has no pooler


_CLASSIFIER = {  # pre_classifier + classifier on the first token (also one logit per choice)
    "pre_classifier.weight": "classifier.dense.kernel",
    "pre_classifier.bias": "classifier.dense.bias",
    "classifier.weight": "classifier.out.kernel",
    "classifier.bias": "classifier.out.bias",
}
HEADS = {
    **ENCODER_TOKEN_HEADS,
    "sequence_classification": _CLASSIFIER,
    "multiple_choice": _CLASSIFIER,
    "masked_lm": {
        "vocab_transform.weight": "mlm.dense.kernel",
        "vocab_transform.bias": "mlm.dense.bias",
        "vocab_layer_norm.weight": "mlm.norm.weight",
        "vocab_layer_norm.bias": "mlm.norm.bias",
        "vocab_projector.bias": "mlm.bias",  # the projector's own bias, never tied
    },
}
UNTIED_DECODER = {"vocab_projector.weight": "mlm.decoder.kernel"}
TIED_KEYS = ("vocab_projector.weight",)


def head_weights(task, config):
    t = dict(HEADS[task])
    if task == "masked_lm" and not getattr(config, "tie_word_embeddings", True):
        t.update(UNTIED_DECODER)
    return t
