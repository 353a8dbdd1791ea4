"""RoBERTa: HF weight names -> tfhf attribute paths.

The backbone is BERT's weight layout under the ``roberta.`` prefix, so its table is BERT's;
only the heads are named differently.
"""

from ..bert.convert import base_weights  # noqa: F401  (same backbone names as BERT)

HEADS = {
    "sequence_classification": {
        "classifier.dense.weight": "classifier.dense.kernel",
        "classifier.dense.bias": "classifier.dense.bias",
        "classifier.out_proj.weight": "classifier.out.kernel",
        "classifier.out_proj.bias": "classifier.out.bias",
    },
    "token_classification": {
        "classifier.weight": "classifier.out.kernel",
        "classifier.bias": "classifier.out.bias",
    },
    "question_answering": {
        "qa_outputs.weight": "qa_outputs.out.kernel",
        "qa_outputs.bias": "qa_outputs.out.bias",
    },
    "masked_lm": {
        "lm_head.dense.weight": "mlm.dense.kernel",
        "lm_head.dense.bias": "mlm.dense.bias",
        "lm_head.layer_norm.weight": "mlm.norm.weight",
        "lm_head.layer_norm.bias": "mlm.norm.bias",
        "lm_head.bias": "mlm.bias",
    },
}

# With tied embeddings PyTorch shares decoder.weight with the word embeddings and
# decoder.bias with lm_head.bias, and saves neither.
TIED_KEYS = ("lm_head.decoder.weight", "lm_head.decoder.bias")
# With tie_word_embeddings=False the decoder owns its weight *and* bias; PyTorch's forward
# then uses lm_head.decoder.bias and leaves lm_head.bias unused (still saved).
UNTIED_DECODER = {
    "lm_head.decoder.weight": "mlm.decoder.kernel",
    "lm_head.decoder.bias": "mlm.bias",
}
UNTIED_UNUSED_KEYS = ("lm_head.bias",)


def tied(config):
    return getattr(config, "tie_word_embeddings", True)


def head_weights(task, config):
    t = dict(HEADS[task])
    if task == "masked_lm" and not tied(config):
        del t["lm_head.bias"]
        t.update(UNTIED_DECODER)
    return t


def tied_keys(config):
    """Checkpoint names that are not separate weights of the tfhf model (skipped on load)."""
    return TIED_KEYS if tied(config) else UNTIED_UNUSED_KEYS
