"""Training pictures: the :class:`TrainingPlot` Keras callback and the figure it draws.

``TrainingPlot("training.png")`` added to ``fit(callbacks=[...])`` records the loss, the
accuracy and the learning rate at every step and the epoch logs (validation included), and
writes one PNG: loss and accuracy against the training step (train as the mean over each
window of N steps, validation and the epoch means as points at each epoch's end), the
learning-rate schedule, and, given ``validation_data``, a confusion matrix with the label
names. It works the same under Keras 3 and tf_keras; it needs matplotlib
(``pip install "tfhf[plot]"``) and draws with the Agg backend (no display).
"""

from __future__ import annotations

import math
import os

import numpy as np

from .._keras import IS_KERAS_3, keras
from ..errors import InvalidInputError, MissingDependencyError

PLOT_HINT = 'pip install "tfhf[plot]"'
_MAX_POINTS = 60  # train curve windows: about this many points whatever the run length


def matplotlib_available():
    from importlib.util import find_spec

    return find_spec("matplotlib") is not None


def _pyplot():
    if not matplotlib_available():
        raise MissingDependencyError(f"Drawing training.png needs matplotlib: {PLOT_HINT} "
                                     "(or pip install matplotlib).")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def current_learning_rate(optimizer):
    """The optimizer's learning rate now, as a float (schedules evaluated), or None."""
    opt = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    lr = getattr(opt, "learning_rate", None)
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        lr = lr(opt.iterations)
    try:
        return float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
    except (TypeError, ValueError):
        return None


def float_logs(logs):
    """The Keras logs whose values are numbers, as floats."""
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(np.asarray(v))
        except (TypeError, ValueError):
            continue
    return out


def _accuracy_key(keys):
    found = [k for k in keys if "acc" in k and not k.startswith("val_")]
    return found[0] if found else None


def window_means(running, every):
    """Means over windows of ``every`` steps from per-step running means of one epoch
    (Keras' batch logs average since the epoch began): ``(k*m_k - j*m_j) / (k - j)``."""
    out, prev_k, prev_sum = [], 0, 0.0
    for k in range(every, len(running) + every, every):
        k = min(k, len(running))
        if k <= prev_k:
            break
        total = k * running[k - 1]
        out.append((k, (total - prev_sum) / (k - prev_k)))
        prev_k, prev_sum = k, total
    return out


class TrainingPlot(keras.callbacks.Callback):
    """Keras callback that saves a PNG of the training curves (see the module docstring).

    Args:
        path: the PNG to write (after every epoch and at the end of ``fit``); ``None`` only
            records, and :meth:`save` writes later.
        validation_data: a batched ``(features, labels)`` dataset (e.g. from
            ``model.prepare_tf_dataset``) for the confusion matrix, computed once at the end.
        label_names: class names for the matrix (default: ``model.config.id2label`` when the
            model has one, else the class indices).
        every_n_steps: the train-curve window (default: about 60 points over the run).
        title: a title over the picture.
    """

    def __init__(self, path="training.png", validation_data=None, label_names=None,
                 every_n_steps=None, title=None, dpi=100):
        super().__init__()
        _pyplot()  # a missing matplotlib is said now, not after training
        if every_n_steps is not None and int(every_n_steps) < 1:
            raise InvalidInputError(f"every_n_steps must be a positive integer, got "
                                    f"{every_n_steps!r}.")
        self.path = None if path is None else os.fspath(path)
        self.validation_data = validation_data
        self.label_names = None if label_names is None else [str(n) for n in label_names]
        self.every_n_steps = every_n_steps
        self.title = title
        self.dpi = dpi
        self.steps = []  # (epoch, step in epoch, {name: running mean}) per train step
        self.learning_rates = []  # (global step, learning rate)
        self.epochs = []  # (global step at the epoch's end, logs)
        self.confusion = None
        self._lr = None

    # ------------------------------------------------------------------ recording
    def on_train_begin(self, logs=None):
        self.steps, self.learning_rates, self.epochs, self.confusion = [], [], [], None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if IS_KERAS_3:  # Keras 3 evaluates the schedule at the current iteration
            self._lr = current_learning_rate(self.model.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        if not IS_KERAS_3:  # tf_keras updates its current learning rate during the step
            self._lr = current_learning_rate(self.model.optimizer)
        self.steps.append((self._epoch, batch + 1, float_logs(logs)))
        if self._lr is not None:
            self.learning_rates.append((len(self.steps), self._lr))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((len(self.steps), float_logs(logs)))
        if self.path:
            self.save(self.path)

    def on_train_end(self, logs=None):
        if self.validation_data is not None:
            self.confusion = self.confusion_matrix(self.validation_data)
        if self.path:
            self.save(self.path)

    # ------------------------------------------------------------------ confusion matrix
    def _names(self, n):
        if self.label_names:
            return self.label_names
        id2label = getattr(getattr(self.model, "config", None), "id2label", None) or {}
        return [str(id2label.get(i, id2label.get(str(i), i))) for i in range(n)]

    def confusion_matrix(self, dataset):
        """``(matrix, label names)`` of the model's argmax predictions on ``dataset``."""
        import tensorflow as tf

        model = self.model

        @tf.function(reduce_retracing=True)
        def logits_of(x):  # a graph: much faster than eager calls for a transformer
            out = model(x, training=False)
            return out["logits"] if hasattr(out, "keys") and not hasattr(out, "shape") else out

        true, pred = [], []
        for batch in dataset:
            x, y = batch[0], batch[1]
            logits = np.asarray(logits_of(x))
            if isinstance(y, dict) or (hasattr(y, "keys") and not hasattr(y, "shape")):
                y = y["labels"] if "labels" in y else next(iter(y.values()))
            y = np.asarray(y).reshape(-1).astype(int)
            p = (logits.reshape(-1) > 0).astype(int) if logits.shape[-1] == 1 else \
                logits.argmax(-1).reshape(-1)
            true.append(y)
            pred.append(p)
        if not true:
            return None
        true, pred = np.concatenate(true), np.concatenate(pred)
        keep = true >= 0  # -100: ignored positions
        true, pred = true[keep], pred[keep]
        n = int(max(true.max(initial=0), pred.max(initial=0))) + 1
        names = self._names(n)
        n = max(n, len(names))
        matrix = np.zeros((n, n), dtype=np.int64)
        np.add.at(matrix, (true, pred), 1)
        return matrix, list(names)[:n] + [str(i) for i in range(len(names), n)]

    # ------------------------------------------------------------------ drawing
    def _series(self, key):
        """Train windows, epoch train means and validation values for ``key``."""
        every = self.every_n_steps or max(1, math.ceil(len(self.steps) / _MAX_POINTS))
        train, offset = [], 0
        for epoch in sorted({e for e, _, _ in self.steps}):
            rows = [v.get(key) for e, _, v in self.steps if e == epoch]
            if any(r is None for r in rows):
                break
            train += [(offset + k, m) for k, m in window_means(rows, every)]
            offset += len(rows)
        ends = [(s, logs[key]) for s, logs in self.epochs if key in logs]
        val = [(s, logs["val_" + key]) for s, logs in self.epochs if "val_" + key in logs]
        return train, ends, val, every

    def _curve(self, ax, key, label):
        train, ends, val, every = self._series(key)
        if train:
            ax.plot(*zip(*train), "-", color="#1f77b4",
                    label=f"train (mean of {every} steps)" if every > 1 else "train")
        if ends and (len(ends) > 1 or not train):
            ax.plot(*zip(*ends), "o", color="#1f77b4", mfc="white", label="train (epoch)")
        if val:
            ax.plot(*zip(*val), "s-" if len(val) > 1 else "s", color="#ff7f0e",
                    label="validation")
            for s, v in val:
                ax.annotate(f"{v:.3f}", (s, v), fontsize=7, xytext=(3, 4),
                            textcoords="offset points")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("training step", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)

    def _panels(self):
        keys = set()
        for _, _, v in self.steps:
            keys |= set(v)
        for _, logs in self.epochs:
            keys |= set(logs)
        panels = []
        if "loss" in keys:
            panels.append(("curve", "loss", "loss"))
        acc = _accuracy_key(sorted(keys))
        if acc:
            panels.append(("curve", acc, acc.replace("_", " ")))
        if self.learning_rates:
            panels.append(("lr", None, "learning rate"))
        if self.confusion is not None:
            panels.append(("confusion", None, "confusion matrix (validation)"))
        return panels

    def _confusion(self, ax, fig):
        matrix, names = self.confusion
        im = ax.imshow(matrix, cmap="Blues")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        short = [n if len(n) <= 14 else n[:13] + "…" for n in names]
        ax.set_xticks(range(len(names)))
        ax.set_yticks(range(len(names)))
        ax.set_xticklabels(short, fontsize=7, rotation=45 if len(names) > 3 else 0, ha="right"
                           if len(names) > 3 else "center")
        ax.set_yticklabels(short, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        n = len(names)
        if n <= 20:
            top = matrix.max() or 1
            for (i, j), v in np.ndenumerate(matrix):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=9 if n <= 6 else 7,
                        color="white" if v > top / 2 else "black")
        acc = np.trace(matrix) / max(matrix.sum(), 1)
        ax.set_title(f"confusion matrix (validation, accuracy {acc:.3f})", fontsize=10)

    def figure(self):
        """The matplotlib figure of what was recorded so far (the caller closes it)."""
        plt = _pyplot()
        panels = self._panels()
        if not panels:
            raise InvalidInputError("TrainingPlot has nothing to draw yet: no training step "
                                    "was recorded (add it to fit(callbacks=[...])).")
        cols = 2 if len(panels) > 1 else 1
        rows = math.ceil(len(panels) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False)
        for ax, (kind, key, label) in zip(axes.flat, panels):
            if kind == "curve":
                self._curve(ax, key, label)
            elif kind == "lr":
                ax.plot(*zip(*self.learning_rates), "-", color="#2ca02c")
                ax.set_title(label, fontsize=10)
                ax.set_xlabel("training step", fontsize=8)
                ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
                ax.grid(alpha=0.3)
            else:
                self._confusion(ax, fig)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        if self.title:
            fig.suptitle(self.title, fontsize=11)
        fig.tight_layout()
        return fig

    def save(self, path=None):
        """Write the picture to ``path`` (default: the callback's path); returns the path."""
        path = os.fspath(path or self.path or "")
        if not path:
            raise InvalidInputError("TrainingPlot.save() needs a path (the callback has none).")
        plt = _pyplot()
        fig = self.figure()
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp.png")
        try:
            fig.savefig(tmp, dpi=self.dpi)
            os.replace(tmp, path)
        finally:
            plt.close(fig)
            if os.path.exists(tmp):
                os.remove(tmp)
        return path
