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
:class:`~tfhf.agents.LLMBackendError` (and subclasses). Before giving up, the agent shows the
model what went wrong and asks for a corrected program (``run(..., max_retries=)``; the
agent's ``correction_retries``, 1 by default).

Backends (tfhf/agents/backends.py): :class:`LocalAgent` (a tfhf causal LM and its tokenizer,
``model.generate``), :class:`OpenAiAgent` (OpenAI-compatible ``/chat/completions``),
:class:`HfAgent` (text-generation-inference ``{"inputs", "parameters"}``), or
``Agent(llm=callable)`` with any ``callable(prompt, stop) -> str``.
"""

from __future__ import annotations

import logging
import re

from ..errors import ConfigError
from ._http import LLMResponseError
from .checks import missing_steps, misused_urls, overwritten_inputs, unused_inputs
from .examples import render_examples, select_examples
from .interpreter import PRINT_OUTPUTS, InterpreterError, Limits, evaluate, evaluate_isolated
from .literals import python_literal
from .prompts import (CHAT_MESSAGE_PROMPT, CHAT_STOP, RETRY_MESSAGE, RUN_STOP, describe_tools,
                      describe_variables, is_web_address, load_prompt, retry_prompt)
from .textgen import truncate_at_stops
from .tools import Tool, ToolError

logger = logging.getLogger("tfhf")

__all__ = ["Agent", "AgentFailure", "Prompt", "extract_code"]


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
    ``"limit"``, ``"syntax"``, ``"error"``, ``"overwritten_input"``: the program set a variable
    passed to ``run`` to a made-up literal before reading it), ``error`` (the :class:`InterpreterError`, if any),
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
        correction_retries: how many times ``run``/``chat`` show the model a failed program's
            error and ask for a corrected one (0: never); ``run``/``chat`` take
            ``max_retries=`` to change it for one call.
        num_examples: how many worked examples the default run prompt shows, picked per task
            among :data:`tfhf.agents.examples.EXAMPLES` (templates with an ``<<examples>>``
            placeholder).
    """

    def __init__(self, chat_prompt_template=None, run_prompt_template=None,
                 additional_tools=None, *, llm=None, default_tools=True, limits=None, log=print,
                 token=None, isolated=False, correction_retries=1, num_examples=3):
        self.chat_prompt_template = load_prompt(chat_prompt_template, "chat", token=token)
        self.run_prompt_template = load_prompt(run_prompt_template, "run", token=token)
        self._llm = llm
        self.limits = limits if limits is not None else Limits()
        self.isolated = bool(isolated)
        self.correction_retries = 1
        self.correction_retries = self._retries(correction_retries, "correction_retries")
        if isinstance(num_examples, bool) or not isinstance(num_examples, int) or \
                num_examples < 0:
            raise ConfigError("num_examples must be an int >= 0 (how many worked examples the "
                              f"run prompt shows); got {num_examples!r}.")
        self.num_examples = num_examples
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
            rendered = rendered.replace("<<variables>>", describe_variables(variables,
                                                                           self.toolbox))
            if "<<examples>>" in rendered:
                rendered = rendered.replace("<<examples>>", render_examples(
                    select_examples(task, variables, self.toolbox, k=self.num_examples)))
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

    def _check_inputs(self, code, variables, reply, task=""):
        """An :class:`AgentFailure` when ``code`` would run but not do the task (see
        :mod:`tfhf.agents.checks`): it replaces a variable passed in with a made-up value
        (kind ``"overwritten_input"``), gives a web address passed in to a tool as if it were
        the page's text (``"url_as_text"``), never reads a variable the task names
        (``"unused_input"``) or leaves out a step the task asks for (``"missing_step"``);
        else None."""
        found = overwritten_inputs(code, variables)
        if found:
            name, source = found[0]
            return self._failure(
                f"The program replaces the variable `{name}` that was passed in with a made-up "
                f"value (`{source}`), so it would not work on the real `{name}`. Use `{name}` "
                "as it is, without assigning it.", kind="overwritten_input", code=code,
                reply=reply)
        message, kind = self._step_problem(code, variables, task)
        if message:
            return self._failure(message, kind=kind, code=code, reply=reply)
        return None

    def _step_problem(self, code, variables, task):
        urls = {n for n, v in variables.items() if is_web_address(v)}
        downloader = next((n for n, t in self.toolbox.items()
                           if "url" in (getattr(t, "inputs", None) or {})), None)
        misused = misused_urls(code, urls, self.toolbox) if downloader else []
        if misused:
            name, tool, arg = misused[0]
            return (f"`{name}` is a web address, not the text of the page: `{tool}({arg}="
                    f"{name})` would work on the address itself. First get the page's text "
                    f"with `page = {downloader}(url={name})`, then give `page` to `{tool}`.",
                    "url_as_text")
        unused = unused_inputs(code, variables, task)
        if unused:
            name = unused[0]
            return (f"The program never uses the variable `{name}`, which the task is about. "
                    f"Work on `{name}` itself (it already exists), calling the tools that the "
                    "task needs on it.", "unused_input")
        missing = missing_steps(code, task, self.toolbox)
        if missing:
            tool = missing[0]
            example = getattr(self.toolbox[tool], "example", None)
            return (f"The task asks for a step that `{tool}` does, but the program never "
                    f"calls `{tool}`: add that call"
                    + (f" (for example `{' '.join(str(example).split())}`)"
                       if isinstance(example, str) and example.strip() else "")
                    + ", giving it the output of the step before.", "missing_step")
        return None, None

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
        if code is not None:
            code = self.correct_code(code)
        self.last_code = code
        if code is None:
            return reply, None, self._failure(
                "The LLM's reply contains no Python code block (```py ... ```), so there was "
                f"nothing to run. Its reply was: {reply.strip()[:500]!r}", kind="no_code",
                reply=reply)
        self.log(f"\n\n==Code generated by the agent==\n{code}")
        return reply, code, None

    def correct_code(self, code):
        """The program to run, from the one in the LLM's reply: unchanged here;
        ``LocalAgent(constrained=True)`` corrects near-miss tool and argument names."""
        return code

    def _retries(self, max_retries, name="max_retries"):
        value = self.correction_retries if max_retries is None else max_retries
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} must be an int >= 0 (how many times the agent may "
                              f"ask the LLM to correct a failed program); got {value!r}.")
        return value

    def _retry_log(self, attempt, retries, failure):
        self.log(f"==Retry {attempt}/{retries}: showing the model what went wrong==\n"
                 f"{failure}")

    def run(self, task, *, return_code=False, remote=False, max_retries=None, **kwargs):
        """Have the LLM write a program for ``task`` and run it.

        Args:
            task: what to do, in words (mention the variables passed in, in backticks).
            return_code: return the program (runnable on its own) instead of running it.
            remote: use the curated tools' inference endpoints (where they have one).
            max_retries: when the reply has no program, or the program is refused, fails, or
                calls a tool with arguments it refuses, show the model the error and ask for a
                corrected program, at most this many times (default: the agent's
                ``correction_retries``, 1). Each try runs from the variables passed in; tools called
                by a failed try have run.
            kwargs: variables the program can use (e.g. ``text="..."``).

        Returns:
            The value of the program's last statement, or an :class:`AgentFailure` (the last
            try's).
        """
        retries = self._retries(max_retries)
        prompt = self.format_prompt(task, variables=kwargs)
        for attempt in range(retries + 1):
            reply, code, failure = self._ask(prompt, RUN_STOP)
            if failure is None:
                if return_code:
                    return self.standalone_code(code, remote=remote, variables=kwargs)
                failure = self._check_inputs(code, kwargs, reply, task)
            if failure is None:
                self.log("\n\n==Result==")
                state = dict(kwargs)
                result = self._execute(code, self._resolve_tools(code, remote), state, reply)
                self.last_state = state
                if not isinstance(result, AgentFailure):
                    return result
                failure = result
            if attempt == retries:
                return failure
            self._retry_log(attempt + 1, retries, failure)
            prompt = retry_prompt(prompt, reply, failure,
                                  describe_variables(kwargs, self.toolbox))
        return failure

    def chat(self, task, *, return_code=False, remote=False, max_retries=None, **kwargs):
        """Like :meth:`run`, in a conversation: the history of earlier turns is in the
        prompt, and variables set by earlier programs (and passed in earlier) stay defined.
        A failed program is corrected as in :meth:`run`: the error goes into the
        conversation as the human's next turn."""
        retries = self._retries(max_retries)
        self.chat_state.update(kwargs)
        failure = None
        for attempt in range(retries + 1):
            if attempt:
                self._retry_log(attempt, retries, failure)
                task = RETRY_MESSAGE.format(error=str(failure),
                                            variables=describe_variables(self._chat_vars()))
            failure = self._chat_once(task, return_code, remote)
            if not isinstance(failure, AgentFailure):
                return failure
        return failure

    def _chat_vars(self):
        return {k: v for k, v in self.chat_state.items() if k != PRINT_OUTPUTS}

    def _chat_once(self, task, return_code, remote):
        reply, code, failure = self._ask(self.format_prompt(task, chat_mode=True), CHAT_STOP,
                                         chat_task=task)
        if failure is not None:
            return failure
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
