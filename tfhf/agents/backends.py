"""The agents' LLM backends: :class:`LocalAgent` (a tfhf causal LM and its tokenizer,
``model.generate``), :class:`OpenAiAgent` (OpenAI-compatible ``/chat/completions``) and
:class:`HfAgent` (text-generation-inference ``{"inputs", "parameters"}``). Each implements
:meth:`~tfhf.agents.Agent.generate_one`; everything else is :class:`~tfhf.agents.Agent`'s.

``max_retries`` of the HTTP backends is their transport retries (429 / 5xx); the agent's
self-correction retries are ``correction_retries`` / ``run(..., max_retries=)``.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ._http import LLMResponseError, request_json
from .agents import Agent
from .textgen import truncate_at_stops

__all__ = ["LocalAgent", "OpenAiAgent", "HfAgent"]

class LocalAgent(Agent):
    """An agent whose LLM is a tfhf causal LM (greedy ``model.generate`` with stop strings).

    With a tokenizer that has a chat template the prompt goes through it (system message with
    the tools and examples, the task as the user message); ``use_chat_template=False`` sends
    the plain text prompt instead.

    ``constrained=True`` (off by default) bans, while decoding, the statements the
    interpreter refuses (``def``, ``class``, ``import``... at line starts, ``lambda``) and
    corrects near-miss tool names and argument names in the program afterwards
    (tfhf/agents/constrain.py says exactly what it does and does not).

    Example::

        agent = LocalAgent.from_pretrained("asset:qwen2.5-coder-0.5b")
        agent.run("Summarize the `text`.", text="...")
    """

    def __init__(self, model, tokenizer, chat_prompt_template=None, run_prompt_template=None,
                 additional_tools=None, *, max_new_tokens=256, use_chat_template=None,
                 generation_kwargs=None, constrained=False, **agent_kwargs):
        if not hasattr(model, "generate"):
            raise ConfigError(f"LocalAgent needs a causal LM with generate(); got "
                              f"{type(model).__name__}.")
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = int(max_new_tokens)
        self.use_chat_template = use_chat_template
        self.generation_kwargs = dict(generation_kwargs or {})
        self.constrained = bool(constrained)
        super().__init__(chat_prompt_template, run_prompt_template, additional_tools,
                         **agent_kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, gguf_file=None, *, model_kwargs=None,
                        tokenizer_kwargs=None, token=None, revision=None, cache_dir=None,
                        local_files_only=None, **kwargs):
        """Load the model and tokenizer from a folder, a Hub repo, a ``.gguf`` file, a folder +
        ``gguf_file=``, or an offline asset (``"asset:smollm2"``). Other keyword arguments go
        to :class:`LocalAgent`."""
        import tfhf

        from .tools import resolve_model_spec

        name, extra = resolve_model_spec(pretrained_model_name_or_path)
        if gguf_file is not None:
            extra["gguf_file"] = gguf_file
        hub = {k: v for k, v in dict(token=token, revision=revision, cache_dir=cache_dir,
                                     local_files_only=local_files_only).items()
               if v is not None}
        tokenizer = tfhf.AutoTokenizer.from_pretrained(name, **hub, **extra,
                                                       **(tokenizer_kwargs or {}))
        model = tfhf.TFAutoModelForCausalLM.from_pretrained(name, **hub, **extra,
                                                            **(model_kwargs or {}))
        return cls(model, tokenizer, **kwargs)

    continue_to_code = True

    def _generation_kwargs(self):
        if not self.constrained:
            return self.generation_kwargs
        from .constrain import refused_construct_words

        kwargs = dict(self.generation_kwargs)
        banned = refused_construct_words(self.tokenizer)
        kwargs["bad_words_ids"] = list(kwargs.get("bad_words_ids") or []) + banned
        return kwargs

    def correct_code(self, code):
        if not self.constrained:
            return code
        from .constrain import correct_tool_calls

        fixed, changes = correct_tool_calls(code, self.toolbox)
        if changes:
            self.log("==Constrained: corrected names==\n" + "\n".join(changes))
        return fixed

    def generate_one(self, prompt, stop):
        from .text_tools import generate_text

        messages = getattr(prompt, "messages", None)
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        use_template = self.use_chat_template if self.use_chat_template is not None \
            else has_template
        if use_template and has_template and messages:
            return generate_text(self.model, self.tokenizer, messages,
                                 max_new_tokens=self.max_new_tokens, stop=stop,
                                 prefill=getattr(prompt, "prefill", ""), use_chat_template=True,
                                 generation_kwargs=self._generation_kwargs())
        return generate_text(self.model, self.tokenizer, str(prompt),
                             max_new_tokens=self.max_new_tokens, stop=stop,
                             use_chat_template=False,
                             generation_kwargs=self._generation_kwargs())


class OpenAiAgent(Agent):
    """An agent whose LLM is served by an OpenAI-compatible ``/chat/completions`` API (OpenAI,
    vLLM, llama.cpp's server, text-generation-inference's Messages API...).

    Args:
        model: the model name the server knows.
        api_key: default ``$OPENAI_API_KEY``; may be omitted for a custom ``base_url``.
        base_url: default ``$OPENAI_BASE_URL`` or ``https://api.openai.com/v1``.
        timeout, max_retries, backoff: per-request timeout (s), extra tries on 429/5xx and
            timeouts, first backoff (s, doubling).
    """

    def __init__(self, model="gpt-4o-mini", api_key=None, base_url=None,
                 chat_prompt_template=None, run_prompt_template=None, additional_tools=None, *,
                 temperature=0.0, max_tokens=512, timeout=60.0, max_retries=3, backoff=1.0,
                 **agent_kwargs):
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL")
                         or "https://api.openai.com/v1").rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not self.api_key and base_url is None and "api.openai.com" in self.base_url:
            raise ConfigError("OpenAiAgent needs an API key: pass api_key=... or set "
                              "OPENAI_API_KEY (or pass base_url= for a server without keys).")
        self.temperature, self.max_tokens = temperature, max_tokens
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        super().__init__(chat_prompt_template, run_prompt_template, additional_tools,
                         **agent_kwargs)

    def generate_one(self, prompt, stop):
        messages = list(getattr(prompt, "messages", None) or
                        [{"role": "user", "content": str(prompt)}])
        prefill = getattr(prompt, "prefill", "")
        if prefill and messages and messages[-1]["role"] == "user":
            messages[-1] = {"role": "user", "content": messages[-1]["content"] +
                            f"\n\nStart your answer with: {prefill}"}
        payload = {"model": self.model, "messages": messages, "temperature": self.temperature,
                   "max_tokens": self.max_tokens, "stop": list(stop)[:4]}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"
        data = request_json(url, payload, headers=headers, timeout=self.timeout,
                            max_retries=self.max_retries, backoff=self.backoff,
                            what="the OpenAI-compatible server")
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMResponseError(f"the OpenAI-compatible server at {url} answered without "
                                   f"choices[0].message.content: {str(data)[:300]}") from None
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise LLMResponseError(f"the server at {url} sent message content of type "
                                   f"{type(content).__name__}, not text.")
        return truncate_at_stops(content, stop)


class HfAgent(Agent):
    """An agent whose LLM is a text-generation-inference endpoint (or the Hub's Inference API):
    ``POST {"inputs": prompt, "parameters": {...}}`` -> ``[{"generated_text": ...}]``.

    Args:
        url_endpoint: the endpoint URL.
        token: a Hub token (default: the one huggingface_hub finds, e.g. ``$HF_TOKEN``);
            ``False`` sends none.
        input_params: extra generation parameters (default ``max_new_tokens=200``).
    """

    def __init__(self, url_endpoint, token=None, chat_prompt_template=None,
                 run_prompt_template=None, additional_tools=None, *, input_params=None,
                 timeout=120.0, max_retries=3, backoff=1.0, **agent_kwargs):
        if not isinstance(url_endpoint, str) or not url_endpoint.startswith(("http://",
                                                                             "https://")):
            raise ConfigError(f"HfAgent needs an http(s) url_endpoint, got {url_endpoint!r}.")
        self.url_endpoint = url_endpoint
        if token is None:
            try:
                from huggingface_hub import get_token

                token = get_token()
            except Exception:  # noqa: BLE001 - no token configured is fine
                token = None
        self.token = token or None
        self.input_params = {"max_new_tokens": 200, **(input_params or {})}
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        super().__init__(chat_prompt_template, run_prompt_template, additional_tools,
                         token=self.token, **agent_kwargs)

    def generate_one(self, prompt, stop):
        payload = {"inputs": str(prompt),
                   "parameters": {**self.input_params, "return_full_text": False,
                                  "stop": list(stop)}}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = request_json(self.url_endpoint, payload, headers=headers, timeout=self.timeout,
                            max_retries=self.max_retries, backoff=self.backoff,
                            what="the text-generation-inference endpoint")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            data = data[0]
        if isinstance(data, dict) and "error" in data and "generated_text" not in data:
            raise LLMResponseError(f"the endpoint {self.url_endpoint} answered with an error: "
                                   f"{str(data['error'])[:300]}")
        text = data.get("generated_text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise LLMResponseError(f"the endpoint {self.url_endpoint} answered "
                                   f"{str(data)[:300]!r}; expected [{{'generated_text': ...}}].")
        if text.startswith(str(prompt)):  # servers that ignore return_full_text
            text = text[len(prompt):]
        return truncate_at_stops(text, stop)
