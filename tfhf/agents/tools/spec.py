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
        raise InvalidInputError(f"'{name}' must be a text (str), got {type(value).__name__}.")
    return str(value)
