"""Errors of the interpreter: the public :class:`InterpreterError` and the internal signals.

Helpers deep inside the evaluator raise :class:`Refusal` (via :func:`refuse`, :func:`limit`,
:func:`fail`); :func:`~tfhf.agents.interpreter.evaluate` turns it into an
:class:`InterpreterError` carrying the current line. ``Break``/``Continue`` carry loop control.
"""

from __future__ import annotations

from ...errors import TfhfError


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


# ----------------------------------------------------------------------------- control flow

class Break(Exception):
    pass


class Continue(Exception):
    pass


class Refusal(Exception):
    """Raised inside helpers; turned into InterpreterError with the current line."""

    def __init__(self, message, construct=None, kind="error"):
        super().__init__(message)
        self.message = message
        self.construct = construct
        self.kind = kind


def refuse(message, construct=None, kind="refused"):
    raise Refusal(message, construct, kind)


def limit(message, construct=None):
    raise Refusal(message, construct, "limit")


def fail(message, construct=None):
    raise Refusal(message, construct, "error")
