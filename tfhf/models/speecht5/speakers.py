"""Speaker embeddings for SpeechT5: one ``speaker_embedding_dim`` (512) float vector per voice
(an x-vector), given as an array, a ``.npy`` file, or the default shipped beside a checkpoint
(``speaker_embeddings.npy`` in the model folder)."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from ...errors import InvalidInputError

DEFAULT_FILE = "speaker_embeddings.npy"


def _expected(config):
    return (f"a speaker embedding is {config.speaker_embedding_dim} floats (an x-vector), as an "
            f"array of shape ({config.speaker_embedding_dim},) or (batch, "
            f"{config.speaker_embedding_dim}), or a .npy file holding one")


def load_speaker_embeddings(value, config, model_path=None):
    """``value``: an array, a ``.npy`` path, or None for the checkpoint's default
    (``<model_path>/speaker_embeddings.npy``). Returns float32 numpy (batch or 1, dim)."""
    if value is None:
        default = os.path.join(model_path, DEFAULT_FILE) if isinstance(model_path, str) else None
        if default is None or not os.path.isfile(default):
            where = f" and '{default}' does not exist" if default else ""
            raise InvalidInputError(
                f"No speaker embeddings given{where}: SpeechT5 needs a voice; "
                f"{_expected(config)}. Pass speaker_embeddings=..., or save a default as "
                f"{DEFAULT_FILE} beside the checkpoint.")
        value = default
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not os.path.isfile(path):
            raise InvalidInputError(f"Speaker embeddings file '{path}' does not exist; "
                                    f"{_expected(config)}.")
        try:
            value = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise InvalidInputError(f"Cannot read speaker embeddings from '{path}' ({e}); "
                                    f"{_expected(config)}.") from None
    return np.asarray(check_speaker_embeddings(value, config))


def check_speaker_embeddings(value, config, batch=None):
    """A float tensor (batch or 1, dim) -> float32 (batch, dim) (a single vector is repeated
    over the batch, as transformers does)."""
    dim = config.speaker_embedding_dim
    if isinstance(value, (str, os.PathLike)):
        value = load_speaker_embeddings(value, config)
    if isinstance(value, tf.Tensor):
        dtype = value.dtype
        if not dtype.is_floating:
            raise InvalidInputError(f"speaker_embeddings must be floats, got {dtype.name}; "
                                    f"{_expected(config)}.")
        x = tf.cast(value, tf.float32)
    else:
        arr = np.asarray(value)
        if arr.dtype.kind != "f":
            raise InvalidInputError(f"speaker_embeddings must be floats, got {arr.dtype}; "
                                    f"{_expected(config)}.")
        x = tf.constant(arr.astype(np.float32))
    if x.shape.rank == 1:
        x = x[None]
    if x.shape.rank != 2 or x.shape[-1] != dim:
        raise InvalidInputError(f"speaker_embeddings has shape {tuple(x.shape)}; "
                                f"{_expected(config)}.")
    if batch is not None and x.shape[0] is not None and x.shape[0] != batch:
        if x.shape[0] != 1:
            raise InvalidInputError(f"speaker_embeddings has {x.shape[0]} rows for a batch of "
                                    f"{batch} texts; pass one row, or one per text.")
        x = tf.repeat(x, batch, axis=0)
    return x
