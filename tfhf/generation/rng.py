"""Reproducible sampling under XLA: stateless RNG with the seed carried as a tensor.

``generate(seed=...)`` or :func:`set_seed` fix the seed. The seed is a (2,) int32 tensor
input of the compiled function (changing it never recompiles); step ``t`` draws its noise from
``stateless_fold_in(seed, t)``. Uniforms are built from the raw Philox bits (identical in
eager TensorFlow and under XLA on CPU, unlike ``stateless_uniform`` floats), and sampling is
the Gumbel-max trick, so eager and XLA runs draw the same tokens.
"""

from __future__ import annotations

import random as _pyrandom

import numpy as np
import tensorflow as tf

_state = {"rng": None}


def set_seed(seed: int):
    """Seed Python, NumPy, TensorFlow and tfhf's generation seeds (like transformers'
    ``set_seed``): the sequence of ``generate`` calls that follows is reproducible."""
    seed = int(seed)
    _pyrandom.seed(seed)
    np.random.seed(seed % (2**32))
    tf.random.set_seed(seed)
    _state["rng"] = np.random.RandomState(seed % (2**32))


def next_seed(seed=None):
    """The (2,) int32 seed of one generate call: from ``seed`` when given, else drawn from
    the generator :func:`set_seed` fixed (fresh entropy when it was never called)."""
    if seed is not None:
        if isinstance(seed, (list, tuple, np.ndarray)) or hasattr(seed, "shape"):
            arr = np.asarray(seed).astype(np.int64).reshape(-1)
            if arr.size != 2:
                from ..errors import InvalidInputError

                raise InvalidInputError(
                    f"generate: `seed` must be an int or a pair of ints, got {seed!r}.")
            return (arr % (2**31)).astype(np.int32)
        s = int(seed)
        return np.array([s % (2**31), (s // (2**31)) % (2**31)], np.int32)
    rng = _state["rng"]
    if rng is None:
        fresh = np.random.default_rng().integers(0, 2**31 - 1, size=2, dtype=np.int64)
        return fresh.astype(np.int32)
    return rng.randint(0, 2**31 - 1, size=2).astype(np.int32)


def seed_pair(seed):
    """An int64 scalar seed tensor as the (2,) int32 seed :func:`next_seed` makes of an int
    (for graphs, e.g. the exported SavedModel)."""
    seed = tf.cast(seed, tf.int64)
    return tf.stack([tf.cast(seed % (2**31), tf.int32),
                     tf.cast((seed // (2**31)) % (2**31), tf.int32)])


def step_seed(seed, step):
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(step, tf.int32))


def uniform(shape, seed):
    """Uniform floats in (0, 1), bit-identical eagerly and under XLA."""
    bits = tf.random.stateless_uniform(shape, seed=seed, minval=None, maxval=None,
                                       dtype=tf.uint32, alg="philox")
    mantissa = tf.cast(tf.bitwise.right_shift(bits, tf.constant(9, tf.uint32)), tf.float32)
    return (mantissa + 0.5) * (2.0 ** -23)


def gumbel(shape, seed):
    return -tf.math.log(-tf.math.log(uniform(shape, seed)))


def sample(scores, seed):
    """One token per row from softmax(scores) (Gumbel-max), int32 (batch,)."""
    noise = gumbel(tf.shape(scores), seed)
    return tf.argmax(scores + noise, axis=-1, output_type=tf.int32)


def sample_without_replacement(scores, k, seed):
    """``k`` distinct indices per row drawn like ``torch.multinomial(softmax(scores), k)``
    (Gumbel top-k), in draw order."""
    noise = gumbel(tf.shape(scores), seed)
    return tf.math.top_k(scores + noise, k=k).indices
