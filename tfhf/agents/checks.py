"""Checks of an LLM's program before it runs, beyond the interpreter's rules."""

from __future__ import annotations

import ast

__all__ = ["overwritten_inputs"]


def _is_literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_literal(k) and _is_literal(v)
                   for k, v in zip(node.keys, node.values))
    return False


def overwritten_inputs(code, names) -> list:
    """``(name, source)`` for each variable of ``names`` (the values passed to ``run``) that
    ``code`` sets to a made-up literal before it ever reads it, e.g. ``options = ["billing"]``
    when ``options`` was passed in: the program then works on its own guess, not on the input.
    Reassigning from the input (``text = text.lower()``) or from a tool is fine. A program
    that does not parse gives ``[]`` (the interpreter reports it)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    names = set(names)
    first_read, literal_sets = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
            pos = (node.lineno, node.col_offset)
            first_read[node.id] = min(first_read.get(node.id, pos), pos)
        elif isinstance(node, ast.Assign) and _is_literal(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in names:
                    pos = (node.lineno, node.col_offset)
                    if pos < literal_sets.get(target.id, ((pos[0] + 1, 0), None))[0]:
                        literal_sets[target.id] = (pos, ast.get_source_segment(code, node))
    return [(name, source) for name, (pos, source) in sorted(literal_sets.items(),
                                                             key=lambda kv: kv[1][0])
            if name not in first_read or pos < first_read[name]]
