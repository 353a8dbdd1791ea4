"""DeBERTa: HF weight names -> tfhf attribute paths.

The blocks are named as BERT's except the attention: one fused ``in_proj`` (no bias) with
separate ``q_bias`` / ``v_bias``, ``pos_proj`` (c2p, no bias) and ``pos_q_proj`` (p2c).
The embedding and head tables here serve DeBERTa-v2 as well (same names there).
"""

from ..bert.convert import HEADS as BERT_HEADS
from ..weights import ENCODER_TOKEN_HEADS, encoder_layer_table, masked_lm_head_names

BLOCK_DENSES = [("attention.output.dense", "attention.out"),
                ("intermediate.dense", "ffn.up"), ("output.dense", "ffn.down")]
BLOCK_NORMS = [("attention.output.LayerNorm", "attention_norm"),
               ("output.LayerNorm", "output_norm")]
UNUSED_POSITIONS = "embeddings.position_embeddings.weight"  # saved by some checkpoints


def embedding_weights(config):
    t = {"embeddings.word_embeddings.weight": "embeddings.word_embeddings.embeddings",
         "embeddings.LayerNorm.weight": "embeddings.norm.weight",
         "embeddings.LayerNorm.bias": "embeddings.norm.bias"}
    if getattr(config, "position_biased_input", True):
        t[UNUSED_POSITIONS] = "embeddings.position_embeddings.embeddings"
    if config.type_vocab_size > 0:
        t["embeddings.token_type_embeddings.weight"] = "embeddings.token_type_embeddings.embeddings"
    if getattr(config, "embedding_size", config.hidden_size) != config.hidden_size:
        t["embeddings.embed_proj.weight"] = "embeddings.project.kernel"
    if config.relative_attention:
        t["encoder.rel_embeddings.weight"] = "encoder.rel_embeddings.embeddings"
    return t


def base_weights(config, with_pooler=False):
    t = embedding_weights(config)
    t.update(encoder_layer_table("encoder.layer", config.num_hidden_layers, BLOCK_DENSES,
                                 BLOCK_NORMS))
    types = (config.pos_att_type or ()) if config.relative_attention else ()
    for i in range(config.num_hidden_layers):
        hf, path = f"encoder.layer.{i}.attention.self.", f"encoder.blocks.{i}.attention."
        t[hf + "in_proj.weight"] = path + "in_proj.kernel"
        t[hf + "q_bias"] = path + "q_bias"
        t[hf + "v_bias"] = path + "v_bias"
        if "c2p" in types:
            t[hf + "pos_proj.weight"] = path + "pos_key.kernel"
        if "p2c" in types:
            t[hf + "pos_q_proj.weight"] = path + "pos_query.kernel"
            t[hf + "pos_q_proj.bias"] = path + "pos_query.bias"
    return t


CONTEXT_POOLER_HEAD = {  # ContextPooler (dense + pooler_hidden_act) + classifier
    "pooler.dense.weight": "classifier.dense.kernel",
    "pooler.dense.bias": "classifier.dense.bias",
    "classifier.weight": "classifier.out.kernel",
    "classifier.bias": "classifier.out.bias",
}
HEADS = {
    **ENCODER_TOKEN_HEADS,
    "sequence_classification": CONTEXT_POOLER_HEAD,
    "multiple_choice": CONTEXT_POOLER_HEAD,
    "masked_lm": BERT_HEADS["masked_lm"],  # the legacy head (config.legacy): BERT's names
}
# legacy=False: the projection is always the word embeddings
MASKED_LM = {
    "lm_predictions.lm_head.dense.weight": "mlm.dense.kernel",
    "lm_predictions.lm_head.dense.bias": "mlm.dense.bias",
    "lm_predictions.lm_head.LayerNorm.weight": "mlm.norm.weight",
    "lm_predictions.lm_head.LayerNorm.bias": "mlm.norm.bias",
    "lm_predictions.lm_head.bias": "mlm.bias",
}


def _mlm(config):
    return masked_lm_head_names(HEADS, "masked_lm", config, "cls.predictions.bias",
                                "cls.predictions.decoder")


def head_weights(task, config):
    if task == "masked_lm":
        return _mlm(config)[0] if getattr(config, "legacy", True) else dict(MASKED_LM)
    return dict(HEADS[task])


def tied_keys(config):
    """Checkpoint names that are no weights of the tfhf model (skipped on load)."""
    skipped = _mlm(config)[1] if getattr(config, "legacy", True) else ()
    if not getattr(config, "position_biased_input", True):
        skipped += (UNUSED_POSITIONS, "deberta." + UNUSED_POSITIONS)
    return skipped
