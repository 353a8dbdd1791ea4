"""``tfhf train`` (and the quickstart's training): fine-tune a sequence classifier on a CSV /
JSONL / Parquet file.

The flow is the transformers 4.x TF recipe: tokenize with ``dataset.map(batched=True)``,
``prepare_tf_dataset`` with per-batch padding, ``create_optimizer``, ``compile`` without a
loss, ``fit``. Output is written to a temporary folder beside ``output`` and renamed when the
run finished, so an interrupted run leaves no half-written model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass

from ..errors import ConfigError, InvalidInputError, ModelNotFoundError, TfhfError

FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


@dataclass
class TrainResult:
    output: str
    val_accuracy: float | None
    train_seconds: float
    history: dict
    id2label: dict
    visuals: list = None  # lines saying where the TensorBoard logs and training.png are
    trainable_params: int | None = None  # what fit trained (all weights, or LoRA's share)
    total_params: int | None = None


def read_table(path, text_column, label_column=None, role="train"):
    """Load a data file into a ``datasets.Dataset`` with clear errors for bad files."""
    import datasets

    if not os.path.isfile(path):
        raise InvalidInputError(f"{role} file '{path}' does not exist.")
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InvalidInputError(f"{role} file '{path}': unknown format '{ext}'; use one of "
                                f"{', '.join(sorted(FORMATS))}.")
    if os.path.getsize(path) == 0:
        raise InvalidInputError(f"{role} file '{path}' is empty.")
    if FORMATS[ext] != "parquet":
        with open(path, "rb") as fh:
            raw = fh.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise InvalidInputError(f"{role} file '{path}' is not UTF-8 text (invalid byte at "
                                    f"line {line}); re-save it as UTF-8.") from None
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) <= (1 if FORMATS[ext] == "csv" else 0):  # a CSV header alone
            raise InvalidInputError(f"{role} file '{path}' has no rows.")
    kwargs = {"delimiter": "\t"} if ext == ".tsv" else {}
    try:
        ds = datasets.load_dataset(FORMATS[ext], data_files=path, split="train", **kwargs)
    except Exception as e:  # datasets/pyarrow raise many types for malformed files
        raise InvalidInputError(f"Cannot read {role} file '{path}': {e}") from None
    if len(ds) == 0:
        raise InvalidInputError(f"{role} file '{path}' has no rows.")
    for col in (text_column, label_column):
        if col is not None and col not in ds.column_names:
            raise InvalidInputError(f"{role} file '{path}' has no column '{col}' (columns: "
                                    f"{', '.join(ds.column_names)}). Pass --text-column / "
                                    "--label-column.")
    return ds


def _label_maps(train, label_column, label_names=None):
    """``(labels, id2label)``: ``labels[i]`` is the data value of class ``i``.

    Without ``label_names`` the classes are the column's values, sorted, named by their text.
    With ``label_names`` (``--labels``): integer values ``0..n-1`` get those names in order;
    text values must be among the names, and the names' order sets the ids.
    """
    values = train.unique(label_column)
    if any(v is None for v in values):
        raise InvalidInputError(f"Column '{label_column}' has empty labels.")
    labels = sorted(values, key=lambda v: (isinstance(v, str), v))
    if label_names is None:
        if len(labels) < 2:
            raise InvalidInputError(f"Column '{label_column}' has a single label value "
                                    f"{labels}; a classifier needs at least two.")
        return labels, {i: str(v) for i, v in enumerate(labels)}
    names = [str(n).strip() for n in label_names]
    if len(names) < 2 or len(set(names)) != len(names) or not all(names):
        raise InvalidInputError(f"--labels must name at least two different classes, got "
                                f"{label_names!r}.")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        if labels[0] < 0 or labels[-1] >= len(names):
            raise InvalidInputError(
                f"Column '{label_column}' holds the integer labels {labels[:10]}, but --labels "
                f"names {len(names)} classes (0..{len(names) - 1}): give one name per class.")
        return list(range(len(names))), dict(enumerate(names))
    unknown = [str(v) for v in labels if str(v) not in names]
    if unknown:
        raise InvalidInputError(f"Column '{label_column}' has labels {unknown[:5]} that --labels "
                                f"({', '.join(names)}) does not name.")
    by_text = {str(v): v for v in labels}
    return [by_text.get(n, n) for n in names], dict(enumerate(names))


def _encode_labels(ds, label_column, labels, role, path):
    index = {v: i for i, v in enumerate(labels)}
    unknown = sorted({str(v) for v in ds.unique(label_column) if v not in index})
    if unknown:
        raise InvalidInputError(f"{role} file '{path}' has labels {unknown[:5]} that are not in the "
                                f"training labels {[str(v) for v in labels]}.")
    return ds.map(lambda b: {"labels": [index[v] for v in b[label_column]]}, batched=True)


# fewer optimizer steps than this rarely move a pretrained encoder off chance (a rule of
# thumb: the quickstart reaches 0.86 with ~300 steps and stays at chance with 8)
MIN_STEPS = 100


def seed_everything(seed):
    """Python, NumPy, TensorFlow and Keras seeds (weights of new heads, dropout, shuffling),
    so two runs with the same seed and data train the same model."""
    from .._keras import keras
    from ..generation.rng import set_seed

    set_seed(seed)
    keras.utils.set_random_seed(int(seed))


def _warn(message):
    import warnings

    warnings.warn(message, UserWarning, stacklevel=3)


def _load_data(train_file, validation_file, text_column, label_column, label_names,
               max_train_samples, max_eval_samples, validation_split, seed):
    """``(train, val, labels, id2label)`` with a ``labels`` column of class ids."""
    train = read_table(train_file, text_column, label_column, "train")
    if validation_file:
        val = read_table(validation_file, text_column, label_column, "validation")
    else:
        split = train.train_test_split(test_size=validation_split, seed=seed)
        train, val = split["train"], split["test"]
    labels, id2label = _label_maps(train, label_column, label_names)
    train = _encode_labels(train, label_column, labels, "train", train_file)
    val = _encode_labels(val, label_column, labels, "validation", validation_file or train_file)
    if max_train_samples:
        train = train.shuffle(seed=seed).select(range(min(max_train_samples, len(train))))
    if max_eval_samples:
        val = val.select(range(min(max_eval_samples, len(val))))
    return train, val, labels, id2label


def _check_output(output, overwrite):
    if os.path.isfile(output):
        raise InvalidInputError(f"--output '{output}' is a file; pass a folder.")
    if os.path.isdir(output) and os.listdir(output) and not overwrite:
        raise InvalidInputError(f"--output '{output}' exists and is not empty; pass --overwrite "
                                "or another folder.")


def _tokenize(dataset, tokenizer, text_column, max_length):
    """The dataset's texts as token ids (a missing text as ""), keeping its ``labels``."""
    def tokenize(batch):
        texts = [t if isinstance(t, str) else "" for t in batch[text_column]]
        return tokenizer(texts, truncation=True, max_length=max_length)

    return dataset.map(tokenize, batched=True,
                       remove_columns=[c for c in dataset.column_names if c != "labels"])


def train_text_classifier(model, train_file, output, validation_file=None, text_column="text",
                          label_column="label", epochs=1, batch_size=32, learning_rate=5e-5,
                          max_train_samples=None, max_eval_samples=None, max_length=128,
                          validation_split=0.1, seed=42, mixed_precision=None, verbose=1,
                          overwrite=False, jit_compile="auto", label_names=None, warn=None,
                          tensorboard=True, plot=True, lora_rank=None):
    """Fine-tune ``model`` on a data file and save it to ``output``.

    ``model``: a checkpoint folder, a ``.gguf`` file (dequantized to float32) or
    ``"asset:NAME"`` (an installed offline asset). A causal LM (Llama, Qwen2, ...) gets a new
    sequence-classification head that reads each row's last non-pad token; a tokenizer without
    a pad token pads with its eos token, and the model's ``pad_token_id`` is the tokenizer's.

    ``seed`` fixes the data split, the data order, the new head's weights and dropout: the
    same call gives the same model. ``label_names`` names the classes (see ``--labels``).
    ``warn(message)`` receives the warnings (too few steps to learn, chance-level accuracy);
    by default they are Python ``UserWarning``s. ``tensorboard`` writes TensorBoard logs to
    ``output/logs``; ``plot`` draws ``output/training.png`` (needs matplotlib).
    ``lora_rank``: train LoRA adapters of this rank (and the new head) instead of every weight;
    the merged classifier is saved to ``output`` and the adapters (PEFT format) to
    ``output/adapter``.
    """
    from .visuals import RunVisuals
    from .. import AutoTokenizer, TFAutoModelForSequenceClassification, create_optimizer
    from .._keras import keras

    warn = warn or _warn
    _check_output(output, overwrite)
    if epochs < 1 or batch_size < 1:
        raise InvalidInputError("--epochs and --batch-size must be positive.")
    model = _check_classifier_folder(resolve_model(model))
    train, val, labels, id2label = _load_data(
        train_file, validation_file, text_column, label_column, label_names, max_train_samples,
        max_eval_samples, validation_split, seed)
    tokenizer = _ensure_pad_token(AutoTokenizer.from_pretrained(model), model)
    train, val = (_tokenize(d, tokenizer, text_column, max_length) for d in (train, val))
    seed_everything(seed)
    if mixed_precision:
        keras.mixed_precision.set_global_policy(mixed_precision)
    visuals = RunVisuals(output, tensorboard=tensorboard, plot=plot)
    try:
        clf = TFAutoModelForSequenceClassification.from_pretrained(
            model, num_labels=len(labels), id2label=id2label,
            label2id={v: k for k, v in id2label.items()}, ignore_mismatched_sizes=True)
        _pool_on_tokenizer_pad(clf, tokenizer)
        counts = _enable_lora(clf, lora_rank)
        # padded lengths rounded to 16 bound the number of XLA compilations
        tf_train = clf.prepare_tf_dataset(train, batch_size=batch_size, shuffle=True,
                                          tokenizer=tokenizer, seed=seed, pad_to_multiple_of=16)
        tf_val = clf.prepare_tf_dataset(val, batch_size=batch_size, shuffle=False,
                                        tokenizer=tokenizer, pad_to_multiple_of=16)
        steps = len(tf_train) * epochs
        if steps < MIN_STEPS:
            warn(f"only {steps} training steps ({len(train)} samples / batch size {batch_size} "
                 f"x {epochs} epochs): usually too few to learn anything (expect chance-level "
                 f"accuracy); use at least {MIN_STEPS} steps (more samples or --epochs).")
        optimizer, _ = create_optimizer(learning_rate, steps, int(0.1 * steps),
                                        weight_decay_rate=0.01)
        clf.compile(optimizer=optimizer, metrics=["accuracy"], **_jit(jit_compile))
        start = time.perf_counter()
        # shuffle=False: prepare_tf_dataset already shuffles (seeded); Keras would only warn
        history = clf.fit(tf_train, validation_data=tf_val, epochs=epochs, shuffle=False,
                          verbose=_fit_verbosity(verbose),
                          callbacks=visuals.callbacks(tf_val, len(tf_train)))
        seconds = time.perf_counter() - start
    except BaseException:
        visuals.discard()
        raise
    finally:
        if mixed_precision:
            keras.mixed_precision.set_global_policy("float32")
    hist = {k: [float(x) for x in v] for k, v in history.history.items()}
    val_acc = hist.get("val_accuracy", [None])[-1]
    _warn_if_chance(val_acc, val, warn)
    try:
        _save_atomically(output, clf, tokenizer, overwrite,
                         extra=_lora_extra(clf, visuals.write_into))
    finally:
        visuals.discard()  # the logs of a run whose save failed
    return TrainResult(output, val_acc, seconds, hist, id2label, visuals.report(), *counts)


def _enable_lora(clf, lora_rank):
    """LoRA adapters of ``lora_rank`` (None: train everything); returns (trainable, total)
    parameter counts."""
    import numpy as np

    if lora_rank is not None:
        if lora_rank < 1:
            raise InvalidInputError(f"--lora-rank must be a positive integer; got {lora_rank}.")
        clf.enable_lora(int(lora_rank))
    count = lambda ws: int(sum(np.prod(w.shape) for w in ws))  # noqa: E731
    lora = {id(w) for w in clf.weights if "lora_" in w.name}
    return count(clf.trainable_weights), count(w for w in clf.weights if id(w) not in lora)


def _lora_extra(clf, extra):
    """With LoRA: write the adapters to ``<folder>/adapter`` then merge them into the model
    that ``save_pretrained`` writes next; ``extra`` runs after."""
    if not clf.lora_enabled:
        return extra
    held = tempfile.mkdtemp(prefix=".tfhf-adapter-")
    clf.save_pretrained(held)
    clf.merge_lora()

    def write(folder):
        shutil.move(held, os.path.join(folder, "adapter"))
        extra(folder)

    return write


def _warn_if_chance(val_acc, val, warn):
    """Validation accuracy no better than always answering the most frequent class."""
    from collections import Counter

    if val_acc is None or not len(val):
        return
    majority = max(Counter(val["labels"]).values()) / len(val)
    if val_acc <= majority + 0.02:
        warn(f"validation accuracy {val_acc:.3f} is no better than always answering the most "
             f"frequent label ({majority:.3f}): the model did not learn. Train on more samples, "
             "for more --epochs, or with another --learning-rate.")


def _fit_verbosity(verbose):
    """Keras ``fit`` verbosity: the progress bar on a terminal, one line per epoch when the
    output goes to a file or pipe (a progress bar there is one long line of control codes)."""
    import sys

    if verbose == 1 and not sys.stdout.isatty():
        return 2
    return verbose


def _jit(jit_compile):
    from .._keras import IS_KERAS_3

    if jit_compile == "auto":
        return {"jit_compile": "auto"} if IS_KERAS_3 else {}
    return {"jit_compile": bool(jit_compile)}


def resolve_model(model):
    """``--model``: a folder or ``.gguf`` file as given; ``asset:NAME`` -> the installed
    offline asset's path (``tfhf assets install NAME`` installs it)."""
    if isinstance(model, str) and model.startswith("asset:"):
        from .. import assets

        return assets.path(model[len("asset:"):])
    return model


def _check_classifier_folder(model):
    from ..hub.resolve import ModelSource, split_gguf_path
    from ..models.base import load_config
    from ..models.registry import model_class_for

    path, gguf_file = split_gguf_path(model)
    if gguf_file is None and not os.path.isdir(model):
        raise ModelNotFoundError(f"--model '{model}' is not a folder, a .gguf file or "
                                 "asset:NAME.")
    config, _ = load_config(ModelSource(path), gguf_file=gguf_file)
    try:
        model_class_for(config.model_type, "sequence_classification")
    except TfhfError as e:
        raise ConfigError(f"--model '{model}' cannot be trained as a text classifier: {e}") from None
    return model


def _ensure_pad_token(tokenizer, model):
    """Batches are padded: a tokenizer without a pad token (most causal LMs) pads with its
    eos token, as the usual decoder fine-tuning recipe does."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ConfigError(f"The tokenizer of --model '{model}' has neither a pad nor an eos "
                              "token: batches cannot be padded.")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _pool_on_tokenizer_pad(clf, tokenizer):
    """A decoder LM's classifier pools each row's last token that is not
    ``config.pad_token_id``: that must be the id the collator pads with."""
    from ..models.decoder_classification import DecoderForSequenceClassification

    if isinstance(clf, DecoderForSequenceClassification):
        clf.config.pad_token_id = tokenizer.pad_token_id


def _save_atomically(output, model, tokenizer, overwrite, extra=None):
    parent = os.path.dirname(os.path.abspath(output)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tfhf-train-", dir=parent)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if extra is not None:  # more files for the folder (logs, picture) before the rename
            extra(tmp)
        if os.path.isdir(output):
            if not overwrite and os.listdir(output):
                raise InvalidInputError(f"--output '{output}' appeared during training; not "
                                        "overwriting it.")
            shutil.rmtree(output)
        os.replace(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def classify(model_dir, texts):
    """(label, score) for each text with a saved classifier, as the pipeline reports them."""
    import tensorflow as tf

    from .. import AutoTokenizer, TFAutoModelForSequenceClassification

    tok = AutoTokenizer.from_pretrained(model_dir)
    clf = TFAutoModelForSequenceClassification.from_pretrained(model_dir)
    enc = tok(list(texts), padding=True, truncation=True, return_tensors="tf")
    probs = tf.nn.softmax(clf(enc).logits, axis=-1).numpy()
    return [{"label": clf.config.id2label[int(p.argmax())], "score": float(p.max())}
            for p in probs]


def cli_warning(message):
    """How the applications show a warning: one ``tfhf: warning:`` line on standard error."""
    import sys

    print(f"tfhf: warning: {message}", file=sys.stderr, flush=True)


def label_list(value):
    """``--labels negative,positive`` -> ``["negative", "positive"]``."""
    return [name.strip() for name in value.split(",")]


def main(argv=None) -> int:
    """``tfhf train``: fine-tune a text classifier on the user's CSV / JSONL / Parquet."""
    import argparse

    p = argparse.ArgumentParser(
        prog="tfhf train", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Fine-tune a text classifier (an encoder or a causal LM: folder, .gguf "
                    "file or asset:NAME) on a CSV, "
                    "TSV, JSONL or Parquet file; save it with save_pretrained (config.json "
                    "keeps the label names).")
    p.add_argument("--model", required=True, default=argparse.SUPPRESS,
                   help="model folder (an encoder such as BERT, or a causal LM, which gets a "
                   "classification head), a .gguf file (dequantized) or asset:NAME")
    p.add_argument("--train-file", required=True, default=argparse.SUPPRESS, help="training data (.csv .tsv .jsonl "
                   ".json .parquet)")
    p.add_argument("--validation-file", default=argparse.SUPPRESS,
                   help="validation data (default: 10%% of the training file is held out)")
    p.add_argument("--text-column", default="text", help="column holding the text")
    p.add_argument("--label-column", default="label", help="column holding the label")
    p.add_argument("--labels", type=label_list, default=None, metavar="NAME,NAME,...",
                   help="class names, in id order: names integer labels 0..n-1, or orders "
                        "text labels (default: the label column's values)")
    p.add_argument("--output", required=True, default=argparse.SUPPRESS,
                   help="folder the trained model is saved to")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training data")
    p.add_argument("--batch-size", type=int, default=32, help="examples per step")
    p.add_argument("--learning-rate", type=float, default=5e-5,
                   help="peak learning rate (linear warm-up over 10%% of the steps, then decay)")
    p.add_argument("--max-train-samples", type=int, default=None,
                   help="train on at most this many examples (a quick run)")
    p.add_argument("--max-eval-samples", type=int, default=None,
                   help="evaluate on at most this many validation examples")
    p.add_argument("--max-length", type=int, default=128, help="truncate texts to this many "
                   "tokens")
    p.add_argument("--seed", type=int, default=42, help="seed for the split, the data order, "
                   "the new head's weights and dropout: same seed, same model")
    p.add_argument("--mixed-precision", choices=["mixed_bfloat16", "mixed_float16"], default=None,
                   help="Keras mixed-precision policy for training")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a non-empty --output folder (refused otherwise)")
    p.add_argument("--no-tensorboard", action="store_true",
                   help="no TensorBoard logs (default: written to OUTPUT/logs)")
    p.add_argument("--lora-rank", type=int, default=None, metavar="N",
                   help="train LoRA adapters of rank N (and the new head) instead of every "
                   "weight; saves the merged model and the adapters (PEFT format) in "
                   "OUTPUT/adapter")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    if a.quiet:  # also no datasets progress bars ("Generating train split", "Map")
        import datasets

        datasets.disable_progress_bars()
    res = train_text_classifier(
        a.model, a.train_file, a.output, validation_file=getattr(a, "validation_file", None),
        text_column=a.text_column, label_column=a.label_column, epochs=a.epochs,
        batch_size=a.batch_size, learning_rate=a.learning_rate,
        max_train_samples=a.max_train_samples, max_eval_samples=a.max_eval_samples,
        max_length=a.max_length, seed=a.seed,
        mixed_precision=a.mixed_precision, verbose=0 if a.quiet else 1, overwrite=a.overwrite,
        label_names=a.labels, warn=cli_warning, tensorboard=not a.no_tensorboard,
        lora_rank=a.lora_rank)
    acc = "n/a" if res.val_accuracy is None else f"{res.val_accuracy:.4f}"
    print(f"validation accuracy: {acc}; saved to {res.output}")
    print(f"labels: {', '.join(res.id2label[i] for i in sorted(res.id2label))}")
    if a.lora_rank is not None:
        print(f"trained {res.trainable_params:,} of {res.total_params:,} parameters "
              f"(LoRA rank {a.lora_rank}); adapters in {os.path.join(res.output, 'adapter')}")
    for line in res.visuals or ():
        print(line)
    return 0
