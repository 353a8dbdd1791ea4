"""A quantized weight held by a layer: its variables, their checkpoint names and its math.

:func:`quantize_layer_weight` swaps a layer's float weight variable (a :class:`Dense` kernel,
a tied :class:`Embedding` table) for a :class:`QuantizedWeight`; the layer's ``call`` then
asks the weight for ``matmul`` / ``gather``. The float variable is untracked and dropped, so
the model holds (and a decode step reads) only the small weights.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .._keras import IS_KERAS_3, add_weight
from ..errors import WeightShapeError
from . import ops, packing

# checkpoint suffixes: "<module>.weight" holds qweight, plus these
SUFFIXES = {"qweight": "weight", "scale": "weight_scale", "offset": "weight_offset"}


class QuantizedWeight:
    """A (out, in) weight as ``bits``-bit values with one scale (and for 4 bits an offset)
    per ``group`` inputs; see :mod:`tfhf.quantization.packing` for the layout."""

    def __init__(self, layer, out_features, in_features, bits, group):
        self.bits, self.group = int(bits), int(group)
        self.shape = (int(out_features), int(in_features))
        groups = in_features // group
        qshape = (out_features, in_features if bits == 8 else in_features // 2)
        sdtype = np.dtype(packing.scale_dtype(groups)).name
        self.qweight = add_weight(layer, "qweight", qshape, "zeros",
                                  dtype="int8" if bits == 8 else "uint8", trainable=False,
                                  autocast=False)
        self.scale = add_weight(layer, "scale", (out_features, groups), "ones", dtype=sdtype,
                                trainable=False, autocast=False)
        self.offset = (add_weight(layer, "offset", (out_features, groups), "zeros",
                                  dtype=sdtype, trainable=False, autocast=False)
                       if bits == 4 else None)

    @property
    def variables(self) -> dict:
        """Checkpoint suffix -> variable."""
        return {SUFFIXES[k]: getattr(self, k) for k in SUFFIXES if getattr(self, k) is not None}

    def describe(self):
        return {"bits": self.bits, "group_size": self.group}

    def nbytes(self):
        return sum(int(np.prod(v.shape)) * v.dtype.size for v in self.variables.values())

    # ------------------------------------------------------------------ values
    def assign_float(self, w):
        """Quantize a float (out, in) array into the variables."""
        w = np.asarray(w, np.float32)
        self._check(w.shape, "float weight")
        fn = packing.quantize_int8 if self.bits == 8 else packing.quantize_int4
        self.assign(fn(w, self.group))

    def assign(self, arrays: dict):
        """Assign ``qweight`` / ``scale`` / ``offset`` arrays (shapes checked)."""
        for key, var in (("qweight", self.qweight), ("scale", self.scale),
                         ("offset", self.offset)):
            if var is None:
                continue
            a = np.asarray(arrays[key])
            if tuple(a.shape) != tuple(var.shape):
                raise WeightShapeError(f"quantized {key} of shape {a.shape} does not fit the "
                                       f"layer's {tuple(var.shape)}.")
            var.assign(a.astype(var.dtype.name if hasattr(var.dtype, "name") else var.dtype))

    def arrays(self) -> dict:
        return {k: getattr(self, k).numpy() for k in SUFFIXES if getattr(self, k) is not None}

    def dequantized(self) -> np.ndarray:
        """float32 (out, in) in numpy."""
        return packing.dequantize(self.arrays(), self.shape[1])

    def _check(self, shape, what):
        if tuple(shape) != self.shape:
            raise WeightShapeError(f"{what} of shape {tuple(shape)} does not fit a quantized "
                                   f"weight of shape {self.shape}.")

    # ------------------------------------------------------------------ math
    def matmul(self, x, dtype):
        return ops.matmul(x, self.qweight, self.scale, self.offset, self.bits, dtype)

    def gather(self, ids, dtype):
        """Rows ``ids`` of the (out, in) weight (an embedding lookup) in ``dtype``."""
        import tensorflow as tf

        off = None if self.offset is None else tf.gather(self.offset, ids)
        return ops.dequantize(tf.gather(self.qweight, ids), tf.gather(self.scale, ids), off,
                              self.bits, dtype)


@contextlib.contextmanager
def _unlocked(layer):
    tracker = getattr(layer, "_tracker", None) if IS_KERAS_3 else None
    if tracker is not None:
        tracker.unlock()
    try:
        yield
    finally:
        if tracker is not None:
            tracker.lock()


def quantize_layer_weight(layer, attr, out_features, in_features, bits, group, values=None):
    """Replace ``layer.<attr>`` (a float variable) by a :class:`QuantizedWeight` stored as
    ``layer.quantized``; ``values`` (float (out, in)) are quantized into it when given."""
    with _unlocked(layer):
        if getattr(layer, attr, None) is not None:
            delattr(layer, attr)
        qw = QuantizedWeight(layer, out_features, in_features, bits, group)
        layer.quantized = qw
    if values is not None:
        qw.assign_float(values)
    return qw
