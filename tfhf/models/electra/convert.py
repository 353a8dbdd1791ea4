"""ELECTRA: HF weight names -> tfhf attribute paths.

The backbone is named as BERT's (without a pooler) plus ``embeddings_project`` when the
embeddings are narrower than the hidden states; the heads have ELECTRA's own names.
"""

from ..bert.convert import base_weights as bert_base_weights
from ..roberta.convert import HEADS as ROBERTA_HEADS
from ..weights import ENCODER_TOKEN_HEADS, REPLACED_TOKEN_HEAD


def base_weights(config, with_pooler=False):
    t = bert_base_weights(config, with_pooler=False)  # ELECTRA has no pooler
    if config.embedding_size != config.hidden_size:
        t["embeddings_project.weight"] = "embeddings_project.kernel"
        t["embeddings_project.bias"] = "embeddings_project.bias"
    return t


HEADS = {
    **ENCODER_TOKEN_HEADS,
    # dense -> gelu -> out_proj on the first token, named as RoBERTa's classification head
    "sequence_classification": ROBERTA_HEADS["sequence_classification"],
    "multiple_choice": {
        "sequence_summary.summary.weight": "classifier.dense.kernel",
        "sequence_summary.summary.bias": "classifier.dense.bias",
        "classifier.weight": "classifier.out.kernel",
        "classifier.bias": "classifier.out.bias",
    },
    "masked_lm": {  # the generator's head
        "generator_predictions.dense.weight": "mlm.dense.kernel",
        "generator_predictions.dense.bias": "mlm.dense.bias",
        "generator_predictions.LayerNorm.weight": "mlm.norm.weight",
        "generator_predictions.LayerNorm.bias": "mlm.norm.bias",
        "generator_lm_head.bias": "mlm.bias",
    },
    "pretraining": REPLACED_TOKEN_HEAD,  # the discriminator's head
}
LM_WEIGHT = "generator_lm_head.weight"  # the word embeddings when tied


def head_weights(task, config):
    t = dict(HEADS[task])
    if task == "masked_lm" and not getattr(config, "tie_word_embeddings", True):
        t[LM_WEIGHT] = "mlm.decoder.kernel"
    return t


def tied_keys(config):
    return (LM_WEIGHT,) if getattr(config, "tie_word_embeddings", True) else ()
