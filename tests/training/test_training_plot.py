"""TrainingPlot (tfhf.training.plots) in real ``fit`` runs: a user's own Keras model with
create_optimizer's schedule, and a tiny tfhf classifier. Runs under Keras 3 and, through
test_training_plot_under_tf_keras, under tf_keras (TF_USE_LEGACY_KERAS=1)."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("matplotlib", reason="TrainingPlot draws with matplotlib "
                                         '(pip install "tfhf[plot]")')

import tfhf  # noqa: E402
from tfhf._keras import keras  # noqa: E402
from tfhf.errors import InvalidInputError, MissingDependencyError  # noqa: E402
from tfhf.training import plots  # noqa: E402
from tfhf.training.plots import TrainingPlot  # noqa: E402


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def toy(n=64, seed=0):
    rs = np.random.RandomState(seed)
    x = rs.rand(n, 4).astype("float32")
    return x, (x[:, 0] > 0.5).astype("int32")


def user_model(steps):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    opt, schedule = tfhf.create_optimizer(1e-2, steps, 2)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model, schedule


def test_in_a_users_own_fit(tmp_path):
    x, y = toy()
    val = tf.data.Dataset.from_tensor_slices(toy(24, seed=1)).batch(8)
    epochs, batch = 3, 8
    steps = epochs * len(x) // batch
    model, schedule = user_model(steps)
    path = tmp_path / "curves" / "training.png"  # the folder is created
    cb = TrainingPlot(path, validation_data=val, label_names=["low", "high"])
    history = model.fit(x, y, batch_size=batch, epochs=epochs, validation_data=val, verbose=0,
                        callbacks=[cb])

    w, h = png_size(path)
    assert 500 <= w <= 2000 and 300 <= h <= 1500
    assert 10_000 < path.stat().st_size < 300_000
    assert sorted(os.listdir(path.parent)) == ["training.png"]  # no temporary file left
    # every step recorded, with the learning rate the schedule gave that step
    assert len(cb.steps) == steps
    lrs = [lr for _, lr in cb.learning_rates]
    expected = [float(schedule(s)) for s in range(steps)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-5, atol=1e-9)
    assert lrs[1] > lrs[0] and lrs[-1] < max(lrs)  # warm-up, then decay
    # epoch logs (validation included) as History has them
    assert [round(logs["val_loss"], 5) for _, logs in cb.epochs] == \
        [round(v, 5) for v in history.history["val_loss"]]
    # the confusion matrix counts every validation row, with the given names
    matrix, names = cb.confusion
    assert names == ["low", "high"] and matrix.shape == (2, 2) and matrix.sum() == 24
    acc = model.evaluate(val, verbose=0)[1]
    assert np.trace(matrix) / 24 == pytest.approx(acc, abs=1e-6)


def test_train_curve_windows_match_the_epoch_means(tmp_path):
    x, y = toy()
    model, _ = user_model(8)
    cb = TrainingPlot(None, every_n_steps=2)  # records only; save() writes
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])
    train, ends, val, every = cb._series("loss")
    assert every == 2 and [s for s, _ in train] == [2, 4, 6, 8] and not val
    # equal windows of equal batches: their mean is the epoch mean
    assert np.mean([v for _, v in train]) == pytest.approx(ends[0][1], rel=1e-4)
    png_size(cb.save(tmp_path / "later.png"))


def test_a_tfhf_classifier_with_label_names_from_its_config(tmp_path):
    import transformers

    keras.utils.set_random_seed(0)
    config = transformers.BertConfig(
        vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2})
    model = tfhf.TFAutoModelForSequenceClassification.from_config(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"])
    rs = np.random.RandomState(0)
    ids = rs.randint(5, 40, size=(12, 6)).astype("int32")
    labels = (np.arange(12) % 3).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices(({"input_ids": ids}, labels)).batch(4)
    cb = TrainingPlot(tmp_path / "t.png", validation_data=ds, title="tiny BERT")
    model.fit(ds, validation_data=ds, epochs=2, verbose=0, callbacks=[cb])
    matrix, names = cb.confusion
    assert names == ["negative", "neutral", "positive"] and matrix.sum() == 12
    png_size(tmp_path / "t.png")


def test_window_means():
    running = [4.0, 3.0, 2.0, 2.0, 1.0]  # batch losses 4, 2, 0, 2, -3
    assert plots.window_means(running, 2) == [(2, 3.0), (4, 1.0), (5, -3.0)]
    assert plots.window_means(running, 10) == [(5, 1.0)]


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(InvalidInputError, match="every_n_steps"):
        TrainingPlot(tmp_path / "x.png", every_n_steps=0)
    with pytest.raises(InvalidInputError, match="needs a path"):
        TrainingPlot(None).save()
    with pytest.raises(InvalidInputError, match="nothing to draw"):
        TrainingPlot(None).save(tmp_path / "x.png")
    assert not os.listdir(tmp_path)
    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    with pytest.raises(MissingDependencyError, match=r'pip install "tfhf\[plot\]"'):
        TrainingPlot(tmp_path / "x.png")


def test_public_names():
    assert tfhf.TrainingPlot is TrainingPlot
    from tfhf.training import TrainingPlot as again

    assert again is TrainingPlot


@pytest.mark.skipif(os.environ.get("TF_USE_LEGACY_KERAS") == "1", reason="runs itself")
def test_training_plot_under_tf_keras():
    """This file under TF_USE_LEGACY_KERAS=1."""
    from _train_helpers import run_python

    run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                "-k", "not under_tf_keras"], timeout=400, env={"TF_USE_LEGACY_KERAS": "1"},
               cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
