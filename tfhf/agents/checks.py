"""Checks of an LLM's program before it runs, beyond the interpreter's rules: each finds a
program that would run but silently do something else than the task (a made-up value in place
of an input, an input left unused, a step of the task with no tool call, a web address given
to a tool as if it were the page's text). Each is cheap (one parse of the program) and keyed
on the variables passed in and the tools' names, never on particular tasks."""

from __future__ import annotations

import ast
import re

__all__ = ["STEP_WORDS", "missing_steps", "misused_urls", "overwritten_inputs",
           "unused_inputs"]


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


def _parse(code):
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _read_names(tree) -> set:
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _called(tree) -> set:
    return {node.func.id for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def unused_inputs(code, names, task) -> list:
    """The variables of ``names`` (passed to ``run``) that ``task`` names in backticks but
    ``code`` never reads: the program answers without looking at an input the task is about
    (e.g. prints a made-up translation instead of translating the `note`)."""
    tree = _parse(code)
    if tree is None:
        return []
    mentioned = re.findall(r"`([A-Za-z_]\w*)`", str(task))
    read = _read_names(tree)
    return [n for n in dict.fromkeys(mentioned) if n in names and n not in read]


#: Words of a task that call for a step only the curated tool of that name does (a translation,
#: a summary, a transcript, a download); :func:`missing_steps` checks the program calls it.
STEP_WORDS = {
    "translator": r"\btranslat\w*|\b(?:into|in) (?:{languages})\s*(?:[.,;:!?]|$)",
    "summarizer": r"\bsummar\w*",
    "transcriber": r"\btranscri\w*",
    "text_downloader": r"\bdownload\w*",
}


def _step_pattern(tool):
    pattern = STEP_WORDS[tool]
    if "{languages}" in pattern:
        from .languages import LANGUAGE_CODES

        names = sorted((n for n in LANGUAGE_CODES if " " not in n), key=len, reverse=True)
        pattern = pattern.replace("{languages}", "|".join(map(re.escape, names)))
    return re.compile(pattern, re.IGNORECASE)


_PATTERNS = {}


def missing_steps(code, task, toolbox) -> list:
    """The tools of :data:`STEP_WORDS` in ``toolbox`` whose step ``task`` asks for ("...and
    translate it into French") but ``code`` never calls. A program that calls no tool at all
    is left alone (a task no tool can do, or plain Python)."""
    tree = _parse(code)
    if tree is None:
        return []
    called = _called(tree)
    if not called & set(toolbox):
        return []
    missing = []
    for tool in STEP_WORDS:
        if tool not in toolbox or tool in called:
            continue
        if tool not in _PATTERNS:
            _PATTERNS[tool] = _step_pattern(tool)
        if _PATTERNS[tool].search(str(task)):
            missing.append(tool)
    return missing


def misused_urls(code, url_names, toolbox) -> list:
    """``(variable, tool, argument)`` for each call of a tool of ``toolbox`` that gives a
    variable of ``url_names`` (a web address passed in) to an input not named ``url``: the
    tool would work on the address, not on the page (``text_qa(text=link, ...)``)."""
    tree = _parse(code)
    if tree is None or not url_names:
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in toolbox):
            continue
        params = list(getattr(toolbox[node.func.id], "inputs", None) or {})
        pairs = [(k.arg, k.value) for k in node.keywords] + \
            [(params[i] if i < len(params) else None, a) for i, a in enumerate(node.args)]
        for arg, value in pairs:
            if isinstance(value, ast.Name) and value.id in url_names and arg != "url":
                found.append((value.id, node.func.id, arg))
    return found
