"""TensorBoard logs for ``fit``: loss, metrics and the learning rate, per step and per epoch.

``tensorboard_callbacks(log_dir)`` gives Keras' ``TensorBoard`` callback (graph off) plus a
:class:`ScalarLogger` for the learning rate at every step, which Keras logs only per epoch
(Keras 3: from the optimizer; tf_keras: only for a ``LearningRateSchedule``). Keras' callback
writes through ``tf.summary.scalar``, which TensorFlow 2.21 implements only when the
``tensorboard`` package is installed; without it the :class:`ScalarLogger` writes all the
scalars itself (``tf.summary.write`` with the scalar plugin's metadata, TensorFlow alone), under
the same tags (``batch_loss``, ``epoch_accuracy``, ...) and folders (``train/``,
``validation/``), so the logs read the same in TensorBoard either way.
"""

from __future__ import annotations

import os

import tensorflow as tf

from .._keras import IS_KERAS_3, keras
from .plots import current_learning_rate, float_logs

TENSORBOARD_HINT = 'pip install "tfhf[tensorboard]"'


def tensorboard_available():
    from importlib.util import find_spec

    return find_spec("tensorboard") is not None


def _scalar_metadata():
    from tensorflow.core.framework import summary_pb2

    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = "scalars"  # what TensorBoard's scalars dashboard reads
    return md


class ScalarLogger(keras.callbacks.Callback):
    """Write TensorBoard scalars with TensorFlow alone: ``batch_learning_rate`` every
    ``update_freq`` steps and, with ``metrics=True``, the batch and epoch logs
    (``batch_<name>``, ``epoch_<name>``, ``epoch_learning_rate``; validation values in
    ``log_dir/validation``) as Keras' TensorBoard callback names them."""

    def __init__(self, log_dir, update_freq=1, metrics=True):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.update_freq = max(1, int(update_freq))
        self.metrics = metrics
        self._writers = {}
        self._step = 0
        self._lr = None

    def _write(self, run, values, step):
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(os.path.join(self.log_dir, run))
        md = _scalar_metadata()
        with self._writers[run].as_default():
            for tag, value in values.items():
                tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=md)

    def on_train_begin(self, logs=None):
        self._step = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._step += 1
        if IS_KERAS_3:  # the rate this step uses (Keras 3 evaluates the schedule on read)
            self._lr = current_learning_rate(self.model.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        if not IS_KERAS_3:  # tf_keras sets its current rate during the step
            self._lr = current_learning_rate(self.model.optimizer)
        if self._step % self.update_freq:
            return
        values = {f"batch_{k}": v for k, v in float_logs(logs).items()} if self.metrics else {}
        if self._lr is not None:
            values["batch_learning_rate"] = self._lr
        self._write("train", values, self._step)

    def on_epoch_end(self, epoch, logs=None):
        if not self.metrics:
            return
        logs = float_logs(logs)
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
        lr = current_learning_rate(self.model.optimizer)
        if lr is not None:
            train["epoch_learning_rate"] = lr
        self._write("train", train, epoch)
        val = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        if val:
            self._write("validation", val, epoch)

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}


def tensorboard_callbacks(log_dir, update_freq=1, write_graph=False, use_keras=None):
    """Callbacks that log loss, metrics and the learning rate per step and per epoch under
    ``log_dir`` (see the module docstring). ``use_keras``: Keras' ``TensorBoard`` callback
    (default: when the ``tensorboard`` package is installed)."""
    if use_keras is None:
        use_keras = tensorboard_available()
    if use_keras:
        return [keras.callbacks.TensorBoard(os.fspath(log_dir), update_freq=update_freq,
                                            write_graph=write_graph),
                ScalarLogger(log_dir, update_freq, metrics=False)]
    return [ScalarLogger(log_dir, update_freq, metrics=True)]
