""":func:`load_tool`: a curated task, a saved tool folder or a Hub repo."""

from __future__ import annotations

import os

from ...errors import UnsupportedModelError
from ..registry import TOOL_REGISTRY, canonical_task
from .base import Tool
from .pipeline import PipelineTool
from .remote import RemoteTool


def load_tool(task_or_repo_id, model_repo_id=None, remote=False, token=None,
              trust_remote_code=False, **kwargs):
    """Load a curated tool by task name, or a saved tool from a folder or Hub repo.

    Args:
        task_or_repo_id: a task of :data:`tfhf.agents.TOOL_REGISTRY` (``"text-classification"``,
            ``"zero-shot-classification"``, ``"text-question-answering"``, ``"summarization"``,
            ``"text-download"``...), a folder written by :meth:`Tool.save`, or a Hub repo id.
        model_repo_id: the checkpoint the tool uses instead of its default (a folder, Hub repo
            id, ``.gguf`` path or ``"asset:NAME"``); for ``remote=True`` an endpoint URL.
        remote: use the tool through an inference endpoint (curated tasks that have one).
        token: Hub token.
        trust_remote_code: required for folders and Hub repos: their Python file runs.
        kwargs: passed to the tool's constructor.
    """
    task = canonical_task(task_or_repo_id)
    if task in TOOL_REGISTRY:
        spec = TOOL_REGISTRY[task]
        if not spec.available:
            raise UnsupportedModelError(f"The tool for '{task}' is not available in tfhf yet: "
                                        f"{spec.note}")
        if remote:
            if spec.remote_class is None:
                raise UnsupportedModelError(f"The '{task}' tool has no remote (inference "
                                            "endpoint) version; use remote=False.")
            cls = spec.load_class(remote=True)
            instance = cls(model_repo_id, token=token, **kwargs)
        else:
            cls = spec.load_class()
            if issubclass(cls, PipelineTool):
                instance = cls(model_repo_id, token=token, **kwargs)
            else:
                instance = cls(**kwargs)
        instance._tfhf_origin = {"task": task, "model_repo_id": model_repo_id,
                                 "remote": bool(remote)}
        return instance
    if remote:
        target = os.fspath(task_or_repo_id)
        if target.startswith(("http://", "https://")):
            instance = RemoteTool(target, token=token, **kwargs)
            return instance
        raise UnsupportedModelError("remote=True works with the curated tasks (or an endpoint "
                                    f"URL); '{target}' is neither.")
    return Tool.from_hub(task_or_repo_id, model_repo_id=model_repo_id, token=token,
                         trust_remote_code=trust_remote_code, **kwargs)
