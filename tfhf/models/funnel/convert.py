"""Funnel: HF weight names -> tfhf attribute paths.

tfhf's layers carry HF's module names; only the nesting differs: HF's
``encoder.blocks.{block}.{i}`` is the flat ``encoder.blocks.{n}`` (the blocks one after
the other) and ``decoder.layers.{i}`` is ``decoder.blocks.{i}``. Classes without the
decoder (FunnelBaseModel underneath) drop its entries (``TFFunnelPreTrainedModel``).
"""

from ..weights import ENCODER_TOKEN_HEADS, REPLACED_TOKEN_HEAD

DENSES = ("attention.q_head", "attention.k_head", "attention.v_head", "attention.post_proj",
          "linear_1", "linear_2")
NORMS = ("attention.layer_norm", "layer_norm")
PARAMETERS = ("r_w_bias", "r_r_bias", "r_kernel", "r_s_bias", "seg_embed")


def layer_table(hf, ours):
    t = {}
    for name in DENSES:
        hf_name = name if name.startswith("attention.") else f"ffn.{name}"
        t[f"{hf}.{hf_name}.weight"] = f"{ours}.{name}.kernel"
        if name != "attention.q_head":  # q_head has no bias
            t[f"{hf}.{hf_name}.bias"] = f"{ours}.{name}.bias"
    for name in NORMS:
        hf_name = name if name.startswith("attention.") else f"ffn.{name}"
        t[f"{hf}.{hf_name}.weight"] = f"{ours}.{name}.weight"
        t[f"{hf}.{hf_name}.bias"] = f"{ours}.{name}.bias"
    for name in PARAMETERS:
        t[f"{hf}.attention.{name}"] = f"{ours}.attention.{name}"
    return t


def base_weights(config, with_pooler=False):
    t = {"embeddings.word_embeddings.weight": "embeddings.word_embeddings.embeddings",
         "embeddings.layer_norm.weight": "embeddings.layer_norm.weight",
         "embeddings.layer_norm.bias": "embeddings.layer_norm.bias"}
    n = 0
    for block, size in enumerate(config.block_sizes):
        for i in range(size):
            t.update(layer_table(f"encoder.blocks.{block}.{i}", f"encoder.blocks.{n}"))
            n += 1
    for i in range(config.num_decoder_layers):
        t.update(layer_table(f"decoder.layers.{i}", f"decoder.blocks.{i}"))
    return t


CLASSIFIER = {  # linear_hidden -> tanh -> dropout -> linear_out on the first token
    "classifier.linear_hidden.weight": "classifier.dense.kernel",
    "classifier.linear_hidden.bias": "classifier.dense.bias",
    "classifier.linear_out.weight": "classifier.out.kernel",
    "classifier.linear_out.bias": "classifier.out.bias",
}
HEADS = {
    **ENCODER_TOKEN_HEADS,
    "sequence_classification": CLASSIFIER,
    "multiple_choice": CLASSIFIER,
    "masked_lm": {"lm_head.bias": "lm_head.bias"},
    "pretraining": REPLACED_TOKEN_HEAD,
}
LM_WEIGHT = "lm_head.weight"  # the word embeddings when tied


def head_weights(task, config):
    t = dict(HEADS[task])
    if task == "masked_lm" and not getattr(config, "tie_word_embeddings", True):
        t[LM_WEIGHT] = "lm_head.decoder.kernel"
    return t


def tied_keys(config):
    return (LM_WEIGHT,) if getattr(config, "tie_word_embeddings", True) else ()
