"""The evaluator and :func:`evaluate`, the interpreter's entry point.

:class:`Evaluator` is assembled from one mixin per concern: statements, expressions,
operators, calls (with the method guards), builtins and text formatting. It holds the
program's variables, its tools and one :class:`~.budget.Budget`.
"""

from __future__ import annotations

import ast
import warnings

from .allowlist import PRINT_OUTPUTS, SAFE_BUILTINS, check_static, check_tools
from .budget import DEFAULT_LIMITS, Budget, Limits
from .builtins import BuiltinsMixin
from .calls import CallsMixin
from .errors import Break, Continue, InterpreterError, Refusal
from .expressions import ExpressionsMixin
from .formatting import FormattingMixin
from .operators import OperatorsMixin
from .sanitize import is_plain_deep, sanitize_value
from .statements import StatementsMixin
from .values import Opaque, is_scalar, unwrap


class Evaluator(StatementsMixin, ExpressionsMixin, OperatorsMixin, CallsMixin, BuiltinsMixin,
                FormattingMixin):
    """Runs one checked program against ``state`` (the variables) and ``tools``."""

    def __init__(self, tools, state, limits: Limits):
        self.tools = tools
        self.state = state
        self.limits = limits
        self.budget = Budget(limits)
        self.line = None
        self.builtins = {name: getattr(self, f"_b_{name}") for name in SAFE_BUILTINS}
        self.printed = state.get(PRINT_OUTPUTS, "")
        if not isinstance(self.printed, str):
            self.printed = ""


def _prepare_state(state, tools, limits):
    """Refuse variables that shadow tools/builtins; make the others safe to use."""
    for name in list(state):
        if name in tools or name in SAFE_BUILTINS:
            raise InterpreterError(f"the variable '{name}' would shadow a "
                                   f"{'tool' if name in tools else 'builtin'} of the same name",
                                   construct=f"name '{name}'", kind="refused")
        if name == PRINT_OUTPUTS:
            continue
        value = state[name]
        if not is_plain_deep(value, limits):
            try:
                state[name] = sanitize_value(value, 0, [limits.max_walk], limits)
            except Refusal:
                state[name] = Opaque(value)


def _parse(code):
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
    return tree


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
    tools = check_tools(tools)
    _prepare_state(state, tools, limits)
    tree = _parse(code)
    check_static(tree, limits)
    ev = Evaluator(tools, state, limits)
    state.setdefault(PRINT_OUTPUTS, ev.printed)
    try:
        result = ev.run(tree)
        if not is_scalar(result) and type(result) is not Opaque:
            ev.budget.measure(result, "the program's result")
    except Refusal as r:
        cause = r.__cause__
        err = InterpreterError(r.message, lineno=ev.line, construct=r.construct, kind=r.kind)
        raise err from cause
    except (Break, Continue):
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
    return unwrap(result)
