"""Constrained tool calls for :class:`~tfhf.agents.LocalAgent` (``constrained=True``).

Two parts, both simple and honest about what they do:

1. **While decoding** (:func:`refused_construct_words`): a ``bad_words_ids`` list for
   ``generate`` that bans the tokens of the statements the restricted interpreter refuses
   (``def``, ``class``, ``import``, ``from``, ``try``, ``with``, ``raise``, ``return``, ...)
   at the start of a line, i.e. after a token that ends a line or is only indentation, and
   ``lambda`` anywhere. It runs in the compiled (XLA) decode loop as the ordinary bad-words
   processor. It bans the tokenizer's usual spelling of those keywords, not every spelling (a
   model could still spell ``d`` + ``ef``), and it also applies to the prose before the code
   block (a line of prose starting with lowercase ``from`` or ``with`` gets another word).
2. **After decoding** (:func:`correct_tool_calls`): a post-hoc correction of the program's
   near misses: a call of an unknown name close to a tool's name (``summarize(...)`` ->
   ``summarizer(...)``) is renamed to that tool, and a keyword argument a tool does not
   declare is renamed to the declared input it is close to, or to the only declared input the
   call leaves unset. Nothing else in the program changes.

Tool names and argument names are *not* constrained token by token inside the decode loop
(a trie over the vocabulary driven by a state machine): this is the cheaper version.
"""

from __future__ import annotations

import ast
import difflib
import re
import weakref

from .interpreter.allowlist import SAFE_BUILTINS

__all__ = ["LINE_START_KEYWORDS", "refused_construct_words", "correct_tool_calls"]

#: Statements the interpreter refuses, banned at the start of a line.
LINE_START_KEYWORDS = ("def", "class", "import", "from", "try", "except", "finally", "with",
                       "raise", "return", "global", "nonlocal", "async", "yield", "assert")
#: Refused everywhere.
ANYWHERE_KEYWORDS = ("lambda",)

_CACHE = weakref.WeakKeyDictionary()
_LINE_START = re.compile(r"[ \t]*|.*\n[ \t]*", re.S)


def _keyword_tokens(tokenizer, word):
    """Token-id sequences that spell ``word`` and `` word`` the tokenizer's usual way."""
    spellings = set()
    for text in (word, " " + word):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if ids and tokenizer.decode(ids) == text:
            spellings.add(tuple(int(i) for i in ids))
    return spellings


def refused_construct_words(tokenizer):
    """``bad_words_ids`` banning the refused statements at line starts and ``lambda``
    anywhere, for ``tokenizer`` (computed once per tokenizer: it decodes the vocabulary)."""
    try:
        return _CACHE[tokenizer]
    except (KeyError, TypeError):
        pass
    vocab = len(tokenizer)
    texts = [tokenizer.decode([i]) for i in range(vocab)]
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    line_start = [i for i, t in enumerate(texts)
                  if t and i not in special and _LINE_START.fullmatch(t)]
    words = set()
    for word in LINE_START_KEYWORDS:
        for spelling in _keyword_tokens(tokenizer, word):
            words.update((i,) + spelling for i in line_start)
    for word in ANYWHERE_KEYWORDS:
        words.update(_keyword_tokens(tokenizer, word))
    result = sorted(list(w) for w in words if all(t < vocab for t in w))
    try:
        _CACHE[tokenizer] = result
    except TypeError:  # pragma: no cover - a tokenizer that cannot be weakly referenced
        pass
    return result


# ---------------------------------------------------------------- post-hoc correction
def _close(name, candidates, cutoff=0.75):
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def _assigned_names(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _keyword_fixes(call, tool):
    """``{wrong: right}`` for the keyword arguments of a call of ``tool``."""
    declared = list(getattr(tool, "inputs", None) or {})
    given = [k.arg for k in call.keywords if k.arg is not None]
    unknown = [k for k in given if k not in declared]
    if not unknown:
        return {}
    unset = [n for n in declared[len(call.args):] if n not in given]
    fixes = {}
    for name in unknown:
        right = _close(name, [n for n in unset if n not in fixes.values()], cutoff=0.6)
        if right is None and len(unknown) == 1 and len(unset) == 1:
            right = unset[0]
        if right is not None:
            fixes[name] = right
    return fixes


def correct_tool_calls(code, toolbox, known_names=()):
    """``(code, changes)``: ``code`` with near-miss tool names and argument names corrected
    (see the module's docstring); ``changes`` lists ``"old -> new"`` for each one. A program
    that does not parse comes back unchanged (the interpreter reports it)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code, []
    known = set(toolbox) | set(SAFE_BUILTINS) | set(known_names) | _assigned_names(tree)
    edits, changes = [], []  # (line, col, old, new)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name is not None and name not in known:
            right = _close(name, toolbox)
            if right is not None:
                edits.append((node.func.lineno, node.func.col_offset, name, right))
                changes.append(f"{name} -> {right}")
                name = right
        if name not in toolbox:
            continue
        for kw in node.keywords:
            right = _keyword_fixes(node, toolbox[name]).get(kw.arg)
            if right is not None:
                edits.append((kw.lineno, kw.col_offset, kw.arg, right))
                changes.append(f"{name}({kw.arg}=...) -> {name}({right}=...)")
    if not edits:
        return code, []
    lines = code.split("\n")
    for lineno, col, old, new in sorted(edits, reverse=True):
        # ast columns are UTF-8 byte offsets
        raw = lines[lineno - 1].encode("utf-8")
        if raw[col:col + len(old.encode("utf-8"))] != old.encode("utf-8"):
            continue  # pragma: no cover - the node does not start with its name
        lines[lineno - 1] = (raw[:col] + new.encode("utf-8")
                             + raw[col + len(old.encode("utf-8")):]).decode("utf-8")
    return "\n".join(lines), changes
