"""Weight-only quantization of decoder LMs: int8 per channel, int4 per group, GGUF blocks.

``model.quantize("int8")`` / ``model.quantize("int4", group_size=64)`` or
``from_pretrained(..., quantization="int8" | "int4" | "gguf")``; docs/quantization.md.
"""

from .model import (apply_saved_structure, is_quantized, quantize_model, quantized_nbytes,
                    quantized_table, targets)
from .spec import DEFAULT_GROUP_SIZE, MODES, QuantSpec, parse_mode

__all__ = ["quantize_model", "quantized_table", "apply_saved_structure", "is_quantized",
           "quantized_nbytes", "targets", "parse_mode", "QuantSpec", "MODES",
           "DEFAULT_GROUP_SIZE"]
