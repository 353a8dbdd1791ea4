"""Keras callbacks from transformers 4.x: ``KerasMetricCallback`` and ``PushToHubCallback``."""

from __future__ import annotations

import glob
import logging
import os

import numpy as np

from ._keras import IS_KERAS_3, keras
from .errors import InvalidInputError

logger = logging.getLogger("tfhf")

_AUTO_LABELS = (("labels",), ("start_positions", "end_positions"), ("label",))


def _to_numpy(x):
    if isinstance(x, dict) or (hasattr(x, "keys") and not hasattr(x, "shape")):
        return {k: _to_numpy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_numpy(v) for v in x)
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _concat(batches, pad=-100):
    """Concatenate along the batch axis, padding ragged sequence axes with ``pad``."""
    first = batches[0]
    if isinstance(first, dict):
        return {k: _concat([b[k] for b in batches], pad) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concat([b[i] for b in batches], pad) for i in range(len(first)))
    arrays = [np.asarray(b) for b in batches]
    if arrays[0].ndim <= 1 or all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays, axis=0)
    width = max(a.shape[1] for a in arrays)
    out = []
    for a in arrays:
        padded = np.full((a.shape[0], width) + a.shape[2:], pad, dtype=a.dtype)
        padded[:, : a.shape[1]] = a
        out.append(padded)
    return np.concatenate(out, axis=0)


def _single(x):
    """A dict / list / tuple of one array is that array (as transformers' callback returns)."""
    if isinstance(x, dict) and len(x) == 1:
        return next(iter(x.values()))
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x


class KerasMetricCallback(keras.callbacks.Callback):
    """Compute ``metric_fn((predictions, labels))`` on ``eval_dataset`` after each epoch and
    add the returned dict to the epoch logs (so History, EarlyStopping... see it).

    ``eval_dataset`` is a batched ``tf.data.Dataset`` of ``(features, labels)`` or of dicts
    holding the labels, or arrays / a dict of arrays batched here by ``batch_size``.
    ``label_cols`` names the label keys among the features (found automatically: ``labels``,
    else ``start_positions`` + ``end_positions``, else ``label``); they are not given to the
    model. Predictions are the model's outputs without ``loss`` (``output_cols`` picks some);
    a single output (typically ``logits``) or a single label is passed as an array, several
    as a dict. Batches whose sequence lengths differ are padded with -100 (predictions and
    labels alike). With ``predict_with_generate=True`` predictions are
    ``model.generate(...)`` outputs (``use_xla_generation``, ``generate_kwargs``), padded
    with the model's ``pad_token_id``.
    """

    def __init__(self, metric_fn, eval_dataset, output_cols=None, label_cols=None,
                 batch_size=None, predict_with_generate=False, use_xla_generation=False,
                 generate_kwargs=None):
        super().__init__()
        import tensorflow as tf

        if not callable(metric_fn):
            raise InvalidInputError("metric_fn must be a callable taking (predictions, labels).")
        self.metric_fn = metric_fn
        self.batch_size = batch_size
        if not isinstance(eval_dataset, tf.data.Dataset):
            if batch_size is None:
                raise InvalidInputError("When eval_dataset is not a tf.data.Dataset, pass "
                                        "batch_size.")
            eval_dataset = tf.data.Dataset.from_tensor_slices(eval_dataset).batch(batch_size)
        self.eval_dataset = eval_dataset
        self.output_cols = list(output_cols) if output_cols is not None else None
        self.predict_with_generate = predict_with_generate
        self.use_xla_generation = use_xla_generation
        self.generate_kwargs = dict(generate_kwargs or {})
        spec = eval_dataset.element_spec
        self._tuple_data = isinstance(spec, tuple) and len(spec) == 2
        input_spec = spec[0] if self._tuple_data else spec
        input_keys = set(input_spec) if isinstance(input_spec, dict) else set()
        if label_cols is not None:
            label_cols = [label_cols] if isinstance(label_cols, str) else list(label_cols)
            missing = [c for c in label_cols if c not in input_keys]
            if missing:
                raise InvalidInputError(
                    f"label_cols {missing} are not keys of the eval_dataset features "
                    f"(keys: {sorted(input_keys)}).")
        elif not self._tuple_data:
            label_cols = next((list(c) for c in _AUTO_LABELS if set(c) <= input_keys), None)
            if label_cols is None:
                raise InvalidInputError(
                    "Could not find labels in eval_dataset: yield (features, labels) pairs or "
                    f"pass label_cols=[...] naming the label keys (keys: {sorted(input_keys)}).")
        self.label_cols = label_cols

    def _split(self, batch):
        """(model inputs, labels) of a batch."""
        if self._tuple_data:
            x, y = batch
        else:
            x, y = batch, None
        if self.label_cols is not None:
            x = dict(x)
            y = {k: x.pop(k) for k in self.label_cols}
        return x, y

    def _predict(self, x):
        model = self.model
        if self.predict_with_generate:
            if not hasattr(model, "generate"):
                raise InvalidInputError("predict_with_generate=True needs a model with "
                                        "generate().")
            if isinstance(x, dict):
                name = getattr(model, "main_input_name", "input_ids")
                ids, mask = x[name], x.get("attention_mask")
            else:
                ids, mask = x, None
            kwargs = dict(self.generate_kwargs)
            kwargs.setdefault("use_xla", bool(self.use_xla_generation))
            out = model.generate(ids, attention_mask=mask, **kwargs)
            return getattr(out, "sequences", out)
        out = model.predict_on_batch(x)
        if hasattr(out, "keys") and not hasattr(out, "shape"):
            if self.output_cols is not None:
                missing = [c for c in self.output_cols if c not in out]
                if missing:
                    raise InvalidInputError(f"output_cols {missing} are not model outputs "
                                            f"(outputs: {list(out.keys())}).")
                return {c: out[c] for c in self.output_cols}
            ignore = set(getattr(getattr(model, "config", None),
                                 "keys_to_ignore_at_inference", None) or ()) | {"loss"}
            return {k: v for k, v in out.items() if k not in ignore}
        return out

    def on_epoch_end(self, epoch, logs=None):
        preds, labels = [], []
        for batch in self.eval_dataset:
            x, y = self._split(batch)
            preds.append(_to_numpy(self._predict(x)))
            labels.append(_to_numpy(y))
        if not preds:
            return
        pad = -100
        if self.predict_with_generate:
            config_pad = getattr(getattr(self.model, "config", None), "pad_token_id", None)
            pad = config_pad if config_pad is not None else pad
        all_preds = _single(_concat(preds, pad))
        all_labels = _single(_concat(labels))
        result = self.metric_fn((all_preds, all_labels))
        if not isinstance(result, dict):
            raise InvalidInputError("metric_fn must return a dict of metric name -> value, got "
                                    f"{type(result).__name__}.")
        if logs is not None:
            logs.update({k: float(v) if np.ndim(v) == 0 else v for k, v in result.items()})


class PushToHubCallback(keras.callbacks.Callback):
    """Save the model (and tokenizer) into ``output_dir`` and upload the folder to the Hub repo
    ``hub_model_id`` (default: the folder's name) through huggingface_hub.

    ``save_strategy``: ``"epoch"`` (each epoch), ``"steps"`` (every ``save_steps`` training
    steps, counted across epochs) or ``"no"``; in every case the final model is saved when
    training ends. While an upload is still running, saves are skipped (as in transformers),
    and the last upload is awaited at the end of training.

    With ``checkpoint=True`` (``save_strategy="epoch"`` only) each epoch also writes a
    ``tf.train.Checkpoint(model=..., optimizer=..., epoch=...)`` to
    ``output_dir/checkpoint/weights``; :func:`restore_checkpoint` reads it back into a
    compiled model to resume training.

    When the Hub cannot be used (``HF_HUB_OFFLINE=1``, no network, no token), saving
    continues locally and one warning says so.
    """

    def __init__(self, output_dir, save_strategy="epoch", save_steps=None, tokenizer=None,
                 hub_model_id=None, hub_token=None, checkpoint=False, **model_card_args):
        super().__init__()
        save_strategy = str(getattr(save_strategy, "value", save_strategy)).lower()
        if save_strategy not in ("epoch", "steps", "no"):
            raise InvalidInputError(f"save_strategy={save_strategy!r}; use 'epoch', 'steps' or "
                                    "'no'.")
        if save_strategy == "steps" and (not isinstance(save_steps, int) or save_steps < 1):
            raise InvalidInputError("save_strategy='steps' needs a positive integer save_steps.")
        if checkpoint and save_strategy != "epoch":
            raise InvalidInputError("checkpoint=True is only supported with save_strategy="
                                    "'epoch'.")
        self.output_dir = os.fspath(output_dir)
        self.save_strategy, self.save_steps = save_strategy, save_steps
        self.tokenizer = tokenizer
        self.hub_model_id = hub_model_id or os.path.basename(os.path.abspath(self.output_dir))
        self.hub_token = hub_token
        self.checkpoint = checkpoint
        self.model_card_args = model_card_args  # accepted for compatibility; no card is written
        self._warned = False
        self._repo_ready = False
        self._future = None
        self._step = 0  # training steps done before the current epoch
        self._epoch_start = 0
        self._last_saved_step = 0

    # ------------------------------------------------------------------ saving
    def _upload_busy(self):
        return self._future is not None and not self._future.done()

    def _save(self, message, epoch=None):
        os.makedirs(self.output_dir, exist_ok=True)
        self.model.save_pretrained(self.output_dir)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(self.output_dir)
        if self.checkpoint and epoch is not None:
            self._write_checkpoint(epoch)
        self._upload(message)

    def _write_checkpoint(self, epoch):
        """``output_dir/checkpoint/weights.{index,data-*}``, replaced only once complete."""
        import tensorflow as tf

        folder = os.path.join(self.output_dir, "checkpoint")
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, ".tmp-weights")
        for stale in glob.glob(tmp + ".*"):
            os.remove(stale)
        _checkpoint(self.model, tf.Variable(epoch + 1, dtype=tf.int64)).write(tmp)
        final = os.path.join(folder, "weights")
        for old in glob.glob(final + ".*"):
            os.remove(old)
        for path in glob.glob(tmp + ".*"):
            os.replace(path, final + path[len(tmp):])

    def _upload(self, message):
        if _hub_offline():
            self._warn_once("HF_HUB_OFFLINE is set")
            return
        try:
            import huggingface_hub

            api = huggingface_hub.HfApi(token=self.hub_token)
            if not self._repo_ready:
                self.hub_model_id = api.create_repo(self.hub_model_id, exist_ok=True).repo_id
                self._repo_ready = True
            self._future = api.upload_folder(repo_id=self.hub_model_id,
                                             folder_path=self.output_dir,
                                             commit_message=message, run_as_future=True)
        except Exception as e:  # noqa: BLE001 - network, auth: keep training and local saves
            self._warn_once(f"{type(e).__name__}: {e}")

    def _wait_for_upload(self):
        if self._future is not None:
            try:
                self._future.result()
            except Exception as e:  # noqa: BLE001
                self._warn_once(f"{type(e).__name__}: {e}")

    def _warn_once(self, why):
        if not self._warned:
            logger.warning("PushToHubCallback: not uploading to the Hub (%s); saving to '%s' "
                           "only.", why, self.output_dir)
            self._warned = True

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs=None):
        self._step = self._epoch_start = self._last_saved_step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._step

    def on_train_batch_end(self, batch, logs=None):
        # ``batch`` is the last step of this call within the epoch (several steps per call
        # with steps_per_execution > 1)
        self._step = self._epoch_start + batch + 1
        if self.save_strategy != "steps":
            return
        if self._step // self.save_steps > self._last_saved_step // self.save_steps:
            if self._upload_busy():
                return  # the previous upload is still running: skip this save
            self._last_saved_step = self._step
            self._save(f"Training in progress steps {self._step}")

    def on_epoch_end(self, epoch, logs=None):
        if self.save_strategy == "epoch" and not self._upload_busy():
            self._save(f"Training in progress epoch {epoch}", epoch=epoch)

    def on_train_end(self, logs=None):
        self._wait_for_upload()
        self._save("End of training")
        self._wait_for_upload()


def restore_checkpoint(model, output_dir):
    """Load the checkpoint PushToHubCallback(checkpoint=True) wrote in ``output_dir`` into
    ``model`` and its optimizer (compile the model first). Returns the number of epochs done,
    to pass as ``fit(initial_epoch=...)``."""
    import tensorflow as tf

    prefix = os.path.join(os.fspath(output_dir), "checkpoint", "weights")
    if not os.path.isfile(prefix + ".index"):
        from .errors import ModelNotFoundError

        raise ModelNotFoundError(f"No checkpoint at '{prefix}' (written by "
                                 "PushToHubCallback(checkpoint=True)).")
    if getattr(model, "optimizer", None) is None:
        raise InvalidInputError("restore_checkpoint needs a compiled model (the optimizer "
                                "state is restored too): call model.compile(...) first.")
    optimizer = model.optimizer
    if IS_KERAS_3 and not optimizer.built:
        # create the optimizer's slots now, so that they are restored here and not at the
        # first training step
        optimizer.build(model.trainable_variables)
    epoch = tf.Variable(0, dtype=tf.int64)
    _checkpoint(model, epoch).read(prefix).expect_partial()
    return int(epoch.numpy())


def _checkpoint(model, epoch):
    """The checkpoint layout: model, optimizer, epochs done, and the model's weights as a list.

    The list matters under Keras 3, whose layers keep sub-layers held in Python lists (the
    encoder blocks) out of TensorFlow's object graph: ``tf.train.Checkpoint(model=model)``
    alone would not restore those into a fresh model.
    """
    import tensorflow as tf

    return tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch,
                               model_weights=list(model.weights))


def _hub_offline():
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return bool(constants.HF_HUB_OFFLINE) or env
