"""transformers' text streamers, fed numpy arrays.

transformers' ``TextStreamer`` / ``TextIteratorStreamer`` need no torch: ``put(value)`` only
uses ``value.shape`` and ``value.tolist()``. ``generate`` hands them numpy arrays (the prompt
first, then each chunk of new tokens). These subclasses also accept ``tf.Tensor`` and lists
in ``put``, for code that drives a streamer by hand. Any object with ``put``/``end`` works as
``generate(streamer=...)``, transformers' own classes included.
"""

from __future__ import annotations

import numpy as np
from transformers.generation.streamers import BaseStreamer
from transformers.generation.streamers import TextIteratorStreamer as _HFTextIteratorStreamer
from transformers.generation.streamers import TextStreamer as _HFTextStreamer

__all__ = ["BaseStreamer", "TextStreamer", "TextIteratorStreamer", "as_numpy"]


def as_numpy(value):
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


class TextStreamer(_HFTextStreamer):
    """Prints text to stdout as tokens arrive (transformers' ``TextStreamer``)."""

    def put(self, value):
        super().put(as_numpy(value))


class TextIteratorStreamer(_HFTextIteratorStreamer):
    """Queues text for another thread to iterate (transformers' ``TextIteratorStreamer``)."""

    def put(self, value):
        super().put(as_numpy(value))
