"""What every tool module shares: the tool errors, the input types and their checks."""

from __future__ import annotations

from ...errors import InvalidInputError, TfhfError

TOOL_CONFIG_FILE = "tool_config.json"
TOOL_FILE = "tool.py"
AUTHORIZED_TYPES = ("text", "image", "audio", "integer", "number", "boolean", "list", "dict",
                    "any")


class ToolError(TfhfError, ValueError):
    """A tool that is defined wrongly, or cannot be saved or loaded."""


class RemoteCodeError(TfhfError, ValueError):
    """Loading a tool would run Python code from outside tfhf without trust_remote_code=True."""


def normalize_inputs(inputs, name="tool") -> dict:
    """``inputs`` as ``{arg: {"type": ..., "description": ...}}`` (transformers 4.29's list of
    types is accepted: ``["text"]`` becomes ``{"input": {"type": "text", ...}}``)."""
    if isinstance(inputs, (list, tuple)):
        keys = ["input"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))]
        inputs = {k: {"type": t, "description": ""} for k, t in zip(keys, inputs)}
    if not isinstance(inputs, dict):
        raise ToolError(f"tool '{name}': inputs must be a dict {{arg: {{'type', "
                        f"'description'}}}}, got {type(inputs).__name__}.")
    out = {}
    for arg, spec in inputs.items():
        if not isinstance(arg, str) or not arg.isidentifier():
            raise ToolError(f"tool '{name}': input name {arg!r} is not an identifier.")
        if isinstance(spec, str):
            spec = {"type": spec, "description": ""}
        if not isinstance(spec, dict) or spec.get("type") not in AUTHORIZED_TYPES:
            raise ToolError(f"tool '{name}': input '{arg}' needs a type among "
                            f"{', '.join(AUTHORIZED_TYPES)}, got {spec!r}.")
        out[arg] = {"type": spec["type"], "description": str(spec.get("description", ""))}
    return out


def text_arg(value, name):
    """A tool's text input as an exact ``str`` (an AgentText too), else a clear error."""
    if not isinstance(value, str):
        kind = _media_kind(value)
        if kind is not None:
            raise InvalidInputError(_not_text(name, kind))
        raise InvalidInputError(f"'{name}' must be a text (str), got {type(value).__name__}.")
    return str(value)


def _media_kind(value):
    """"audio" / "image" for agent audio and images (and PIL images), else None."""
    cls = type(value)
    if cls.__name__ in ("AgentAudio", "AgentImage"):
        return cls.__name__[5:].lower()
    if cls.__module__.split(".")[0] == "PIL":
        return "image"
    return None


def _not_text(arg, kind) -> str:
    helper = "transcriber" if kind == "audio" else "image_captioner"
    return (f"its input '{arg}' takes text, but it was given an {kind}. Turn the {kind} into "
            f"text first with a tool that returns text (such as {helper}), then pass that text.")


def check_input_kinds(tool, args, kwargs):
    """Refuse a keyword the tool has no input for (``labels=`` to a sentiment tool), and an
    audio or an image given to an input the tool declares as text (a program that summarizes
    a recording without transcribing it first), with a :class:`ToolError` that says what to
    do instead."""
    inputs = getattr(tool, "inputs", None)
    if not isinstance(inputs, dict):
        return
    unknown = [k for k in kwargs if k not in inputs]
    if unknown and inputs:
        raise ToolError(f"tool '{getattr(tool, 'name', '?')}' has no input "
                        f"{', '.join(repr(k) for k in unknown)}: its inputs are "
                        f"{', '.join(repr(k) for k in inputs)}. If the task needs "
                        f"{'that input' if len(unknown) == 1 else 'those inputs'}, another tool "
                        "may be the right one: read the tools' descriptions.")
    given = dict(zip(inputs, args))
    given.update(kwargs)
    for arg, value in given.items():
        spec = inputs.get(arg)
        kind = _media_kind(value)
        if kind is None or not isinstance(spec, (dict, str)):
            continue
        declared = spec.get("type") if isinstance(spec, dict) else spec
        if declared == "text":
            raise ToolError(f"tool '{getattr(tool, 'name', '?')}': {_not_text(arg, kind)}")
