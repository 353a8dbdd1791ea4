"""The :class:`Tool` class: what an agent's program may call."""

from __future__ import annotations

from ..agent_types import unwrap_input, wrap_output
from .hub import HubFormatMixin
from .spec import AUTHORIZED_TYPES, ToolError, check_input_kinds, normalize_inputs


class Tool(HubFormatMixin):
    """A function an agent can call, with what the LLM needs to know to call it.

    Subclasses set ``name`` (a Python identifier), ``description``, ``inputs`` and
    ``output_type`` and implement ``forward`` (or override ``__call__``). ``setup()`` is
    called once, before the first call.
    """

    name: str = ""
    description: str = "This is a tool that ..."
    inputs: dict = {}
    output_type: str = "any"

    def __init__(self, *args, **kwargs):
        self.is_initialized = False

    def setup(self):
        """Expensive one-time work (loading a model). Called before the first call."""
        self.is_initialized = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward() or __call__().")

    def __call__(self, *args, **kwargs):
        if not getattr(self, "is_initialized", False):
            self.setup()
            self.is_initialized = True
        check_input_kinds(self, args, kwargs)
        args = [unwrap_input(a) for a in args]
        kwargs = {k: unwrap_input(v) for k, v in kwargs.items()}
        return wrap_output(self.forward(*args, **kwargs), self.output_type)

    # ---------------------------------------------------------------- checks
    def validate(self):
        """Raise :class:`ToolError` unless name, description, inputs and output_type are sane."""
        name = getattr(self, "name", "")
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ToolError(f"{type(self).__name__}.name must be a Python identifier without a "
                            f"leading underscore (the program calls the tool by it), got "
                            f"{name!r}.")
        if not isinstance(self.description, str) or not self.description.strip():
            raise ToolError(f"tool '{name}' needs a description (the LLM reads it).")
        inputs = normalize_inputs(self.inputs, name)
        if self.output_type not in AUTHORIZED_TYPES:
            raise ToolError(f"tool '{name}': output_type {self.output_type!r} is not one of "
                            f"{', '.join(AUTHORIZED_TYPES)}.")
        return inputs

    def __repr__(self):
        return f"<{type(self).__name__} '{self.name}'>"
