"""The static allowlist: which syntax, names, builtins and methods a program may use.

Everything here is checked before the first statement runs (:func:`check_static`); the
evaluator only ever sees an AST made of :data:`ALLOWED_NODES`. Names are checked after NFKC
normalization (Python normalizes identifiers the same way, so look-alike letters cannot
spell a dunder).
"""

from __future__ import annotations

import ast
import keyword
import unicodedata

from .errors import InterpreterError

PRINT_OUTPUTS = "_print_outputs"
RESERVED_NAMES = frozenset({PRINT_OUTPUTS})

SAFE_BUILTINS = ("len", "range", "str", "int", "float", "bool", "list", "dict", "tuple", "min",
                 "max", "sum", "sorted", "enumerate", "zip", "round", "abs", "any", "all",
                 "reversed", "print")

SAFE_METHODS = {
    str: ("upper", "lower", "casefold", "title", "capitalize", "swapcase", "strip", "lstrip",
          "rstrip", "removeprefix", "removesuffix", "split", "rsplit", "splitlines",
          "partition", "rpartition", "join", "replace", "startswith", "endswith", "find",
          "rfind", "index", "rindex", "count", "isdigit", "isnumeric", "isdecimal", "isalpha",
          "isalnum", "isspace", "isupper", "islower", "istitle", "center", "ljust", "rjust",
          "zfill", "format"),
    list: ("append", "extend", "insert", "pop", "remove", "index", "count", "sort", "reverse",
           "copy", "clear"),
    dict: ("keys", "values", "items", "get", "pop", "popitem", "setdefault", "update", "copy",
           "clear"),
    tuple: ("index", "count"),
}
ALL_METHODS = frozenset(m for ms in SAFE_METHODS.values() for m in ms)

STMT_NODES = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.If, ast.For, ast.While,
              ast.Pass, ast.Break, ast.Continue, ast.Delete)
EXPR_NODES = (ast.Constant, ast.Name, ast.List, ast.Tuple, ast.Dict, ast.BinOp, ast.UnaryOp,
              ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Call,
              ast.Attribute, ast.JoinedStr, ast.FormattedValue, ast.ListComp, ast.DictComp,
              ast.GeneratorExp, ast.Starred)
AUX_NODES = (ast.Module, ast.Load, ast.Store, ast.Del, ast.comprehension, ast.keyword,
             ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
             ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.UAdd, ast.USub, ast.Not,
             ast.Invert, ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
             ast.Is, ast.IsNot, ast.In, ast.NotIn)
ALLOWED_NODES = frozenset(STMT_NODES + EXPR_NODES + AUX_NODES)

REFUSED = {
    "Import": "import", "ImportFrom": "import", "FunctionDef": "def (function definitions)",
    "AsyncFunctionDef": "async def", "ClassDef": "class definitions", "Lambda": "lambda",
    "Return": "return", "Global": "global", "Nonlocal": "nonlocal", "Try": "try/except",
    "TryStar": "try/except*", "With": "with", "AsyncWith": "async with", "Raise": "raise",
    "Assert": "assert", "Yield": "yield", "YieldFrom": "yield from", "Await": "await",
    "NamedExpr": "the walrus operator :=", "Set": "set displays", "SetComp":
    "set comprehensions", "Match": "match", "AsyncFor": "async for", "MatMult": "the @ operator",
}

OP_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
             ast.Mod: "%", ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
             ast.BitXor: "^", ast.BitAnd: "&"}


def normalize_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def bad_name(name: str) -> str | None:
    """Why an identifier is refused, or None."""
    n = normalize_name(name)
    if n.startswith("__") or name.startswith("__"):
        return f"the name '{n}' (names starting with '__' are not allowed)"
    if n in RESERVED_NAMES:
        return f"the name '{n}' (reserved for the interpreter)"
    return None


def _refused(message, node, construct, kind="refused"):
    return InterpreterError(message, lineno=getattr(node, "lineno", None), construct=construct,
                            kind=kind)


def _check_name(node, parent):
    why = bad_name(node.id)
    if why:
        raise _refused(why, node, f"name '{node.id}'")


def _check_attribute(node, parent):
    """Only an allowlisted method, read (never assigned) and called at once."""
    attr = normalize_name(node.attr)
    if attr.startswith("_") or node.attr.startswith("_"):
        raise _refused(f"attribute '.{attr}' is not allowed (no attribute access besides the "
                       "methods of str/list/dict/tuple values)", node, f"attribute '.{attr}'")
    if attr not in ALL_METHODS:
        raise _refused(f"attribute '.{attr}' is not allowed; the only attributes are methods of "
                       "str, list, dict and tuple values, called directly (like .upper(), "
                       ".split(), .append(), .items())", node, f"attribute '.{attr}'")
    if not (type(parent) is ast.Call and parent.func is node):
        raise _refused(f"method '.{attr}' must be called directly (methods cannot be used as "
                       "values)", node, f"attribute '.{attr}'")
    if type(node.ctx) is not ast.Load:
        raise _refused(f"assigning to attribute '.{attr}' is not allowed", node,
                       f"attribute '.{attr}'")


def _check_call(node, parent):
    """Calls by name or method only; no ``*args``/``**kwargs``; no dunder keywords."""
    if type(node.func) not in (ast.Name, ast.Attribute):
        raise _refused("only tools, allowed builtins and methods can be called by name "
                       "(e.g. `tool(x)`, `len(x)`, `text.upper()`)", node,
                       "call of an expression")
    for a in node.args:
        if type(a) is ast.Starred:
            raise _refused("`*args` in calls is not allowed", node, "*args")
    for k in node.keywords:
        if k.arg is None:
            raise _refused("`**kwargs` in calls is not allowed", node, "**kwargs")
        why = bad_name(k.arg)
        if why:
            raise _refused(f"keyword argument {why}", node, f"keyword '{k.arg}'")


def _check_constant(node, parent, limits):
    v = node.value
    if type(v) not in SCALAR_CONSTANTS:
        raise _refused(f"constants of type {type(v).__name__} are not allowed", node,
                       f"constant {type(v).__name__}")
    if type(v) is int and v.bit_length() > limits.max_int_bits:
        raise _refused("integer literal too large", node, "integer literal", "limit")


def _check_starred(node, parent):
    if type(parent) not in (ast.List, ast.Tuple):
        raise _refused("`*` unpacking is only allowed in list/tuple displays and assignment "
                       "targets", node, "*unpacking")


def _check_formatted_value(node, parent):
    if node.conversion not in (-1, 115, 114, 97):  # none, !s, !r, !a
        raise _refused("unknown f-string conversion", node, "f-string")


# node type -> check(node, parent); nodes absent here only need to be in ALLOWED_NODES
NODE_CHECKS = {ast.Name: _check_name, ast.Attribute: _check_attribute, ast.Call: _check_call,
               ast.Starred: _check_starred, ast.FormattedValue: _check_formatted_value}

SCALAR_CONSTANTS = frozenset({type(None), bool, int, float, str, bytes})


def check_static(tree: ast.AST, limits):
    """Refuse, before anything runs, every construct outside the allowlist."""
    count = 0
    stack = [(tree, 0, None)]
    while stack:
        node, depth, parent = stack.pop()
        count += 1
        if count > limits.max_ast_nodes:
            raise _refused(f"the program is too long (more than {limits.max_ast_nodes} syntax "
                           "nodes)", node, "program size", "limit")
        if depth > limits.max_ast_depth:
            raise _refused(f"the program is nested too deeply (more than "
                           f"{limits.max_ast_depth} levels)", node, "nesting", "limit")
        t = type(node)
        if t not in ALLOWED_NODES:
            what = REFUSED.get(t.__name__, f"the construct '{t.__name__}'")
            raise _refused(f"{what} is not allowed", node, what)
        if t is ast.Constant:
            _check_constant(node, parent, limits)
        elif t in NODE_CHECKS:
            NODE_CHECKS[t](node, parent)
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, depth + 1, node) for child in reversed(children))  # source order


def check_tools(tools):
    checked = {}
    for name, tool in dict(tools or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise InterpreterError(f"tool name {name!r} is not a Python identifier",
                                   construct="tools", kind="refused")
        if normalize_name(name) != name or name.startswith("_"):
            raise InterpreterError(f"tool name {name!r} is not allowed (no leading underscore, "
                                   "NFKC-normal letters only)", construct="tools",
                                   kind="refused")
        if name in SAFE_BUILTINS:
            raise InterpreterError(f"tool name {name!r} would shadow the builtin {name}()",
                                   construct="tools", kind="refused")
        if not callable(tool):
            raise InterpreterError(f"tool {name!r} is not callable", construct="tools",
                                   kind="refused")
        checked[name] = tool
    return checked
