"""``from_pretrained(..., quantization=...)``: what to build before the weights load, how the
checkpoint's arrays reach the quantized variables, and what to quantize after loading.

* a checkpoint saved quantized by tfhf (``quantization_config`` in config.json) rebuilds the
  quantized variables first and loads the stored int8 / 4-bit arrays as they are;
* ``quantization="int8" | "int4"`` on a float checkpoint loads it, then quantizes in place;
* ``quantization="gguf"`` on a GGUF file keeps each weight's blocks (:mod:`.gguf`).
"""

from __future__ import annotations

from ..errors import InvalidInputError
from .model import apply_saved_structure, check_supported, quantize_model
from .spec import QuantSpec, parse_mode


def parse_request(quantization):
    """``(spec or "gguf" or None, strict)`` of the user's ``quantization`` argument."""
    if quantization is None or isinstance(quantization, QuantSpec):
        return quantization, False
    strict, group_size, mode = False, None, quantization
    if isinstance(quantization, dict):
        extra = set(quantization) - {"mode", "group_size", "strict"}
        if extra:
            raise InvalidInputError(f"quantization dict has unknown keys {sorted(extra)}; use "
                                    "'mode', 'group_size' and 'strict'.")
        mode = quantization.get("mode")
        group_size = quantization.get("group_size")
        strict = bool(quantization.get("strict", False))
    if isinstance(mode, str) and mode.lower() == "gguf":
        return "gguf", strict
    return parse_mode(mode, group_size), strict


class QuantizedLoad:
    """The quantization side of one ``from_pretrained`` call."""

    def __init__(self, quantization, config, gguf_file, path):
        self.request, self.strict = parse_request(quantization)
        self.saved = getattr(config, "quantization_config", None) or None
        self.where = f"'{path}'"
        if self.request == "gguf" and gguf_file is None:
            raise InvalidInputError(
                f"quantization='gguf' keeps a GGUF file's quantized blocks, but {self.where} "
                "is loaded without gguf_file; pass the .gguf file or use 'int8' / 'int4'.")
        if self.saved and self.request is not None:
            mode = self.saved.get("mode") if isinstance(self.saved, dict) else self.saved
            raise InvalidInputError(
                f"{self.where} is already quantized ({mode}); load it without quantization=, "
                "or quantize its float original instead.")

    def before_loading(self, model):
        if self.saved:
            apply_saved_structure(model, self.saved, f"{self.where}/config.json")
        elif self.request is not None:
            check_supported(model)  # before spending time on the weights

    def wrap_state(self, model, state):
        if self.request == "gguf":
            from .gguf import native_state

            return native_state(model, state, strict=self.strict)
        return state

    def after_loading(self, model):
        if isinstance(self.request, QuantSpec):
            quantize_model(model, self.request)
