"""A tool as a standalone Python file: its source, its requirements, and importing it back."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import os
import re
import sys
import tempfile
import textwrap

from ...errors import MissingDependencyError
from .spec import ToolError, normalize_inputs


def write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _bound_names(stmt):
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names = set()
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    for t in targets:
        names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _used_names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _needed_pieces(src, top, target_index, is_function, where):
    """The source of the target statement and of every top-level statement it uses
    (transitively), in file order, and the top-level modules those import."""
    binders = {}
    for i, s in enumerate(top):
        for n in _bound_names(s):
            binders.setdefault(n, []).append(i)
    lines = src.splitlines(keepends=True)

    def segment(stmt, keep_decorators=True):
        start = stmt.lineno
        if keep_decorators and getattr(stmt, "decorator_list", None):
            start = min(d.lineno for d in stmt.decorator_list)
        return "".join(lines[start - 1:stmt.end_lineno])

    target_stmt = top[target_index]
    needed = {target_index}
    queue = [target_stmt]
    if is_function:  # the decorator is replaced by the class tool_source appends
        queue = [ast.Module(body=target_stmt.body + list(target_stmt.args.defaults)
                            + [a.annotation for a in target_stmt.args.args if a.annotation]
                            + ([target_stmt.returns] if target_stmt.returns else []),
                            type_ignores=[])]
    while queue:
        node = queue.pop()
        for n in _used_names(node):
            for j in binders.get(n, []):
                if j not in needed and j < len(top):
                    needed.add(j)
                    queue.append(top[j])
    pieces, modules = [], set()
    for i in sorted(needed):
        s = top[i]
        if isinstance(s, ast.ImportFrom) and s.level:
            raise ToolError(f"{where} uses a relative import (line {s.lineno}); use an "
                            "absolute import.")
        if isinstance(s, ast.Import):
            modules |= {a.name.split(".")[0] for a in s.names}
        elif isinstance(s, ast.ImportFrom):
            modules.add(s.module.split(".")[0])
        pieces.append(segment(s, keep_decorators=not (i == target_index and is_function)))
    return pieces, modules


def tool_source(tool_obj):
    """``(module source, class name, requirements)`` that recreate ``tool_obj`` on its own."""
    function = tool_obj.source_function()  # a @tool function, else None
    if function is not None:
        target = function
        class_name = "".join(p.capitalize() for p in tool_obj.name.split("_")) + "Tool"
    else:
        target = type(tool_obj)
        class_name = target.__name__
    module_name = getattr(target, "__module__", "") or ""
    if module_name.split(".")[0] == "tfhf":  # tfhf's own tools: import them from tfhf
        if function is not None:  # pragma: no cover - tfhf defines no @tool
            raise ToolError("tfhf's own function tools cannot be saved.")
        return (f'"""Tool file written by tfhf."""\nfrom {module_name} import {class_name}  '
                "# noqa: F401\n", class_name, ["tfhf"])
    module = sys.modules.get(module_name)
    try:
        src = inspect.getsource(module) if module is not None else None
    except (OSError, TypeError):
        src = None
    if not src:
        raise ToolError(f"Cannot save tool '{tool_obj.name}': the source of its module "
                        f"'{module_name}' is not available (define the tool in a .py file).")
    tree = ast.parse(src)
    top = tree.body
    target_index = next((i for i, s in enumerate(top)
                         if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                         and s.name == target.__name__), None)
    if target_index is None:
        raise ToolError(f"Cannot save tool '{tool_obj.name}': '{target.__name__}' is not "
                        f"defined at the top level of {module_name}.")
    pieces, modules = _needed_pieces(src, top, target_index, function is not None,
                                     f"Cannot save tool '{tool_obj.name}': {module_name}")
    body = "\n\n".join(p.rstrip("\n") for p in pieces) + "\n"
    header = '"""Tool file written by tfhf (tfhf.agents.Tool.save)."""\n'
    if function is not None:
        fn = target.__name__
        body += textwrap.dedent(f'''

            from tfhf.agents import Tool as _TfhfTool


            class {class_name}(_TfhfTool):
                name = {tool_obj.name!r}
                description = {tool_obj.description!r}
                inputs = {normalize_inputs(tool_obj.inputs)!r}
                output_type = {tool_obj.output_type!r}

                def forward(self, *args, **kwargs):
                    return {fn}(*args, **kwargs)
            ''')
    requirements = _requirements(modules)
    return header + body, class_name, requirements


def _requirements(modules):
    from importlib import metadata

    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    try:
        dists = metadata.packages_distributions()
    except Exception:  # noqa: BLE001 - metadata scans can fail on broken installs
        dists = {}
    reqs = set()
    for m in modules:
        if m in stdlib or m == "__future__":
            continue
        reqs.update(dists.get(m, [m]))
    reqs.add("tfhf")
    return sorted(reqs)


def check_requirements(path, where):
    from importlib import metadata

    missing = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line or line.startswith("-"):
                continue
            name = re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]
            try:
                metadata.distribution(name)
            except metadata.PackageNotFoundError:
                missing.append(line)
    if missing:
        raise MissingDependencyError(f"The tool from {where} needs packages that are not "
                                     f"installed: {', '.join(missing)}. Install them with "
                                     f"pip install {' '.join(missing)}.")


def import_file(path, where):
    digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16]
    name = f"tfhf_dynamic_tools.t{digest}.{os.path.splitext(os.path.basename(path))[0]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise ToolError(f"Importing the tool file of {where} failed: {type(e).__name__}: "
                        f"{e}") from e
    return module
