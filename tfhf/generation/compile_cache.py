"""The one-line compile notice of ``generate``, and its use of the persistent XLA cache.

``generate`` compiles one XLA program per (mode, buckets) key; on 2 CPU cores that takes tens
of seconds. With the opt-in persistent cache (``TFHF_XLA_CACHE``, :mod:`tfhf.xla_cache`;
``tfhf chat`` / ``tfhf generate`` turn it on) a later process loads the program instead. A
program is found again when it is the same program: same model weights' shapes and names,
same buckets and mode, and the same order of compilations before it in the process
(TensorFlow numbers traced functions; :func:`aligned_trace` keeps the numbers independent of
unrelated work done before).

The notice: a traced loop prints one stderr line, ``tfhf: compiling ... once for these
shapes`` when XLA compiles it (as soon as compiling has taken a moment), or ``tfhf: loaded
... from the compile cache (DIR)`` when the cache had it. :func:`set_compile_notice` (or
``TFHF_COMPILE_NOTICE=0``) turns the line into an INFO log record.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from .. import xla_cache

logger = logging.getLogger("tfhf.generation")

# tracing + compiling still running after this many seconds gets its notice then
NOTICE_DELAY_S = 2.0
# traced function numbers are rounded up to a multiple of this before each traced loop
_UID_BLOCK = 1 << 16


def aligned_trace():
    """Advance TensorFlow's counter of traced functions to the next multiple of a block, so
    the names inside a traced loop (part of the persistent cache's key) depend only on how
    many loops were traced before in the process, not on other work done in between."""
    from tensorflow.python.framework import ops

    uid = ops.uid()
    target = -(-uid // _UID_BLOCK) * _UID_BLOCK
    for _ in range(target - uid):
        ops.uid()


# ---------------------------------------------------------------- notice
_NOTICE = {"enabled": None}  # None: from $TFHF_COMPILE_NOTICE (default on)


def set_compile_notice(enabled):
    """Print (True, the default) or only log at INFO (False) the one line ``generate`` writes
    to stderr when it compiles a decode loop for new shapes (or loads it from the persistent
    compile cache). None (as before any call) follows the environment variable
    ``TFHF_COMPILE_NOTICE`` (``0`` turns it off; the quiet ``tfhf`` commands set it)."""
    _NOTICE["enabled"] = None if enabled is None else bool(enabled)


def _notice_enabled():
    if _NOTICE["enabled"] is not None:
        return _NOTICE["enabled"]
    return os.environ.get("TFHF_COMPILE_NOTICE", "1").lower() not in ("0", "false", "no", "")


def notice(line):
    if _notice_enabled():
        print(line, file=sys.stderr, flush=True)
    else:
        logger.info(line)


class AnnouncedFunction:
    """A ``tf.function(fn, jit_compile=True)`` that says (once per trace) that it compiles.

    ``describe()`` gives the text after ``tfhf: compiling`` / ``tfhf: loaded``. Without the
    persistent cache the line is printed when tracing starts. With it, the compile line is
    printed once tracing and compiling have taken :data:`NOTICE_DELAY_S` (or at the end of a
    faster compilation); when XLA found the program in the cache (no new entry written),
    ``tfhf: loaded ... from the compile cache`` follows instead.
    """

    def __init__(self, fn, describe):
        import tensorflow as tf

        self._fn, self._describe = fn, describe
        self._pending = None  # set while a traced call runs: {"before", "timer", "printed"}
        self.function = tf.function(self._traced, jit_compile=True)

    def _compile_line(self):
        return f"tfhf: compiling {self._describe()}; once for these shapes"

    def _traced(self, *args):
        if xla_cache.configure() is None:
            notice(self._compile_line())
            return self._fn(*args)
        pending = {"printed": False}

        def late_notice():
            pending["printed"] = True
            notice(self._compile_line())

        pending["timer"] = threading.Timer(NOTICE_DELAY_S, late_notice)
        pending["timer"].daemon = True
        pending["timer"].start()
        self._pending = pending
        aligned_trace()
        out = self._fn(*args)
        xla_cache.prepare()  # XLA compiles after tracing: the shared entries in place first
        pending["before"] = xla_cache.entries(xla_cache.staging_folder())
        return out

    def __call__(self, *args):
        try:
            return self.function(*args)
        finally:
            self._settle()

    def _settle(self):
        pending, self._pending = self._pending, None
        if pending is None:
            return
        pending["timer"].cancel()
        pending["timer"].join()
        if "before" not in pending:  # tracing failed
            return
        new = xla_cache.entries(xla_cache.staging_folder()) - pending["before"]
        xla_cache.publish()
        if new and not pending["printed"]:
            notice(self._compile_line())
        elif not new:
            notice(f"tfhf: loaded {self._describe()} from the compile cache "
                   f"({xla_cache.configure()})")

    def __getattr__(self, name):  # get_concrete_function, experimental_get_compiler_ir...
        return getattr(self.function, name)
