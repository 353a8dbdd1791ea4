"""The shared machinery of tfhf pipelines: inputs -> preprocess -> batched model -> postprocess.

A task pipeline subclasses :class:`Pipeline` and writes four small methods, as transformers'
pipelines do:

* ``_sanitize_parameters(**kwargs)`` splits call options into preprocess / forward /
  postprocess options (options given to :func:`tfhf.pipeline` are defaults for every call);
* ``preprocess(item, **options)`` tokenizes one input into a list of *features*: dicts of numpy
  arrays with a leading batch axis of 1 (``input_ids``, ``attention_mask``...) plus any other
  values postprocess needs (a long QA context becomes several features, one per window);
* ``_forward(model_inputs)`` runs the model on a padded batch of features and returns numpy
  outputs with the batch axis first;
* ``postprocess(outputs, **options)`` turns the outputs of one input (a list of per-feature
  dicts when ``chunked``, else one dict) into transformers' result format.

Batching follows transformers exactly: features (of one or several inputs) are grouped into
batches of ``batch_size``, 2-D+ arrays are padded on the tokenizer's padding side (``input_ids``
with the pad token, ``attention_mask``/``token_type_ids`` with 0, ``special_tokens_mask`` and
``p_mask`` with 1, anything else with 0), and each feature gets its row of the batch back
*including the padding* (so ``feature-extraction`` with ``batch_size > 1`` returns padded
positions, as transformers does).
"""

from __future__ import annotations

import inspect
import logging
import types

import numpy as np

from ..errors import InvalidInputError

logger = logging.getLogger("tfhf")

# padding value per key (transformers' pad_collate_fn); input_ids use the tokenizer's pad id
_PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0, "special_tokens_mask": 1, "p_mask": 1}


def softmax(x):
    x = np.asarray(x, dtype=np.float32)
    shifted = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float32)))


def unwrap_tokenizer(tokenizer):
    """The transformers tokenizer inside a :class:`tfhf.TFTokenizer` (or the object itself)."""
    from ..data.tokenizer import TFTokenizer

    return tokenizer.tokenizer if isinstance(tokenizer, TFTokenizer) else tokenizer


def with_generation_defaults(model, kwargs, defaults):
    """``kwargs`` plus each of ``defaults`` that neither they nor the model's generation config
    set (a set ``max_length`` also counts for ``max_new_tokens``)."""
    from ..generation import model_generation_config

    kwargs = dict(kwargs)
    set_params = {**model_generation_config(model).to_diff_dict(), **kwargs}
    for key, value in defaults.items():
        if key in set_params or (key == "max_new_tokens" and "max_length" in set_params):
            continue
        kwargs[key] = value
    return kwargs


def tf_device_name(device):
    """``device`` as transformers takes it (-1, 0, "cpu", "cuda:0", "/GPU:0") -> a TF device."""
    if device is None:
        return None
    if isinstance(device, int):
        return "/CPU:0" if device < 0 else f"/GPU:{device}"
    name = str(device)
    if name.startswith("/"):
        return name
    kind, _, index = name.partition(":")
    kind = kind.lower()
    if kind == "cpu":
        return "/CPU:0"
    if kind in ("cuda", "gpu"):
        return f"/GPU:{index or 0}"
    raise InvalidInputError(f"device={device!r} is not understood; use -1/'cpu', a GPU index "
                            "(0, 1...), 'cuda:0' or a TensorFlow device name like '/GPU:0'.")


class Pipeline:
    """Base class of tfhf pipelines (see the module docstring for the contract)."""

    task = ""
    model_task = "base"  # the head a model object must have (registry task name)
    chunked = False  # preprocess may return several features for one input

    def __init__(self, model, tokenizer=None, batch_size=None, task="", device=None, **kwargs):
        from ..data.tokenizer import TFTokenizer

        if tokenizer is not None and not isinstance(tokenizer, TFTokenizer):
            tokenizer = TFTokenizer(tokenizer)
        self.model = model
        self.tokenizer = tokenizer
        self.task = task or self.task
        self._batch_size = _check_batch_size(batch_size)
        self._device = tf_device_name(device)
        self._preprocess_params, self._forward_params, self._postprocess_params = (
            self._sanitize(kwargs))

    # ------------------------------------------------------------------ task hooks
    def _sanitize_parameters(self, **kwargs):
        return {}, {}, {}

    def preprocess(self, item, **params):  # pragma: no cover - tasks override
        raise NotImplementedError

    def _forward(self, model_inputs):  # pragma: no cover - tasks override
        raise NotImplementedError

    def postprocess(self, outputs, **params):  # pragma: no cover - tasks override
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers for tasks
    @property
    def hf_tokenizer(self):
        """The transformers tokenizer (for calls whose results stay numpy / Python)."""
        return unwrap_tokenizer(self.tokenizer)

    def tokenize(self, *args, **kwargs):
        """The tokenizer called with ``return_tensors="np"``: a BatchEncoding of numpy arrays."""
        return self.hf_tokenizer(*args, return_tensors="np", **kwargs)

    def run_model(self, model_inputs):
        """Call the model on numpy inputs (integers as int32, as transformers' TF pipelines did)."""
        import tensorflow as tf

        accepted = set(getattr(self.model, "model_input_names", ()) or ())
        feed = {}
        for key, value in model_inputs.items():
            if accepted and key not in accepted:
                continue  # e.g. token_type_ids for DistilBERT: the model has no such input
            value = np.asarray(value)
            if value.dtype.kind in "iub":
                value = value.astype(np.int32)
            feed[key] = tf.convert_to_tensor(value)
        return self.model(feed, training=False)

    def model_inputs_of(self, batch):
        """The model's inputs in a collated batch: the tokenizer's ``model_input_names``."""
        names = (getattr(self.hf_tokenizer, "model_input_names", None)
                 or ["input_ids", "token_type_ids", "attention_mask"])
        return {k: batch[k] for k in names if k in batch}

    # ------------------------------------------------------------------ running
    def _sanitize(self, kwargs):
        try:
            return self._sanitize_parameters(**kwargs)
        except TypeError as e:
            if "unexpected keyword" not in str(e):
                raise
            params = [p for p in inspect.signature(self._sanitize_parameters).parameters
                      if p != "kwargs"]
            raise InvalidInputError(
                f"The {self.task or type(self).__name__} pipeline got an unknown option: "
                f"{str(e).split('()')[-1].strip()}. It accepts {', '.join(params)} "
                "(and batch_size).") from None

    def __call__(self, inputs, *args, batch_size=None, **kwargs):
        if args:
            logger.warning("Ignoring args : %s", args)
        batch_size = _check_batch_size(batch_size) or self._batch_size or 1
        pre, fwd, post = self._sanitize(kwargs)
        pre = {**self._preprocess_params, **pre}
        fwd = {**self._forward_params, **fwd}
        post = {**self._postprocess_params, **post}
        if isinstance(inputs, list):
            return list(self._iterate(inputs, batch_size, pre, fwd, post))
        if isinstance(inputs, types.GeneratorType):
            return self._iterate(inputs, batch_size, pre, fwd, post)
        return next(self._iterate([inputs], batch_size, pre, fwd, post))

    def _features(self, inputs, params):
        """(feature, is_last) for every feature of every input, in order."""
        for item in inputs:
            features = self.preprocess(item, **params)
            if not self.chunked:
                features = [features]
            if not features:
                raise InvalidInputError(f"The {self.task} pipeline produced no model input for "
                                        f"{item!r}.")
            for i, feature in enumerate(features):
                yield feature, i == len(features) - 1

    def _iterate(self, inputs, batch_size, pre, fwd, post):
        pending = []  # outputs of the features of the input being assembled
        batch = []
        features = self._features(inputs, pre)
        while True:
            feature = next(features, None)
            if feature is not None:
                batch.append(feature)
            if batch and (len(batch) == batch_size or feature is None):
                flags = [last for _, last in batch]
                for out, last in zip(self._run_batch([f for f, _ in batch], fwd), flags):
                    pending.append(out)
                    if last:
                        yield self.postprocess(pending if self.chunked else pending[0], **post)
                        pending = []
                batch = []
            if feature is None:
                return

    def _run_batch(self, features, forward_params):
        batch = self._collate(features)
        model_inputs = self.model_inputs_of(batch)
        if self._device is not None:
            import tensorflow as tf

            with tf.device(self._device):
                outputs = self._forward(model_inputs, **forward_params)
        else:
            outputs = self._forward(model_inputs, **forward_params)
        merged = {**batch, **{k: np.asarray(v) for k, v in outputs.items()}}
        rows = []
        for i in range(len(features)):
            rows.append({k: (v[i:i + 1] if isinstance(v, np.ndarray) else v[i])
                         for k, v in merged.items()})
        return rows

    def _collate(self, features):
        """Stack features into one batch; pad 2-D+ arrays along the sequence axis."""
        keys = set(features[0])
        for f in features:
            if set(f) != keys:
                raise InvalidInputError("The features of one batch have different keys "
                                        f"({sorted(set(f))} != {sorted(keys)}).")
        if len(features) == 1:
            return {k: (v if isinstance(v, np.ndarray) else [v]) for k, v in features[0].items()}
        side = getattr(self.hf_tokenizer, "padding_side", "right")
        batch = {}
        for key in features[0]:
            values = [f[key] for f in features]
            if not isinstance(values[0], np.ndarray):
                batch[key] = values
            elif values[0].ndim == 1 or all(v.shape[1:] == values[0].shape[1:] for v in values):
                batch[key] = np.concatenate(values, axis=0)
            else:
                batch[key] = self._pad(key, values, side)
        return batch

    def _pad(self, key, values, side):
        if key == "input_ids":
            pad = self.hf_tokenizer.pad_token_id
            if pad is None:
                raise InvalidInputError(
                    "Batching needs a tokenizer with a pad token; set one (e.g. "
                    "`pipe.tokenizer.pad_token = pipe.tokenizer.eos_token`) or use batch_size=1.")
        else:
            pad = _PAD_VALUES.get(key, 0)
        width = max(v.shape[1] for v in values)
        out = np.full((sum(v.shape[0] for v in values), width) + values[0].shape[2:], pad,
                      dtype=values[0].dtype)
        row = 0
        for v in values:
            n = v.shape[1]
            if side == "left":
                out[row:row + v.shape[0], width - n:] = v
            else:
                out[row:row + v.shape[0], :n] = v
            row += v.shape[0]
        return out

    def __repr__(self):
        return (f"{type(self).__name__}(task={self.task!r}, model={type(self.model).__name__}, "
                f"batch_size={self._batch_size})")

    # transformers' scikit-learn style aliases
    def predict(self, X):
        return self(X)

    def transform(self, X):
        return self(X)

    def save_pretrained(self, save_directory, **kwargs):
        """Save the model and the tokenizer into ``save_directory``."""
        self.model.save_pretrained(save_directory, **kwargs)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(save_directory)


def _check_batch_size(batch_size):
    if batch_size is None:
        return None
    integer = isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool)
    if not integer or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)
