"""Data collators under transformers' names that return TensorFlow tensors.

They are transformers' own collators (padding, label padding, special-token handling), run
with numpy and converted, so behaviour matches transformers exactly;
``return_tensors="tf"`` is what transformers v5 removed. Masked-LM masking under "tf" uses a
seeded ``tf.random.Generator`` so a run is reproducible.
"""

from __future__ import annotations

import numpy as np
import transformers

from ..errors import InvalidInputError
from .tokenizer import TFTokenizer, to_tf

_RETURN_TENSORS = ("tf", "np")


def _check_rt(rt):
    if rt not in _RETURN_TENSORS:
        raise InvalidInputError(f"return_tensors={rt!r} is not supported by tfhf collators; use "
                                f"'tf' or 'np'.")
    return rt


def _unwrap(tokenizer):
    return tokenizer.tokenizer if isinstance(tokenizer, TFTokenizer) else tokenizer


def _as_np_features(features):
    """Features may hold tf.Tensors (e.g. from a tf.data pipeline); the HF code wants lists."""
    out = []
    for f in features:
        out.append({k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in f.items()})
    return out


class _TFCollatorMixin:
    def __call__(self, features, return_tensors=None):
        rt = _check_rt(return_tensors or self._rt)
        batch = self.numpy_call(_as_np_features(features))
        batch = {k: np.asarray(v) for k, v in dict(batch).items()}
        return to_tf(batch) if rt == "tf" else batch


class DataCollatorWithPadding(_TFCollatorMixin, transformers.DataCollatorWithPadding):
    """Pads ``input_ids``/``attention_mask``/... per batch; renames ``label(_ids)`` to ``labels``."""

    def __init__(self, tokenizer, padding=True, max_length=None, pad_to_multiple_of=None,
                 return_tensors="tf"):
        self._rt = _check_rt(return_tensors)
        super().__init__(_unwrap(tokenizer), padding, max_length, pad_to_multiple_of, "np")

    def numpy_call(self, features):
        return transformers.DataCollatorWithPadding.__call__(self, features)


class DataCollatorForTokenClassification(_TFCollatorMixin,
                                         transformers.DataCollatorForTokenClassification):
    """Pads inputs and pads ``labels`` with ``label_pad_token_id`` (-100)."""

    def __init__(self, tokenizer, padding=True, max_length=None, pad_to_multiple_of=None,
                 label_pad_token_id=-100, return_tensors="tf"):
        self._rt = _check_rt(return_tensors)
        super().__init__(_unwrap(tokenizer), padding, max_length, pad_to_multiple_of,
                         label_pad_token_id, "np")


class DefaultDataCollator(_TFCollatorMixin, transformers.DefaultDataCollator):
    def __init__(self, return_tensors="tf"):
        self._rt = _check_rt(return_tensors)
        super().__init__("np")

    def numpy_call(self, features):
        return transformers.DefaultDataCollator.__call__(self, features, return_tensors="np")


class DataCollatorForLanguageModeling(transformers.DataCollatorForLanguageModeling):
    """Masked (``mlm=True``) or causal LM batches; masking under "tf" uses a seeded TF RNG."""

    def __init__(self, tokenizer, mlm=True, mlm_probability=0.15, mask_replace_prob=0.8,
                 random_replace_prob=0.1, pad_to_multiple_of=None, return_tensors="tf",
                 seed=None, **kwargs):
        self._rt = _check_rt(return_tensors)
        super().__init__(_unwrap(tokenizer), mlm=mlm, mlm_probability=mlm_probability,
                         mask_replace_prob=mask_replace_prob,
                         random_replace_prob=random_replace_prob,
                         pad_to_multiple_of=pad_to_multiple_of, return_tensors="np", seed=seed,
                         **kwargs)
        self._tf_seed = seed
        self._generator = None

    def _tf_generator(self):
        import tensorflow as tf

        if self._generator is None:
            self._generator = (tf.random.Generator.from_seed(self._tf_seed)
                               if self._tf_seed is not None
                               else tf.random.Generator.from_non_deterministic_state())
        return self._generator

    def __call__(self, features, return_tensors=None):
        rt = _check_rt(return_tensors or self._rt)
        if rt == "np" or not self.mlm:
            batch = {k: np.asarray(v) for k, v in
                     dict(self.numpy_call(_as_np_features(features))).items()}
            return to_tf(batch) if rt == "tf" else batch
        return self.tf_mask_batch(features)

    def tf_mask_batch(self, features):
        import tensorflow as tf

        tok = self.tokenizer
        batch = tok.pad(_as_np_features(features), return_tensors="np",
                        pad_to_multiple_of=self.pad_to_multiple_of)
        batch = {k: np.asarray(v) for k, v in dict(batch).items()}
        ids = to_tf(batch["input_ids"])  # int32, as every other "tf" collator output
        special = batch.pop("special_tokens_mask", None)
        if special is None:
            special = np.array([tok.get_special_tokens_mask(r, already_has_special_tokens=True)
                                for r in batch["input_ids"].tolist()])
        special = tf.cast(tf.convert_to_tensor(special), tf.bool)
        g = self._tf_generator()
        shape = tf.shape(ids)
        masked = tf.logical_and(g.uniform(shape) < self.mlm_probability,
                                tf.logical_not(special))
        labels = tf.where(masked, ids, tf.fill(shape, tf.constant(-100, ids.dtype)))
        r = g.uniform(shape)
        replace = tf.logical_and(masked, r < self.mask_replace_prob)
        random_tok = tf.logical_and(
            masked, tf.logical_and(r >= self.mask_replace_prob,
                                   r < self.mask_replace_prob + self.random_replace_prob))
        mask_id = tf.constant(tok.mask_token_id, ids.dtype)
        random_ids = g.uniform(shape, 0, len(tok), dtype=tf.int64)
        ids = tf.where(replace, mask_id, ids)
        ids = tf.where(random_tok, tf.cast(random_ids, ids.dtype), ids)
        out = to_tf({k: v for k, v in batch.items() if k != "input_ids"})
        out["input_ids"] = ids
        out["labels"] = labels
        return out
