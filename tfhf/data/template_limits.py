"""Chat templates rendered within limits: time, steps, output size, memory, call depth.

transformers renders a chat template in jinja2's ``ImmutableSandboxedEnvironment``, which
keeps a template away from Python internals but not from the host's time and memory: two
nested ``range(100000)`` loops run for hours, ``lipsum(n=200000)`` for half a minute,
``"x" * 10**10`` or ``s|center(10**10)`` allocate gigabytes, and ``OverflowError``,
``TypeError``, ``MemoryError`` or ``RecursionError`` reach the caller raw.

While :func:`bounded_rendering` is active (tfhf's ``apply_chat_template`` enters it, so
``tok.apply_chat_template``, ``tfhf chat``, pipelines and agents all render through it),
transformers' compiled template is replaced by one compiled from an overlay of the *same*
environment (same filters, globals, extensions and options, so real templates render
exactly as transformers renders them) that adds:

* a deadline and a step budget, checked on every loop iteration, call, attribute lookup,
  filter and output chunk;
* size checks *before* the operations that can build large values from small ones
  (``*``, ``**``, ``%``, ``~``, ``str.format``/``replace``/``join``/``center``...,
  the ``join``/``replace``/``indent``/``wordwrap``/``format`` filters, ``tojson`` streamed,
  ``lipsum``), a cap on every printed value and on the rendered text, and a budget on all
  the characters a render produces (the memory it can hold);
* a limit on macro/call nesting;
* every failure during rendering as :class:`tfhf.errors.InvalidInputError` naming the
  template and the reason (jinja2's own errors keep their messages, see ``tokenizer.py``).

The hook: transformers compiles chat templates through
``transformers.utils.chat_template_utils._compile_jinja_template`` (a private name, stable
through transformers 5.x); :func:`bounded_rendering` wraps it once, and the wrapper returns
transformers' own template unless a tfhf rendering is active in the current context (thread
or task), so other users of transformers in the process are not affected.

The limits (:class:`TemplateLimits`) have defaults far above what real templates need; raise
them per call (``tok.apply_chat_template(..., template_limits=TemplateLimits(...))``) or for
the process (:func:`set_default_limits`).
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import dataclasses
import functools
import json
import sys
import threading
import time
import warnings

from jinja2.runtime import markup_join, str_join  # jinja2 comes with transformers
from jinja2.utils import Namespace, generate_lorem_ipsum

from ..errors import InvalidInputError
from .template_checks import check_binop, check_call, check_filter


@dataclasses.dataclass(frozen=True)
class TemplateLimits:
    """Limits of one chat-template rendering (the defaults are far above real templates)."""

    max_seconds: float = 1.0          # wall-clock time of one rendering
    max_steps: int = 1_000_000        # loop iterations plus calls (macros, methods, globals)
    max_output_chars: int = 1_000_000  # the rendered text, and any single value in it
    max_work_chars: int = 0           # characters all operations may produce; 0: 16 x output
    max_depth: int = 64               # nested macro / function calls
    max_int_bits: int = 10_000        # integers built with * and **
    max_template_chars: int = 200_000  # the template source

    def work_chars(self):
        return self.max_work_chars or 16 * self.max_output_chars


_DEFAULT = [TemplateLimits()]
_ACTIVE = contextvars.ContextVar("tfhf_chat_template_budget", default=None)
_INSTALL_LOCK = threading.Lock()


def default_limits() -> TemplateLimits:
    return _DEFAULT[0]


def set_default_limits(limits: TemplateLimits | None = None, **changes) -> TemplateLimits:
    """Set the process-wide limits (a :class:`TemplateLimits`, or fields to change);
    returns the previous ones."""
    previous = _DEFAULT[0]
    _DEFAULT[0] = dataclasses.replace(limits or previous, **changes)
    return previous


class _Budget:
    """What one rendering may still spend."""

    def __init__(self, limits, where):
        self.limits, self.where = limits, where
        self.deadline = time.monotonic() + limits.max_seconds
        self.steps = self.work = self.output = self.depth = 0

    def refuse(self, reason):
        raise InvalidInputError(
            f"{self.where} was stopped: {reason}. Real chat templates stay far below these "
            "limits, so the template is broken or hostile; if you trust it, raise the limit "
            "(apply_chat_template(..., template_limits=tfhf.data.template_limits."
            "TemplateLimits(...)) or template_limits.set_default_limits(...)).")

    def tick(self):
        if time.monotonic() > self.deadline:
            self.refuse(f"rendering took longer than max_seconds={self.limits.max_seconds}")

    def step(self):
        self.steps += 1
        if self.steps > self.limits.max_steps:
            self.refuse(f"more than max_steps={self.limits.max_steps} loop iterations and "
                        "calls")
        self.tick()

    def value(self, size, what="a value"):
        """A value of ``size`` characters is about to be built."""
        if size > self.limits.max_output_chars:
            self.refuse(f"{what} would be {size if size < 10**15 else 'over 10**15'} "
                        f"characters, over max_output_chars={self.limits.max_output_chars}")
        self.work += size
        if self.work > self.limits.work_chars():
            self.refuse(f"the template built more than {self.limits.work_chars()} characters "
                        "in all (max_work_chars)")

    def produced(self, result):
        """Charge a value an operation returned (its own length, not its items')."""
        if isinstance(result, (str, list, tuple, dict)):
            self.value(len(result))
        return result

    def size(self, value, what="a value"):
        """Characters ``str(value)`` may have (items counted each time they are referenced),
        refused over max_output_chars; walks at most that many items."""
        limit = self.limits.max_output_chars
        total, stack = 0, [value]
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                total += len(v) + 2
            elif isinstance(v, (list, tuple, dict, set, frozenset)):
                total += 2 + 2 * len(v)
                if total <= limit:
                    stack.extend(v.items() if isinstance(v, dict) else v)
            elif isinstance(v, int):
                total += v.bit_length() // 3 + 2
            elif isinstance(v, Namespace):
                self.refuse("a namespace() object cannot be turned into text")
            else:  # None, floats, Undefined, loop, macros, cyclers: short reprs
                total += 32
            if total > limit:
                self.value(total, what)
        return total

    def small_ints(self, values, what):
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool) and \
                    abs(v) > self.limits.max_output_chars:
                self.refuse(f"{what} got the number {v if v.bit_length() < 64 else 'too big'}, "
                            f"over max_output_chars={self.limits.max_output_chars}")


def _budget():
    budget = _ACTIVE.get()  # None: a bounded template used outside bounded_rendering
    return budget if budget is not None else _Budget(default_limits(), "A chat template")


@contextlib.contextmanager
def bounded_rendering(where: str, limits: TemplateLimits | None = None):
    """Render chat templates within ``limits`` inside this block (see the module doc);
    ``where`` starts the error messages ("The chat template of tokenizer 'x'")."""
    if limits is not None and not isinstance(limits, TemplateLimits):
        raise InvalidInputError(f"template_limits must be a TemplateLimits, got {limits!r}.")
    _install()
    token = _ACTIVE.set(_Budget(limits or default_limits(), where))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


# ------------------------------------------------------------------ hooking transformers
def _install():
    """Make transformers' template compiler return the bounded template while a bounded
    rendering is active in this context (outside one it returns transformers' own)."""
    try:
        from transformers.utils import chat_template_utils as ctu
    except ImportError:  # pragma: no cover - transformers is a dependency
        return
    with _INSTALL_LOCK:
        original = getattr(ctu, "_compile_jinja_template", None)
        if original is None or getattr(original, "tfhf_bounded", False):
            if original is None:
                warnings.warn("This transformers version has no _compile_jinja_template: chat "
                              "templates render without tfhf's limits.", stacklevel=3)
            return

        def compile_template(chat_template):
            budget = _ACTIVE.get()
            if budget is None:
                return original(chat_template)
            return _compile_bounded(budget, original, chat_template)

        compile_template.tfhf_bounded = True
        compile_template.cache_clear = getattr(original, "cache_clear", lambda: None)
        compile_template.cache_info = getattr(original, "cache_info", lambda: None)
        compile_template.__wrapped__ = original
        ctu._compile_jinja_template = compile_template


def _compile_bounded(budget, original, source):
    from jinja2.exceptions import TemplateError

    if not isinstance(source, str):
        raise InvalidInputError(f"{budget.where} is not a string ({type(source).__name__}).")
    if len(source) > budget.limits.max_template_chars:
        budget.refuse(f"the template is {len(source)} characters, over "
                      f"max_template_chars={budget.limits.max_template_chars}")
    try:
        # transformers' environment, taken from an empty template: compiling ``source`` there
        # would fold its constant expressions (``'x'|center(10**10)``) without any limit
        return _bounded_template(original("").environment, source)
    except (TemplateError, InvalidInputError):
        raise
    except Exception as e:  # RecursionError / MemoryError from the parser on a hostile text
        raise InvalidInputError(f"{budget.where} could not be compiled "
                                f"({type(e).__name__}: {str(e)[:200]}).") from e


@functools.lru_cache(maxsize=32)
def _bounded_template(env, source):
    from jinja2.sandbox import SandboxedEnvironment

    if not isinstance(env, SandboxedEnvironment):  # never render outside a sandbox
        raise InvalidInputError("transformers did not compile the chat template in a "
                                "sandboxed jinja2 environment; tfhf refuses to render it.")
    bounded = env.overlay(finalize=_finalize)
    bounded.__class__ = _bounded_class(type(env))
    bounded.filters = {name: _wrap_filter(name, f) for name, f in env.filters.items()}
    if getattr(env.filters.get("tojson"), "__module__", "").startswith("transformers"):
        bounded.filters["tojson"] = _tojson  # same signature and output, built piece by piece
    bounded.globals = dict(env.globals, lipsum=_lipsum)
    bounded.code_generator_class = _code_generator()
    bounded.concat = _concat
    template = bounded.from_string(source)
    template.root_render_func = _counted(template.root_render_func)
    return template


# ------------------------------------------------------------------ the environment
@functools.lru_cache(maxsize=None)
def _bounded_class(base):
    return type("Bounded" + base.__name__, (_BoundedMixin, base), {})


class _BoundedMixin:
    intercepted_binops = frozenset(("*", "**", "%", "+"))

    def call(self, context, obj, /, *args, **kwargs):
        budget = _budget()
        budget.step()
        args = check_call(budget, obj, args, kwargs)
        budget.depth += 1
        try:
            if budget.depth > budget.limits.max_depth:
                budget.refuse(f"calls nested deeper than max_depth={budget.limits.max_depth}")
            result = super().call(context, obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        return budget.produced(result)

    def getattr(self, obj, attribute):
        _budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        budget = _budget()
        budget.tick()
        result = super().getitem(obj, argument)
        return budget.produced(result) if isinstance(argument, slice) else result

    def call_binop(self, context, operator, left, right):
        budget = _budget()
        budget.tick()
        check_binop(budget, operator, left, right)
        return budget.produced(super().call_binop(context, operator, left, right))

    def bounded_iter(self, iterable):
        """Every ``{% for %}`` loop iterates through this (see _code_generator)."""
        budget = _budget()
        for item in iterable:
            budget.step()
            yield item

    def bounded_join(self, markup, parts):
        """``a ~ b ~ c``: sized before the string is built."""
        budget = _budget()
        budget.value(sum(len(p) if isinstance(p, str) else budget.size(p) for p in parts),
                     "a ~ concatenation")
        return markup_join(parts) if markup else str_join(parts)

    def handle_exception(self, source=None):
        from jinja2.exceptions import TemplateError

        error = sys.exc_info()[1]
        if isinstance(error, (TemplateError, InvalidInputError)):
            return super().handle_exception(source)
        budget = _budget()
        raise InvalidInputError(f"{budget.where} failed while rendering "
                                f"({type(error).__name__}: {str(error)[:300]}).") from error


@functools.lru_cache(maxsize=None)
def _code_generator():
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator

    class BoundedCodeGenerator(CodeGenerator):
        """Loops iterate through ``environment.bounded_iter``; ``~`` goes through
        ``environment.bounded_join``. Everything else is jinja2's code."""

        def visit_Template(self, node, frame=None):
            for loop in node.find_all(nodes.For):
                loop.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_iter"), [loop.iter],
                                       [], None, None, lineno=loop.iter.lineno)
            super().visit_Template(node, frame)

        def visit_Concat(self, node, frame):
            if frame.eval_ctx.volatile:  # as jinja2 chooses markup_join / str_join
                self.write("environment.bounded_join(context.eval_ctx.volatile, (")
            else:
                self.write(f"environment.bounded_join({bool(frame.eval_ctx.autoescape)}, (")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    return BoundedCodeGenerator


def _finalize(value):
    """Every ``{{ value }}``: sized before it becomes text."""
    budget = _ACTIVE.get()
    if budget is not None:
        size = len(value) if isinstance(value, str) else budget.size(value)
        budget.value(size, "a printed value")
    return value


def _concat(parts):
    """Joins output buffers (macros, blocks, the whole rendering) within the budget."""
    budget, out, total = _budget(), [], 0
    for part in parts:
        total += len(part)
        if total > budget.limits.max_output_chars:
            budget.value(total, "the rendered text")
        out.append(part)
    budget.value(total)
    return "".join(out)


def _counted(root_render_func):
    @functools.wraps(root_render_func)
    def render(context):
        budget, total = _budget(), 0
        for chunk in root_render_func(context):
            budget.tick()
            total += len(chunk)
            if total > budget.limits.max_output_chars:
                budget.value(total, "the rendered text")
            yield chunk

    return render


def _lipsum(n=5, html=True, min=20, max=100):  # noqa: A002 - jinja2's signature
    budget = _budget()
    budget.step()
    budget.small_ints((n, min, max), "lipsum()")
    budget.value(12 * builtins.max(n, 0) * builtins.max(min, max, 1), "lipsum()")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    """transformers' ``tojson`` (``json.dumps`` with these options), produced piece by piece
    so an indented dump of a big value stops at the output limit instead of being built."""
    budget = _budget()
    budget.tick()
    budget.small_ints((indent,), "tojson")
    if isinstance(indent, str):
        budget.value(len(indent), "the tojson indent")
    encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, indent=indent,
                               separators=separators, sort_keys=sort_keys)
    if isinstance(x, str):
        budget.value(len(x) + 2, "tojson")
        return encoder.encode(x)
    pieces, total = [], 0
    for piece in encoder.iterencode(x):
        total += len(piece)
        if total > budget.limits.max_output_chars:
            budget.value(total, "tojson")
        if len(pieces) % 1024 == 0:
            budget.tick()
        pieces.append(piece)
    budget.value(total)
    return "".join(pieces)


def _wrap_filter(name, func):
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def bounded(*args, **kwargs):
        budget = _budget()
        budget.tick()
        if len(args) > offset:
            value = check_filter(budget, name, args[offset], args[offset + 1:], kwargs)
            if value is not args[offset]:
                args = args[:offset] + (value,) + args[offset + 1:]
        return budget.produced(func(*args, **kwargs))

    return bounded
