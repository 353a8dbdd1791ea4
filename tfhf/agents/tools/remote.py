""":class:`RemoteTool`: a tool served by an HTTP inference endpoint."""

from __future__ import annotations

import os

from ...errors import ConfigError, InvalidInputError
from ..agent_types import unwrap_input, wrap_output
from .base import Tool

DEFAULT_INFERENCE_ENDPOINT = "https://api-inference.huggingface.co/models"


class RemoteTool(Tool):
    """A tool served by an HTTP inference endpoint (POST JSON, JSON answer).

    ``endpoint_url``: the full URL, or a Hub repo id appended to ``$TFHF_INFERENCE_ENDPOINT``
    (default ``https://api-inference.huggingface.co/models``); default:
    ``default_checkpoint``. Subclasses shape the payload (``prepare_inputs``) and the answer
    (``extract_outputs``). Retries on 429/5xx are bounded; 401 raises
    :class:`~tfhf.agents.LLMAuthenticationError`.
    """

    default_checkpoint = None
    # a local tool class whose name, description, inputs and output_type this one serves
    serves = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        local = cls.__dict__.get("serves")
        if local is not None:
            for key in ("name", "description", "inputs", "output_type"):
                if key not in cls.__dict__:
                    setattr(cls, key, getattr(local, key))

    def __init__(self, endpoint_url=None, token=None, tool_class=None, *, timeout=60.0,
                 max_retries=3, backoff=1.0):
        super().__init__()
        endpoint_url = endpoint_url or self.default_checkpoint
        if endpoint_url is None:
            raise ConfigError(f"{type(self).__name__} needs an endpoint_url.")
        endpoint_url = os.fspath(endpoint_url)
        if not endpoint_url.startswith(("http://", "https://")):
            base = os.environ.get("TFHF_INFERENCE_ENDPOINT", DEFAULT_INFERENCE_ENDPOINT)
            endpoint_url = f"{base.rstrip('/')}/{endpoint_url}"
        self.endpoint_url = endpoint_url
        self.token = token
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        if tool_class is not None:
            for key in ("name", "description", "inputs", "output_type"):
                setattr(self, key, getattr(tool_class, key))

    def prepare_inputs(self, *args, **kwargs):
        if len(args) > 1:
            raise InvalidInputError(f"{type(self).__name__} takes one positional input.")
        if args:
            return {"inputs": args[0]}
        return {"inputs": kwargs}

    def extract_outputs(self, outputs):
        return outputs

    @staticmethod
    def unexpected_answer(what, outputs, expected):
        """The error for an endpoint answer ``extract_outputs`` cannot read."""
        from .._http import LLMResponseError

        return LLMResponseError(f"the {what} endpoint answered {outputs!r:.200}; "
                                f"expected {expected}.")

    def __call__(self, *args, **kwargs):
        from .._http import request_json

        args = [unwrap_input(a) for a in args]
        kwargs = {k: unwrap_input(v) for k, v in kwargs.items()}
        payload = self.prepare_inputs(*args, **kwargs)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        outputs = request_json(self.endpoint_url, payload, headers=headers, timeout=self.timeout,
                               max_retries=self.max_retries, backoff=self.backoff,
                               what=f"the inference endpoint of tool '{self.name or '?'}'")
        if isinstance(outputs, list) and len(outputs) == 1 and isinstance(outputs[0], list):
            outputs = outputs[0]
        return wrap_output(self.extract_outputs(outputs), self.output_type)
