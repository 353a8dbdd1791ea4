"""Agents: an LLM writes a small Python program that calls tools; tfhf runs it safely.

* :class:`Agent` (``run``/``chat``) and its LLM backends :class:`LocalAgent` (a tfhf causal LM),
  :class:`OpenAiAgent` (OpenAI-compatible chat completions) and :class:`HfAgent`
  (text-generation-inference);
* :func:`evaluate`, the restricted interpreter the programs run in, and
  :class:`InterpreterError`;
* tools: :class:`Tool`, the :func:`tool` decorator, :class:`PipelineTool`, :class:`RemoteTool`,
  :func:`load_tool` and the curated tools' registry (:data:`TOOL_REGISTRY`);
* agent types :class:`AgentText`, :class:`AgentImage`, :class:`AgentAudio`.

Names load lazily: ``import tfhf.agents`` imports neither TensorFlow nor transformers.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "evaluate": "interpreter", "evaluate_isolated": "interpreter",
    "InterpreterError": "interpreter", "Limits": "interpreter",
    "Opaque": "interpreter", "SAFE_BUILTINS": "interpreter", "SAFE_METHODS": "interpreter",
    "AgentType": "agent_types", "AgentText": "agent_types", "AgentImage": "agent_types",
    "AgentAudio": "agent_types",
    "Tool": "tools", "tool": "tools", "PipelineTool": "tools", "RemoteTool": "tools",
    "load_tool": "tools", "RemoteCodeError": "tools", "ToolError": "tools",
    "TOOL_REGISTRY": "registry", "ToolSpec": "registry",
    "Agent": "agents", "LocalAgent": "backends", "OpenAiAgent": "backends",
    "HfAgent": "backends",
    "AgentFailure": "agents",
    "Prompt": "agents", "extract_code": "agents",
    "LLMBackendError": "_http", "LLMAuthenticationError": "_http", "LLMResponseError": "_http",
    "FunctionTool": "tools",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'tfhf.agents' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
