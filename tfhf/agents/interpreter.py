"""The restricted Python interpreter that runs the programs an agent's LLM writes.

``evaluate(code, tools, state)`` walks the program's AST itself; nothing is ever handed to
``exec``/``eval``/``compile``. What a program may do is an allowlist:

* statements: expressions, assignments (names, tuple/list unpacking with one ``*rest``,
  subscripts, several targets), augmented assignments, ``if``/``elif``/``else``, ``for`` and
  ``while`` (both bounded, with ``break``/``continue``/``else``), ``pass``, ``del`` of names and
  subscripts, annotated assignments (the annotation is never evaluated);
* expressions: literals of ``None``/bools/ints/floats/str/bytes, list/tuple/dict displays,
  list and dict comprehensions (generator expressions run eagerly into a list), arithmetic,
  comparisons, boolean operators, conditional expressions, subscripts and slices, f-strings
  of plain values with simple format specs;
* calls of the given tools, of ``print`` and of a few builtins (:data:`SAFE_BUILTINS`, all
  reimplemented here with size checks), and of a fixed list of methods of ``str``, ``list``,
  ``dict`` and ``tuple`` values (:data:`SAFE_METHODS`), looked up on the base type, never on
  the value.

Everything else is refused before the first statement runs: imports, ``def``/``lambda``/
``class``, ``try``/``with``/``raise``, ``global``/``nonlocal``, walrus, sets, any attribute
that is not one of those methods called at once, every name that starts with ``__``, ``*``/
``**`` in calls, ``str %`` formatting. Names are checked after NFKC normalization (Python
normalizes identifiers the same way, so look-alike letters cannot spell a dunder).

While it runs, explicit limits (:class:`Limits`) bound the number of operations, loop
iterations, the wall time spent outside tools, and the size of every value created *before* it
is created (``10**10**10``, ``'a' * 10**10``, ``[0] * 10**9``, repeated doubling, ``join`` of
huge lists, ``int()`` of huge strings). Values that C code walks recursively (hashing, ``==``
and ordering, ``repr``/``str``/f-strings, ``sorted``...) are measured first with a bounded,
iterative walk that counts shared sub-values every time they occur and refuses deep nesting,
so shared-structure tricks (``t = (t, t)`` repeated) and deep nesting (which crashes CPython's
tuple hash) are refused instead of hanging or crashing.

Values returned by tools are converted to plain data (exact ``str``/``int``/``float``/...,
rebuilt lists/tuples/dicts) or wrapped in agent types / :class:`Opaque`, a handle that the
program can only pass back to tools.

Any refusal or failure raises :class:`InterpreterError` (a ``ValueError``) naming the line and
the construct; evaluation stops there. See README, "Agents and the interpreter's threat model".
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import string
import sys
import time
import unicodedata
import warnings
from dataclasses import dataclass, replace

from ..errors import TfhfError

__all__ = ["evaluate", "InterpreterError", "Limits", "Opaque", "SAFE_BUILTINS", "SAFE_METHODS",
           "PRINT_OUTPUTS"]

PRINT_OUTPUTS = "_print_outputs"
_RESERVED_NAMES = frozenset({PRINT_OUTPUTS})


class InterpreterError(TfhfError, ValueError):
    """A program was refused or failed in :func:`evaluate`.

    Attributes: ``lineno`` (1-based line of the program, or ``None``), ``construct`` (what was
    refused or failed, e.g. ``"import"``, ``"attribute '.__class__'"``, ``"tool 'x'"``) and
    ``kind``: ``"syntax"``, ``"refused"`` (a construct outside the allowlist), ``"limit"`` (a
    limit on size, operations, iterations or time), ``"unknown_name"`` (an undefined name or
    an unknown tool), ``"tool_error"`` (a tool raised) or ``"error"`` (the program itself
    failed: a ``ZeroDivisionError``, ``KeyError``, wrong types...).
    """

    def __init__(self, message, *, lineno=None, construct=None, kind="error"):
        self.lineno = lineno
        self.construct = construct
        self.kind = kind
        self.reason = message
        where = f"line {lineno}: " if lineno is not None else ""
        super().__init__(f"{where}{message}")


@dataclass(frozen=True)
class Limits:
    """Bounds on one :func:`evaluate` call (all checked before the work is done).

    ``max_seconds`` counts the interpreter's own time: time spent inside tools is excluded
    (a tool bounds its own work, e.g. the text downloader's timeout).
    """

    max_operations: int = 1_000_000      # AST nodes evaluated
    max_iterations: int = 100_000        # loop and comprehension iterations, all loops together
    max_seconds: float = 5.0
    max_str_len: int = 5_000_000         # characters (or bytes) in one created string
    max_container_len: int = 1_000_000   # items in one created list/tuple/dict
    max_int_bits: int = 10_000           # about 3,000 decimal digits
    max_alloc: int = 100_000_000         # size of everything created: chars + 32 per item
    max_walk: int = 2_000_000            # items a recursive C-level operation may visit
    max_value_depth: int = 100           # nesting of lists/tuples/dicts in such operations
    max_ast_depth: int = 100
    max_ast_nodes: int = 50_000
    max_code_chars: int = 200_000
    max_print_chars: int = 1_000_000
    max_format_width: int = 1_000        # width and precision in format specs
    max_round_digits: int = 1_000

    def with_(self, **changes) -> "Limits":
        return replace(self, **changes)


DEFAULT_LIMITS = Limits()


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

_NUMBERS = (bool, int, float)
_SCALAR_TYPES = frozenset({type(None), bool, int, float, str, bytes})
_CONTAINER_TYPES = frozenset({list, tuple, dict})
_ITERABLE_TYPES = frozenset({str, bytes, list, tuple, dict, range, set, frozenset})
_SIZED_TYPES = _ITERABLE_TYPES


def _agent_types():
    from .agent_types import AgentType

    return AgentType


def _agent_text():
    from .agent_types import AgentText

    return AgentText


def _base_type(value):
    """The allowlisted type a value counts as (AgentText counts as str), else None."""
    t = type(value)
    if t in _SCALAR_TYPES or t in _CONTAINER_TYPES or t in (range, set, frozenset):
        return t
    if isinstance(value, str) and t is _agent_text():
        return str
    return None


def _is_scalar(value) -> bool:
    t = type(value)
    return t in _SCALAR_TYPES or (t is not Opaque and isinstance(value, str)
                                  and t is _agent_text())


def _is_number(value) -> bool:
    return type(value) in (bool, int, float)


# ------------------------------------------------------------------------ static allowlist

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
_ALL_METHODS = frozenset(m for ms in SAFE_METHODS.values() for m in ms)

_STMT_NODES = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.If, ast.For, ast.While,
               ast.Pass, ast.Break, ast.Continue, ast.Delete)
_EXPR_NODES = (ast.Constant, ast.Name, ast.List, ast.Tuple, ast.Dict, ast.BinOp, ast.UnaryOp,
               ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Call,
               ast.Attribute, ast.JoinedStr, ast.FormattedValue, ast.ListComp, ast.DictComp,
               ast.GeneratorExp, ast.Starred)
_AUX_NODES = (ast.Module, ast.Load, ast.Store, ast.Del, ast.comprehension, ast.keyword,
              ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
              ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.UAdd, ast.USub, ast.Not,
              ast.Invert, ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
              ast.Is, ast.IsNot, ast.In, ast.NotIn)
_ALLOWED_NODES = frozenset(_STMT_NODES + _EXPR_NODES + _AUX_NODES)
if hasattr(ast, "Index"):  # Python < 3.9 never reaches here (3.11 required), kept harmless
    _ALLOWED_NODES = _ALLOWED_NODES | {ast.Index}

_REFUSED = {
    "Import": "import", "ImportFrom": "import", "FunctionDef": "def (function definitions)",
    "AsyncFunctionDef": "async def", "ClassDef": "class definitions", "Lambda": "lambda",
    "Return": "return", "Global": "global", "Nonlocal": "nonlocal", "Try": "try/except",
    "TryStar": "try/except*", "With": "with", "AsyncWith": "async with", "Raise": "raise",
    "Assert": "assert", "Yield": "yield", "YieldFrom": "yield from", "Await": "await",
    "NamedExpr": "the walrus operator :=", "Set": "set displays", "SetComp":
    "set comprehensions", "Match": "match", "AsyncFor": "async for", "MatMult": "the @ operator",
}

_OP_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
              ast.Mod: "%", ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
              ast.BitXor: "^", ast.BitAnd: "&"}


def _normalize(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def _bad_name(name: str) -> str | None:
    """Why an identifier is refused, or None."""
    n = _normalize(name)
    if n.startswith("__") or name.startswith("__"):
        return f"the name '{n}' (names starting with '__' are not allowed)"
    if n in _RESERVED_NAMES:
        return f"the name '{n}' (reserved for the interpreter)"
    return None


def _check_static(tree: ast.AST, limits: Limits):
    """Refuse, before anything runs, every construct outside the allowlist."""
    parents = {}
    count = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        line = getattr(node, "lineno", None)
        if count > limits.max_ast_nodes:
            raise InterpreterError(f"the program is too long (more than {limits.max_ast_nodes} "
                                   "syntax nodes)", lineno=line, construct="program size",
                                   kind="limit")
        if depth > limits.max_ast_depth:
            raise InterpreterError(f"the program is nested too deeply (more than "
                                   f"{limits.max_ast_depth} levels)", lineno=line,
                                   construct="nesting", kind="limit")
        t = type(node)
        if t not in _ALLOWED_NODES:
            what = _REFUSED.get(t.__name__, f"the construct '{t.__name__}'")
            raise InterpreterError(f"{what} is not allowed", lineno=line, construct=what,
                                   kind="refused")
        if t is ast.Name:
            why = _bad_name(node.id)
            if why:
                raise InterpreterError(f"{why}", lineno=line, construct=f"name '{node.id}'",
                                       kind="refused")
        elif t is ast.Attribute:
            attr = _normalize(node.attr)
            parent = parents.get(id(node))
            if attr.startswith("_") or node.attr.startswith("_"):
                raise InterpreterError(
                    f"attribute '.{attr}' is not allowed (no attribute access besides the "
                    "methods of str/list/dict/tuple values)", lineno=line,
                    construct=f"attribute '.{attr}'", kind="refused")
            if attr not in _ALL_METHODS:
                raise InterpreterError(
                    f"attribute '.{attr}' is not allowed; the only attributes are methods of "
                    "str, list, dict and tuple values, called directly (like .upper(), "
                    ".split(), .append(), .items())", lineno=line,
                    construct=f"attribute '.{attr}'", kind="refused")
            if not (type(parent) is ast.Call and parent.func is node):
                raise InterpreterError(
                    f"method '.{attr}' must be called directly (methods cannot be used as "
                    "values)", lineno=line, construct=f"attribute '.{attr}'", kind="refused")
            if type(node.ctx) is not ast.Load:
                raise InterpreterError(f"assigning to attribute '.{attr}' is not allowed",
                                       lineno=line, construct=f"attribute '.{attr}'",
                                       kind="refused")
        elif t is ast.Call:
            if type(node.func) not in (ast.Name, ast.Attribute):
                raise InterpreterError(
                    "only tools, allowed builtins and methods can be called by name "
                    "(e.g. `tool(x)`, `len(x)`, `text.upper()`)", lineno=line,
                    construct="call of an expression", kind="refused")
            for a in node.args:
                if type(a) is ast.Starred:
                    raise InterpreterError("`*args` in calls is not allowed", lineno=line,
                                           construct="*args", kind="refused")
            for k in node.keywords:
                if k.arg is None:
                    raise InterpreterError("`**kwargs` in calls is not allowed", lineno=line,
                                           construct="**kwargs", kind="refused")
                why = _bad_name(k.arg)
                if why:
                    raise InterpreterError(f"keyword argument {why}", lineno=line,
                                           construct=f"keyword '{k.arg}'", kind="refused")
        elif t is ast.Constant:
            v = node.value
            if type(v) not in _SCALAR_TYPES:
                raise InterpreterError(f"constants of type {type(v).__name__} are not allowed",
                                       lineno=line, construct=f"constant {type(v).__name__}",
                                       kind="refused")
            if type(v) is int and v.bit_length() > limits.max_int_bits:
                raise InterpreterError("integer literal too large", lineno=line,
                                       construct="integer literal", kind="limit")
        elif t is ast.Starred:
            parent = parents.get(id(node))
            if type(parent) not in (ast.List, ast.Tuple):
                raise InterpreterError("`*` unpacking is only allowed in list/tuple displays "
                                       "and assignment targets", lineno=line,
                                       construct="*unpacking", kind="refused")
        elif t is ast.FormattedValue and node.conversion not in (-1, 115, 114, 97):
            raise InterpreterError("unknown f-string conversion", lineno=line,
                                   construct="f-string", kind="refused")
        children = list(ast.iter_child_nodes(node))
        for child in children:
            parents[id(child)] = node
        stack.extend((child, depth + 1) for child in reversed(children))  # source order


# ----------------------------------------------------------------------------- control flow

class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Refusal(Exception):
    """Raised inside helpers; turned into InterpreterError with the current line."""

    def __init__(self, message, construct=None, kind="error"):
        super().__init__(message)
        self.message = message
        self.construct = construct
        self.kind = kind


def _refuse(message, construct=None, kind="refused"):
    raise _Refusal(message, construct, kind)


def _limit(message, construct=None):
    raise _Refusal(message, construct, "limit")


def _fail(message, construct=None):
    raise _Refusal(message, construct, "error")


_SPEC_RE = re.compile(
    r"^(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?z?#?0?(?P<width>\d+)?[,_]?"
    r"(?:\.(?P<prec>\d+))?(?P<type>[bcdeEfFgGnosxX%])?$", re.DOTALL)


class _Evaluator:
    def __init__(self, tools, state, limits: Limits):
        self.tools = tools
        self.state = state
        self.limits = limits
        self.ops = 0
        self.iterations = 0
        self.alloc = 0
        self.tool_seconds = 0.0
        self.start = time.monotonic()
        self.line = None
        self.builtins = {name: getattr(self, f"_b_{name}") for name in SAFE_BUILTINS}
        self.printed = state.get(PRINT_OUTPUTS, "")
        if not isinstance(self.printed, str):
            self.printed = ""

    # ----------------------------------------------------------------- accounting
    def tick(self):
        self.ops += 1
        if self.ops > self.limits.max_operations:
            _limit(f"the program ran more than {self.limits.max_operations} operations",
                   "operations")
        if time.monotonic() - self.start - self.tool_seconds > self.limits.max_seconds:
            _limit(f"the program ran longer than {self.limits.max_seconds:g} seconds",
                   "time")

    def iterate(self):
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            _limit(f"the program ran more than {self.limits.max_iterations} loop iterations "
                   "(an endless loop?)", "loop")
        self.tick()

    def charge(self, units, what):
        self.alloc += units
        if self.alloc > self.limits.max_alloc:
            _limit(f"the program created too much data in total (over {self.limits.max_alloc} "
                   f"units) when building {what}", what)

    def refund(self, value):
        """Give back the size of a value the program dropped (so ``s += x`` in a loop is
        charged for the text it keeps, not for every copy)."""
        t = type(value)
        if t in (str, bytes):
            self.alloc = max(0, self.alloc - len(value))
        elif t in (list, tuple, dict):
            self.alloc = max(0, self.alloc - _ITEM * len(value))

    def check_str_len(self, n, what="a string"):
        if n > self.limits.max_str_len:
            _limit(f"{what} would have {n} characters (the limit is "
                   f"{self.limits.max_str_len})", what)
        self.charge(n, what)

    def check_container_len(self, n, what="a list"):
        if n > self.limits.max_container_len:
            _limit(f"{what} would have {n} items (the limit is "
                   f"{self.limits.max_container_len})", what)
        self.charge(_ITEM * n, what)

    def check_int_bits(self, bits, what="an integer"):
        if bits > self.limits.max_int_bits:
            _limit(f"{what} would have about {bits} bits (the limit is "
                   f"{self.limits.max_int_bits})", what)

    # --------------------------------------------------------------- value walks
    def measure(self, value, what, *, chars=False):
        """Bounded iterative walk over a value before C code walks it recursively.

        Counts every occurrence of shared sub-values, refuses cycles and deep nesting, and
        returns an upper estimate of its text length when ``chars``.
        """
        t = type(value)
        if t in _SCALAR_TYPES or t is Opaque:
            if chars:
                return _scalar_chars(value)
            return 1
        budget = self.limits.max_walk
        max_depth = self.limits.max_value_depth
        max_chars = self.limits.max_str_len
        nodes = 0
        total = 0
        stack = [(value, 0, None)]
        path = []  # ids of containers on the current path (cycle detection)
        on_path = set()
        while stack:
            v, depth, exit_id = stack.pop()
            if exit_id is not None:
                on_path.discard(exit_id)
                continue
            nodes += 1
            if nodes > budget:
                _limit(f"{what}: the value is too large to process (more than {budget} items "
                       "counting repeats)", what)
            vt = type(v)
            if vt in (list, tuple, dict, set, frozenset):
                if depth >= max_depth:
                    _limit(f"{what}: the value is nested more than {max_depth} levels deep",
                           what)
                if id(v) in on_path:
                    _refuse(f"{what}: the value contains itself", what)
                on_path.add(id(v))
                stack.append((None, 0, id(v)))
                parts = (v.keys(), v.values()) if vt is dict else (v,)
                total += 2 + (4 if vt is dict else 2) * len(v)
                for part in parts:
                    kinds = set(map(type, part))  # C speed: all-scalar parts are counted in bulk
                    if kinds <= _SCALAR_TYPES:
                        nodes += len(part)
                        if chars:
                            total += _bulk_chars(part, kinds)
                    else:
                        stack.extend((x, depth + 1, None) for x in part)
            elif vt is range:
                total += 30
            elif chars:
                total += _scalar_chars(v)
            if chars and total > max_chars:
                _limit(f"{what}: the text would have more than {max_chars} characters", what)
        del path
        return total if chars else nodes

    def guard_hash(self, key, what="a dict key"):
        t = type(key)
        if t in (tuple, frozenset):
            self.measure(key, what)
        elif t not in _SCALAR_TYPES and _base_type(key) is not str:
            _fail(f"{what} must be a str, number, bool, None or tuple, not {_tname(key)}", what)

    def guard_compare(self, *values, what="a comparison"):
        for v in values:
            if type(v) in (list, tuple, dict, set, frozenset):
                self.measure(v, what)

    # ----------------------------------------------------------- conversions
    def to_str(self, value, conversion="s"):
        AgentType = _agent_types()
        t = type(value)
        if conversion == "s" and t is str:
            return value
        if conversion == "s" and isinstance(value, AgentType):
            out = value.to_string()
            return out if type(out) is str else str.__str__(out)
        if t is int:
            self.check_int_bits(value.bit_length(), "the text of an integer")
        self.measure(value, "converting a value to text", chars=True)
        if conversion == "s":
            out = str(value)
        elif conversion == "r":
            out = repr(value)
        else:
            out = ascii(value)
        self.check_str_len(len(out), "the text of a value")
        return out

    def format_value(self, value, spec):
        if spec == "":
            return self.to_str(value)
        m = _SPEC_RE.match(spec)
        if not m:
            _refuse(f"the format spec {spec!r} is not allowed (use simple specs like '>10', "
                    "'.2f', ',d')", "format spec")
        for group in ("width", "prec"):
            n = m.group(group)
            if n is not None and (len(n) > 6 or int(n) > self.limits.max_format_width):
                _limit(f"the format spec {spec!r} asks for a {group} over "
                       f"{self.limits.max_format_width}", "format spec")
        t = type(value)
        AgentText = _agent_text()
        if t is AgentText:
            value, t = str.__str__(value), str
        if t not in (str, int, float, bool, type(None)):
            _refuse(f"format specs only apply to str and numbers, not {_tname(value)}",
                    "format spec")
        if t is int:
            self.check_int_bits(value.bit_length(), "the text of an integer")
        if t is str:
            self.check_str_len(len(value) + self.limits.max_format_width, "a formatted text")
        out = format(value, spec)
        self.check_str_len(len(out), "a formatted text")
        return out

    def safe_format(self, template, args, kwargs):
        """``str.format`` without attribute/index lookups or nested fields."""
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as e:
            _fail(f"bad format string: {e}", "str.format")
        parts = []
        total = 0
        auto = 0
        manual = False
        for literal, field, spec, conv in parsed:
            parts.append(literal)
            total += len(literal)
            if field is None:
                continue
            if "." in field or "[" in field:
                _refuse(f"format fields with attribute or index access ({{{field}}}) are not "
                        "allowed", "str.format field")
            if spec and ("{" in spec or "}" in spec):
                _refuse("nested fields in format specs are not allowed in str.format",
                        "str.format spec")
            if conv not in (None, "s", "r", "a"):
                _refuse(f"unknown conversion !{conv}", "str.format")
            if field == "":
                if manual:
                    _fail("cannot switch from manual field numbering to automatic", "str.format")
                if auto >= len(args):
                    _fail(f"str.format needs more than {len(args)} positional arguments",
                          "str.format")
                value = args[auto]
                auto += 1
            elif field.isdigit():
                manual = True
                i = int(field)
                if i >= len(args):
                    _fail(f"str.format has no positional argument {i}", "str.format")
                value = args[i]
            else:
                if field not in kwargs:
                    _fail(f"str.format has no keyword argument '{field}'", "str.format")
                value = kwargs[field]
            if conv is not None:
                value = self.to_str(value, conv)
            piece = self.format_value(value, spec or "")
            total += len(piece)
            self.check_str_len(total, "a formatted text")
            parts.append(piece)
            self.tick()
        return "".join(parts)

    # ----------------------------------------------------------------- running
    def run(self, tree):
        self.last_value = None
        for stmt in tree.body:
            self.exec_stmt(stmt)
        return self.last_value

    def exec_block(self, body):
        for stmt in body:
            self.exec_stmt(stmt)

    def exec_stmt(self, node):
        """Run one statement; simple statements set ``last_value`` (what evaluate returns)."""
        self.line = node.lineno
        self.tick()
        t = type(node)
        if t is ast.Expr:
            self.last_value = None
            self.last_value = self.eval(node.value)
        elif t is ast.Assign:
            value = self.eval(node.value)
            self.last_value = None
            for target in node.targets:
                self.assign(target, value)
            self.last_value = value
        elif t is ast.AugAssign:
            self.last_value = None
            self.last_value = self.aug_assign(node)
        elif t is ast.AnnAssign:
            self.last_value = None
            if node.value is not None:
                value = self.eval(node.value)
                self.assign(node.target, value)
                self.last_value = value
        elif t is ast.If:
            if self.truth(self.eval(node.test)):
                self.exec_block(node.body)
            else:
                self.exec_block(node.orelse)
        elif t is ast.For:
            self.exec_for(node)
        elif t is ast.While:
            self.exec_while(node)
        elif t is ast.Pass:
            self.last_value = None
        elif t is ast.Break:
            self.last_value = None
            raise _Break()
        elif t is ast.Continue:
            self.last_value = None
            raise _Continue()
        elif t is ast.Delete:
            self.last_value = None
            for target in node.targets:
                self.delete(target)
        else:  # pragma: no cover - the static check refuses everything else
            _refuse(f"the statement {t.__name__} is not allowed", t.__name__)

    def exec_for(self, node):
        iterable = self.eval(node.iter)
        items = self.iter_of(iterable, "a for loop")
        broke = False
        for item in items:
            self.iterate()
            self.assign(node.target, item)
            try:
                self.exec_block(node.body)
            except _Break:
                broke = True
                break
            except _Continue:
                continue
        if not broke and node.orelse:
            self.exec_block(node.orelse)

    def exec_while(self, node):
        broke = False
        while True:
            self.line = node.lineno
            if not self.truth(self.eval(node.test)):
                break
            self.iterate()
            try:
                self.exec_block(node.body)
            except _Break:
                broke = True
                break
            except _Continue:
                continue
        if not broke and node.orelse:
            self.exec_block(node.orelse)

    def truth(self, value):
        if type(value) is Opaque:
            _refuse("an opaque value (an object returned by a tool) has no truth value",
                    "truth test")
        return bool(value)

    # ------------------------------------------------------------- assignment
    def check_target_name(self, name):
        if name in self.tools:
            _refuse(f"'{name}' is a tool; it cannot be assigned, deleted or used as a loop "
                    "variable", f"name '{name}'")
        if name in self.builtins:
            _refuse(f"'{name}' is a builtin; it cannot be assigned, deleted or used as a loop "
                    "variable", f"name '{name}'")

    def assign(self, target, value):
        t = type(target)
        if t is ast.Name:
            self.check_target_name(target.id)
            old = self.state.get(target.id)
            self.state[target.id] = value
            if old is not None and sys.getrefcount(old) <= 2:  # our local + the call's argument
                self.refund(old)  # the old value is freed now: give its size back
            del old
        elif t in (ast.Tuple, ast.List):
            self.unpack(target.elts, value)
        elif t is ast.Subscript:
            container = self.eval(target.value)
            key = self.eval(target.slice)
            self.set_item(container, key, value)
        elif t is ast.Starred:  # pragma: no cover - handled in unpack
            _refuse("a starred assignment target must be inside a tuple or list", "*target")
        else:
            _refuse(f"assigning to {t.__name__} is not allowed", t.__name__)

    def unpack(self, targets, value):
        if type(value) not in (list, tuple, str, bytes, range, dict) and \
                _base_type(value) is not str:
            _fail(f"cannot unpack {_tname(value)}", "unpacking")
        n = len(value)
        self.check_container_len(n, "unpacking")
        items = list(value)
        starred = [i for i, e in enumerate(targets) if type(e) is ast.Starred]
        if len(starred) > 1:
            _refuse("only one starred target is allowed", "*target")
        if not starred:
            if len(items) != len(targets):
                _fail(f"cannot unpack {len(items)} values into {len(targets)} targets",
                      "unpacking")
            for e, v in zip(targets, items):
                self.assign(e, v)
            return
        s = starred[0]
        after = len(targets) - s - 1
        if len(items) < len(targets) - 1:
            _fail(f"not enough values to unpack (expected at least {len(targets) - 1}, got "
                  f"{len(items)})", "unpacking")
        for e, v in zip(targets[:s], items[:s]):
            self.assign(e, v)
        self.assign(targets[s].value, items[s:len(items) - after])
        for e, v in zip(targets[s + 1:], items[len(items) - after:]):
            self.assign(e, v)

    def set_item(self, container, key, value):
        t = type(container)
        if t is list:
            if type(key) is slice:
                _refuse("slice assignment is not allowed; build a new list instead",
                        "slice assignment")
            if type(key) not in (int, bool):
                _fail(f"list indices must be integers, not {_tname(key)}", "subscript")
            container[key] = value
        elif t is dict:
            self.guard_hash(key)
            if key not in container:
                self.check_container_len(len(container) + 1, "a dict")
            container[key] = value
        else:
            _fail(f"{_tname(container)} does not support item assignment", "subscript")

    def delete(self, target):
        t = type(target)
        if t is ast.Name:
            self.check_target_name(target.id)
            if target.id not in self.state:
                _fail(f"name '{target.id}' is not defined", f"name '{target.id}'")
            del self.state[target.id]
        elif t is ast.Subscript:
            container = self.eval(target.value)
            key = self.eval(target.slice)
            if type(container) is list:
                if type(key) not in (int, bool, slice):
                    _fail("list indices must be integers or slices", "del")
                del container[key]
            elif type(container) is dict:
                self.guard_hash(key)
                del container[key]
            else:
                _fail(f"cannot delete items of {_tname(container)}", "del")
        else:
            _refuse(f"deleting {t.__name__} is not allowed", "del")

    def aug_assign(self, node):
        target = node.target
        if type(target) is ast.Name:
            self.check_target_name(target.id)
            current = self.load_name(target.id)
            value = self.binop(node.op, current, self.eval(node.value), inplace=True)
            self.state[target.id] = value
            if value is not current and sys.getrefcount(current) <= 2:  # local + argument
                self.refund(current)
            del current
            return value
        if type(target) is ast.Subscript:
            container = self.eval(target.value)
            key = self.eval(target.slice)
            current = self.get_item(container, key)
            value = self.binop(node.op, current, self.eval(node.value), inplace=True)
            self.set_item(container, key, value)
            return value
        _refuse("augmented assignment only works on names and subscripts", "augmented assignment")

    # ------------------------------------------------------------- expressions
    def eval(self, node):
        self.tick()
        t = type(node)
        if t is ast.Constant:
            v = node.value
            if type(v) in (str, bytes):
                self.charge(len(v), "a constant")
            return v
        if t is ast.Name:
            return self.load_name(node.id)
        if t is ast.BinOp:
            return self.binop(node.op, self.eval(node.left), self.eval(node.right))
        if t is ast.Call:
            return self.call(node)
        if t is ast.Compare:
            return self.compare(node)
        if t is ast.BoolOp:
            if type(node.op) is ast.And:
                value = True
                for v in node.values:
                    value = self.eval(v)
                    if not self.truth(value):
                        return value
                return value
            value = False
            for v in node.values:
                value = self.eval(v)
                if self.truth(value):
                    return value
            return value
        if t is ast.UnaryOp:
            return self.unaryop(node.op, self.eval(node.operand))
        if t is ast.Subscript:
            return self.get_item(self.eval(node.value), self.eval(node.slice))
        if t is ast.Slice:
            parts = []
            for p in (node.lower, node.upper, node.step):
                v = None if p is None else self.eval(p)
                if v is not None and type(v) not in (int, bool):
                    _fail(f"slice indices must be integers or None, not {_tname(v)}", "slice")
                parts.append(v)
            return slice(*parts)
        if t is ast.IfExp:
            return self.eval(node.body) if self.truth(self.eval(node.test)) else \
                self.eval(node.orelse)
        if t in (ast.List, ast.Tuple):
            items = []
            for e in node.elts:
                if type(e) is ast.Starred:
                    v = self.eval(e.value)
                    seq = self.iter_of(v, "a * unpacking")
                    self.check_container_len(len(items) + len(seq), "a list")
                    items.extend(seq)
                else:
                    items.append(self.eval(e))
            self.check_container_len(len(items), "a list")
            return items if t is ast.List else tuple(items)
        if t is ast.Dict:
            out = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    other = self.eval(v)
                    if type(other) is not dict:
                        _fail(f"** in a dict display needs a dict, not {_tname(other)}", "**")
                    self.check_container_len(len(out) + len(other), "a dict")
                    out.update(other)
                    continue
                key = self.eval(k)
                value = self.eval(v)
                self.guard_hash(key)
                out[key] = value
            self.check_container_len(len(out), "a dict")
            return out
        if t is ast.JoinedStr:
            parts = []
            total = 0
            for v in node.values:
                piece = self.eval(v) if type(v) is ast.FormattedValue else v.value
                if type(v) is ast.Constant and type(piece) is not str:  # pragma: no cover
                    _refuse("bad f-string", "f-string")
                total += len(piece)
                self.check_str_len(total, "an f-string")
                parts.append(piece)
            return "".join(parts)
        if t is ast.FormattedValue:
            value = self.eval(node.value)
            if node.conversion != -1:
                value = self.to_str(value, chr(node.conversion))
            spec = "" if node.format_spec is None else self.eval(node.format_spec)
            return self.format_value(value, spec)
        if t in (ast.ListComp, ast.GeneratorExp):
            out = []
            self.comprehension(node.generators, lambda: out.append(self.eval(node.elt)), out)
            return out
        if t is ast.DictComp:
            out = {}

            def put():
                key = self.eval(node.key)
                value = self.eval(node.value)
                self.guard_hash(key)
                out[key] = value

            self.comprehension(node.generators, put, out)
            return out
        if t is ast.Attribute:  # only reachable as a call's func; the static check ensures it
            _refuse(f"attribute '.{node.attr}' is not allowed", f"attribute '.{node.attr}'")
        if t is ast.Starred:
            _refuse("`*` unpacking is not allowed here", "*unpacking")
        _refuse(f"the construct {t.__name__} is not allowed", t.__name__)

    def comprehension(self, generators, emit, out):
        # comprehension variables are local: save and restore the names they bind
        bound = set()
        for g in generators:
            for n in ast.walk(g.target):
                if type(n) is ast.Name:
                    self.check_target_name(n.id)
                    bound.add(n.id)
        saved = {name: self.state[name] for name in bound if name in self.state}
        try:
            self._comp(generators, 0, emit, out)
        finally:
            for name in bound:
                self.state.pop(name, None)
            self.state.update(saved)

    def _comp(self, generators, i, emit, out):
        g = generators[i]
        for item in self.iter_of(self.eval(g.iter), "a comprehension"):
            self.iterate()
            self.assign(g.target, item)
            if all(self.truth(self.eval(c)) for c in g.ifs):
                if i + 1 == len(generators):
                    emit()
                    if len(out) > self.limits.max_container_len:
                        _limit("a comprehension built more than "
                               f"{self.limits.max_container_len} items", "comprehension")
                    self.charge(_ITEM, "a comprehension")
                else:
                    self._comp(generators, i + 1, emit, out)

    def load_name(self, name):
        if name in self.state:
            return self.state[name]
        if name in self.tools:
            _refuse(f"the tool '{name}' can only be called (e.g. `{name}(...)`), not used as a "
                    "value", f"tool '{name}'")
        if name in self.builtins:
            _refuse(f"the builtin '{name}' can only be called, not used as a value",
                    f"builtin '{name}'")
        raise _Refusal(f"name '{name}' is not defined", f"name '{name}'", "unknown_name")

    def iter_of(self, value, what):
        """The items of an iterable plain value, as a list (length checked first)."""
        t = _base_type(value)
        if t not in _ITERABLE_TYPES:
            _fail(f"{what} needs a str, list, tuple, dict or range, not {_tname(value)}", what)
        if t is range:
            try:
                n = len(value)
            except OverflowError:
                _limit(f"{what}: the range is too long", what)
            if n > self.limits.max_iterations:
                _limit(f"{what}: the range has {n} items, more than the "
                       f"{self.limits.max_iterations} loop iterations allowed", what)
            return value
        if t in (list, dict):
            return value  # live, like Python (mutation during iteration is bounded)
        if t in (str, bytes) and len(value) > self.limits.max_iterations:
            _limit(f"{what}: iterating over a text of {len(value)} characters exceeds the "
                   f"{self.limits.max_iterations} loop iterations allowed", what)
        return value

    def sized_list(self, value, what):
        """``list(value)`` for a plain iterable, refusing before it gets too long."""
        t = _base_type(value)
        if t not in _ITERABLE_TYPES:
            _fail(f"{what} needs a str, list, tuple, dict or range, not {_tname(value)}", what)
        try:
            n = len(value)
        except OverflowError:
            _limit(f"{what}: the range is too long", what)
        self.check_container_len(n, what)
        return list(value)

    # ------------------------------------------------------------- operators
    def binop(self, op, a, b, inplace=False):
        t = type(op)
        sym = _OP_SYMBOL.get(t, t.__name__)
        ta, tb = _base_type(a), _base_type(b)
        if ta is None or tb is None or ta in (range, set, frozenset) or \
                tb in (range, set, frozenset):
            _fail(f"unsupported operand types for {sym}: {_tname(a)} and {_tname(b)}", sym)
        try:
            if t is ast.Add:
                if _is_number(a) and _is_number(b):
                    if type(a) is int and type(b) is int:
                        self.check_int_bits(max(a.bit_length(), b.bit_length()) + 1)
                    return a + b
                if ta is tb and ta in (str, bytes):
                    self.check_str_len(len(a) + len(b))
                    return _plain_str(a) + _plain_str(b) if ta is str else a + b
                if ta is tb and ta in (list, tuple):
                    self.check_container_len(len(a) + len(b))
                    if inplace and ta is list:
                        a.extend(b)
                        return a
                    return a + b
                _fail(f"unsupported operand types for +: {_tname(a)} and {_tname(b)}", "+")
            if t is ast.Mult:
                if _is_number(a) and _is_number(b):
                    if type(a) in (int, bool) and type(b) in (int, bool):
                        self.check_int_bits(int(a).bit_length() + int(b).bit_length())
                    return a * b
                seq, n = (a, b) if type(b) in (int, bool) else (b, a)
                if type(n) in (int, bool) and _base_type(seq) in (str, bytes, list, tuple):
                    size = len(seq) * max(int(n), 0)
                    if _base_type(seq) in (str, bytes):
                        self.check_str_len(size, "a repeated text")
                        return (_plain_str(seq) if _base_type(seq) is str else seq) * n
                    self.check_container_len(size, "a repeated list")
                    return seq * n
                _fail(f"unsupported operand types for *: {_tname(a)} and {_tname(b)}", "*")
            if not (_is_number(a) and _is_number(b)):
                if t is ast.Mod and ta in (str, bytes):
                    _refuse("%-formatting of strings is not allowed; use an f-string",
                            "% formatting")
                _fail(f"unsupported operand types for {sym}: {_tname(a)} and {_tname(b)}", sym)
            if t is ast.Sub:
                if type(a) is int and type(b) is int:
                    self.check_int_bits(max(a.bit_length(), b.bit_length()) + 1)
                return a - b
            if t is ast.Div:
                return a / b
            if t is ast.FloorDiv:
                return a // b
            if t is ast.Mod:
                return a % b
            if t is ast.Pow:
                if type(a) in (int, bool) and type(b) in (int, bool):
                    base, exp = int(a), int(b)
                    if exp >= 0 and abs(base) > 1:
                        self.check_int_bits(exp * base.bit_length(), "the result of **")
                    return base ** exp
                if type(a) is int:
                    self.check_int_bits(a.bit_length())
                result = a ** b
                if type(result) is complex:
                    _fail("the result of ** is a complex number (negative base, fractional "
                          "exponent)", "**")
                return result
            if t in (ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor):
                if type(a) not in (int, bool) or type(b) not in (int, bool):
                    _fail(f"unsupported operand types for {sym}: {_tname(a)} and {_tname(b)}",
                          sym)
                if t is ast.LShift:
                    if b > self.limits.max_int_bits:
                        _limit("the result of << is too large", "<<")
                    self.check_int_bits(int(a).bit_length() + max(int(b), 0), "the result of <<")
                    return a << b
                if t is ast.RShift:
                    return a >> b
                if t is ast.BitAnd:
                    return a & b
                if t is ast.BitOr:
                    return a | b
                return a ^ b
        except _Refusal:
            raise
        except (ArithmeticError, ValueError, TypeError) as e:
            _fail(f"{type(e).__name__} in {sym}: {e}", sym)
        _refuse(f"the operator {sym} is not allowed", sym)

    def unaryop(self, op, v):
        t = type(op)
        if t is ast.Not:
            return not self.truth(v)
        if not _is_number(v):
            _fail(f"bad operand type for unary operator: {_tname(v)}", "unary operator")
        if t is ast.USub:
            return -v
        if t is ast.UAdd:
            return +v
        if type(v) not in (int, bool):
            _fail(f"bad operand type for ~: {_tname(v)}", "~")
        return ~v

    def compare(self, node):
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node)
            t = type(op)
            if t in (ast.Is, ast.IsNot):
                ok = (left is right) if t is ast.Is else (left is not right)
            else:
                for v in (left, right):
                    if _base_type(v) is None and not isinstance(v, _agent_types()):
                        _fail(f"cannot compare {_tname(v)} values", "comparison")
                if t in (ast.In, ast.NotIn):
                    if _base_type(right) not in _ITERABLE_TYPES:
                        _fail(f"'in' needs a str, list, tuple, dict or range on the right, not "
                              f"{_tname(right)}", "in")
                    if type(right) in (dict, set, frozenset):
                        self.guard_hash(left, "an 'in' test")
                    self.guard_compare(left, right, what="an 'in' test")
                else:
                    self.guard_compare(left, right)
                try:
                    if t is ast.Eq:
                        ok = left == right
                    elif t is ast.NotEq:
                        ok = left != right
                    elif t is ast.Lt:
                        ok = left < right
                    elif t is ast.LtE:
                        ok = left <= right
                    elif t is ast.Gt:
                        ok = left > right
                    elif t is ast.GtE:
                        ok = left >= right
                    elif t is ast.In:
                        ok = left in right
                    else:
                        ok = left not in right
                except (TypeError, ValueError, RecursionError) as e:
                    _fail(f"{type(e).__name__} in comparison: {e}", "comparison")
                if type(ok) is not bool:  # pragma: no cover - plain values compare to bools
                    _fail("a comparison returned a non-bool", "comparison")
            if not ok:
                return False
            left = right
        return True

    def get_item(self, container, key):
        t = _base_type(container)
        if t is None or t in (set, frozenset):
            _fail(f"{_tname(container)} is not subscriptable", "subscript")
        try:
            if t is dict:
                self.guard_hash(key)
                if key not in container:
                    _fail(f"KeyError: {self.to_str(key, 'r')[:200]}", "subscript")
                return container[key]
            if type(key) is slice:
                result = (_plain_str(container) if t is str else container)[key]
                if type(result) in (str, bytes):
                    self.charge(len(result), "a slice")
                elif type(result) in (list, tuple):
                    self.charge(_ITEM * len(result), "a slice")
                return result
            if type(key) not in (int, bool):
                _fail(f"indices must be integers or slices, not {_tname(key)}", "subscript")
            value = container[key]
            return value
        except _Refusal:
            raise
        except (IndexError, KeyError, TypeError, ValueError, OverflowError) as e:
            _fail(f"{type(e).__name__}: {e}", "subscript")

    # ------------------------------------------------------------------ calls
    def call(self, node):
        func = node.func
        if type(func) is ast.Attribute:
            obj = self.eval(func.value)
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
            return self.call_method(obj, func.attr, args, kwargs)
        name = func.id
        if name in self.builtins:
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
            return self.call_builtin(name, args, kwargs)
        if name in self.tools:
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
            return self.call_tool(name, args, kwargs)
        if name in self.state:
            _fail(f"'{name}' is a variable ({_tname(self.state[name])}), not a tool; it cannot "
                  "be called", f"call of '{name}'")
        available = ", ".join(sorted(self.tools)) or "none"
        raise _Refusal(f"'{name}' is not a tool or an allowed function (tools: {available}; "
                       f"builtins: {', '.join(SAFE_BUILTINS)})", f"call of '{name}'",
                       "unknown_name")

    def call_builtin(self, name, args, kwargs):
        try:
            return self.builtins[name](*args, **kwargs)
        except _Refusal:
            raise
        except TypeError as e:
            msg = re.sub(r"(_Evaluator\.)?_b_", "", str(e))
            _fail(f"TypeError in {name}(): {msg}", f"{name}()")

    def call_tool(self, name, args, kwargs):
        tool = self.tools[name]
        args = [_unwrap_deep(a) for a in args]
        kwargs = {k: _unwrap_deep(v) for k, v in kwargs.items()}
        started = time.monotonic()
        try:
            result = tool(*args, **kwargs)
        except (Exception, SystemExit) as e:  # a tool's failure becomes the program's error
            msg = str(e).strip().splitlines()[0][:500] if str(e).strip() else ""
            raise _Refusal(f"the tool '{name}' raised {type(e).__name__}"
                           f"{': ' + msg if msg else ''}", f"tool '{name}'", "tool_error") from e
        finally:
            self.tool_seconds += time.monotonic() - started
        output_type = getattr(tool, "output_type", None)
        return sanitize(result, output_type=output_type, limits=self.limits)

    def call_method(self, obj, name, args, kwargs):
        base = _base_type(obj)
        allowed = SAFE_METHODS.get(base, ())
        if name not in allowed:
            if base is None:
                _refuse(f"method '.{name}()' cannot be called on {_tname(obj)} (methods are "
                        "only allowed on str, list, dict and tuple values)",
                        f"attribute '.{name}'")
            _refuse(f"'{base.__name__}' values have no allowed method '.{name}()' (allowed: "
                    f"{', '.join(allowed) or 'none'})", f"attribute '.{name}'")
        check = getattr(self, f"_m_{base.__name__}_{name}", None)
        if base is str:
            obj = _plain_str(obj)
        try:
            if check is not None:
                out = check(obj, *args, **kwargs)
                if out is not _CALL:
                    return out
            method = getattr(base, name)  # looked up on the base type, never on the value
            result = method(obj, *args, **kwargs)
        except _Refusal:
            raise
        except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as e:
            _fail(f"{type(e).__name__} in .{name}(): {e}", f".{name}()")
        if type(result) in (str, bytes):
            self.charge(len(result), f".{name}()")
        elif type(result) in (list, tuple, dict):
            self.charge(_ITEM * len(result), f".{name}()")
        if type(result) in (type({}.keys()), type({}.values()), type({}.items())):
            result = list(result)
        return result

    # ---- method checks: return _CALL to let the real method run, or the result
    def _m_str_join(self, s, iterable=None, *rest):
        if rest or iterable is None:
            _fail("str.join() takes exactly one argument", ".join()")
        items = self.sized_list(iterable, "str.join()")
        total = len(s) * max(len(items) - 1, 0)
        for x in items:
            if _base_type(x) is not str:
                _fail(f"str.join() needs str items, found {_tname(x)}", ".join()")
            total += len(x)
        self.check_str_len(total, "the result of str.join()")
        return s.join([_plain_str(x) for x in items])

    def _m_str_replace(self, s, old=None, new=None, count=-1):
        if _base_type(old) is not str or _base_type(new) is not str or \
                type(count) not in (int, bool):
            _fail("str.replace(old, new[, count]) needs two strings and an int", ".replace()")
        n = (len(s) + 1) if old == "" else s.count(old)
        if count >= 0:
            n = min(n, count)
        self.check_str_len(len(s) + n * (len(new) - len(old)), "the result of str.replace()")
        return _CALL

    def _pad_check(self, s, width=None, *rest, **kw):
        if type(width) not in (int, bool):
            _fail("the width must be an int", "padding")
        self.check_str_len(max(len(s), int(width)), "a padded text")
        return _CALL

    _m_str_center = _m_str_ljust = _m_str_rjust = _m_str_zfill = _pad_check

    def _case_check(self, s, *args, **kwargs):
        self.check_str_len(3 * len(s), "a case-converted text")
        return _CALL

    _m_str_upper = _m_str_lower = _m_str_casefold = _m_str_title = _m_str_capitalize = \
        _m_str_swapcase = _case_check

    def _split_check(self, s, sep=None, maxsplit=-1):
        if sep is not None and _base_type(sep) is not str:
            _fail("the separator must be a str", ".split()")
        if type(maxsplit) not in (int, bool):
            _fail("maxsplit must be an int", ".split()")
        if sep is None:
            n = (len(s) + 1) // 2 + 1
        elif sep == "":
            _fail("empty separator", ".split()")
        else:
            n = s.count(sep) + 1
        if maxsplit >= 0:
            n = min(n, maxsplit + 1)
        self.check_container_len(n, "the result of .split()")
        return _CALL

    _m_str_split = _m_str_rsplit = _split_check

    def _m_str_splitlines(self, s, *args, **kwargs):
        self.check_container_len(len(s) + 1, "the result of .splitlines()")
        return _CALL

    def _m_str_format(self, s, *args, **kwargs):
        return self.safe_format(s, args, kwargs)

    def _m_list_append(self, lst, *args):
        self.check_container_len(len(lst) + 1, "a list")
        return _CALL

    _m_list_insert = _m_list_append

    def _m_list_extend(self, lst, other=None, *rest):
        items = self.sized_list(other, "list.extend()")
        self.check_container_len(len(lst) + len(items), "a list")
        lst.extend(items)
        return None

    def _compare_all(self, lst, *args, **kwargs):
        self.guard_compare(lst, *args, what=f"a {_tname(lst)} search or sort")
        return _CALL

    _m_list_remove = _m_list_index = _m_list_count = _m_tuple_index = _m_tuple_count = \
        _compare_all

    def _m_list_sort(self, lst, *args, reverse=False, **kwargs):
        if args or kwargs:
            _refuse("list.sort() only takes reverse= (key functions are not available)",
                    ".sort()")
        self.guard_compare(lst, what="sorting")
        lst.sort(reverse=bool(reverse))
        return None

    def _m_list_copy(self, lst):
        self.check_container_len(len(lst), "a list copy")
        return _CALL

    def _key_check(self, d, *args, **kwargs):
        if args:
            self.guard_hash(args[0])
        return _CALL

    _m_dict_get = _m_dict_pop = _key_check

    def _m_dict_setdefault(self, d, key=None, *rest):
        self.guard_hash(key)
        if key not in d:
            self.check_container_len(len(d) + 1, "a dict")
        return _CALL

    def _m_dict_update(self, d, other=None, **kwargs):
        if other is not None:
            other = self._b_dict(other)
        else:
            other = {}
        self.check_container_len(len(d) + len(other) + len(kwargs), "a dict")
        d.update(other)
        d.update(kwargs)
        return None

    def _view_check(self, d):
        self.check_container_len(len(d), "a list of dict keys/values/items")
        return _CALL

    _m_dict_keys = _m_dict_values = _m_dict_items = _m_dict_copy = _view_check

    # --------------------------------------------------------------- builtins
    def _b_print(self, *args, sep=" ", end="\n"):
        for x, what in ((sep, "sep"), (end, "end")):
            if x is not None and _base_type(x) is not str:
                _fail(f"print()'s {what} must be a str", "print()")
        sep = " " if sep is None else _plain_str(sep)
        end = "\n" if end is None else _plain_str(end)
        parts = []
        total = len(self.printed)
        for a in args:
            s = self.to_str(a)
            total += len(s) + len(sep)
            if total > self.limits.max_print_chars:
                _limit(f"the program printed more than {self.limits.max_print_chars} "
                       "characters", "print()")
            parts.append(s)
        text = sep.join(parts) + end
        if len(self.printed) + len(text) > self.limits.max_print_chars:
            _limit(f"the program printed more than {self.limits.max_print_chars} characters",
                   "print()")
        self.printed += text
        self.state[PRINT_OUTPUTS] = self.printed
        return None

    def _b_len(self, x):
        if _base_type(x) not in _SIZED_TYPES:
            _fail(f"{_tname(x)} has no len()", "len()")
        try:
            return len(x)
        except OverflowError:
            _limit("the range is too long for len()", "len()")

    def _b_range(self, *args):
        if not 1 <= len(args) <= 3 or any(type(a) not in (int, bool) for a in args):
            _fail("range() takes 1 to 3 integers", "range()")
        if len(args) == 3 and args[2] == 0:
            _fail("range() step must not be zero", "range()")
        return range(*args)

    def _b_str(self, *args):
        if not args:
            return ""
        if len(args) > 1:
            _fail("str() takes one argument here", "str()")
        return self.to_str(args[0])

    def _b_int(self, x=0, base=None):
        t = _base_type(x)
        if base is not None:
            if t not in (str, bytes) or type(base) not in (int, bool):
                _fail("int(x, base) needs a str and an int base", "int()")
        if t in (str, bytes):
            if len(x) > 5000:
                _limit("int() of a text longer than 5000 characters", "int()")
            try:
                value = int(_plain_str(x) if t is str else x, 10 if base is None else base)
            except ValueError as e:
                _fail(f"ValueError in int(): {e}", "int()")
            return value
        if t in (int, bool):
            return int(x)
        if t is float:
            if math.isinf(x) or math.isnan(x):
                _fail(f"cannot convert {x} to an integer", "int()")
            return int(x)
        _fail(f"int() of {_tname(x)} is not possible", "int()")

    def _b_float(self, x=0.0):
        t = _base_type(x)
        if t in (int, bool):
            try:
                return float(x)
            except OverflowError:
                _fail("the integer is too large for a float", "float()")
        if t is float:
            return x
        if t is str:
            if len(x) > 1000:
                _limit("float() of a text longer than 1000 characters", "float()")
            try:
                return float(_plain_str(x))
            except ValueError as e:
                _fail(f"ValueError in float(): {e}", "float()")
        _fail(f"float() of {_tname(x)} is not possible", "float()")

    def _b_bool(self, x=False):
        return self.truth(x)

    def _b_list(self, x=()):
        return self.sized_list(x, "list()")

    def _b_tuple(self, x=()):
        return tuple(self.sized_list(x, "tuple()"))

    def _b_dict(self, x=None, **kwargs):
        out = {}
        if x is not None:
            if type(x) is dict:
                self.check_container_len(len(x), "dict()")
                out.update(x)
            else:
                for pair in self.sized_list(x, "dict()"):
                    if type(pair) not in (list, tuple) or len(pair) != 2:
                        _fail("dict() needs a dict or a list of (key, value) pairs", "dict()")
                    self.guard_hash(pair[0])
                    out[pair[0]] = pair[1]
        self.check_container_len(len(out) + len(kwargs), "dict()")
        out.update(kwargs)
        return out

    def _minmax(self, fn, args, default, what):
        if len(args) == 1:
            items = self.sized_list(args[0], what)
        elif len(args) == 0:
            _fail(f"{what} expected at least one argument", what)
        else:
            items = list(args)
        self.guard_compare(items, what=what)
        if not items:
            if default is _NO_DEFAULT:
                _fail(f"{what} of an empty sequence", what)
            return default
        try:
            return fn(items)
        except TypeError as e:
            _fail(f"TypeError in {what}: {e}", what)

    def _b_min(self, *args, default=None):
        return self._minmax(min, args, default if default is not None else _NO_DEFAULT, "min()")

    def _b_max(self, *args, default=None):
        return self._minmax(max, args, default if default is not None else _NO_DEFAULT, "max()")

    def _b_sum(self, iterable=(), start=0):
        items = self.sized_list(iterable, "sum()")
        total = start
        if not _is_number(start):
            _fail("sum() only adds numbers (use ''.join() for texts, + for lists)", "sum()")
        for x in items:
            if not _is_number(x):
                _fail(f"sum() only adds numbers, found {_tname(x)}", "sum()")
            total = self.binop(ast.Add(), total, x)
        return total

    def _b_sorted(self, iterable=(), reverse=False):
        items = self.sized_list(iterable, "sorted()")
        self.guard_compare(items, what="sorted()")
        try:
            items.sort(reverse=bool(reverse))
        except TypeError as e:
            _fail(f"TypeError in sorted(): {e}", "sorted()")
        return items

    def _b_enumerate(self, iterable=(), start=0):
        if type(start) not in (int, bool):
            _fail("enumerate() start must be an int", "enumerate()")
        items = self.sized_list(iterable, "enumerate()")
        self.check_container_len(len(items), "enumerate()")
        return [(start + i, x) for i, x in enumerate(items)]

    def _b_zip(self, *iterables):
        lists = [self.sized_list(it, "zip()") for it in iterables]
        n = min((len(x) for x in lists), default=0)
        self.check_container_len(n * max(len(lists), 1), "zip()")
        return [tuple(x[i] for x in lists) for i in range(n)]

    def _b_round(self, x=None, ndigits=None):
        if not _is_number(x):
            _fail(f"round() of {_tname(x)} is not possible", "round()")
        if ndigits is None:
            try:
                return round(x)
            except (OverflowError, ValueError) as e:
                _fail(f"{type(e).__name__} in round(): {e}", "round()")
        if type(ndigits) not in (int, bool) or abs(ndigits) > self.limits.max_round_digits:
            _limit("round()'s ndigits must be an int of at most "
                   f"{self.limits.max_round_digits}", "round()")
        return round(x, ndigits)

    def _b_abs(self, x=None):
        if not _is_number(x):
            _fail(f"abs() of {_tname(x)} is not possible", "abs()")
        return abs(x)

    def _b_any(self, iterable=()):
        return any(self.truth(x) for x in self.sized_list(iterable, "any()"))

    def _b_all(self, iterable=()):
        return all(self.truth(x) for x in self.sized_list(iterable, "all()"))

    def _b_reversed(self, iterable=()):
        items = self.sized_list(iterable, "reversed()")
        items.reverse()
        return items


_CALL = object()
_NO_DEFAULT = object()
_ITEM = 32  # units charged per container item: the slot plus, often, a fresh object


def _plain_str(s):
    return s if type(s) is str else str.__str__(s)


def _tname(value) -> str:
    if type(value) is Opaque:
        return f"an opaque {type(value._value).__name__} object"
    t = type(value)
    return {type(None): "None"}.get(t, t.__name__)


def _scalar_chars(v) -> int:
    t = type(v)
    if t is str or isinstance(v, str):
        return len(v) + 2
    if t is bytes:
        return 4 * len(v) + 3
    if t is int:
        return v.bit_length() // 3 + 3
    return 32


def _bulk_chars(items, kinds) -> int:
    if kinds == {str}:
        return sum(map(len, items)) + 2 * len(items)
    return sum(map(_scalar_chars, items))


def _unwrap(value):
    if type(value) is Opaque:
        return value._value
    return value


def _unwrap_deep(value, depth=0):
    """Tool arguments: Opaque handles replaced by their objects, also inside containers."""
    t = type(value)
    if t is Opaque:
        return value._value
    if t not in (list, tuple, dict) or depth > 20:
        return value
    if t is dict:
        if not any(type(v) is Opaque or type(v) in (list, tuple, dict) for v in value.values()):
            return value
        return {k: _unwrap_deep(v, depth + 1) for k, v in value.items()}
    if not any(type(v) is Opaque or type(v) in (list, tuple, dict) for v in value):
        return value
    items = [_unwrap_deep(v, depth + 1) for v in value]
    return items if t is list else tuple(items)


def _exact_agent_type(value):
    """Agent types from a tool, as tfhf's own classes (a subclass could override methods)."""
    from .agent_types import AgentAudio, AgentImage, AgentText

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
    from .agent_types import AgentType, wrap_output

    if output_type is not None and not isinstance(value, AgentType):
        value = wrap_output(value, output_type)
    budget = [limits.max_walk]
    return _sanitize(value, 0, budget, limits)


def _sanitize(value, depth, budget, limits):
    budget[0] -= 1
    if budget[0] < 0:
        raise _Refusal("a tool returned a value too large to use (over "
                       f"{limits.max_walk} items)", "tool output", "limit")
    if depth > limits.max_value_depth:
        raise _Refusal("a tool returned a value nested too deeply", "tool output", "limit")
    t = type(value)
    if t in _SCALAR_TYPES:
        return value
    AgentType = _agent_types()
    if isinstance(value, AgentType):
        return _exact_agent_type(value)
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
            return _sanitize(item, depth, budget, limits) if type(item) in _SCALAR_TYPES \
                else Opaque(value)
        if isinstance(value, np.ndarray):
            if value.size <= limits.max_container_len and value.dtype.kind in "biufUS":
                return _sanitize(value.tolist(), depth, budget, limits)
            return Opaque(value)
    if isinstance(value, (list, tuple)):
        items = [_sanitize(x, depth + 1, budget, limits) for x in list(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        out = {}
        for k, v in list(value.items()):
            k2 = _sanitize(k, depth + 1, budget, limits)
            if type(k2) not in _SCALAR_TYPES and type(k2) is not tuple:
                return Opaque(value)
            out[k2] = _sanitize(v, depth + 1, budget, limits)
        return out
    if isinstance(value, range):
        return range(value.start, value.stop, value.step)
    if isinstance(value, (set, frozenset)):
        items = [_sanitize(x, depth + 1, budget, limits) for x in list(value)]
        if all(type(x) in _SCALAR_TYPES for x in items):
            return frozenset(items)
        return items
    if type(value) is Opaque:
        return value
    return Opaque(value)


def _is_plain_deep(value, limits) -> bool:
    """Whether a value is already interpreter-safe (exact plain types all the way down)."""
    if _is_scalar(value) or type(value) is Opaque or isinstance(value, _agent_types()):
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
        if t in _SCALAR_TYPES or t is Opaque or t is range or isinstance(v, _agent_types()):
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


def _check_tools(tools):
    checked = {}
    for name, tool in dict(tools or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise InterpreterError(f"tool name {name!r} is not a Python identifier",
                                   construct="tools", kind="refused")
        if _normalize(name) != name or name.startswith("_"):
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


def evaluate(code: str, tools: dict | None = None, state: dict | None = None, *,
             limits: Limits | None = None):
    """Run ``code`` in the restricted interpreter and return the value of its last statement.

    Args:
        code: the program (Python syntax, a restricted subset; see the module docstring).
        tools: name -> callable (a :class:`~tfhf.agents.Tool` or any function) the program may
            call by name.
        state: the variables, updated in place with the program's assignments (so a chat
            carries them from one program to the next). Printed text accumulates in
            ``state["_print_outputs"]``; nothing is written to stdout. Values that are not
            plain data are wrapped in :class:`Opaque` (tools receive the object itself).
        limits: a :class:`Limits` (default: ``Limits()``).

    Raises:
        InterpreterError: the program breaks a rule, hits a limit, fails, or a tool raised.
    """
    limits = DEFAULT_LIMITS if limits is None else limits
    if state is None:
        state = {}
    if not isinstance(code, str):
        raise InterpreterError(f"the program must be a str, not {type(code).__name__}",
                               construct="program", kind="refused")
    if len(code) > limits.max_code_chars:
        raise InterpreterError(f"the program is longer than {limits.max_code_chars} characters",
                               construct="program size", kind="limit")
    tools = _check_tools(tools)
    for name in list(state):
        if name in tools or name in SAFE_BUILTINS:
            raise InterpreterError(f"the variable '{name}' would shadow a "
                                   f"{'tool' if name in tools else 'builtin'} of the same name",
                                   construct=f"name '{name}'", kind="refused")
        if name == PRINT_OUTPUTS:
            continue
        value = state[name]
        if not _is_plain_deep(value, limits):
            try:
                state[name] = _sanitize(value, 0, [limits.max_walk], limits)
            except _Refusal:
                state[name] = Opaque(value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings of LLM code are not ours to print
            tree = ast.parse(code, mode="exec")
    except SyntaxError as e:
        raise InterpreterError(f"syntax error: {e.msg}", lineno=e.lineno, construct="syntax",
                               kind="syntax") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as e:
        raise InterpreterError(f"the program cannot be parsed: {type(e).__name__}: {e}",
                               construct="syntax", kind="syntax") from None
    _check_static(tree, limits)
    ev = _Evaluator(tools, state, limits)
    state.setdefault(PRINT_OUTPUTS, ev.printed)
    try:
        result = ev.run(tree)
        if not _is_scalar(result) and type(result) is not Opaque:
            ev.measure(result, "the program's result")
    except _Refusal as r:
        cause = r.__cause__
        err = InterpreterError(r.message, lineno=ev.line, construct=r.construct, kind=r.kind)
        raise err from cause
    except (_Break, _Continue):
        raise InterpreterError("'break' or 'continue' outside a loop", lineno=ev.line,
                               construct="break/continue", kind="syntax") from None
    except RecursionError:
        raise InterpreterError("the program nests too deeply", lineno=ev.line,
                               construct="nesting", kind="limit") from None
    except MemoryError:
        raise InterpreterError("the program ran out of memory", lineno=ev.line,
                               construct="memory", kind="limit") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError,
            RuntimeError) as e:
        raise InterpreterError(f"{type(e).__name__}: {e}", lineno=ev.line,
                               construct="operation", kind="error") from None
    return _unwrap(result)
