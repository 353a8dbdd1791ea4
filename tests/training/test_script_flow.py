"""The transformers 4.x TF fine-tuning flow, run on tfhf: the tutorial script verbatim (apart
from imports) under Keras 3 in-process and under tf_keras in a subprocess, and Keras ``fit``
with the model's internal loss for the other heads and problem types."""

import os
import runpy

import numpy as np
import pytest
import tensorflow as tf
from _train_helpers import NEG, POS, read_json, run_python, toy_rows

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "tutorial_text_classification.py")


def check_tutorial_results(r, keras_name):
    assert r["keras"] == keras_name
    # part 1: compile(optimizer) without a loss trains on the model's own loss
    loss, val_loss = r["history"]["loss"], r["history"]["val_loss"]
    assert len(loss) == len(val_loss) == 10
    assert 0.6 < loss[0] < 0.8  # ~ln 2 for two balanced classes at init
    assert loss[-1] < 0.5 * loss[0], loss
    assert val_loss[-1] < val_loss[0] - 0.1, val_loss
    # documented formats: tokenizer(..., return_tensors="tf") gives int32 tf.Tensors,
    # logits are a float32 (batch, num_labels) tf.Tensor, argmax indexes config.id2label
    assert r["inputs"] == {k: ["EagerTensor", "int32"]
                           for k in ("input_ids", "token_type_ids", "attention_mask")}
    assert r["logits"] == ["EagerTensor", "float32", [1, 2]]
    assert r["predicted_label"] in ("NEGATIVE", "POSITIVE")
    # the pipeline answers [{"label": ..., "score": ...}] as transformers' pipeline did
    (pred,) = r["pipeline"]
    assert set(pred) == {"label", "score"}
    assert pred["label"] == r["predicted_label"]
    assert 0.5 <= pred["score"] <= 1.0
    # part 2: an explicit Keras loss and metrics=["accuracy"] on numpy inputs
    hist = r["explicit_history"]
    assert set(hist) == {"loss", "accuracy"}
    assert hist["loss"][-1] < hist["loss"][0] - 0.05, hist["loss"]
    assert set(r["evaluate"]) == {"loss", "accuracy"}
    assert 0.0 <= r["evaluate"]["accuracy"] <= 1.0
    # predict returns the logits (under "logits", as transformers' models did), all 32 rows
    assert r["predict"] == ["ndarray", "float32", [32, 2]]
    # evaluate's accuracy is the accuracy of predict's logits
    assert r["predict_accuracy"] == pytest.approx(r["evaluate"]["accuracy"], abs=1e-6)


def test_tutorial_script_keras3(tiny_bert, tmp_path):
    g = runpy.run_path(SCRIPT, init_globals={"checkpoint": tiny_bert,
                                             "output_dir": str(tmp_path)},
                       run_name="tutorial")
    check_tutorial_results(g["RESULTS"], "keras")
    # create_optimizer's optimizer is a tf.keras (here Keras 3) Adam; the model saved HF-style
    base, is_tf_keras_adam = g["RESULTS"]["optimizer"]
    assert base.startswith("keras.") and is_tf_keras_adam
    assert os.path.isfile(tmp_path / "my_awesome_model" / "model.safetensors")


def test_tutorial_script_tf_keras(tiny_bert, tmp_path):
    """The same script, unchanged, under TF_USE_LEGACY_KERAS=1 (must be set before TF loads)."""
    run_python([SCRIPT, tiny_bert, str(tmp_path)], timeout=240,
               env={"TF_USE_LEGACY_KERAS": "1"})
    r = read_json(tmp_path / "results.json")
    check_tutorial_results(r, "tf_keras")
    base, is_tf_keras_adam = r["optimizer"]
    assert base.startswith("tf_keras.") and is_tf_keras_adam


# --------------------------------------------------------------------------- other heads
def _fit(model, ds, epochs, lr=3e-3, warmup=0, **compile_kw):
    from tfhf import create_optimizer

    steps = len(ds) * epochs
    opt, _ = create_optimizer(lr, steps, warmup)
    model.compile(optimizer=opt, **compile_kw)
    return model.fit(ds, epochs=epochs, verbose=0).history


def _tokenized(tokenizer, rows):
    from datasets import Dataset

    return Dataset.from_list(rows).map(lambda b: tokenizer(b["text"], truncation=True),
                                       batched=True)


def test_token_classification_fits_on_internal_loss(tiny_bert, tokenizer):
    """Tag the sentiment word: labels on first sub-tokens, -100 elsewhere, padded by
    DataCollatorForTokenClassification."""
    from datasets import Dataset

    from tfhf import DataCollatorForTokenClassification, TFAutoModelForTokenClassification

    sentiment = set(POS) | set(NEG)
    rows = []
    for row in toy_rows(48, seed=3):
        words = row["text"].split()
        enc = tokenizer(words, is_split_into_words=True, truncation=True)
        prev, labels = None, []
        for w in enc.word_ids():
            labels.append(-100 if w is None or w == prev else int(words[w] in sentiment))
            prev = w
        rows.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                     "labels": labels})
    ds = Dataset.from_list(rows)
    model = TFAutoModelForTokenClassification.from_pretrained(tiny_bert, num_labels=2)
    collator = DataCollatorForTokenClassification(tokenizer, return_tensors="np")
    tf_ds = model.prepare_tf_dataset(ds, batch_size=16, shuffle=True, collate_fn=collator,
                                     seed=0)
    x, y = next(iter(tf_ds))
    assert y.shape == x["input_ids"].shape and int(tf.reduce_min(y)) == -100
    hist = _fit(model, tf_ds, epochs=6)
    assert hist["loss"][-1] < 0.6 * hist["loss"][0], hist["loss"]
    logits = model(x).logits
    assert logits.dtype == tf.float32 and logits.shape == (*x["input_ids"].shape, 2)


def test_question_answering_fits_on_internal_loss(tiny_bert, tokenizer):
    """Span = the sentiment word; labels are start_positions / end_positions."""
    from datasets import Dataset

    from tfhf import TFAutoModelForQuestionAnswering

    sentiment = set(POS) | set(NEG)
    rows = []
    for row in toy_rows(48, seed=4):
        enc = tokenizer("which word?", row["text"], truncation=True)
        toks = tokenizer.convert_ids_to_tokens(enc["input_ids"])
        pos = next(i for i, t in enumerate(toks) if t in sentiment)
        rows.append({**{k: enc[k] for k in ("input_ids", "token_type_ids", "attention_mask")},
                     "start_positions": pos, "end_positions": pos})
    ds = Dataset.from_list(rows)
    model = TFAutoModelForQuestionAnswering.from_pretrained(tiny_bert)
    tf_ds = model.prepare_tf_dataset(ds, batch_size=16, shuffle=True, tokenizer=tokenizer,
                                     seed=0)
    x, y = next(iter(tf_ds))
    assert set(y) == {"start_positions", "end_positions"}
    hist = _fit(model, tf_ds, epochs=6)
    assert hist["loss"][-1] < 0.6 * hist["loss"][0], hist["loss"]
    out = model.predict(tf_ds, verbose=0)
    assert out["start_logits"].shape == out["end_logits"].shape
    assert out["start_logits"].shape[0] == 48


def _multi_label(row):
    """[positive, negative, strongly positive]: positives carry two labels at once."""
    strong = any(w in row["text"].split() for w in ("superb", "brilliant", "excellent"))
    return [float(row["label"] == 1), float(row["label"] == 0), float(strong)]


@pytest.mark.parametrize("problem", ["multi_label_classification", "regression"])
def test_sequence_problem_types_fit_on_internal_loss(tiny_bert, tokenizer, problem):
    from tfhf import TFAutoModelForSequenceClassification
    from tfhf._keras import keras
    from tfhf.training import losses

    keras.utils.set_random_seed(0)  # the new head's initialization
    rows = toy_rows(64, seed=5)
    if problem == "regression":  # one float target: +1 positive, -1 negative
        num_labels, targets = 1, [2.0 * r["label"] - 1.0 for r in rows]
    else:
        num_labels, targets = 3, [_multi_label(r) for r in rows]
    for r, t in zip(rows, targets):
        r["label"] = t
    ds = _tokenized(tokenizer, rows)
    model = TFAutoModelForSequenceClassification.from_pretrained(
        tiny_bert, num_labels=num_labels, problem_type=problem, ignore_mismatched_sizes=True)
    tf_ds = model.prepare_tf_dataset(ds, batch_size=16, shuffle=True, tokenizer=tokenizer,
                                     seed=0)
    x, y = next(iter(tf_ds))
    assert y.dtype == tf.float32
    assert y.shape == ((16,) if problem == "regression" else (16, 3))
    # the internal loss is the problem type's loss: BCE on logits / MSE
    out = model(x)
    expected = (np.mean((out.logits.numpy()[:, 0] - y.numpy()) ** 2) if problem == "regression"
                else float(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, out.logits))))
    got = float(losses.sequence_classification_loss(y, out.logits, problem, num_labels))
    assert got == pytest.approx(expected, rel=1e-5)
    assert float(model(x, labels=y).loss) == pytest.approx(expected, rel=1e-5)
    hist = _fit(model, tf_ds, epochs=16, lr=5e-3, warmup=4)
    assert hist["loss"][-1] < 0.6 * hist["loss"][0], hist["loss"]
