"""The values a program may hold: plain data, agent types and :class:`Opaque` handles.

Small helpers every other module uses: which allowlisted type a value counts as
(:func:`base_type`), type names for messages, and the per-item unit charged for containers.
"""

from __future__ import annotations

from itertools import repeat


class Opaque:
    """A value the program may hold and pass to tools, but not look into or operate on.

    Objects that are not plain data (a PIL image without an agent type, a tensor, a model...)
    are wrapped in it when they come from a tool or from the caller's variables; tools receive
    the object itself.
    """

    __slots__ = ("_value",)

    def __init__(self, value):
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name, value):
        raise AttributeError("Opaque values are read-only")

    def __repr__(self):
        t = type(self._value)
        return f"<{t.__module__}.{t.__qualname__} object>"

    __str__ = __repr__


# ----------------------------------------------------------------------------- value classes

NUMBERS = (bool, int, float)
SCALAR_TYPES = frozenset({type(None), bool, int, float, str, bytes})
CONTAINER_TYPES = frozenset({list, tuple, dict})
ITERABLE_TYPES = frozenset({str, bytes, list, tuple, dict, range, set, frozenset})
SIZED_TYPES = ITERABLE_TYPES


def agent_type_class():
    from ..agent_types import AgentType

    return AgentType


def agent_text_class():
    from ..agent_types import AgentText

    return AgentText


def base_type(value):
    """The allowlisted type a value counts as (AgentText counts as str), else None."""
    t = type(value)
    if t in SCALAR_TYPES or t in CONTAINER_TYPES or t in (range, set, frozenset):
        return t
    if isinstance(value, str) and t is agent_text_class():
        return str
    return None


def is_scalar(value) -> bool:
    t = type(value)
    return t in SCALAR_TYPES or (t is not Opaque and isinstance(value, str)
                                 and t is agent_text_class())


def is_number(value) -> bool:
    return type(value) in (bool, int, float)


CALL = object()
NO_DEFAULT = object()
ITEM = 32  # units charged per container item: the slot plus, often, a fresh object
CHARS_PER_STEP = 32  # characters a C loop scans (compares, searches, hashes) per work unit
COPY_CHARS_PER_STEP = 256  # characters a C loop copies (memcpy) per work unit
REFUND_MIN = 4096  # values charged less are never refunded (keeps the ledger small)


def plain_str(s):
    return s if type(s) is str else str.__str__(s)


def tname(value) -> str:
    if type(value) is Opaque:
        return f"an opaque {type(value._value).__name__} object"
    t = type(value)
    return {type(None): "None"}.get(t, t.__name__)


def scalar_chars(v, escapes=True) -> int:
    """An upper bound of a scalar's text: as ``str`` writes it, or (``escapes``) as ``repr``
    and ``ascii`` write it (and as it appears inside a container's text)."""
    t = type(v)
    if t is str or isinstance(v, str):
        if not escapes:
            return len(v)
        if v.isascii() and v.isprintable():  # only backslashes and quotes are escaped
            return len(v) + v.count("\\") + v.count("'") + 2
        return 10 * len(v) + 2  # '\U000e0001' is 10 characters
    if t is bytes:
        return 4 * len(v) + 3
    if t is int:
        return v.bit_length() // 3 + 3
    return 32


def plain_chars(v) -> int:
    """:func:`scalar_chars` without escapes: a cheap first bound (no scan of the text)."""
    t = type(v)
    if t is str or isinstance(v, str):
        return len(v) + 2
    if t is bytes:
        return 4 * len(v) + 3
    if t is int:
        return v.bit_length() // 3 + 3
    return 32


def bulk_chars(items, kinds, escapes, cap) -> int:
    """The text bound of many scalars, at C speed: plain lengths first, and the escapes
    (which scan every text) only when the plain bound is within ``cap``."""
    if kinds == {str}:
        plain = sum(map(len, items)) + 2 * len(items)
    elif kinds == {int}:
        plain = sum(map(int.bit_length, items)) // 3 + 3 * len(items)
    elif not kinds & {str, bytes, int}:  # floats, bools, None
        plain = 32 * len(items)
    else:
        plain = sum(map(plain_chars, items))
    if not escapes or plain > cap or not kinds & {str}:
        return plain
    if kinds == {str} and all(map(str.isascii, items)) and all(map(str.isprintable, items)):
        return (plain + sum(map(str.count, items, repeat("\\")))
                + sum(map(str.count, items, repeat("'"))))
    return sum(map(scalar_chars, items))


def int_bytes(v) -> int:
    """Memory an int holds beyond its slot (0 for small ints)."""
    return v.bit_length() // 8 if type(v) is int else 0


def unwrap(value):
    if type(value) is Opaque:
        return value._value
    return value
