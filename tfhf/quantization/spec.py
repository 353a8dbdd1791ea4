"""Quantization modes: what ``model.quantize(mode)`` and ``from_pretrained(quantization=...)``
accept, and the ``quantization_config`` that ``save_pretrained`` writes.

* ``"int8"``: weight-only, symmetric int8 with one float32 scale per output channel
  (``w = q * scale``);
* ``"int4"``: weight-only, asymmetric 4-bit with a float16 scale and offset per group of
  ``group_size`` consecutive input weights of one output channel (default 64, or the largest
  even divisor below 64 of a layer's input size) (``w = q * scale + offset``,
  ``q`` in 0..15), two weights per byte;
* ``"gguf"`` (``from_pretrained`` of a GGUF file only): keep the file's own blocks (Q8_0 as
  int8 with a scale per 32 weights, Q4_0 / Q4_1 / Q4_K as int4 groups of 32) without a float32
  round trip.

Activations stay in the compute dtype of the layer's policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInputError

MODES = ("int8", "int4")
DEFAULT_GROUP_SIZE = 64
QUANT_METHOD = "tfhf"  # quantization_config["quant_method"] in config.json


@dataclass(frozen=True)
class QuantSpec:
    """``bits`` 8 or 4; ``group_size`` input weights per scale (``None``: one scale per output
    channel, the int8 default)."""

    bits: int
    group_size: int | None = None

    @property
    def mode(self) -> str:
        return f"int{self.bits}"

    def group_for(self, in_features: int, where: str = "") -> int:
        """The group size used for a weight with ``in_features`` inputs: the spec's, else
        (int8) the whole row, else (int4) :data:`DEFAULT_GROUP_SIZE` or, for a layer too
        narrow or not a multiple of it, its largest even divisor below that (at least 8)."""
        g = self.group_size or (in_features if self.bits == 8 else
                                default_int4_group(in_features))
        if self.bits == 4 and g % 2:
            raise InvalidInputError(f"int4 needs an even group size{where}; got {g}.")
        if in_features % g:
            raise InvalidInputError(
                f"group_size={g} does not divide the {in_features} inputs{where}; pick a group "
                "size that divides every layer's input size (e.g. 32 or 64).")
        return g

    def to_config(self) -> dict:
        return {"quant_method": QUANT_METHOD, "mode": self.mode, "group_size": self.group_size}


def default_int4_group(in_features: int) -> int:
    """``DEFAULT_GROUP_SIZE`` when it divides ``in_features``, else the largest even divisor
    of ``in_features`` from 8 up to it; ``DEFAULT_GROUP_SIZE`` (an error follows) if none."""
    for g in range(DEFAULT_GROUP_SIZE, 7, -2):
        if in_features % g == 0:
            return g
    return DEFAULT_GROUP_SIZE


def parse_mode(mode, group_size=None) -> QuantSpec:
    """A :class:`QuantSpec` from a user's mode name and group size (errors name both)."""
    if isinstance(mode, QuantSpec):
        return mode
    if not isinstance(mode, str) or mode.lower() not in MODES:
        raise InvalidInputError(
            f"Unknown quantization mode {mode!r}; tfhf supports {', '.join(map(repr, MODES))} "
            "(and quantization='gguf' when loading a GGUF file).")
    bits = int(mode.lower()[3:])
    if group_size is None:
        pass  # int8: per channel; int4: DEFAULT_GROUP_SIZE, or what fits (QuantSpec.group_for)
    elif (not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < 8
          or group_size % 2 or group_size > 8192):
        raise InvalidInputError(
            f"group_size={group_size!r} is not valid: use an even number of input weights per "
            "scale from 8 to 8192 (32-128 is usual for int4), or None.")
    return QuantSpec(bits, group_size)


def spec_from_config(qconfig, where="config.json") -> QuantSpec:
    """The spec of a ``quantization_config`` dict written by :meth:`QuantSpec.to_config`."""
    if not isinstance(qconfig, dict) or qconfig.get("quant_method") != QUANT_METHOD:
        method = qconfig.get("quant_method") if isinstance(qconfig, dict) else qconfig
        raise InvalidInputError(
            f"{where}: quantization_config with quant_method {method!r} is not one tfhf reads "
            f"(tfhf reads the '{QUANT_METHOD}' format it writes itself).")
    return parse_mode(qconfig.get("mode"), qconfig.get("group_size"))
