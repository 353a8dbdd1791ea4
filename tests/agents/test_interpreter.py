"""tfhf.agents.evaluate: what programs may do, what they may not, and the limits.

(The attack corpus lives in test_attacks.py, the fuzzing in test_fuzz.py.)
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from tfhf.agents import AgentText, InterpreterError, Limits, Opaque, evaluate
from tfhf.errors import TfhfError


def run(code, tools=None, state=None, **limits):
    return evaluate(code, tools or {}, state, limits=Limits(**limits) if limits else None)


def refused(code, tools=None, state=None, **limits):
    with pytest.raises(InterpreterError) as ei:
        run(code, tools, state, **limits)
    return ei.value


# ------------------------------------------------------------------- allowed Python


@pytest.mark.parametrize("code, expected", [
    ("1 + 2 * 3", 7),
    ("x = 5\ny = x // 2\nx % 2 + y ** 2", 5),
    ("a, b = 1, 2\na, b = b, a\n[a, b]", [2, 1]),
    ("first, *rest = [1, 2, 3]\nrest", [2, 3]),
    ("*init, last = 'abc'\n(init, last)", (["a", "b"], "c")),
    ("x = y = 3\nx + y", 6),
    ("n = 1\nn += 2\nn *= 3\nn -= 1\nn", 8),
    ("l = [1, 2, 3]\nl[1] = 20\nl[-1]", 3),
    ("d = {'a': 1}\nd['b'] = 2\nd['a'] += 5\nd", {"a": 6, "b": 2}),
    ("s = 'hello world'\ns[:5].upper() + s[5:]", "HELLO world"),
    ("'a-b-c'.split('-')[::-1]", ["c", "b", "a"]),
    ("x = 3\nif x > 5:\n    r = 'big'\nelif x > 2:\n    r = 'mid'\nelse:\n    r = 'small'\nr",
     "mid"),
    ("t = 0\nfor i in range(5):\n    if i == 3:\n        continue\n    t += i\nt", 7),
    ("i = 0\nwhile True:\n    i += 1\n    if i >= 4:\n        break\ni", 4),
    ("for i in []:\n    pass\nelse:\n    r = 'no break'\nr", "no break"),
    ("[x * x for x in range(4) if x % 2 == 0]", [0, 4]),
    ("{k: v for k, v in zip('ab', [1, 2])}", {"a": 1, "b": 2}),
    ("sum(x for x in range(5))", 10),
    ("[(i, j) for i in range(2) for j in range(2)]", [(0, 0), (0, 1), (1, 0), (1, 1)]),
    ("name = 'Ada'\nf'{name!r} has {len(name):>3} letters, {3.14159:.2f}'",
     "'Ada' has   3 letters, 3.14"),
    ("w = 6\nf'[{\"x\":>{w}}]'", "[     x]"),
    ("'{} and {name}'.format(1, name='two')", "1 and two"),
    ("'{0:>4}|{1!r}'.format('a', 'b')", "   a|'b'"),
    ("sorted([3, 1, 2], reverse=True)", [3, 2, 1]),
    ("min([4, 2, 8]), max(4, 9), abs(-3), round(2.567, 2)", (2, 9, 3, 2.57)),
    ("list(enumerate('ab', 1))", [(1, "a"), (2, "b")]),
    ("dict(a=1) if False else dict([('a', 1)], b=2)", {"a": 1, "b": 2}),
    ("int('42') + int(3.9) + int('ff', 16) + float('1.5')", 301.5),
    ("str(12) + str([1, 'a']) + str(None)", "12[1, 'a']None"),
    ("bool([]) or bool('x')", True),
    ("any([0, 1]) and not all([1, 0])", True),
    ("reversed([1, 2, 3])", [3, 2, 1]),
    ("tuple('ab') + (1,)", ("a", "b", 1)),
    ("x = None\nx is None and 1 is not None", True),
    ("2 in [1, 2] and 'b' in 'abc' and 'k' in {'k': 1} and 3 not in range(3)", True),
    ("1 < 2 <= 2 != 3", True),
    ("d = {'a': 1}\nsorted(d.items()) + list(d.keys()) + list(d.values())", [("a", 1), "a", 1]),
    ("d = {'a': 1}\nd.get('z', 0) + d.pop('a') + len(d)", 1),
    ("l = [3]\nl.append(1)\nl.extend([2])\nl.sort()\nl.insert(0, 9)\nl", [9, 1, 2, 3]),
    ("', '.join(['a', 'b'])", "a, b"),
    ("'abc'.replace('b', 'X').center(7, '*')", "**aXc**"),
    ("x: int = 4\nx", 4),
    ("del_me = 1\ndel del_me\n'ok'", "ok"),
    ("l = [1, 2, 3]\ndel l[0]\nl", [2, 3]),
    ("b'ab' + b'c'", b"abc"),
    ("-(2 ** -2) + ~5 + (7 >> 1) + (1 << 3) + (6 & 3) + (6 | 1) + (6 ^ 3)", -0.25 - 6 + 3 + 8
     + 2 + 7 + 5),
    ("1 if [] else 2", 2),
    ("(1, [2, {'a': (3,)}])", (1, [2, {"a": (3,)}])),
])
def test_allowed_python(code, expected):
    assert run(code) == expected


def test_state_is_updated_and_reused():
    state = {"text": "a b c"}
    assert run("words = text.split()\ncount = len(words)", state=state) == 3
    assert state["words"] == ["a", "b", "c"] and state["count"] == 3
    assert run("count * 2", state=state) == 6


def test_print_is_captured_not_written(capsys):
    state = {}
    assert run("print('a', 1, [2], sep='-', end='!')\nprint()\nprint(f'{3}')", state=state) \
        is None
    assert state["_print_outputs"] == "a-1-[2]!\n3\n"
    assert capsys.readouterr().out == ""
    run("print('more')", state=state)
    assert state["_print_outputs"].endswith("3\nmore\n")


def test_the_value_of_the_last_statement():
    assert run("x = 1\nx + 1") == 2
    assert run("x = [1]\nx.append(2)") is None
    assert run("for i in range(3):\n    y = i * 10") == 20
    assert run("pass") is None
    assert run("") is None


def test_comprehension_variables_stay_local():
    state = {"x": "outer"}
    run("y = [x for x in range(3)]", state=state)
    assert state["x"] == "outer" and state["y"] == [0, 1, 2]


def test_tools_are_called_with_args_and_kwargs():
    calls = []

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        return {"ok": True}

    assert run("r = record(1, 'two', three=[3])\nr['ok']", {"record": record}) is True
    assert calls == [((1, "two"), {"three": [3]})]


# ------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("code, construct, kind", [
    ("import os", "import", "refused"),
    ("from os import path", "import", "refused"),
    ("def f():\n    pass", "def (function definitions)", "refused"),
    ("f = lambda: 1", "lambda", "refused"),
    ("class A:\n    pass", "class definitions", "refused"),
    ("try:\n    x = 1\nexcept Exception:\n    pass", "try/except", "refused"),
    ("with x:\n    pass", "with", "refused"),
    ("global x", "global", "refused"),
    ("raise ValueError", "raise", "refused"),
    ("(y := 1)", "the walrus operator :=", "refused"),
    ("{1, 2}", "set displays", "refused"),
    ("x = 1j", "constant complex", "refused"),
    ("text.__class__", "attribute '.__class__'", "refused"),
    ("text.upper", "attribute '.upper'", "refused"),
    ("text.nonexistent()", "attribute '.nonexistent'", "refused"),
    ("__builtins__", "name '__builtins__'", "refused"),
    ("_print_outputs", "name '_print_outputs'", "refused"),
    ("f(*args)", "*args", "refused"),
    ("f(**kw)", "**kwargs", "refused"),
    ("(lambda: 0)()", "call of an expression", "refused"),
    ("[len][0]('x')", "call of an expression", "refused"),
    ("'%s' % 1", "% formatting", "refused"),
    ("open('x')", "call of 'open'", "unknown_name"),
    ("undefined + 1", "name 'undefined'", "unknown_name"),
])
def test_refused_constructs_name_line_and_construct(code, construct, kind):
    e = refused("x = 1\n" + code, state={"text": "t"})
    assert e.lineno == 2 and e.construct == construct and e.kind == kind
    assert str(e).startswith("line 2: ")
    assert isinstance(e, ValueError) and isinstance(e, TfhfError)


def test_nothing_runs_when_a_later_line_is_refused():
    state = {}
    calls = []
    with pytest.raises(InterpreterError, match="line 2: import"):
        run("record()\nimport os", {"record": lambda: calls.append(1)}, state)
    assert calls == [] and "_print_outputs" not in state


def test_names_are_checked_after_nfkc_normalization():
    # Python itself folds these letters, so they would spell dunders; the checks see it too
    e = refused("x = ().__ｃｌａｓｓ__")
    assert "'.__class__'" in str(e)
    e = refused("𝐞𝐯𝐚𝐥('1')")
    assert e.kind == "unknown_name" and "'eval'" in str(e)
    e = refused("ｐｒｉｎｔ = 1")
    assert "'print' is a builtin" in str(e)


def test_tools_and_builtins_cannot_be_rebound_or_used_as_values():
    tools = {"echo": lambda x: x}
    for code in ("echo = 1", "print = echo", "for len in [1]:\n    pass", "del echo",
                 "x = echo", "x = len", "echo(len)", "[echo for echo in [1]]",
                 "a, print = 1, 2"):
        e = refused(code, tools)
        assert e.kind == "refused", code


def test_state_variables_cannot_shadow_tools_or_builtins():
    with pytest.raises(InterpreterError, match="shadow a tool"):
        run("1", {"echo": lambda: 1}, {"echo": "x"})
    with pytest.raises(InterpreterError, match="shadow a builtin"):
        run("1", {}, {"print": lambda *a: None})


def test_bad_tool_names_are_refused():
    for name in ("print", "_hidden", "not-an-identifier", "class"):
        with pytest.raises(InterpreterError):
            run("1", {name: lambda: 1})


def test_format_fields_cannot_reach_attributes_or_items():
    for code in ("'{0.__class__}'.format(1)", "'{a[0]}'.format(a=[1])", "'{0:{1}}'.format(1, 2)",
                 "'{!x}'.format(1)"):
        assert refused(code).kind in ("refused", "error"), code


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize("code, words", [
    ("10 ** 10 ** 10", "bits"),
    ("x = 2\nfor i in range(40):\n    x = x * x", "bits"),
    ("1 << 100000", "too large"),
    ("'a' * 10 ** 10", "characters"),
    ("[0] * 10 ** 9", "items"),
    ("l = [0]\nfor i in range(40):\n    l = l + l", "items"),
    ("','.join(['x' * 1000] * 10000)", "characters"),
    ("('a' * 3000000).replace('a', 'bb')", "characters"),
    ("'x'.center(10 ** 8)", "characters"),
    ("int('1' * 6000)", "5000 characters"),
    ("f'{1:>100000}'", "width over 1000"),
    ("round(1, -10 ** 6)", "ndigits"),
    ("while True:\n    pass", "loop iterations"),
    ("for i in range(10 ** 9):\n    pass", "loop iterations"),
    ("l = []\nwhile True:\n    l.append('x' * 100000)", "too much data"),
    ("while True:\n    print('x' * 1000)", "printed more than"),
    ("t = ()\nfor i in range(200):\n    t = (t,)\n{t: 1}", "nested more than"),
    ("t = ()\nfor i in range(80):\n    t = (t, t)\nt == t", "too large"),
    ("l = []\nl.append(l)\nstr(l)", "contains itself"),
])
def test_limits_refuse_before_the_work(code, words):
    e = refused(code)
    assert words in str(e), str(e)
    assert e.kind in ("limit", "refused")


def test_time_and_operation_limits():
    e = refused("x = 0\nwhile x < 10 ** 9:\n    x += 1", max_seconds=0.2,
                max_iterations=10 ** 9)
    assert "longer than 0.2 seconds" in str(e) and e.kind == "limit"
    e = refused("x = 0\nfor i in range(1000):\n    x += i", max_operations=500)
    assert "more than 500 operations" in str(e)


def test_time_in_tools_is_not_counted():
    import time

    def slow():
        time.sleep(0.3)
        return 1

    assert run("slow() + slow()", {"slow": slow}, max_seconds=0.2) == 2


def test_deep_programs_are_refused_before_they_run():
    e = refused("x = " + "-" * 150 + "1")
    assert "nested too deeply" in str(e) and e.kind == "limit"
    e = refused("x = 1\n" * 40, max_ast_nodes=50)
    assert "too long" in str(e)
    e = refused("x = 1" + " " * 300, max_code_chars=100)
    assert "longer than 100 characters" in str(e)


def test_strings_built_in_a_loop_are_charged_for_what_they_keep():
    # the old value is dropped each time, so this stays far under the total-data limit
    assert run("s = ''\nfor i in range(3000):\n    s += 'abcdefghij'\nlen(s)") == 30000
    e = refused("s = ''\nl = []\nfor i in range(3000):\n    l.append(s)\n    s += 'x' * 1000",
                max_alloc=10_000_000)
    assert "too much data" in str(e)


# ------------------------------------------------------------------ errors, values


@pytest.mark.parametrize("code, words", [
    ("1 / 0", "ZeroDivisionError"),
    ("{}['k']", "KeyError: 'k'"),
    ("[][1]", "IndexError"),
    ("'a' + 1", "unsupported operand types for +: str and int"),
    ("len(5)", "int has no len()"),
    ("x = 1\nx()", "'x' is a variable (int), not a tool"),
    ("max([])", "empty sequence"),
    ("sorted([1, 'a'])", "TypeError"),
    ("int('x')", "ValueError"),
    ("a, b = [1, 2, 3]", "cannot unpack 3 values into 2 targets"),
    ("break", "outside a loop"),
    ("x = = 1", "syntax error"),
])
def test_program_errors_are_interpreter_errors(code, words):
    e = refused(code)
    assert words in str(e), str(e)


def test_a_raising_tool_becomes_a_tool_error_with_its_cause():
    def broken(x):
        raise KeyError("missing key")

    e = refused("y = 1\nbroken(y)", {"broken": broken})
    assert e.kind == "tool_error" and e.lineno == 2
    assert "the tool 'broken' raised KeyError" in str(e)
    assert isinstance(e.__cause__, KeyError)


def test_tool_outputs_are_plain_data_or_opaque():
    class MyStr(str):
        def upper(self):
            raise AssertionError("subclass methods must never run")

    def tool_a():
        return {"s": MyStr("x"), "n": np.float32(1.5), "arr": np.arange(3), "t": (np.int64(2),)}

    def tool_b():
        return types.SimpleNamespace(secret="s")

    state = {}
    out = run("a = tool_a()\nb = tool_b()\na['s'].upper()", {"tool_a": tool_a, "tool_b": tool_b},
              state)
    assert out == "X"
    a = state["a"]
    assert type(a["s"]) is str and type(a["n"]) is float and a["arr"] == [0, 1, 2]
    assert type(a["t"][0]) is int
    assert type(state["b"]) is Opaque
    e = refused("b.secret", state=state)
    assert e.kind == "refused"
    e = refused("b + 1", state=state)
    assert "opaque" in str(e)
    # tools get the object back, and the caller gets it as the result
    seen = []
    result = run("keep(b)\nb", {"keep": seen.append}, state)
    assert isinstance(result, types.SimpleNamespace) and result.secret == "s"
    assert seen[0] is result


def test_caller_variables_that_are_not_plain_data_are_wrapped():
    obj = types.SimpleNamespace(x=1)
    state = {"obj": obj, "items": [obj, 1], "fine": [1, "a"]}
    fine_id = id(state["fine"])
    assert run("obj", state=state) is obj               # the caller gets its object back
    assert type(state["obj"]) is Opaque and type(state["items"][0]) is Opaque
    assert id(state["fine"]) == fine_id                  # plain values are left alone
    assert refused("items[0].x", state=state).kind == "refused"


def test_agent_text_behaves_like_str():
    state = {"t": AgentText("Hello")}
    assert run("t.upper() + ' ' + t[1:]", state=state) == "HELLO ello"


def test_interpreter_error_without_state():
    with pytest.raises(InterpreterError, match="must be a str"):
        evaluate(b"1", {})


def test_agent_type_subclasses_from_tools_become_tfhf_types():
    from tfhf.agents import AgentImage

    class Sneaky(AgentText):
        def __eq__(self, other):
            raise AssertionError("subclass methods must never run")

        __hash__ = str.__hash__

    class SneakyImage(AgentImage):
        pass

    state = {}
    assert run("a = make()\nb = pic()\na == 'x'", {"make": lambda: Sneaky("x"),
                                                   "pic": lambda: SneakyImage("/tmp/p.png")},
               state) is True
    assert type(state["a"]) is AgentText and type(state["b"]) is AgentImage
    assert state["b"].to_string() == "/tmp/p.png"


def test_opaque_values_inside_containers_reach_tools_as_themselves():
    obj = types.SimpleNamespace(v=1)
    seen = []
    run("items = [thing, {'k': thing}]\nkeep(items)", {"keep": seen.append}, {"thing": obj})
    assert seen == [[obj, {"k": obj}]]
