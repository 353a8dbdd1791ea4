"""Defence in depth: :func:`evaluate` in a forked worker process under OS limits.

The budget (:class:`~.budget.Limits`) bounds what a program may start; the OS bounds what the
worker may use, whatever happens: ``RLIMIT_AS`` caps its address space and ``RLIMIT_CPU`` its
CPU time, and the parent kills it past the wall-clock limit. Tools run in the worker too (a
tool's side effects, such as loading a model, stay there). The result and the variables come
back pickled: values that cannot be pickled (objects wrapped in ``Opaque``) are dropped from
the returned state, and an unpicklable result is an :class:`InterpreterError`.

POSIX only (``os.fork`` and ``resource``); fork before TensorFlow starts its threads, or use
tools that do not need them in the worker.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import signal
import time

from .budget import DEFAULT_LIMITS, Limits
from .errors import InterpreterError
from .values import Opaque


def evaluate_isolated(code: str, tools: dict | None = None, state: dict | None = None, *,
                      limits: Limits | None = None, max_memory_mb: int = 2048,
                      max_cpu_seconds: float | None = None):
    """Like :func:`~tfhf.agents.evaluate`, in a forked worker with OS limits.

    Args:
        max_memory_mb: the worker's address-space limit (``RLIMIT_AS``).
        max_cpu_seconds: the worker's CPU-time limit (``RLIMIT_CPU``); default: the limits'
            ``max_wall_seconds`` plus one.

    ``state`` is updated in place with the picklable variables the program left. Raises
    :class:`InterpreterError` for everything :func:`evaluate` raises, and with ``kind="limit"``
    when the worker is killed (an OS limit, the wall clock) or dies.
    """
    import resource  # POSIX only: a clear ImportError elsewhere

    limits = DEFAULT_LIMITS if limits is None else limits
    state = {} if state is None else state
    cpu = max_cpu_seconds if max_cpu_seconds is not None else limits.max_wall_seconds + 1
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(rfd)
        try:
            memory = int(max_memory_mb) << 20
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            seconds = max(1, math.ceil(cpu))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
            _work(code, tools, state, limits, wfd)
        finally:
            os._exit(0)
    os.close(wfd)
    data, status = _collect(pid, rfd, limits.max_wall_seconds + 5)
    return _finish(data, status, state)


def _work(code, tools, state, limits, wfd):
    from .evaluator import evaluate

    try:
        result = evaluate(code, tools, state, limits=limits)
        kept = {}
        for name, value in state.items():
            if type(value) is Opaque:
                continue
            try:
                kept[name] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - unpicklable variables stay in the worker
                continue
        try:
            payload = ("ok", pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL), kept)
        except Exception:  # noqa: BLE001
            payload = ("error", ("the program's result cannot leave the worker process "
                                 f"(a {type(result).__name__})", None, "result", "error"), kept)
    except InterpreterError as e:
        payload = ("error", (e.reason, e.lineno, e.construct, e.kind), {})
    except MemoryError:
        payload = ("error", ("the worker process ran out of memory", None, "memory", "limit"),
                   {})
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(data)
    while view:
        view = view[os.write(wfd, view):]
    os.close(wfd)


def _collect(pid, rfd, timeout):
    chunks = []
    deadline = time.monotonic() + timeout
    status = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise InterpreterError(f"the worker process ran longer than {timeout:g} seconds "
                                       "and was stopped", construct="time", kind="limit")
            ready, _, _ = select.select([rfd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(rfd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(rfd)
    return b"".join(chunks), status


def _finish(data, status, state):
    if os.WIFSIGNALED(status) or not data:
        why = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.WEXITSTATUS(status)}")
        raise InterpreterError(f"the worker process was stopped by an OS limit or died ({why})",
                               construct="worker", kind="limit")
    outcome, value, kept = pickle.loads(data)  # our own child's bytes
    for name, blob in kept.items():
        try:
            state[name] = pickle.loads(blob)
        except Exception:  # noqa: BLE001 - a value that does not unpickle is dropped
            continue
    if outcome == "error":
        message, lineno, construct, kind = value
        raise InterpreterError(message, lineno=lineno, construct=construct, kind=kind)
    return pickle.loads(value)
