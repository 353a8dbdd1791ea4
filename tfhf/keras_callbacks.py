"""Keras callbacks from transformers 4.x: ``KerasMetricCallback`` and ``PushToHubCallback``."""

from __future__ import annotations

import logging
import os

import numpy as np

from ._keras import keras
from .errors import InvalidInputError

logger = logging.getLogger("tfhf")


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


class KerasMetricCallback(keras.callbacks.Callback):
    """Compute ``metric_fn((predictions, labels))`` on ``eval_dataset`` after each epoch and
    add the returned dict to the epoch logs (so History, EarlyStopping... see it).

    ``eval_dataset`` is a ``tf.data.Dataset`` of ``(features, labels)`` or of dicts holding
    the labels (``label_cols`` names them), or a dict of arrays batched by ``batch_size``.
    With ``predict_with_generate=True`` predictions are ``model.generate(...)`` outputs.
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
        self.output_cols = output_cols
        self.label_cols = label_cols
        self.predict_with_generate = predict_with_generate
        self.use_xla_generation = use_xla_generation
        self.generate_kwargs = dict(generate_kwargs or {})
        spec = eval_dataset.element_spec
        self._tuple_data = isinstance(spec, tuple) and len(spec) == 2
        if not self._tuple_data and self.label_cols is None:
            keys = set(spec) if isinstance(spec, dict) else set()
            found = [k for k in ("labels", "start_positions", "end_positions", "label")
                     if k in keys]
            if not found:
                raise InvalidInputError(
                    "Could not find labels in eval_dataset: yield (features, labels) pairs or "
                    "pass label_cols=[...] naming the label keys.")
            self.label_cols = found if "start_positions" in found else found[:1]

    def _split(self, batch):
        if self._tuple_data:
            return batch
        x = dict(batch)
        labels = {k: x.pop(k) for k in self.label_cols}
        y = labels[self.label_cols[0]] if len(labels) == 1 else labels
        return x, y

    def _predict(self, x):
        model = self.model
        if self.predict_with_generate:
            ids = x["input_ids"] if isinstance(x, dict) else x
            mask = x.get("attention_mask") if isinstance(x, dict) else None
            kwargs = dict(self.generate_kwargs)
            if hasattr(model, "generate"):
                try:
                    return model.generate(ids, attention_mask=mask,
                                          use_xla=self.use_xla_generation or None, **kwargs)
                except TypeError:
                    return model.generate(ids, attention_mask=mask, **kwargs)
            raise InvalidInputError("predict_with_generate=True needs a model with generate().")
        out = model.predict_on_batch(x)
        if hasattr(out, "keys") and not hasattr(out, "shape"):
            if self.output_cols is not None:
                picked = [out[c] for c in self.output_cols]
                return picked[0] if len(picked) == 1 else tuple(picked)
            if "logits" in out:
                return out["logits"]
            keys = [k for k in out if k not in ("loss", "hidden_states", "attentions")]
            return out[keys[0]] if len(keys) == 1 else tuple(out[k] for k in keys)
        return out

    def on_epoch_end(self, epoch, logs=None):
        preds, labels = [], []
        for batch in self.eval_dataset:
            x, y = self._split(batch)
            preds.append(_to_numpy(self._predict(x)))
            labels.append(_to_numpy(y))
        if not preds:
            return
        pad = getattr(getattr(self.model, "config", None), "pad_token_id", None)
        all_preds = _concat(preds, pad if self.predict_with_generate and pad is not None else -100)
        all_labels = _concat(labels)
        result = self.metric_fn((all_preds, all_labels))
        if not isinstance(result, dict):
            raise InvalidInputError("metric_fn must return a dict of metric name -> value, got "
                                    f"{type(result).__name__}.")
        if logs is not None:
            logs.update({k: float(v) if np.ndim(v) == 0 else v for k, v in result.items()})


class PushToHubCallback(keras.callbacks.Callback):
    """Save the model (and tokenizer) into ``output_dir`` each epoch or every ``save_steps``
    steps and upload the folder to ``hub_model_id`` through huggingface_hub.

    With ``checkpoint=True`` a resumable ``tf.train.Checkpoint`` (model and optimizer state)
    is saved in ``output_dir/checkpoint``. When the Hub cannot be reached (offline, no
    token), saving continues locally and a single warning says so.
    """

    def __init__(self, output_dir, save_strategy="epoch", save_steps=None, tokenizer=None,
                 hub_model_id=None, hub_token=None, checkpoint=False, **kwargs):
        super().__init__()
        if save_strategy not in ("epoch", "steps", "no"):
            raise InvalidInputError(f"save_strategy={save_strategy!r}; use 'epoch' or 'steps'.")
        if save_strategy == "steps" and (not save_steps or save_steps < 1):
            raise InvalidInputError("save_strategy='steps' needs save_steps >= 1.")
        if checkpoint and save_strategy == "steps":
            raise InvalidInputError("checkpoint=True is only supported with save_strategy='epoch'.")
        self.output_dir = os.fspath(output_dir)
        self.save_strategy, self.save_steps = save_strategy, save_steps
        self.tokenizer = tokenizer
        self.hub_model_id = hub_model_id or os.path.basename(os.path.abspath(self.output_dir))
        self.hub_token = hub_token
        self.checkpoint = checkpoint
        self._warned = False
        self._steps = 0
        self._future = None

    def _save(self, message):
        os.makedirs(self.output_dir, exist_ok=True)
        self.model.save_pretrained(self.output_dir)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(self.output_dir)
        if self.checkpoint:
            import tensorflow as tf

            ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer)
            ckpt.write(os.path.join(self.output_dir, "checkpoint", "weights"))
        self._upload(message)

    def _upload(self, message):
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            self._warn_once("HF_HUB_OFFLINE is set")
            return
        try:
            import huggingface_hub as hh

            if self._future is not None and not self._future.done():
                return  # the previous upload is still running; the next save catches up
            api = hh.HfApi(token=self.hub_token)
            api.create_repo(self.hub_model_id, exist_ok=True)
            self._future = api.upload_folder(repo_id=self.hub_model_id,
                                             folder_path=self.output_dir,
                                             commit_message=message, run_as_future=True)
        except Exception as e:  # network, auth: keep training, keep local saves
            self._warn_once(f"{type(e).__name__}: {e}")

    def _warn_once(self, why):
        if not self._warned:
            logger.warning("PushToHubCallback: the Hub is not reachable (%s); saving to '%s' "
                           "only.", why, self.output_dir)
            self._warned = True

    def on_train_batch_end(self, batch, logs=None):
        if self.save_strategy == "steps":
            self._steps += 1
            if self._steps % self.save_steps == 0:
                self._save(f"Training in progress steps {self._steps}")

    def on_epoch_end(self, epoch, logs=None):
        if self.save_strategy == "epoch":
            self._save(f"Training in progress epoch {epoch}")

    def on_train_end(self, logs=None):
        if self._future is not None:
            try:
                self._future.result()
            except Exception as e:
                self._warn_once(f"{type(e).__name__}: {e}")
        if self.save_strategy != "no":
            self._save("End of training")
