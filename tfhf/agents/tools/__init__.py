"""Tools: what an agent's program may call.

* :class:`Tool` — ``name``, ``description``, ``inputs`` (``{arg: {"type", "description"}}``),
  ``output_type``; ``setup()`` runs once before the first call (load a model there);
  ``__call__`` runs ``forward``. ``save(folder)``, ``push_to_hub(repo_id)`` and
  ``Tool.from_hub(repo_id_or_folder, trust_remote_code=True)`` use the Hub tool format:
  ``tool_config.json`` + the tool's Python file + ``requirements.txt``.
* :func:`tool` — a decorator making a :class:`Tool` of a typed function whose docstring has an
  ``Args:`` section.
* :class:`PipelineTool` — pre_processor / model / post_processor (``encode`` -> ``forward`` ->
  ``decode``) on tfhf models, loaded lazily from ``default_checkpoint`` or the given model.
* :class:`RemoteTool` — the same tool through an HTTP inference endpoint.
* :func:`load_tool` — a curated task name (see :mod:`tfhf.agents.registry`), a folder or a Hub
  repo id.

Code that comes from a folder or a Hub repo runs only with ``trust_remote_code=True``.
"""

from .base import Tool
from .decorator import FunctionTool, parse_docstring, tool
from .loading import load_tool
from .pipeline import PipelineTool, resolve_model_spec
from .remote import DEFAULT_INFERENCE_ENDPOINT, RemoteTool
from .source import tool_source
from .spec import (AUTHORIZED_TYPES, TOOL_CONFIG_FILE, TOOL_FILE, RemoteCodeError, ToolError,
                   normalize_inputs, text_arg)

__all__ = ["Tool", "tool", "PipelineTool", "RemoteTool", "load_tool", "ToolError",
           "RemoteCodeError", "TOOL_CONFIG_FILE", "AUTHORIZED_TYPES", "FunctionTool",
           "normalize_inputs", "parse_docstring", "resolve_model_spec", "text_arg", "tool_source",
           "TOOL_FILE", "DEFAULT_INFERENCE_ENDPOINT"]
