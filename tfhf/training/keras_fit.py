"""Keras ``compile``/``fit`` support for tfhf models: the model's own loss when ``compile``
gets none, metrics on logits, and ``prepare_tf_dataset``.

The hooks used (``compute_loss``, ``compute_metrics``) exist under Keras 3 and tf_keras, so
the rest of Keras' training loop (distribution, loss scaling, callbacks) is untouched.
"""

from __future__ import annotations

import inspect
import logging

import tensorflow as tf

from .._keras import IS_KERAS_3, keras
from . import losses

logger = logging.getLogger("tfhf")

_TASK_LABELS = {
    "question_answering": ("start_positions", "end_positions"),
}


def _multi_worker_logs(logs):
    """Keras 3 reduces each step's logs under MultiWorkerMirroredStrategy with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on scalars ("Invalid reduction
    dimension 0", tensorflow/tensorflow#72388). Give scalars a length-1 axis there: the
    values are already synchronized metric results, so their mean is the value."""
    if not IS_KERAS_3 or not isinstance(logs, dict):
        return logs
    strategy = tf.distribute.get_strategy()
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()):
        return logs
    return {k: (tf.reshape(v, [1]) if tf.is_tensor(v) and v.shape.rank == 0 else v)
            for k, v in logs.items()}


class KerasTrainingMixin:
    """Mixed into :class:`tfhf.models.base.TFPreTrainedModel`."""

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss="auto_with_warning", metrics=None, **kwargs):
        if loss in ("auto_with_warning", "passthrough", None):
            logger.info("No loss specified in compile() - the model's internal loss "
                        "computation will be used as the loss.")
            self._tfhf_internal_loss = True
            loss = None
            if not IS_KERAS_3 and getattr(self, "_tfhf_loss_tracker", None) is None:
                # tf_keras tracks the loss inside its compiled-loss container, which the
                # internal loss bypasses: track it here so History and callbacks see "loss".
                self._tfhf_loss_tracker = keras.metrics.Mean(name="loss")
        else:
            self._tfhf_internal_loss = False
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    @property
    def label_names(self):
        return _TASK_LABELS.get(self.task, ("labels",))

    # ------------------------------------------------------------------ outputs
    def _prediction_for(self, y_pred):
        """The tensor(s) a Keras loss/metric sees: logits, or (start, end) for QA."""
        if hasattr(y_pred, "keys") and not hasattr(y_pred, "shape"):
            if "logits" in y_pred:
                return y_pred["logits"]
            if "start_logits" in y_pred:
                return (y_pred["start_logits"], y_pred["end_logits"])
        return y_pred

    def _labels_from(self, x, y):
        if y is not None:
            return y
        if isinstance(x, dict):
            found = {k: x[k] for k in self.label_names if k in x}
            if found:
                return found if len(found) > 1 else next(iter(found.values()))
        return None

    def internal_loss(self, y, y_pred):
        """The head's loss from labels ``y`` and the model's outputs (as transformers)."""
        task = self.task
        cfg = self.config
        if task == "question_answering":
            if isinstance(y, dict):
                sp, ep = y["start_positions"], y["end_positions"]
            else:
                sp, ep = y
            return losses.question_answering_loss(sp, ep, y_pred["start_logits"],
                                                  y_pred["end_logits"])
        logits = y_pred["logits"]
        if isinstance(y, dict):
            y = y.get("labels", next(iter(y.values())))
        if task == "sequence_classification":
            return losses.sequence_classification_loss(tf.convert_to_tensor(y), logits,
                                                       cfg.problem_type, cfg.num_labels)
        if task == "causal_lm":
            return losses.causal_lm_loss(y, logits)
        return losses.masked_sparse_ce(y, logits)

    # ------------------------------------------------------------------ Keras hooks
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if getattr(self, "_tfhf_internal_loss", False):
            labels = self._labels_from(x, y)
            if labels is None:
                if hasattr(y_pred, "keys") and "loss" in y_pred:
                    loss = y_pred["loss"]
                else:
                    from ..errors import InvalidInputError

                    raise InvalidInputError(
                        "The model was compiled without a loss, so it trains on its own loss, "
                        f"but the data has no labels (expected {list(self.label_names)}). Pass "
                        "(features, labels) batches, e.g. from model.prepare_tf_dataset(...).")
            else:
                loss = self.internal_loss(labels, y_pred)
            extra = [tf.cast(tf.reduce_sum(v), tf.float32) for v in self.losses]
            if extra:
                loss = loss + tf.add_n(extra)
            tracker = getattr(self, "_tfhf_loss_tracker", None)
            if tracker is not None:
                tracker.update_state(loss)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            if replicas > 1:
                loss = loss / tf.cast(replicas, loss.dtype)
            return loss
        pred = self._prediction_for(y_pred)
        try:
            return super().compute_loss(x=x, y=y, y_pred=pred, sample_weight=sample_weight,
                                        training=training)
        except TypeError:  # tf_keras' signature has no ``training``
            return super().compute_loss(x, y, pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        labels, pred = self._labels_from(x, y), self._prediction_for(y_pred)
        if isinstance(pred, tuple) and hasattr(labels, "keys"):
            # QA: (start_logits, end_logits) meet (start_positions, end_positions); tf_keras
            # rejects a dict of labels whose keys name no model output
            labels = tuple(labels[k] for k in self.label_names if k in labels)
        return super().compute_metrics(x, labels, pred, sample_weight)

    def train_step(self, data):
        return _multi_worker_logs(super().train_step(data))

    def test_step(self, data):
        return _multi_worker_logs(super().test_step(data))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras 3 hook: under a multi-replica strategy Keras builds compiled metrics from the
        first batch reduced with MEAN over replicas, which turns integer token ids into
        floats (and the model rejects them). Build from one replica's batch instead: same
        dtypes, the per-replica shape."""
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is not None and iterator is not None and data_batch is None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: (strategy.experimental_local_results(v)[0]
                               if isinstance(v, tf.distribute.DistributedValues) else v),
                    next(it))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # ------------------------------------------------------------------ data
    def input_signature_names(self):
        """Inputs ``call`` accepts (for filtering dataset columns)."""
        names = set(getattr(self, "model_input_names", ()))
        names |= {p for p in inspect.signature(self.call).parameters
                  if p not in ("self", "kwargs", "inputs", "training", "return_dict",
                               "output_hidden_states", "output_attentions")}
        return names

    def check_dataset(self, dataset):
        """Raise a clear error, before training, for examples the model cannot take (a hook
        for heads with rules on their inputs; by default nothing to check)."""

    def prepare_tf_dataset(self, dataset, batch_size=8, shuffle=True, tokenizer=None,
                           collate_fn=None, collate_fn_args=None, drop_remainder=None,
                           prefetch=True, seed=None, pad_to_multiple_of=None):
        """A ``tf.data.Dataset`` of ``(features, labels)`` batches for ``fit``.

        Columns the model does not take are dropped; ``label``/``labels``/``label_ids``
        become the labels. Batches are padded per batch by ``collate_fn`` (default:
        :class:`tfhf.DataCollatorWithPadding` when a tokenizer is given, else
        :class:`tfhf.DefaultDataCollator`); ``pad_to_multiple_of`` rounds padded lengths up
        so that XLA compiles a bounded number of shapes. ``batch_size`` is the global batch
        under ``tf.distribute``. ``seed`` makes shuffling reproducible.
        """
        from ..data import collators as data_collators
        from ..data.tf_dataset import LABEL_ALIASES, to_tf_dataset

        if collate_fn is None:
            if tokenizer is None:
                collate_fn = data_collators.DefaultDataCollator(return_tensors="np")
            else:
                collate_fn = data_collators.DataCollatorWithPadding(
                    tokenizer, return_tensors="np", pad_to_multiple_of=pad_to_multiple_of)
        if drop_remainder is None:
            drop_remainder = shuffle
        inputs = self.input_signature_names()
        label_names = set(self.label_names)
        cols = list(dataset.column_names)
        feature_cols = [c for c in cols if c in inputs and c not in label_names]
        label_cols = [c for c in cols if c in label_names or
                      (c in LABEL_ALIASES and "labels" in label_names)]
        if not feature_cols:
            from ..errors import InvalidInputError

            raise InvalidInputError(
                f"The dataset has none of the model's inputs "
                f"{sorted(getattr(self, 'model_input_names', inputs))} (columns: {cols}). "
                "Tokenize the dataset first (dataset.map(tokenize_function, batched=True)).")
        self.check_dataset(dataset)
        unwanted = [c for c in cols if c not in feature_cols and c not in label_cols]
        if unwanted:
            dataset = dataset.remove_columns(unwanted)
        return to_tf_dataset(dataset, feature_cols, label_cols, batch_size, shuffle, collate_fn,
                             collate_fn_args, drop_remainder, prefetch, seed)
