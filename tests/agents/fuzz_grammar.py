"""Program generators for fuzzing tfhf.agents.evaluate (used by test_fuzz.py and
scripts/fuzz_interpreter.py).

Two sources of programs:

* ``programs()``: random programs from a small Python grammar whose names, attributes,
  methods, literals and statements mix the allowed with the forbidden (dunders, builtins,
  imports, huge numbers, look-alike letters...);
* ``mutants()``: the attack corpus and a few valid programs with random edits (characters
  inserted, deleted, replaced; lines duplicated);
* ``budget_programs()``: programs aimed at the budget: big ints, shared and cyclic
  structures handed to C code and to tools, and tool-call loops.

``check(code)`` runs one program with tight limits and fails on anything but a value or an
InterpreterError, or on a run much longer than the time limit.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

from hypothesis import strategies as st

NAMES = ["x", "y", "z", "i", "s", "l", "d", "text", "echo", "print", "len", "range", "str",
         "sorted", "open", "eval", "getattr", "__class__", "__import__", "__builtins__", "_",
         "_print_outputs", "ｘ", "𝐱", "ｅｃｈｏ", "__ｃｌａｓｓ__", "globals", "type", "zip", "sum",
         "dict", "list", "min", "max", "round", "abs", "enumerate", "int", "float", "bool"]
ATTRS = ["upper", "split", "join", "append", "items", "keys", "get", "format", "replace",
         "center", "zfill", "pop", "sort", "count", "index", "extend", "__class__", "__dict__",
         "__globals__", "gi_frame", "f_globals", "mro", "__subclasses__", "encode", "_x",
         "format_map", "__ｃｌａｓｓ__", "update", "setdefault", "copy", "strip", "splitlines"]
STRINGS = ["", "a", "abc", "{0.__class__}", "{}", "{:>99999999}", "{0[0]}", "%s", "\u00df",
           "x" * 50, "{!r}", "{:.3f}", "a,b,c", "\n", "{0}{1}", "ǅ"]
INTS = [0, 1, -1, 2, 3, 7, 10, 100, 10 ** 6, 10 ** 9, 2 ** 64, -(2 ** 31)]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "@"]
CMPOPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"]


SAFE_NAMES = ["x", "y", "z", "i", "s", "l", "d", "text", "len", "str", "sorted", "sum", "min",
              "max", "list", "dict", "echo", "abs", "round", "enumerate", "zip", "int", "range"]
SAFE_ATTRS = ["upper", "split", "join", "append", "items", "keys", "get", "format", "replace",
              "pop", "sort", "count", "index", "extend", "strip", "update", "copy", "center"]


def _expr(depth, names=NAMES, attrs=ATTRS, safe=False):
    leaf = st.one_of(
        st.sampled_from(names),
        st.sampled_from(INTS).map(repr),
        st.sampled_from(STRINGS).map(repr),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: f"float({str(f)!r})"),
        st.just("None"), st.just("True"), st.just("[]"), st.just("{}"), st.just("()"),
    )
    if depth <= 0:
        return leaf
    sub = st.deferred(lambda: _expr(depth - 1, names, attrs, safe))
    binops = [b for b in BINOPS if b != "@"] if safe else BINOPS
    unsafe = [] if safe else [
        st.tuples(sub, st.sampled_from(attrs)).map(lambda t: f"{t[0]}.{t[1]}"),
    ]
    return st.one_of(*unsafe,
        leaf,
        st.tuples(sub, st.sampled_from(binops), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, st.sampled_from(CMPOPS), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["not ", "-", "~", "+"]), sub).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(names), st.lists(sub, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(sub, st.sampled_from(attrs), st.lists(sub, max_size=2)).map(
            lambda t: f"({t[0]}).{t[1]}({', '.join(t[2])})"),
        st.tuples(sub, sub).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(sub, sub, sub).map(lambda t: f"{t[0]}[{t[1]}:{t[2]}]"),
        st.lists(sub, max_size=4).map(lambda xs: f"[{', '.join(xs)}]"),
        st.lists(sub, max_size=3).map(lambda xs: f"({', '.join(xs)},)"),
        st.lists(st.tuples(sub, sub), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.tuples(sub, st.sampled_from(["", "!r", "!s", "!a"]),
                  st.sampled_from(["", ":>5", ":.2f", ":,", ":x", ":>{y}", ":{x}"])).map(
            lambda t: f"f\"{{{t[0]}{t[1]}{t[2]}}}\""),
        st.tuples(sub, sub).map(lambda t: f"[{t[0]} for x in {t[1]}]"),
        st.tuples(sub, sub, sub).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(sub).map(lambda t: f"(y for y in {t[0]})"),
        st.tuples(sub, sub).map(lambda t: f"{{{t[0]}: v for v in {t[1]}}}"),
        st.tuples(sub).map(lambda t: f"[*{t[0]}]"),
    )


_VARS = ["x", "y", "z", "s", "l", "d", "i"]
_FORBIDDEN_STMTS = ["import os", "from os import path", "global x", "return 1",
                    "raise ValueError", "assert x", "yield 1"]


def _stmt(depth, safe=False):
    names, attrs = (SAFE_NAMES, SAFE_ATTRS) if safe else (NAMES, ATTRS)
    targets = _VARS if safe else NAMES
    e = _expr(2, names, attrs, safe)
    simple = st.one_of(
        e,
        st.tuples(st.sampled_from(targets), e).map(lambda t: f"{t[0]} = {t[1]}"),
        st.tuples(st.sampled_from(targets), st.sampled_from(BINOPS), e).map(
            lambda t: f"{t[0]} {t[1]}= {t[2]}"),
        st.tuples(st.sampled_from(targets), st.sampled_from(targets), e).map(
            lambda t: f"{t[0]}, {t[1]} = {t[2]}"),
        st.tuples(st.sampled_from(targets), e, e).map(lambda t: f"{t[0]}[{t[1]}] = {t[2]}"),
        st.sampled_from(["pass", "break", "continue", "del x", "x: int = 1", "del l[0]"]
                        + ([] if safe else _FORBIDDEN_STMTS)),
    )
    if depth <= 0:
        return simple
    body = st.lists(st.deferred(lambda: _stmt(depth - 1, safe)), min_size=1, max_size=3)

    def indent(lines):
        return "\n".join("    " + line for block in lines for line in block.split("\n"))

    return st.one_of(
        simple,
        st.tuples(e, body).map(lambda t: f"if {t[0]}:\n{indent(t[1])}"),
        st.tuples(e, body, body).map(
            lambda t: f"if {t[0]}:\n{indent(t[1])}\nelse:\n{indent(t[2])}"),
        st.tuples(st.sampled_from(targets), e, body).map(
            lambda t: f"for {t[0]} in {t[1]}:\n{indent(t[2])}"),
        st.tuples(e, body).map(lambda t: f"while {t[0]}:\n{indent(t[1])}"),
    ) if safe else st.one_of(
        simple,
        st.tuples(e, body).map(lambda t: f"if {t[0]}:\n{indent(t[1])}"),
        st.tuples(st.sampled_from(NAMES), e, body).map(
            lambda t: f"for {t[0]} in {t[1]}:\n{indent(t[2])}"),
        st.tuples(e, body).map(lambda t: f"while {t[0]}:\n{indent(t[1])}"),
        st.tuples(body).map(lambda t: f"def f():\n{indent(t[0])}"),
        st.tuples(body).map(lambda t: f"try:\n{indent(t[0])}\nexcept Exception:\n    pass"),
        st.tuples(body).map(lambda t: f"with open('x') as f:\n{indent(t[0])}"),
    )


def programs(safe=False):
    """Random programs; ``safe=True`` draws only allowed names, methods and statements (so
    most programs run deep into the interpreter instead of being refused up front)."""
    return st.lists(_stmt(2, safe), min_size=1, max_size=6).map("\n".join)


BIG_INT_USES = ["list(range(x, x + {n}))", "enumerate(range({n}), x)",
                "[x + i for i in range({n})]", "tuple(range(-x, -x + {n}))", "str(x) * {k}",
                "x ** {k}", "x * x", "[x] * {n}", "{{x + i: i for i in range({k})}}",
                "sorted([x - i for i in range({k})])", "f'{{x!r:>{k}}}'", "x << {bits}",
                "int(str(x) * {k})"]
INT_TEXTS = ['int("{d}" * {n}, {base})', 'int("0x" + "{d}" * {n}, 0)', 'int("9" * {n})']
SHARED_USES = ["str(a)", "f'{{a!r}}'", "a == a", "a < a", "len(a)", "sorted(a)", "max(a)",
               "echo(a)", "echo(x=a)", "{{str(a): 1}}", "a.count(a)", "a in a", "list(a)",
               "[a].index(a)", "dict(zip([1], [a]))", "print(a)", "echo([a, a])"]
TOOL_ARGS = ['"a" * {size}', '["a" * {size}] * {k}', "[x] * {k}", "a", "i", "str(i) * {k}",
             '("b" * {size},) * {k}', "list(range({k}))"]


def _big_int_programs():
    size = st.sampled_from([1, 7, 60, 61, 62, 64, 500, 3000, 9000, 9990, 9999, 10000, 10001])
    n = st.sampled_from([0, 1, 10, 1000, 10 ** 5, 10 ** 6, 10 ** 7])
    k = st.sampled_from([1, 2, 3, 100, 1000, 5000])
    use = st.tuples(st.sampled_from(BIG_INT_USES), n, k, size).map(
        lambda t: t[0].format(n=t[1], k=t[2], bits=t[3]))
    text = st.tuples(st.sampled_from(INT_TEXTS), st.sampled_from("0179afvz"),
                     st.sampled_from([1, 100, 2000, 2600, 3010, 4000, 5000, 6000]),
                     st.sampled_from([2, 8, 10, 16, 32, 36])).map(
        lambda t: t[0].format(d=t[1], n=t[2], base=t[3]))
    return st.one_of(
        st.tuples(size, st.integers(-3, 3), use).map(
            lambda t: f"x = (1 << {t[0]}) + {t[1]}\ny = {t[2]}"),
        text.map(lambda c: f"y = {c}"))


def _shared_programs():
    leaf = st.sampled_from(["0", "'a'", "'a' * 100000", "(1 << 9000)", "[]", "(1,)"])
    grow = st.sampled_from(["a = [a] * {w}", "a = [a, a]", "a = (a, a, a)", "a = [a, [a]]",
                            "a = {{'k': a, 'j': a}}", "a.append(a)", "a = [a]"])
    steps = st.lists(st.tuples(grow, st.sampled_from([2, 3, 10, 1000])).map(
        lambda t: t[0].format(w=t[1])), min_size=1, max_size=3)
    return st.tuples(leaf, steps, st.sampled_from([1, 5, 20, 40]),
                     st.lists(st.sampled_from(SHARED_USES), min_size=1, max_size=2)).map(
        lambda t: f"a = [{t[0]}]\nfor i in range({t[2]}):\n"
                  + "\n".join("    " + s for s in t[1]) + "\n" + "\n".join(t[3]))


def _tool_loop_programs():
    arg = st.tuples(st.sampled_from(TOOL_ARGS),
                    st.sampled_from([10, 1000, 10 ** 6, 5 * 10 ** 6]),
                    st.sampled_from([1, 10, 100, 1000])).map(
        lambda t: t[0].format(size=t[1], k=t[2]))
    loop = st.sampled_from(["for i in range({n}):", "while True:", "for i in range({n}):\n"
                            "    keep.append(i)"])
    return st.tuples(loop, st.sampled_from([10, 1000, 100000]), arg,
                     st.sampled_from(["", "keep.append(r)", "x = r"])).map(
        lambda t: "a = [1, 2]\nx = 'abc'\nkeep = []\n" + t[0].format(n=t[1])
                  + f"\n    r = echo({t[2]})" + (f"\n    {t[3]}" if t[3] else ""))


def budget_programs():
    """Programs aimed at the budget: big ints, shared and cyclic structures, tool-call loops."""
    return st.one_of(_big_int_programs(), _shared_programs(), _tool_loop_programs())


def seed_programs():
    here = Path(__file__).parent / "attacks"
    seeds = []
    for path in sorted(here.glob("*.txt")):
        for block in re.split(r"^### ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
            seeds.append(block.partition("\n")[2])
    seeds += [
        "x = [1, 2, 3]\ny = sum(x) * 2\nprint(f'{y:>5}')\n",
        "d = {'a': 1}\nfor k, v in d.items():\n    print(k, v)\n",
        "s = 'hello world'\nwords = s.split()\nout = ' '.join(w.upper() for w in words)\nout\n",
        "n = 0\nwhile n < 10:\n    n += 1\n    if n % 2:\n        continue\nprint(n)\n",
    ]
    return seeds


def _mutate(code, edits):
    chars = list(code)
    for kind, pos, char in edits:
        if not chars:
            chars = [char]
            continue
        p = pos % (len(chars) + 1)
        if kind == 0:
            chars.insert(p, char)
        elif kind == 1 and p < len(chars):
            del chars[p]
        elif kind == 2 and p < len(chars):
            chars[p] = char
        elif kind == 3:
            text = "".join(chars)
            lines = text.split("\n")
            i = pos % len(lines)
            lines.insert(i, lines[i])
            chars = list("\n".join(lines))
    return "".join(chars)


def mutants():
    edit = st.tuples(st.integers(0, 3), st.integers(0, 10_000),
                     st.sampled_from(list("()[]{}:.,_ \n'\"=+*-0159xyz#\\") + ["__", "ｘ"]))
    return st.tuples(st.sampled_from(seed_programs()), st.lists(edit, min_size=1, max_size=6)) \
        .map(lambda t: _mutate(t[0], t[1]))


def tools():
    def echo(x=None):
        return x

    return {"echo": echo}


def check(code, limits=None):
    """Run ``code``; only a value or an InterpreterError may come out, reasonably fast."""
    from tfhf.agents import Limits

    limits = limits or Limits(max_seconds=1.0, max_iterations=2_000, max_operations=50_000,
                              max_alloc=20_000_000)
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _evaluate(code, limits)
    elapsed = time.monotonic() - started
    assert elapsed < 4 * limits.max_seconds + 2, f"took {elapsed:.1f}s:\n{code}"


def _evaluate(code, limits):
    from tfhf.agents import InterpreterError, evaluate

    try:
        evaluate(code, tools(), {"text": "hello world", "l": [1, 2], "d": {"a": 1}, "x": 3,
                                 "y": "ab", "z": [1, 2, 3], "i": 0, "s": "a b"}, limits=limits)
    except InterpreterError:
        pass
