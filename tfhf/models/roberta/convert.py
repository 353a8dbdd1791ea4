"""RoBERTa: HF weight names -> tfhf attribute paths.

The backbone is BERT's weight layout under the ``roberta.`` prefix, so its table is BERT's;
only the heads are named differently.
"""

from ..bert.convert import base_weights  # noqa: F401  (same backbone names as BERT)
from ..weights import ENCODER_CHOICE_HEAD, ENCODER_TOKEN_HEADS, masked_lm_head_names

HEADS = {
    **ENCODER_TOKEN_HEADS,
    **ENCODER_CHOICE_HEAD,
    "sequence_classification": {
        "classifier.dense.weight": "classifier.dense.kernel",
        "classifier.dense.bias": "classifier.dense.bias",
        "classifier.out_proj.weight": "classifier.out.kernel",
        "classifier.out_proj.bias": "classifier.out.bias",
    },
    "masked_lm": {
        "lm_head.dense.weight": "mlm.dense.kernel",
        "lm_head.dense.bias": "mlm.dense.bias",
        "lm_head.layer_norm.weight": "mlm.norm.weight",
        "lm_head.layer_norm.bias": "mlm.norm.bias",
        "lm_head.bias": "mlm.bias",
    },
}


def head_weights(task, config):
    return masked_lm_head_names(HEADS, task, config, "lm_head.bias", "lm_head.decoder")[0]


def tied_keys(config):
    """Checkpoint names that are not separate weights of the tfhf model (skipped on load)."""
    return masked_lm_head_names(HEADS, "masked_lm", config, "lm_head.bias", "lm_head.decoder")[1]
