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

While it runs, one budget (:class:`Limits`) is charged before each piece of work: operations,
loop iterations, interpreter time and wall time (tools included), tool calls, the C-level work
of comparisons, searches, hashing and sorting, and the memory the program holds (texts, integer
digits, container items), besides the size of every value created *before* it is created
(``10**10**10``, ``'a' * 10**10``, ``[0] * 10**9``, repeated doubling, ``join`` of huge lists,
``int()`` of huge strings). Values that C code walks recursively (hashing, ``==`` and ordering,
``repr``/``str``/f-strings, ``sorted``, tool arguments...) are measured first with a bounded
walk that counts shared sub-values every time they occur and refuses cycles and deep nesting,
so shared-structure tricks (``t = (t, t)`` repeated) and deep nesting (which crashes CPython's
tuple hash) are refused instead of hanging or crashing. docs/interpreter.md lists the limits
and what each costs.

Values returned by tools are converted to plain data (exact ``str``/``int``/``float``/...,
rebuilt lists/tuples/dicts) or wrapped in agent types / :class:`Opaque`, a handle that the
program can only pass back to tools.

Any refusal or failure raises :class:`InterpreterError` (a ``ValueError``) naming the line and
the construct; evaluation stops there. See README, "Agents and the interpreter's threat model".

Where each rule lives (one module per concern):

* :mod:`.allowlist`: the syntax, names, builtins and methods allowed; the static check.
* :mod:`.budget`: :class:`Limits` and the :class:`~.budget.Budget` every path charges.
* :mod:`.sanitize`: what crosses between the program and tools (results in, arguments out).
* :mod:`.evaluator`: :func:`evaluate` and the evaluator, assembled from :mod:`.statements`,
  :mod:`.expressions`, :mod:`.operators`, :mod:`.calls` (with the method guards),
  :mod:`.builtins` and :mod:`.formatting`.
* :mod:`.isolated`: :func:`evaluate_isolated`, the same in a forked worker under OS limits.
* :mod:`.errors` and :mod:`.values`: :class:`InterpreterError`, :class:`Opaque` and helpers.
"""

from .allowlist import PRINT_OUTPUTS, SAFE_BUILTINS, SAFE_METHODS
from .budget import DEFAULT_LIMITS, Limits
from .errors import InterpreterError
from .evaluator import evaluate
from .isolated import evaluate_isolated
from .sanitize import sanitize
from .values import Opaque

__all__ = ["evaluate", "evaluate_isolated", "InterpreterError", "Limits", "Opaque", "SAFE_BUILTINS", "SAFE_METHODS",
           "PRINT_OUTPUTS", "DEFAULT_LIMITS", "sanitize"]
