"""Moving weights between HF-named state dicts (PyTorch layout) and tfhf variables.

A family's ``convert.py`` gives a flat table ``HF name -> attribute path`` (for example
``"encoder.layer.0.attention.self.query.weight" -> "encoder.blocks.0.attention.query.kernel"``).
Paths are followed with ``getattr`` (digits index lists), so they do not depend on how Keras
names variables. A path ending in ``.kernel`` is a dense kernel and is transposed, since
PyTorch stores ``Linear.weight`` as (out, in).
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import CheckpointError, WeightShapeError

logger = logging.getLogger("tfhf")

# Keys that checkpoints carry and that are never weights of the model (buffers the model
# recomputes: position ids, batch-norm counters, Swin's relative position index).
_IGNORED_SUFFIXES = ("position_ids", "num_batches_tracked", "relative_position_index")


def resolve(obj, path: str):
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def to_hf_layout(path: str, array: np.ndarray) -> np.ndarray:
    return array.T if path.endswith(".kernel") else array


def from_hf_layout(path: str, array: np.ndarray) -> np.ndarray:
    return array.T if path.endswith(".kernel") else array


def normalize_legacy_name(name: str) -> str:
    """Old checkpoints name LayerNorm parameters gamma/beta."""
    if name.endswith(".gamma"):
        return name[: -len(".gamma")] + ".weight"
    if name.endswith(".beta"):
        return name[: -len(".beta")] + ".bias"
    return name


class LoadingInfo(dict):
    """``missing_keys``, ``unexpected_keys``, ``mismatched_keys`` as transformers reports them."""


def match_prefix(checkpoint_keys, expected_keys, prefix):
    """Map checkpoint names onto the model's names, adding or stripping the base prefix.

    Returns ``{checkpoint_name: model_name}``. A head model loads a base checkpoint (keys
    without ``prefix.``) and a base model loads a head checkpoint (keys with it).
    """
    expected = set(expected_keys)
    dotted = prefix + "." if prefix else None
    model_has_prefix = dotted is not None and any(k.startswith(dotted) for k in expected)
    ckpt_has_prefix = dotted is not None and any(k.startswith(dotted) for k in checkpoint_keys)
    mapping = {}
    for key in checkpoint_keys:
        name = normalize_legacy_name(key)
        if dotted:
            if model_has_prefix and not ckpt_has_prefix and (dotted + name) in expected:
                name = dotted + name
            elif not model_has_prefix and ckpt_has_prefix and name.startswith(dotted):
                name = name[len(dotted):]
        mapping[key] = name
    return mapping


def load_state_into(model, table, state, *, prefix, ignore_mismatched_sizes=False,
                    source="checkpoint", tied_keys=()):
    """Assign arrays from ``state`` (name -> numpy, PyTorch layout) to the variables of ``table``.

    ``state`` may be a mapping or any object with ``keys()`` and ``get(name)``.
    """
    keys = list(state.keys())
    mapping = match_prefix(keys, table.keys(), prefix)
    loaded, unexpected, mismatched = set(), [], []
    for ckpt_name, name in mapping.items():
        entry = table.get(name)
        if entry is None:
            if name.endswith(_IGNORED_SUFFIXES) or name in tied_keys:
                continue
            unexpected.append(ckpt_name)
            continue
        var = resolve(model, entry)
        try:
            array = state[ckpt_name] if isinstance(state, dict) else state.get(ckpt_name)
        except CheckpointError:
            raise
        array = np.asarray(array)
        if array.dtype.kind not in "fiub":
            raise CheckpointError(f"Weight '{ckpt_name}' in {source} has dtype {array.dtype}, "
                                  "not a number type; the checkpoint is corrupt.")
        # shapes are compared and reported in the checkpoint's (PyTorch) layout
        hf_shape = tuple(array.shape)
        hf_expected = tuple(var.shape)
        if entry.endswith(".kernel"):
            hf_expected = hf_expected[::-1]
        if hf_shape != hf_expected:
            if ignore_mismatched_sizes:
                mismatched.append((name, hf_shape, hf_expected))  # model name, as transformers
                continue
            raise WeightShapeError(
                f"Weight '{ckpt_name}' in {source} has shape {hf_shape} but the model built "
                f"from its config expects {hf_expected}. The config and the weights disagree; "
                "to load anyway and re-initialize the mismatched weights (e.g. a classifier "
                "with a new number of labels), pass ignore_mismatched_sizes=True."
            )
        array = from_hf_layout(entry, array)
        var.assign(array.astype(var.dtype.name if hasattr(var.dtype, "name") else var.dtype))
        loaded.add(name)
    reported = {k for k, _, _ in mismatched}
    missing = [k for k in table if k not in loaded and k not in reported]
    return LoadingInfo(missing_keys=missing, unexpected_keys=unexpected,
                       mismatched_keys=mismatched)


def report(info, model_name, source, warn_fresh_head=True):
    if info["unexpected_keys"]:
        logger.warning(
            "Some weights of the model checkpoint at %s were not used when initializing %s: %s\n"
            "- This is expected if you are initializing %s from a checkpoint of a model trained "
            "on another task or with another architecture.",
            source, model_name, info["unexpected_keys"], model_name)
    if info["missing_keys"]:
        logger.warning(
            "Some weights of %s were not initialized from the model checkpoint at %s and are "
            "newly initialized: %s\nYou should probably TRAIN this model on a down-stream task "
            "to be able to use it for predictions and inference.",
            model_name, source, info["missing_keys"])
    if info["mismatched_keys"]:
        lines = "\n".join(f"- {k}: found shape {a} in the checkpoint and {b} in the model "
                          "instantiated" for k, a, b in info["mismatched_keys"])
        logger.warning(
            "Some weights of %s were not initialized from the model checkpoint at %s and are "
            "newly initialized because the shapes did not match:\n%s\nYou should probably "
            "TRAIN this model on a down-stream task to be able to use it for predictions and "
            "inference.", model_name, source, lines)


# Token classification and QA heads: BERT, RoBERTa and DistilBERT name them alike
ENCODER_TOKEN_HEADS = {
    "token_classification": {
        "classifier.weight": "classifier.out.kernel",
        "classifier.bias": "classifier.out.bias",
    },
    "question_answering": {
        "qa_outputs.weight": "qa_outputs.out.kernel",
        "qa_outputs.bias": "qa_outputs.out.bias",
    },
}


# Multiple choice on the pooled output: dropout + classifier (hidden, 1)
ENCODER_CHOICE_HEAD = {
    "multiple_choice": {
        "classifier.weight": "classifier.out.kernel",
        "classifier.bias": "classifier.out.bias",
    },
}


# ELECTRA-style replaced-token discriminator (ELECTRA, Funnel): dense -> act -> one logit
REPLACED_TOKEN_HEAD = {
    "discriminator_predictions.dense.weight": "discriminator.dense.kernel",
    "discriminator_predictions.dense.bias": "discriminator.dense.bias",
    "discriminator_predictions.dense_prediction.weight": "discriminator.out.kernel",
    "discriminator_predictions.dense_prediction.bias": "discriminator.out.bias",
}


def lm_head_weights(config):
    """HF name of a decoder's untied LM head -> its variable (none when tied to the
    embeddings)."""
    if getattr(config, "tie_word_embeddings", False):
        return {}
    return {"lm_head.weight": "lm_head.kernel"}


def token_head_bias(config, head_name="score"):
    """Whether a decoder's token-classification head has a bias: transformers' generic
    ``score`` head unless ``config.token_classification_bias`` is False; GPT-2's
    ``classifier`` always."""
    return head_name != "score" or bool(getattr(config, "token_classification_bias", True))


def decoder_head_weights(task, config, token_head="score"):
    """A decoder family's head table: ``score`` (sequence classification, no bias), the
    token-classification head ``token_head`` (GPT-2 names it ``classifier``), the QA span
    head ``qa_outputs`` or the LM head (:func:`lm_head_weights`)."""
    if task == "sequence_classification":
        return {"score.weight": "score.kernel"}
    if task == "token_classification":
        table = {f"{token_head}.weight": f"{token_head}.out.kernel"}
        if token_head_bias(config, token_head):
            table[f"{token_head}.bias"] = f"{token_head}.out.bias"
        return table
    if task == "question_answering":
        return {"qa_outputs.weight": "qa_outputs.out.kernel",
                "qa_outputs.bias": "qa_outputs.out.bias"}
    return lm_head_weights(config)


def masked_lm_head_names(heads, task, config, bias_key, decoder_prefix):
    """Head table and skipped checkpoint names for BERT-style MLM heads.

    Tied (the default): the decoder shares the word embeddings and ``bias_key`` is the output
    bias; PyTorch saves neither ``decoder.weight`` nor ``decoder.bias``. Untied: the decoder
    owns its weight and bias (the output bias comes from ``decoder.bias``) and ``bias_key``
    is saved by PyTorch but unused.
    Returns ``(table, skipped_keys)``.
    """
    table = dict(heads[task])
    tied = getattr(config, "tie_word_embeddings", True)
    if task != "masked_lm":
        return table, ()
    if tied:
        return table, (f"{decoder_prefix}.weight", f"{decoder_prefix}.bias")
    target = table.pop(bias_key)
    table[f"{decoder_prefix}.weight"] = "mlm.decoder.kernel"
    table[f"{decoder_prefix}.bias"] = target
    return table, (bias_key,)


def encoder_embedding_table(token_types):
    """HF -> tfhf table of BERT-style encoder embeddings (word, position, with
    ``token_types`` the token-type table, then the LayerNorm); BERT, RoBERTa and DistilBERT
    name these alike."""
    names = ["word_embeddings", "position_embeddings"]
    if token_types:
        names.append("token_type_embeddings")
    t = {f"embeddings.{n}.weight": f"embeddings.{n}.embeddings" for n in names}
    t["embeddings.LayerNorm.weight"] = "embeddings.norm.weight"
    t["embeddings.LayerNorm.bias"] = "embeddings.norm.bias"
    return t


def encoder_layer_table(hf_layer_prefix, num_layers, dense_names, norm_names):
    """HF -> tfhf table for a stack of :class:`tfhf.layers.EncoderBlock` s.

    ``dense_names`` / ``norm_names`` map the family's HF module names inside one layer to the
    block's attributes (``attention.query``..., ``attention_norm``/``output_norm``); every
    entry has a ``weight`` and a ``bias``.
    """
    t = {}
    for i in range(num_layers):
        hf, tf = f"{hf_layer_prefix}.{i}.", f"encoder.blocks.{i}."
        for name, path in dense_names:
            t[f"{hf}{name}.weight"] = f"{tf}{path}.kernel"
            t[f"{hf}{name}.bias"] = f"{tf}{path}.bias"
        for name, path in norm_names:
            t[f"{hf}{name}.weight"] = f"{tf}{path}.weight"
            t[f"{hf}{name}.bias"] = f"{tf}{path}.bias"
    return t
