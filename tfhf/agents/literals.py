"""Python literals for plain data, bounded: what ``Agent.run(..., return_code=True)`` writes
for the variables a program was given."""

from __future__ import annotations

_SCALARS = (type(None), bool, int, float, str, bytes)


def python_literal(value, *, max_chars=100_000, max_items=100_000, max_depth=20):
    """A Python literal for plain data, or None when it is not plain data, contains itself,
    is nested deeper than ``max_depth`` or would take more than ``max_chars`` characters or
    ``max_items`` items (a shared value counts every time it is written)."""
    left = {"chars": max_chars, "items": max_items}
    active = set()

    def lit(v, depth):
        left["items"] -= 1
        t = type(v)
        if t in _SCALARS or isinstance(v, str):  # AgentText as its text
            if t in (str, bytes) or isinstance(v, str):
                if len(v) > left["chars"]:
                    return None
            elif t is int and v.bit_length() > 4 * left["chars"]:
                return None
            r = repr(str.__str__(v)) if isinstance(v, str) else repr(v)
            left["chars"] -= len(r)
            return r if left["chars"] >= 0 else None
        if t not in (list, tuple, dict) or depth > max_depth or id(v) in active or \
                left["items"] - len(v) < 0:
            return None
        active.add(id(v))
        try:
            if t is dict:
                parts = []
                for k, x in v.items():
                    pair = (lit(k, depth + 1), lit(x, depth + 1))
                    if None in pair:
                        return None
                    parts.append(f"{pair[0]}: {pair[1]}")
                return "{" + ", ".join(parts) + "}"
            parts = []
            for x in v:
                p = lit(x, depth + 1)
                if p is None:
                    return None
                parts.append(p)
        finally:
            active.discard(id(v))
        inner = ", ".join(parts)
        return f"[{inner}]" if t is list else f"({inner}{',' if len(parts) == 1 else ''})"

    return lit(value, 0)
