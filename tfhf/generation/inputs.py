"""Input preparation for ``generate``: checked token-id arrays and shape buckets.

Buckets (the compiled-function key, see :mod:`tfhf.generation.loop`): the prompt is
left-padded to ``P = max(32, next_power_of_two(prompt_len))`` and the cache holds
``P + N`` slots with ``N = max(32, next_power_of_two(max_new_tokens))``. Prompts of 1..32
tokens share one compilation, 33..64 the next, and so on; max_new_tokens 1..32 share one.
:func:`bucket` is the rounding; :func:`left_pad` lays a prompt into its bucket (with its mask
and position ids) eagerly for ``generate`` and inside the exported SavedModel graph alike.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..errors import InvalidInputError
from .config import fail
from .streamers import as_numpy

MIN_PROMPT_BUCKET = 32
MIN_NEW_BUCKET = 32


def bucket(n, minimum=MIN_PROMPT_BUCKET):
    """``n`` rounded up to a power of two, at least ``minimum``."""
    n = max(int(n), 1)
    return max(int(minimum), 1 << (n - 1).bit_length())


def bucket_sizes(longest, minimum=MIN_PROMPT_BUCKET):
    """Every bucket a length of 1..``longest`` falls in: ``[minimum, 2 * minimum, ...]``."""
    sizes = [bucket(1, minimum)]
    while sizes[-1] < longest:
        sizes.append(sizes[-1] * 2)
    return sizes


def left_pad(ids, mask, prompt_len, pad):
    """Lay left-aligned prompts (batch, width) into the bucket ``prompt_len``: int32
    ``(prompt, prompt_mask, positions)`` of shape (batch, prompt_len), padded in front with
    ``pad`` and mask 0; positions are ``cumsum(mask) - 1`` (0 on padding). Runs eagerly on
    numpy arrays or in a graph on tensors of unknown width."""
    ids = tf.cast(ids, tf.int32)
    mask = tf.cast(tf.not_equal(mask, 0), tf.int32)
    batch, width = tf.shape(ids)[0], tf.shape(ids)[1]
    cols = prompt_len - width
    prompt = tf.concat([tf.fill([batch, cols], tf.cast(pad, tf.int32)), ids], axis=1)
    prompt_mask = tf.concat([tf.zeros([batch, cols], tf.int32), mask], axis=1)
    prompt = tf.ensure_shape(prompt, [None, prompt_len])
    prompt_mask = tf.ensure_shape(prompt_mask, [None, prompt_len])
    positions = tf.where(prompt_mask == 0, 0, tf.cumsum(prompt_mask, axis=1) - 1)
    return prompt, prompt_mask, positions


def pad_right(x, length, value):
    """numpy ``x`` padded with ``value`` on axis 1 up to ``length``."""
    extra = length - x.shape[1]
    if extra <= 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[1] = (0, extra)
    return np.pad(x, widths, constant_values=value)


def to_numpy_ids(x, name):
    """``x`` (tensor, array, nested lists) as a 2-D int64 numpy array, or None."""
    if x is None:
        return None
    try:
        arr = as_numpy(x)
    except Exception as e:  # noqa: BLE001
        raise InvalidInputError(
            f"generate: `{name}` must be a 2-D array of token ids: {e}") from None
    if arr.dtype == object:
        fail(f"`{name}` must be a rectangular 2-D array (pad the prompts to one length, "
             "on the left, with an attention mask).")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer)
                         or np.issubdtype(arr.dtype, np.bool_)):
        fail(f"`{name}` must hold integers, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        fail(f"`{name}` must be 2-D (batch, sequence_length), got shape {tuple(arr.shape)}.")
    return arr.astype(np.int64)


def checked_input_ids(input_ids, model, config, per="prompt"):
    """``input_ids`` as a 2-D numpy array (``[[bos_token_id]]`` when None), refused when empty or
    holding ids outside the vocabulary."""
    ids = to_numpy_ids(input_ids, "input_ids")
    if ids is None:
        if config.bos_token_id is None:
            fail("`input_ids` is required (the model has no bos_token_id to start from).")
        ids = np.full((1, 1), int(config.bos_token_id), np.int64)
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        fail(f"`input_ids` is empty (shape {tuple(ids.shape)}): give at least one token per "
             f"{per}.")
    vocab = getattr(model.config, "vocab_size", None)
    if (ids < 0).any() or (vocab is not None and (ids >= vocab).any()):
        fail(f"`input_ids` holds ids outside [0, {vocab}) (the vocabulary size).")
    return ids


def unpack_inputs(input_ids, attention_mask, kwargs):
    """``input_ids`` given as ``inputs=`` or as a ``BatchEncoding``/dict: -> (input_ids,
    attention_mask); the dict's other entries join ``kwargs``."""
    inputs = kwargs.pop("inputs", None)
    if input_ids is None:
        input_ids = inputs
    if input_ids is not None and not hasattr(input_ids, "shape") and hasattr(input_ids, "keys") \
            and hasattr(input_ids, "__getitem__"):
        d = dict(input_ids.items())
        input_ids = d.pop("input_ids", None)
        if attention_mask is None:
            attention_mask = d.pop("attention_mask", None)
        d.pop("token_type_ids", None)
        for k, v in d.items():
            kwargs.setdefault(k, v)
    return input_ids, attention_mask
