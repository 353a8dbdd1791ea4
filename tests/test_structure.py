"""The package's shape: file and function sizes, private names and import cycles.

These keep the tree the way DESIGN.md describes it: a reviewer finds each concern in one file of
readable size, no subpackage reaches into another's underscore-private names, and the
subpackages import each other in one direction only (imports inside functions are lazy and
allowed: they are how a lower floor reaches an optional upper one at call time).
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tfhf"
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield path, ".".join(parts), is_package, ast.parse(path.read_text(), str(path))


def _subpackage(module):
    """``tfhf.agents.tools.base`` -> ``tfhf.agents``; a top-level module is its own unit."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _resolve(module, is_package, node):
    """The absolute module name an ``ImportFrom`` node names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _module_level_imports(tree):
    """Import nodes that run when the module is imported (not inside a def)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        else:
            todo.extend(ast.iter_child_nodes(node))


def test_no_file_over_the_size_limit():
    too_long = {str(p.relative_to(ROOT.parent)): n for p, _, _, _ in _modules()
                if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    assert not too_long, f"files over {MAX_FILE_LINES} lines (split them by concern): {too_long}"


def test_no_function_over_the_size_limit():
    too_long = {}
    for path, _, _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long[f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}"] = n
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def _private(name):
    return name.startswith("_") and not name.startswith("__")


# ``tfhf._keras`` is the one place that picks Keras 3 or tf_keras: every floor uses it by design
SHARED_PRIVATE_MODULES = {"tfhf._keras"}


def test_no_import_of_another_modules_private_names():
    """No ``from ..x import _y`` across modules; a private module (``agents/_http.py``) is
    imported only inside its own subpackage."""
    found = []
    for path, module, is_package, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _resolve(module, is_package, node)
            if not source.startswith("tfhf") or source == module:
                continue
            names = [a.name for a in node.names if _private(a.name)
                     and f"{source}.{a.name}" not in SHARED_PRIVATE_MODULES]
            if _subpackage(source) != _subpackage(module) and source not in SHARED_PRIVATE_MODULES:
                names += [p for p in source.split(".")[1:] if _private(p)]
            if names:
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} "
                             f"from {source} import {names}")
    assert not found, "imports of another module's private names:\n" + "\n".join(found)


def _subpackage_graph():
    graph = {}
    for path, module, is_package, tree in _modules():
        here = _subpackage(module)
        for node in _module_level_imports(tree):
            if isinstance(node, ast.ImportFrom):
                sources = [_resolve(module, is_package, node)]
                # ``from . import x`` / ``from .. import x`` name modules in the names
                if not node.module:
                    sources = [f"{sources[0]}.{a.name}" for a in node.names]
            else:
                sources = [a.name for a in node.names]
            for source in sources:
                if source.startswith("tfhf.") and _subpackage(source) != here:
                    graph.setdefault(here, set()).add(_subpackage(source))
    return graph


def _cycle(graph):
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_subpackages_import_each_other_without_cycles():
    cycle = _cycle(_subpackage_graph())
    assert cycle is None, "module-level import cycle between subpackages: " + " -> ".join(cycle)


def test_the_structure_checks_can_fail():
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse("import os\ndef f():\n    import json\n")
    assert [n.names[0].name for n in _module_level_imports(tree)] == ["os"]
    node = ast.parse("from ..errors import _x").body[0]
    assert _resolve("tfhf.agents.tools", False, node) == "tfhf.errors"
    assert _resolve("tfhf.agents", True, ast.parse("from .tools import y").body[0]) == \
        "tfhf.agents.tools"
