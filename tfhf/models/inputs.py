"""Input checks shared by every backbone: one place for the messages a user sees when the
ids, masks or keyword arguments passed to a model are wrong.

Static facts (dtype, rank, length) are checked always; values (token ids inside the
vocabulary) only when running eagerly, where they are known.
"""

from __future__ import annotations

import tensorflow as tf

from ..errors import InvalidInputError


def reject_unexpected(model, inputs, accepted, also="labels"):
    """Raise when ``inputs`` (name -> value) holds a value that is not None."""
    unknown = sorted(k for k, v in inputs.items() if v is not None)
    if unknown:
        raise InvalidInputError(
            f"{type(model).__name__} got unexpected inputs {unknown}; it accepts "
            f"{list(accepted)} (and {also}).")


def merge_first_input(first, name, inputs):
    """``inputs`` (name -> value) with the model's first positional argument merged in:
    a mapping (``model(processor_output)``) fills the names still None, anything else is the
    value of ``name`` (``pixel_values`` for the image models)."""
    inputs = dict(inputs)
    if hasattr(first, "keys") and hasattr(first, "__getitem__") and not hasattr(first, "shape"):
        for k, v in dict(first).items():
            if inputs.get(k) is None:
                inputs[k] = v
    elif first is not None:
        inputs[name] = first
    return inputs


def check_token_ids(ids, vocab_size, name="input_ids", max_length=None, length_note=""):
    """Integer ids of shape (batch, sequence), at most ``max_length`` long, inside
    ``[0, vocab_size)``; returns them as a tensor (dtype unchanged)."""
    ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise InvalidInputError(f"{name} must be integers, got {ids.dtype.name}.")
    if ids.shape.rank != 2:
        raise InvalidInputError(f"{name} must have shape (batch, sequence); got {ids.shape}.")
    length = ids.shape[1]
    if max_length is not None and length is not None and length > max_length:
        raise InvalidInputError(f"Sequence length {length} is longer than this model's maximum "
                                f"of {max_length} positions{length_note}")
    if tf.executing_eagerly():
        a = ids.numpy()
        if a.size and (a.max() >= vocab_size or a.min() < 0):
            bad = int(a.max() if a.max() >= vocab_size else a.min())
            raise InvalidInputError(
                f"{name} contains token id {bad}, outside the vocabulary "
                f"[0, {vocab_size}). The tokenizer and the model do not match.")
    return ids


def check_mask_shape(attention_mask, input_ids):
    """An attention mask whose (static) shape differs from the ids' is a user mistake."""
    if (input_ids.shape.is_fully_defined() and attention_mask.shape.is_fully_defined()
            and tuple(attention_mask.shape) != tuple(input_ids.shape)):
        raise InvalidInputError(f"attention_mask has shape {tuple(attention_mask.shape)} "
                                f"but input_ids has shape {tuple(input_ids.shape)}.")


def mask_or_ones(attention_mask, like):
    """The int32 mask, or ones shaped like ``like`` when there is none."""
    if attention_mask is None:
        return tf.ones_like(like)
    return tf.cast(tf.convert_to_tensor(attention_mask), tf.int32)


def check_token_type_ids(token_type_ids, type_vocab_size):
    token_type_ids = tf.convert_to_tensor(token_type_ids)
    if tf.executing_eagerly() and token_type_ids.shape.num_elements():
        top = int(tf.reduce_max(token_type_ids))
        if top >= type_vocab_size or int(tf.reduce_min(token_type_ids)) < 0:
            raise InvalidInputError(
                f"token_type_ids contains {top}, outside [0, {type_vocab_size}) "
                f"(type_vocab_size={type_vocab_size}).")
    return token_type_ids
