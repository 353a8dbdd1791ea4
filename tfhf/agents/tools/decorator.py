"""The :func:`tool` decorator: a :class:`Tool` made from a typed, documented function."""

from __future__ import annotations

import inspect
import re
import typing

from ..agent_types import AgentAudio, AgentImage, AgentText
from .base import Tool
from .spec import ToolError

_PY_TO_TYPE = {str: "text", int: "integer", float: "number", bool: "boolean", list: "list",
               dict: "dict", AgentText: "text", AgentImage: "image", AgentAudio: "audio"}


class FunctionTool(Tool):
    """A :class:`Tool` made by :func:`tool` from a function."""

    def __init__(self, function, name, description, inputs, output_type):
        super().__init__()
        self.function = function
        self.name = name
        self.description = description
        self.inputs = inputs
        self.output_type = output_type
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def forward(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def source_function(self):
        return self.function


def _type_name(annotation, where):
    if annotation is inspect.Parameter.empty:
        raise ToolError(f"{where} needs a type hint (str, int, float, bool, list, dict, "
                        "AgentImage, AgentAudio or typing.Any).")
    if annotation is typing.Any:
        return "any"
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _type_name(args[0], where) if len(args) == 1 else "any"
    if origin is not None:
        annotation = origin
    if isinstance(annotation, str):
        return {"str": "text", "int": "integer", "float": "number", "bool": "boolean",
                "list": "list", "dict": "dict"}.get(annotation.split("[")[0], "any")
    return _PY_TO_TYPE.get(annotation, "any")


_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Examples?|"
                      r"Notes?)\s*:\s*$")


def parse_docstring(doc: str):
    """``(summary, {arg: description}, returns)`` from a Google-style docstring."""
    doc = inspect.cleandoc(doc or "")
    summary, args, returns = [], {}, []
    section = None
    current = None
    for line in doc.splitlines():
        m = _SECTION.match(line)
        if m:
            section = m.group(1).lower()
            current = None
            continue
        if section is None:
            summary.append(line)
        elif section in ("args", "arguments", "parameters"):
            m = re.match(r"^\s{0,8}(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", line)
            if m and (current is None or len(line) - len(line.lstrip()) <= args[current][1]):
                current = m.group(1).lstrip("*")
                args[current] = [m.group(3).strip(), len(line) - len(line.lstrip())]
            elif current is not None and line.strip():
                args[current][0] = (args[current][0] + " " + line.strip()).strip()
        elif section in ("returns", "return"):
            if line.strip():
                returns.append(line.strip())
    return ("\n".join(summary).strip(), {k: v[0] for k, v in args.items()},
            " ".join(returns).strip())


def tool(function=None, *, name=None, description=None, output_type=None):
    """Make a :class:`Tool` of a typed function whose docstring documents its arguments.

    ``@tool`` or ``@tool(name=..., description=..., output_type=...)``. The docstring's first
    part is the description; its ``Args:`` section gives each input's description (every
    argument must be documented and type-hinted); the return annotation gives the output type.
    """
    def make(fn):
        if not callable(fn) or not hasattr(fn, "__name__"):
            raise ToolError("@tool decorates a function.")
        where = f"@tool function '{fn.__name__}'"
        summary, arg_docs, returns = parse_docstring(fn.__doc__ or "")
        desc = description or summary
        if not desc:
            raise ToolError(f"{where} needs a docstring: a description, then an 'Args:' "
                            "section with one line per argument.")
        if returns and description is None:
            desc = f"{desc} Returns: {returns}"
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - unresolvable annotations fall back to the raw ones
            hints = {}
        sig = inspect.signature(fn)
        inputs = {}
        for pname, p in sig.parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ToolError(f"{where}: *args/**kwargs cannot be described to the LLM; "
                                "name every argument.")
            ann = hints.get(pname, p.annotation)
            t = _type_name(ann, f"{where}: argument '{pname}'")
            if pname not in arg_docs:
                raise ToolError(f"{where}: argument '{pname}' is not documented; add "
                                f"'{pname}: <description>' to the docstring's Args: section.")
            inputs[pname] = {"type": t, "description": arg_docs[pname]}
        ret = hints.get("return", sig.return_annotation)
        out = output_type or (_type_name(ret, where) if ret is not inspect.Signature.empty
                              else "any")
        t = FunctionTool(fn, name or fn.__name__, desc, inputs, out)
        t.validate()
        return t

    return make if function is None else make(function)
