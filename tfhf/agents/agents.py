"""Agents: ask an LLM for a program that solves a task with the tools, then run it safely.

``Agent.run(task, **variables)`` sends one prompt (tools, worked examples, the task), takes
the ```` ```py ```` block of the reply and runs it in :func:`tfhf.agents.evaluate`.
``Agent.chat`` does the same in a conversation whose history and variables carry over until
``prepare_for_new_chat()``. ``return_code=True`` returns the program, made runnable on its own
(it loads its tools with ``tfhf.load_tool`` and defines the variables passed in).

Failures of the program (a tool raising, an unknown tool, a reply without code, a program that
breaks the interpreter's rules or limits) never raise: ``run``/``chat`` return an
:class:`AgentFailure` — a ``str`` explaining what went wrong, with ``kind``, ``error`` and
``code`` attributes — and log it. Problems reaching the LLM itself raise
:class:`~tfhf.agents.LLMBackendError` (and subclasses).

Backends: :class:`LocalAgent` (a tfhf causal LM and its tokenizer, ``model.generate``),
:class:`OpenAiAgent` (OpenAI-compatible ``/chat/completions``), :class:`HfAgent`
(text-generation-inference ``{"inputs", "parameters"}``), or ``Agent(llm=callable)`` with any
``callable(prompt, stop) -> str``.
"""

from __future__ import annotations

import logging
import os
import re

from ..errors import ConfigError
from ._http import LLMResponseError, request_json
from .interpreter import PRINT_OUTPUTS, InterpreterError, Limits, evaluate, evaluate_isolated
from .literals import python_literal
from .prompts import (CHAT_MESSAGE_PROMPT, CHAT_STOP, RUN_STOP, describe_tools,
                      describe_variables, load_prompt)
from .textgen import truncate_at_stops
from .tools import Tool, ToolError

logger = logging.getLogger("tfhf")

__all__ = ["Agent", "LocalAgent", "OpenAiAgent", "HfAgent", "AgentFailure", "Prompt",
           "extract_code"]


class Prompt(str):
    """A prompt: the full text (for completion LLMs) plus the same content as chat
    ``messages`` and the ``prefill`` that starts the expected answer."""

    def __new__(cls, text, messages=None, prefill=""):
        obj = super().__new__(cls, text)
        obj.messages = messages if messages is not None else [{"role": "user", "content": text}]
        obj.prefill = prefill
        return obj


class AgentFailure(str):
    """What ``run``/``chat`` return when the task could not be done: a ``str`` explaining why.

    Attributes: ``kind`` (``"no_code"``, ``"tool_error"``, ``"unknown_name"``, ``"refused"``,
    ``"limit"``, ``"syntax"``, ``"error"``), ``error`` (the :class:`InterpreterError`, if any),
    ``code`` (the program, if any), ``reply`` (the LLM's reply).
    """

    def __new__(cls, message, *, kind, error=None, code=None, reply=None):
        obj = super().__new__(cls, message)
        obj.kind, obj.error, obj.code, obj.reply = kind, error, code, reply
        return obj

    def __repr__(self):
        return f"AgentFailure(kind={self.kind!r}, {str.__repr__(self)})"


_FENCE = re.compile(r"```[ \t]*(?:py|python|python3|Python)?[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)",
                    re.S)


def extract_code(reply: str):
    """``(explanation, code)`` from an LLM reply: the first fenced code block (a missing
    closing fence is tolerated); ``code`` is None when there is none."""
    m = _FENCE.search(reply)
    if not m:
        return reply.strip(), None
    explanation = reply[:m.start()].strip()
    explanation = re.sub(r"\s*Answer:\s*$", "", explanation).strip()
    code = m.group(1).strip("\n")
    lines = code.split("\n")
    while lines and lines[-1].strip() in ("", "```"):
        lines.pop()
    code = "\n".join(lines)
    return explanation, (code if code.strip() else None)


def _explain(error: InterpreterError) -> str:
    where = f"at line {error.lineno}" if error.lineno is not None else "before it ran"
    reason = error.reason
    if error.kind == "tool_error":
        return f"The program failed {where}: {reason}."
    if error.kind == "unknown_name":
        return f"The program failed {where}: {reason}."
    if error.kind == "refused":
        return (f"The program was refused {where}: {reason}. Agent programs run in tfhf's "
                "restricted interpreter, which only allows simple Python (see the README, "
                "'Agents and the interpreter's threat model').")
    if error.kind == "limit":
        return f"The program was stopped {where}: {reason}."
    if error.kind == "syntax":
        return f"The program is not valid Python ({where}): {reason}."
    return f"The program failed {where}: {reason}."


def _run_messages(head, marker, tail):
    """Chat messages for a run prompt: the instructions and tools as the system message, each
    worked example (a section of ``head`` starting with the task ``marker``, e.g. ``Task: "``)
    as a user turn (the task) and an assistant turn (the answer), then the task (``tail`` up to
    its first blank line) as the last user message."""
    starts = [m.start() for m in re.finditer(rf"(?m)^{re.escape(marker)}", head)] \
        if marker.strip() else []
    system = head[:starts[0] if starts else len(head)].rstrip()
    messages = [{"role": "system", "content": system}] if system else []
    for a, b in zip(starts, starts[1:] + [len(head)]):
        user, _, answer = head[a:b].partition("\n\n")
        if answer.strip():
            messages += [{"role": "user", "content": user.strip()},
                         {"role": "assistant", "content": answer.strip()}]
        else:
            messages[-1:] = [{"role": messages[-1]["role"] if messages else "system",
                              "content": ((messages[-1]["content"] + "\n\n") if messages
                                          else "") + head[a:b].strip()}]
    messages.append({"role": "user", "content": tail.partition("\n\n")[0].strip()})
    return messages


class Agent:
    """Base agent: prompts, tools, running the LLM's programs.

    Args:
        chat_prompt_template / run_prompt_template: a template text, a file path or a Hub repo
            id (see :func:`tfhf.agents.prompts.load_prompt`); defaults are tfhf's.
        additional_tools: a :class:`Tool`, a list of them or a ``{name: tool}`` dict, added to
            (or replacing) the curated tools.
        llm: ``callable(prompt, stop) -> str``; subclasses implement :meth:`generate_one`
            instead.
        default_tools: include the curated tools (:data:`tfhf.agents.TOOL_REGISTRY`; nothing
            loads until a tool is called).
        limits: the interpreter's :class:`~tfhf.agents.Limits`.
        isolated: run each program in a forked worker process under OS limits as well
            (:func:`~tfhf.agents.evaluate_isolated`; POSIX only; tools run in the worker).
        log: called with each message (explanation, code, printed output, failures);
            default ``print``.
    """

    def __init__(self, chat_prompt_template=None, run_prompt_template=None,
                 additional_tools=None, *, llm=None, default_tools=True, limits=None, log=print,
                 token=None, isolated=False):
        self.chat_prompt_template = load_prompt(chat_prompt_template, "chat", token=token)
        self.run_prompt_template = load_prompt(run_prompt_template, "run", token=token)
        self._llm = llm
        self.limits = limits if limits is not None else Limits()
        self.isolated = bool(isolated)
        self.log = log if log is not None else (lambda *a, **k: None)
        self._toolbox = {}
        if default_tools:
            from .registry import default_toolbox

            self._toolbox.update(default_toolbox())
        if additional_tools is not None:
            if isinstance(additional_tools, dict):
                items = list(additional_tools.items())
            elif isinstance(additional_tools, (list, tuple)):
                items = [(getattr(t, "name", None), t) for t in additional_tools]
            else:
                items = [(getattr(additional_tools, "name", None), additional_tools)]
            for name, t in items:
                if not isinstance(t, Tool):
                    raise ToolError(f"additional_tools: {t!r} is not a tfhf Tool (make one with "
                                    "the @tool decorator or a Tool subclass).")
                t.validate()
                if name != t.name:
                    raise ToolError(f"additional_tools: the key {name!r} differs from the "
                                    f"tool's name {t.name!r}.")
                if name in self._toolbox:
                    logger.warning("Tool '%s' replaces the curated tool of the same name.",
                                   name)
                self._toolbox[name] = t
        self.last_code = None
        self.last_reply = None
        self.last_state = None
        self.prepare_for_new_chat()

    @property
    def toolbox(self) -> dict:
        """The tools the agent's programs may call: name -> :class:`Tool`."""
        return self._toolbox

    # ------------------------------------------------------------------ prompts
    def format_prompt(self, task, chat_mode=False, variables=None) -> Prompt:
        """The prompt for ``task``: ``variables`` (the values passed to ``run``) fill the run
        template's ``<<variables>>`` with their names and types."""
        tools = describe_tools(self.toolbox)
        if not chat_mode:
            rendered = self.run_prompt_template.replace("<<all_tools>>", tools)
            rendered = rendered.replace("<<variables>>", describe_variables(variables))
            i = rendered.rfind("<<prompt>>")
            text = rendered[:i] + task + rendered[i + len("<<prompt>>"):]
            line_start = rendered.rfind("\n", 0, i) + 1
            return Prompt(text, _run_messages(rendered[:line_start], rendered[line_start:i],
                                              text[line_start:]),
                          text[line_start:].partition("\n\n")[2].strip())
        system = self.chat_prompt_template.replace("<<all_tools>>", tools)
        text = system
        messages = [{"role": "system", "content": system}]
        for past_task, reply in self.chat_history:
            text += CHAT_MESSAGE_PROMPT.replace("<<task>>", past_task) + reply
            messages += [{"role": "user", "content": past_task},
                         {"role": "assistant", "content": reply}]
        text += CHAT_MESSAGE_PROMPT.replace("<<task>>", task)
        messages.append({"role": "user", "content": task})
        return Prompt(text, messages, "")

    def generate_one(self, prompt, stop):
        """The LLM's continuation of ``prompt`` (a :class:`Prompt`, i.e. a str with
        ``.messages``), cut before any of the ``stop`` strings. Subclasses implement this."""
        if self._llm is None:
            raise NotImplementedError("Agent needs llm=callable(prompt, stop) -> str, or use "
                                      "LocalAgent / OpenAiAgent / HfAgent.")
        return self._llm(prompt, stop)

    # ------------------------------------------------------------------ running
    def prepare_for_new_chat(self):
        """Forget the chat's history and variables."""
        self.chat_history = []
        self.chat_state = {}
        self.cached_tools = None

    #: When the LLM's reply has no code block (it stopped after its explanation), ask it once
    #: more to go on, its answer so far plus the opening of a code block given as the start
    #: of its reply (backends that continue a prefilled answer: LocalAgent).
    continue_to_code = False

    def _reply(self, prompt, stop):
        reply = self.generate_one(prompt, stop)
        if not isinstance(reply, str):
            raise LLMResponseError(f"the LLM backend returned {type(reply).__name__}, not text.")
        reply = truncate_at_stops(reply, stop)
        if self.continue_to_code and "```" not in reply and reply.strip():
            opening = "\n\nAnswer:\n```py\n" if "Answer:\n```py" in str(prompt) else \
                "\n\n```py\n"
            so_far = reply.rstrip() + opening
            prefill = getattr(prompt, "prefill", "")
            messages = getattr(prompt, "messages", None)
            more = self.generate_one(Prompt(str(prompt) + so_far, messages, prefill + so_far),
                                     stop)
            if isinstance(more, str):
                reply = so_far + truncate_at_stops(more, stop)
        prefill = getattr(prompt, "prefill", "")
        if prefill and not reply.lstrip().startswith(prefill):
            reply = f"{prefill} {reply.lstrip()}" if not reply.startswith((" ", "\n")) \
                else prefill + reply
        return reply

    def _resolve_tools(self, code, remote):
        tools = dict(self.toolbox)
        if not remote:
            return tools
        from .tools import load_tool

        for name, t in self.toolbox.items():
            origin = getattr(t, "_tfhf_origin", None) or {}
            if origin.get("task") and re.search(rf"\b{re.escape(name)}\s*\(", code):
                try:
                    tools[name] = load_tool(origin["task"], origin.get("model_repo_id"),
                                            remote=True)
                except Exception as e:  # noqa: BLE001 - no remote version: keep the local one
                    self.log(f"(tool '{name}' has no remote version, running it locally: {e})")
        return tools

    def _failure(self, message, *, kind, error=None, code=None, reply=None):
        self.log(f"==Failure==\n{message}")
        return AgentFailure(message, kind=kind, error=error, code=code, reply=reply)

    def _execute(self, code, tools, state, reply):
        try:
            run = evaluate_isolated if self.isolated else evaluate
            result = run(code, tools, state, limits=self.limits)
        except InterpreterError as e:
            printed = state.get(PRINT_OUTPUTS, "")
            if printed:
                self.log(printed.rstrip("\n"))
            return self._failure(_explain(e), kind=e.kind, error=e, code=code, reply=reply)
        printed = state.get(PRINT_OUTPUTS, "")
        if printed:
            self.log(printed.rstrip("\n"))
        return result

    def _ask(self, prompt, stop, chat_task=None):
        """The part ``run`` and ``chat`` share: ask the LLM, keep its reply (and the chat
        turn), log it and pull out the program. Returns ``(reply, code, failure)``; failure
        is an :class:`AgentFailure` when the reply holds no code."""
        reply = self._reply(prompt, stop)
        self.last_reply = reply
        if chat_task is not None:
            self.chat_history.append((chat_task, reply.strip()))
        explanation, code = extract_code(reply)
        self.log(f"==Explanation from the agent==\n{explanation}")
        self.last_code = code
        if code is None:
            return reply, None, self._failure(
                "The LLM's reply contains no Python code block (```py ... ```), so there was "
                f"nothing to run. Its reply was: {reply.strip()[:500]!r}", kind="no_code",
                reply=reply)
        self.log(f"\n\n==Code generated by the agent==\n{code}")
        return reply, code, None

    def run(self, task, *, return_code=False, remote=False, **kwargs):
        """Have the LLM write a program for ``task`` and run it.

        Args:
            task: what to do, in words (mention the variables passed in, in backticks).
            return_code: return the program (runnable on its own) instead of running it.
            remote: use the curated tools' inference endpoints (where they have one).
            kwargs: variables the program can use (e.g. ``text="..."``).

        Returns:
            The value of the program's last statement, or an :class:`AgentFailure`.
        """
        reply, code, failure = self._ask(self.format_prompt(task, variables=kwargs), RUN_STOP)
        if failure is not None:
            return failure
        if return_code:
            return self.standalone_code(code, remote=remote, variables=kwargs)
        self.log("\n\n==Result==")
        state = dict(kwargs)
        tools = self._resolve_tools(code, remote)
        result = self._execute(code, tools, state, reply)
        self.last_state = state
        return result

    def chat(self, task, *, return_code=False, remote=False, **kwargs):
        """Like :meth:`run`, in a conversation: the history of earlier turns is in the
        prompt, and variables set by earlier programs (and passed in earlier) stay defined."""
        reply, code, failure = self._ask(self.format_prompt(task, chat_mode=True), CHAT_STOP,
                                         chat_task=task)
        if failure is not None:
            return failure
        self.chat_state.update(kwargs)
        if return_code:
            return self.standalone_code(code, remote=remote, variables=self.chat_state)
        self.log("\n\n==Result==")
        if self.cached_tools is None or remote:
            self.cached_tools = self._resolve_tools(code, remote)
        self.chat_state.pop(PRINT_OUTPUTS, None)
        result = self._execute(code, self.cached_tools, self.chat_state, reply)
        self.last_state = self.chat_state
        return result

    # ------------------------------------------------------------------ return_code
    def standalone_code(self, code, *, remote=False, variables=None):
        """``code`` preceded by what it needs to run on its own: ``from tfhf import
        load_tool``, one ``load_tool(...)`` per tool it calls, and the variables it was given
        (plain values as literals; others as a placeholder to fill in)."""
        lines = ["from tfhf import load_tool", ""]
        for name, t in self.toolbox.items():
            if not re.search(rf"\b{re.escape(name)}\s*\(", code):
                continue
            lines.extend(_tool_creation_lines(name, t, remote))
        for name, value in (variables or {}).items():
            if name == PRINT_OUTPUTS or not name.isidentifier():
                continue
            if not re.search(rf"\b{re.escape(name)}\b", code):
                continue
            literal = python_literal(value)
            if literal is None:
                lines.append(f"{name} = None  # TODO: set `{name}` (a "
                             f"{type(value).__name__} was passed to the agent)")
            else:
                lines.append(f"{name} = {literal}")
        return "\n".join(lines) + "\n\n" + code + "\n"


def _tool_creation_lines(name, t, remote):
    origin = getattr(t, "_tfhf_origin", None) or {}
    if origin.get("task"):
        args = [repr(origin["task"])]
        if origin.get("model_repo_id"):
            args.append(f"model_repo_id={origin['model_repo_id']!r}")
        if remote or origin.get("remote"):
            args.append("remote=True")
        return [f"{name} = load_tool({', '.join(args)})"]
    if origin.get("repo_id"):
        args = [repr(origin["repo_id"])]
        if origin.get("model_repo_id"):
            args.append(f"model_repo_id={origin['model_repo_id']!r}")
        args.append("trust_remote_code=True")
        return [f"{name} = load_tool({', '.join(args)})"]
    return [f"# `{name}` was given to the agent as an in-memory tool: save it with "
            f"{name}.save('some/folder') and load it here with",
            f"# {name} = load_tool('some/folder', trust_remote_code=True)",
            f"raise NotImplementedError('load the tool `{name}` here (see the comment above)')"]


# ---------------------------------------------------------------------------- backends


class LocalAgent(Agent):
    """An agent whose LLM is a tfhf causal LM (greedy ``model.generate`` with stop strings).

    With a tokenizer that has a chat template the prompt goes through it (system message with
    the tools and examples, the task as the user message); ``use_chat_template=False`` sends
    the plain text prompt instead.

    Example::

        agent = LocalAgent.from_pretrained("asset:qwen2.5-coder-0.5b")
        agent.run("Summarize the `text`.", text="...")
    """

    def __init__(self, model, tokenizer, chat_prompt_template=None, run_prompt_template=None,
                 additional_tools=None, *, max_new_tokens=256, use_chat_template=None,
                 generation_kwargs=None, **agent_kwargs):
        if not hasattr(model, "generate"):
            raise ConfigError(f"LocalAgent needs a causal LM with generate(); got "
                              f"{type(model).__name__}.")
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = int(max_new_tokens)
        self.use_chat_template = use_chat_template
        self.generation_kwargs = dict(generation_kwargs or {})
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
                                 generation_kwargs=self.generation_kwargs)
        return generate_text(self.model, self.tokenizer, str(prompt),
                             max_new_tokens=self.max_new_tokens, stop=stop,
                             use_chat_template=False, generation_kwargs=self.generation_kwargs)


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
