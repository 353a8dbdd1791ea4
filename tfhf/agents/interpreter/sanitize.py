"""What crosses the boundary between the program and the host.

* :func:`sanitize`: a tool's return value (or a caller's variable) as interpreter-safe data:
  exact plain types, rebuilt containers, agent types, or an :class:`Opaque` handle.
* :func:`unwrap_deep`: tool arguments with Opaque handles replaced by their objects.
* :func:`is_plain_deep`: whether a caller's variable can be used as it is.
"""

from __future__ import annotations

import sys
from collections import Counter

from .budget import DEFAULT_LIMITS, Limits
from .errors import Refusal
from .values import SCALAR_TYPES, Opaque, agent_type_class, is_scalar


def unwrap_deep(value, max_nodes=DEFAULT_LIMITS.max_walk,
                max_depth=DEFAULT_LIMITS.max_value_depth):
    """Tool arguments: Opaque handles replaced by their objects, also inside containers.

    Each container is visited once (a shared one is unwrapped once and stays shared), a
    container holding itself is refused, and at most ``max_nodes`` items are visited.
    Containers without a handle inside are passed as they are.
    """
    memo = {}
    active = set()
    left = [max_nodes]

    def go(v, depth):
        t = type(v)
        if t is Opaque:
            return v._value
        if t not in (list, tuple, dict):
            return v
        if id(v) in memo:
            return memo[id(v)]
        if id(v) in active:
            raise Refusal("a tool argument contains itself", "tool arguments", "refused")
        left[0] -= len(v) + 1
        if left[0] < 0 or depth > max_depth:
            raise Refusal("the tool arguments are too large or too deeply nested to pass",
                          "tool arguments", "limit")
        active.add(id(v))
        items = list(v.values() if t is dict else v)
        new = [go(x, depth + 1) for x in items]
        active.discard(id(v))
        if all(a is b for a, b in zip(new, items)):
            out = v
        elif t is dict:
            out = dict(zip(v.keys(), new))
        else:
            out = new if t is list else tuple(new)
        memo[id(v)] = out
        return out

    return go(value, 0)


def exact_agent_type(value):
    """Agent types from a tool, as tfhf's own classes (a subclass could override methods)."""
    from ..agent_types import AgentAudio, AgentImage, AgentText

    if type(value) in (AgentText, AgentImage, AgentAudio):
        return value
    if isinstance(value, AgentText):
        return AgentText(str.__str__(value))
    if isinstance(value, AgentImage):
        return AgentImage(value)  # copies the image's data into an exact AgentImage
    if isinstance(value, AgentAudio):
        return AgentAudio(value)
    return Opaque(value)


def sanitize(value, output_type=None, limits: Limits = DEFAULT_LIMITS):
    """A tool's return value as interpreter-safe data.

    Exact ``str``/``int``/``float``/``bool``/``None``/``bytes``; lists, tuples and dicts
    rebuilt from sanitized items (dict keys must be plain and hashable); numpy scalars and
    arrays as Python numbers/lists; agent types kept (raw images/audio wrapped in them when
    the tool declares an ``output_type``); anything else wrapped in :class:`Opaque`.
    """
    from ..agent_types import AgentType, wrap_output

    if output_type is not None and not isinstance(value, AgentType):
        value = wrap_output(value, output_type)
    budget = [limits.max_walk]
    return sanitize_value(value, 0, budget, limits)


def sanitize_value(value, depth, budget, limits, memo=None):
    """:func:`sanitize` with an item budget (``budget[0]``); each container is converted
    once (``memo``), so shared values stay shared and cost once, and a cycle is refused."""
    if type(value) in (list, tuple, dict, set, frozenset) or \
            isinstance(value, (list, tuple, dict, set, frozenset)):
        memo = {} if memo is None else memo
        key = id(value)
        if key in memo:  # entries hold the value too, so its id is not reused meanwhile
            if memo[key][1] is _IN_PROGRESS:
                raise Refusal("a tool returned a value that contains itself", "tool output",
                              "refused")
            return memo[key][1]
        memo[key] = (value, _IN_PROGRESS)
        out = _sanitize_one(value, depth, budget, limits, memo)
        memo[key] = (value, out)
        return out
    return _sanitize_one(value, depth, budget, limits, memo)


_IN_PROGRESS = object()


def _sanitize_one(value, depth, budget, limits, memo):
    budget[0] -= 1
    if budget[0] < 0:
        raise Refusal("a tool returned a value too large to use (over "
                      f"{limits.max_walk} items)", "tool output", "limit")
    if depth > limits.max_value_depth:
        raise Refusal("a tool returned a value nested too deeply", "tool output", "limit")
    t = type(value)
    if t in SCALAR_TYPES:
        return value
    AgentType = agent_type_class()
    if isinstance(value, AgentType):
        return exact_agent_type(value)
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, bytes):
        return bytes(memoryview(value))
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.generic):
            item = value.item()
            if type(item) in SCALAR_TYPES:
                return sanitize_value(item, depth, budget, limits, memo)
            return Opaque(value)
        if isinstance(value, np.ndarray):
            if value.size <= limits.max_container_len and value.dtype.kind in "biufUS":
                return sanitize_value(value.tolist(), depth, budget, limits, memo)
            return Opaque(value)
    if isinstance(value, (list, tuple)):
        items = [sanitize_value(x, depth + 1, budget, limits, memo) for x in list(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        _check_collisions(list(value), limits)
        out = {}
        for k, v in list(value.items()):
            k2 = sanitize_value(k, depth + 1, budget, limits, memo)
            if type(k2) not in SCALAR_TYPES and type(k2) is not tuple:
                return Opaque(value)
            out[k2] = sanitize_value(v, depth + 1, budget, limits, memo)
        return out
    if isinstance(value, range):
        return range(value.start, value.stop, value.step)
    if isinstance(value, (set, frozenset)):
        items = [sanitize_value(x, depth + 1, budget, limits, memo) for x in list(value)]
        if all(type(x) in SCALAR_TYPES for x in items):
            _check_collisions(items, limits)
            return frozenset(items)
        return items
    if type(value) is Opaque:
        return value
    return Opaque(value)


def _check_collisions(keys, limits):
    """Distinct keys from a tool (a dict's keys, a set's items) that share one hash value
    would make rebuilding them quadratic: refuse more than ``max_colliding_keys``."""
    try:
        counts = Counter(map(hash, keys))
    except TypeError:
        return  # unhashable keys: the dict becomes Opaque
    if counts and max(counts.values()) > limits.max_colliding_keys:
        raise Refusal(f"a tool returned more than {limits.max_colliding_keys} different keys "
                      "sharing one hash value", "tool output", "limit")


def is_plain_deep(value, limits) -> bool:
    """Whether a value is already interpreter-safe (exact plain types all the way down)."""
    if is_scalar(value) or type(value) is Opaque or isinstance(value, agent_type_class()):
        return True
    seen = set()
    stack = [(value, 0)]
    budget = limits.max_walk
    while stack:
        v, depth = stack.pop()
        budget -= 1
        t = type(v)
        if budget < 0 or depth > limits.max_value_depth:
            return False
        if t in SCALAR_TYPES or t is Opaque or t is range or isinstance(v, agent_type_class()):
            continue
        if t not in (list, tuple, dict, frozenset):
            return False
        if id(v) in seen:
            continue
        seen.add(id(v))
        if t is dict:
            for k, x in v.items():
                stack.append((k, depth + 1))
                stack.append((x, depth + 1))
        else:
            stack.extend((x, depth + 1) for x in v)
    return True
