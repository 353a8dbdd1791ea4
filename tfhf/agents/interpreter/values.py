"""The values a program may hold: plain data, agent types and :class:`Opaque` handles.

Small helpers every other module uses: which allowlisted type a value counts as
(:func:`base_type`), type names for messages, and the per-item unit charged for containers.
"""

from __future__ import annotations


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


def plain_str(s):
    return s if type(s) is str else str.__str__(s)


def tname(value) -> str:
    if type(value) is Opaque:
        return f"an opaque {type(value._value).__name__} object"
    t = type(value)
    return {type(None): "None"}.get(t, t.__name__)


def scalar_chars(v) -> int:
    t = type(v)
    if t is str or isinstance(v, str):
        return len(v) + 2
    if t is bytes:
        return 4 * len(v) + 3
    if t is int:
        return v.bit_length() // 3 + 3
    return 32


def bulk_chars(items, kinds) -> int:
    if kinds == {str}:
        return sum(map(len, items)) + 2 * len(items)
    return sum(map(scalar_chars, items))


def unwrap(value):
    if type(value) is Opaque:
        return value._value
    return value

