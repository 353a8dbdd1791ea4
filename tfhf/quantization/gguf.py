"""``from_pretrained(path, gguf_file=..., quantization="gguf")``: a GGUF file's quantized blocks
kept as they are.

Q8_0, Q4_0, Q4_1 and Q4_K weights become tfhf's int8 / int4 groups of 32 with the file's
scales (Q4_K's 6-bit sub-block scales multiplied out to float16); Q5_0 and Q6_K values are
widened to int8 with the file's scales (exact, more bytes than the file). A matrix of any other
quantized type (Q5_1, Q5_K, Q2_K, Q3_K, the IQ types ...) cannot stay in its blocks: it is
dequantized and re-quantized to int8 per channel, with one warning naming each such tensor,
or a :class:`~tfhf.errors.CheckpointError` with ``quantization={"mode": "gguf", "strict":
True}``. Float tensors (F32 / F16 / BF16) stay float.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import CheckpointError
from .model import quantize_model, targets
from .packing import GGUF_NATIVE, quantize_int8
from .spec import QuantSpec
from .weight import SUFFIXES

logger = logging.getLogger("tfhf")
FLOAT_TYPES = ("F32", "F16", "BF16", "F64")


def native_state(model, state, strict=False):
    """Quantize ``model``'s structure after the file's tensor types and return the state that
    loads the quantized arrays."""
    found = targets(model)
    native, fallback, specs = {}, {}, {}
    for module, (layer, attr, out, n) in found.items():
        name = module + ".weight"
        if name not in state:
            continue
        kind = state.ggml_type(name)
        if kind in GGUF_NATIVE:
            bits, group = GGUF_NATIVE[kind]
            native[module] = kind
            specs[module] = QuantSpec(bits, group)
        elif kind not in FLOAT_TYPES:
            fallback[module] = kind
            specs[module] = QuantSpec(8, None)
    if fallback:
        listed = ", ".join(f"{state.gguf_name(m + '.weight')} ({k})"
                           for m, k in list(fallback.items())[:6])
        more = f" and {len(fallback) - 6} more" if len(fallback) > 6 else ""
        kinds = ", ".join(sorted(set(fallback.values())))
        msg = (f"'{state.path}': {len(fallback)} tensors are stored as {kinds}, which tfhf "
               f"cannot keep in their blocks ({listed}{more}); supported as they are: "
               f"{', '.join(GGUF_NATIVE)}.")
        if strict:
            raise CheckpointError(msg + " Load without strict=True to fall back to int8 per "
                                  "channel for them, or use quantization='int8'.")
        logger.warning("%s Fallback: dequantized and re-quantized to int8 per channel.", msg)
    if specs:
        quantize_model(model, "int8", values=False, only=specs)
        model.quantization_config = {
            **model.quantization_config, "source": "gguf", "group_size": None,
            "mode": "int4" if any(s.bits == 4 for s in specs.values()) else "int8"}
    return NativeGGUFState(state, native, fallback)


class NativeGGUFState:
    """The GGUF state with each quantized module's ``.weight`` replaced by its quantized
    arrays (``.weight``, ``.weight_scale``, ``.weight_offset``)."""

    def __init__(self, state, native, fallback):
        self._state, self._native, self._fallback = state, native, fallback
        self.path = state.path
        self._cache = (None, None)

    def keys(self):
        names = []
        for name in self._state.keys():
            module = name[:-7] if name.endswith(".weight") else None
            if module in self._native or module in self._fallback:
                arrays = ("qweight", "scale", "offset") if self._bits4(module) else \
                    ("qweight", "scale")
                names += [f"{module}.{SUFFIXES[a]}" for a in arrays]
            else:
                names.append(name)
        return names

    def _bits4(self, module):
        return module in self._native and GGUF_NATIVE[self._native[module]][0] == 4

    def _arrays(self, module):
        if self._cache[0] != module:
            name = module + ".weight"
            if module in self._native:
                arrays = self._state.quantized(name)
            else:
                w = np.asarray(self._state.get(name), np.float32)
                arrays = quantize_int8(w, w.shape[1])
            self._cache = (module, arrays)
        return self._cache[1]

    def get(self, name):
        for attr, suffix in SUFFIXES.items():
            module = name[: -len(suffix) - 1]
            if name.endswith("." + suffix) and (module in self._native or
                                                 module in self._fallback):
                return self._arrays(module)[attr]
        return self._state.get(name)

    def close(self):
        self._state.close()
