"""TensorBoard logs from tfhf.training.tensorboard in a real ``fit``: the event files hold
loss, accuracy and the learning rate per step and per epoch, with Keras' TensorBoard callback
(tensorboard installed) and with tfhf's TensorFlow-only writer. Runs under Keras 3 and,
through test_tensorboard_logs_under_tf_keras, under tf_keras."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

import tfhf
from tfhf._keras import keras
from tfhf.training.tensorboard import tensorboard_available, tensorboard_callbacks


def read_events(run_dir):
    """{tag: {step: value}} over every event file of one run folder."""
    out = {}
    files = glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))
    assert files, f"no event file in {run_dir}"
    for f in files:
        for event in tf.compat.v1.train.summary_iterator(f):
            for v in event.summary.value:
                value = (float(tf.make_ndarray(v.tensor)) if v.HasField("tensor")
                         else v.simple_value)
                out.setdefault(v.tag, {})[event.step] = value
    return out


def fit_with_logs(log_dir, use_keras, epochs=2, n=48, batch=8):
    keras.utils.set_random_seed(0)
    rs = np.random.RandomState(0)
    x = rs.rand(n, 4).astype("float32")
    y = (x[:, 0] > 0.5).astype("int32")
    steps = epochs * n // batch
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2)])
    opt, schedule = tfhf.create_optimizer(1e-2, steps, 2)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=batch, epochs=epochs, validation_data=(x, y),
                        verbose=0, callbacks=tensorboard_callbacks(log_dir, update_freq=1,
                                                                   use_keras=use_keras))
    return history, schedule, steps


MODES = [pytest.param(False, id="tensorflow-only writer"),
         pytest.param(True, id="keras TensorBoard", marks=pytest.mark.skipif(
             not tensorboard_available(), reason="Keras' TensorBoard callback writes through "
             "tf.summary.scalar, which needs the tensorboard package"))]


@pytest.mark.parametrize("use_keras", MODES)
def test_event_files_hold_loss_accuracy_and_learning_rate(tmp_path, use_keras):
    history, schedule, steps = fit_with_logs(tmp_path / "logs", use_keras)
    train = read_events(tmp_path / "logs" / "train")
    val = read_events(tmp_path / "logs" / "validation")
    for tag in ("batch_loss", "batch_accuracy", "batch_learning_rate", "epoch_loss",
                "epoch_accuracy", "epoch_learning_rate"):
        assert tag in train, (tag, sorted(train))
    assert {"epoch_loss", "epoch_accuracy"} <= set(val)
    # the rate of every step, as create_optimizer's schedule gives it (warm-up then decay)
    lr = train["batch_learning_rate"]
    assert sorted(lr) == list(range(1, steps + 1))
    np.testing.assert_allclose([lr[s] for s in sorted(lr)],
                               [float(schedule(s)) for s in range(steps)], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose([train["epoch_loss"][e] for e in (0, 1)],
                               history.history["loss"], rtol=1e-5)
    np.testing.assert_allclose([val["epoch_accuracy"][e] for e in (0, 1)],
                               history.history["val_accuracy"], rtol=1e-5)
    assert not glob.glob(str(tmp_path / "logs" / "**" / "*.pbtxt"), recursive=True)


def test_keras_callback_without_tensorboard_is_not_chosen(monkeypatch, tmp_path):
    from tfhf.training import tensorboard as tb

    monkeypatch.setattr(tb, "tensorboard_available", lambda: False)
    cbs = tb.tensorboard_callbacks(tmp_path)
    assert [type(c).__name__ for c in cbs] == ["ScalarLogger"] and cbs[0].metrics


@pytest.mark.skipif(os.environ.get("TF_USE_LEGACY_KERAS") == "1", reason="runs itself")
def test_tensorboard_logs_under_tf_keras():
    """This file under TF_USE_LEGACY_KERAS=1."""
    from _train_helpers import run_python

    run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                "-k", "not under_tf_keras"], timeout=300, env={"TF_USE_LEGACY_KERAS": "1"},
               cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
