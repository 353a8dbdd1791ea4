"""``export_saved_model``: a tfhf model (+ tokenizer) -> a SavedModel TF Serving serves.

See docs/serving.md for the layout, the signatures and the request formats.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile

from ..errors import InvalidInputError, UnsupportedModelError
from . import layout

logger = logging.getLogger("tfhf.export")

# export task -> the model head it needs (``model.task``)
TASKS = {
    "text-classification": "sequence_classification",
    "token-classification": "token_classification",
    "feature-extraction": None,
    "text-generation": "causal_lm",
}
ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
AUTO_CLASSES = {
    "text-classification": "TFAutoModelForSequenceClassification",
    "token-classification": "TFAutoModelForTokenClassification",
    "feature-extraction": "TFAutoModel",
    "text-generation": "TFAutoModelForCausalLM",
}
METADATA_FILE = os.path.join("assets.extra", "tfhf_export.json")


def resolve_task(task, model=None):
    """``task`` (or an alias; None: from the model's head) checked against the model."""
    if task is None:
        if model is None:
            raise InvalidInputError("Pass task=... (one of " + ", ".join(TASKS) + ").")
        head = getattr(model, "task", None)
        matches = [t for t, h in TASKS.items() if h == head]
        if not matches:
            raise UnsupportedModelError(
                f"Cannot export {type(model).__name__}: its head '{head}' has no export task "
                f"(supported: {', '.join(TASKS)}).")
        return matches[0]
    name = ALIASES.get(task, task) if isinstance(task, str) else None
    if name not in TASKS:
        raise InvalidInputError(f"Unknown export task {task!r}; choose one of "
                                f"{', '.join(TASKS)}.")
    if model is not None:
        head = getattr(model, "task", "?")
        if head != TASKS[name]:
            need = AUTO_CLASSES[name]
            raise UnsupportedModelError(
                f"Task '{name}' needs a model with the '{TASKS[name] or 'base'}' head "
                f"(load it with {need}); {type(model).__name__} has the "
                f"'{head or 'base'}' head.")
    return name


def sentence_transformers_config(folder):
    """Pooling / normalization / max length of a sentence-transformers checkpoint folder
    (``modules.json`` + ``1_Pooling/config.json``), or None when it is not one."""
    if not folder or not os.path.isfile(os.path.join(folder, "modules.json")):
        return None
    try:
        with open(os.path.join(folder, "modules.json"), encoding="utf-8") as fh:
            modules = json.load(fh)
        types = [m.get("type", "") for m in modules]
        pooling_dir = next((m.get("path", "") for m in modules
                            if m.get("type", "").endswith(".Pooling")), None)
        out = {"normalize": any(t.endswith(".Normalize") for t in types), "pooling": "mean",
               "max_seq_length": None, "do_lower_case": False}
        unknown = [t for t in types if not t.endswith((".Transformer", ".Pooling", ".Normalize"))]
        if unknown:
            raise UnsupportedModelError(
                f"{folder}/modules.json has modules tfhf cannot export ({', '.join(unknown)}); "
                "supported: Transformer, Pooling, Normalize.")
        if pooling_dir is not None:
            with open(os.path.join(folder, pooling_dir, "config.json"), encoding="utf-8") as fh:
                cfg = json.load(fh)
            modes = [k[len("pooling_mode_"):].replace("_tokens", "").replace("_token", "")
                     for k, v in cfg.items() if k.startswith("pooling_mode_") and v]
            if len(modes) != 1:
                raise UnsupportedModelError(
                    f"{folder}/{pooling_dir}/config.json: tfhf exports exactly one pooling "
                    f"mode; got {modes or 'none'}.")
            out["pooling"] = modes[0]
        sb = os.path.join(folder, "sentence_bert_config.json")
        if os.path.isfile(sb):
            with open(sb, encoding="utf-8") as fh:
                cfg = json.load(fh)
            out["max_seq_length"] = cfg.get("max_seq_length")
            out["do_lower_case"] = bool(cfg.get("do_lower_case", False))
        return out
    except (OSError, ValueError, AttributeError) as e:
        raise UnsupportedModelError(f"Cannot read the sentence-transformers files in "
                                    f"'{folder}': {e}") from None


def _unwrap(tokenizer):
    inner = getattr(tokenizer, "tokenizer", None)
    return inner if inner is not None and type(tokenizer).__name__ == "TFTokenizer" else tokenizer


def _model_folder(model):
    path = getattr(model, "name_or_path", None)
    return path if isinstance(path, str) and os.path.isdir(path) else None


def _max_positions(model):
    spec = getattr(getattr(model, "main_layer", None), "spec", None)
    if spec is None:
        return None
    limit = spec.max_positions
    if getattr(spec, "roberta_positions", False):
        limit -= (spec.pad_token_id or 0) + 1
    return int(limit)


def _resolve_max_length(max_length, tokenizer, model_limit, st_limit=None):
    if max_length is not None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise InvalidInputError(f"max_length must be an integer >= 2 (room for [CLS] and "
                                    f"[SEP]); got {max_length!r}.")
        if model_limit is not None and max_length > model_limit:
            raise InvalidInputError(f"max_length={max_length} exceeds the model's "
                                    f"{model_limit} positions.")
        return max_length
    candidates = [c for c in (st_limit, getattr(tokenizer, "model_max_length", None),
                              model_limit) if isinstance(c, int) and 2 <= c < 10**6]
    return min(candidates) if candidates else 512


def export_saved_model(model, export_dir, tokenizer=None, task=None, version=None,
                       max_length=None, overwrite=False, pooling=None, normalize=None,
                       max_new_tokens=None, jit_compile=True):
    """Export ``model`` for TF Serving as ``export_dir/<version>/`` and return that path.

    Args:
        model: a tfhf model whose head fits ``task`` (a ``TFAutoModelFor*`` instance).
        export_dir: the model's base folder (TF Serving's ``--model_base_path``).
        tokenizer: the model's tokenizer (``tfhf.AutoTokenizer`` / transformers). With a
            BERT-style WordPiece tokenizer ``serving_default`` takes strings and tokenizes
            in the graph; without one (or ``None``) only the ids signature is exported.
        task: ``text-classification``, ``token-classification``, ``feature-extraction`` or
            ``text-generation`` (default: from the model's head).
        version: the version folder (default: one more than the highest existing).
        max_length: truncation length of the string signature (default: the smallest of the
            tokenizer's ``model_max_length``, the model's positions and, for a
            sentence-transformers folder, its ``max_seq_length``); for text-generation the
            longest prompt.
        overwrite: replace an existing version folder (refused otherwise).
        pooling, normalize: feature-extraction pooling (``mean``, ``cls``, ``max``,
            ``mean_sqrt_len``) and L2 normalization; default: read from a sentence-transformers
            checkpoint folder (``modules.json``), else mean pooling, not normalized.
        max_new_tokens: text-generation: the largest ``max_new_tokens`` a request may ask
            for (default 128; rounded up to a power of two >= 32).
        jit_compile: text-generation: compile the decode loop with XLA (default). ``False``
            keeps it a plain graph loop, for debugging; its in-place cache update is an XLA
            op either way, so the server needs XLA support (see docs/serving.md).

    Raises:
        tfhf.errors.UnsupportedModelError: the model's head does not fit ``task``, or the
            tokenizer cannot run in the graph.
        tfhf.errors.InvalidInputError: ``export_dir`` is a file, the version exists without
            ``overwrite``, bad ``max_length``... Nothing is written in these cases.
    """
    from ..models.base import TFPreTrainedModel

    if not isinstance(model, TFPreTrainedModel):
        raise InvalidInputError(f"export_saved_model takes a tfhf model; got "
                                f"{type(model).__name__}.")
    task = resolve_task(task, model)
    target_version = layout.check_target(export_dir, version, overwrite)
    tokenizer = _unwrap(tokenizer)
    if task == "text-generation":
        from .generation import build_generation_module

        builder = build_generation_module(model, tokenizer, max_length=max_length,
                                          max_new_tokens=max_new_tokens,
                                          jit_compile=jit_compile)
    else:
        if max_new_tokens is not None:
            raise InvalidInputError("max_new_tokens applies to text-generation only.")
        builder = _encoder_builder(model, tokenizer, task, max_length, pooling, normalize)
    with layout.StagedVersion(export_dir, target_version, overwrite) as staged, \
            tempfile.TemporaryDirectory(prefix="tfhf-export-") as scratch:
        module, signatures, metadata = builder(scratch)
        _save(module, staged.path, signatures)
        metadata.update({"task": task, "version": target_version,
                         "signatures": sorted(signatures),
                         "model_class": type(model).__name__,
                         "model_type": getattr(model.config, "model_type", None)})
        _write_metadata(staged.path, metadata)
        final = staged.commit()
    logger.info("Exported %s (%s) to %s", type(model).__name__, task, final)
    return final


def _save(module, path, signatures):
    import tensorflow as tf

    tf.saved_model.save(module, path, signatures=signatures)


def _write_metadata(path, metadata):
    from .. import __version__

    metadata = {"tfhf_version": __version__, **metadata}
    os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
    with open(os.path.join(path, METADATA_FILE), "w", encoding="utf-8") as fh:
        json.dump(metadata, fh, indent=2, sort_keys=True)


def _encoder_builder(model, tokenizer, task, max_length, pooling, normalize):
    """Validate everything up front; return ``build(scratch) -> (module, signatures, meta)``."""
    from . import signatures as serving_signatures
    from .tokenization import WordPieceSpec, bert_tables

    model.build_weights()
    model_limit = _max_positions(model)
    spec = WordPieceSpec(tokenizer) if tokenizer is not None else None
    st = None
    if task == "feature-extraction":
        st = sentence_transformers_config(_model_folder(model))
        if pooling is None:
            pooling = st["pooling"] if st else "mean"
        if normalize is None:
            normalize = bool(st and st["normalize"])
        if pooling not in serving_signatures.POOLING_MODES:
            raise UnsupportedModelError(f"pooling={pooling!r} is not supported; use one of "
                                        f"{', '.join(serving_signatures.POOLING_MODES)}.")
        if st and st["do_lower_case"] and spec is not None and \
                not spec.normalizer.get("lowercase", True):
            raise UnsupportedModelError("sentence_bert_config.json sets do_lower_case on a "
                                        "cased tokenizer; tfhf does not export that.")
    length = _resolve_max_length(max_length, tokenizer, model_limit,
                                 st["max_seq_length"] if st else None)
    main_spec = getattr(getattr(model, "main_layer", None), "spec", None)
    token_types = bool(main_spec is not None and main_spec.type_vocab_size > 1)
    tables = bert_tables(spec.normalizer) if spec is not None else None

    def build(scratch):
        import tensorflow as tf

        from .tokenization import WordPieceEncoder, write_vocab

        encoder = id_to_token = None
        if spec is not None:
            vocab = write_vocab(spec, scratch)
            encoder = WordPieceEncoder(spec, vocab, length, tables=tables)
            if task == "token-classification":
                id_to_token = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
                    encoder.vocab_asset, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                    tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")
        common = dict(encoder=encoder, token_types=token_types, max_positions=model_limit)
        if task == "text-classification":
            module = serving_signatures.TextClassificationServing(model, **common)
        elif task == "token-classification":
            specials = set(getattr(tokenizer, "all_special_ids", []) or []) if tokenizer else set()
            module = serving_signatures.TokenClassificationServing(
                model, special_ids=specials, id_to_token=id_to_token, **common)
        else:
            module = serving_signatures.FeatureExtractionServing(
                model, pooling=pooling, normalize=normalize, token_outputs=not st, **common)
        meta = {"max_length": length if spec is not None else None,
                "token_type_ids": token_types,
                "in_graph_tokenizer": "wordpiece" if spec is not None else None}
        if spec is not None:  # loading in Python needs the tensorflow-text ops registered
            from .tokenization import PYTHON_LOAD_NOTE, TF_TEXT_OPS

            meta.update(tensorflow_text_ops=list(TF_TEXT_OPS),
                        python_load=f"tensorflow-text ops: {PYTHON_LOAD_NOTE}")
        if task == "text-classification":
            meta.update(labels=serving_signatures.labels_of(model.config),
                        function_to_apply=serving_signatures.function_to_apply(model.config))
        elif task == "token-classification":
            meta.update(labels=serving_signatures.labels_of(model.config))
        else:
            meta.update(pooling=pooling, normalize=bool(normalize),
                        sentence_transformers=bool(st))
        return module, module.signatures(), meta

    return build
