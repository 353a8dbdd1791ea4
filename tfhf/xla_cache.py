"""An opt-in persistent cache of compiled XLA programs, shared by later processes.

TensorFlow can save every program it JIT-compiles and load it in a later process instead of
compiling again (``TF_XLA_FLAGS=--tf_xla_persistent_cache_directory=DIR``), which turns the
tens of seconds of a first ``generate`` into a file read. Used as it is, that cache is not
safe to share: TensorFlow writes entries in place (a reader in another process, or a crash,
sees a half-written file) and a truncated entry makes every later call of that program fail.
tfhf therefore points TensorFlow at a private folder per process and shares entries itself:

* ``TFHF_XLA_CACHE`` turns it on: ``1`` (``on``, ``true``) for ``$TFHF_CACHE/xla``, else
  ``$XDG_CACHE_HOME/tfhf/xla`` (default ``~/.cache/tfhf/xla``), or a folder path; unset, empty
  or ``0`` (``off``) leaves it off. ``tfhf chat`` and ``tfhf generate`` turn it on unless it
  is set. A ``--tf_xla_persistent_cache_directory`` already in ``TF_XLA_FLAGS`` is the
  user's own cache: tfhf then leaves it alone.
* entries live in a subfolder named after the TensorFlow version and a hash of the XLA flags
  and the CPU (model and instruction-set flags), so another TensorFlow, other flags or
  another CPU never load them;
* before a program is compiled, the shared entries are hard-linked into the process's folder;
  after, the new entries TensorFlow wrote there are checked to be complete protocol-buffer
  files and published with an atomic link or rename, never as a partial file. The process's
  folder is removed at exit (and a crashed process's one by the next process).

TensorFlow itself loads an entry only if the program's HLO is identical (its key is a hash
of the HLO, checked in full on load). Entries are never evicted: delete the folder to reclaim
the space. TensorFlow reads ``TF_XLA_FLAGS`` once, before it runs its first operation:
``import tfhf`` calls :func:`configure`, which is too late if TensorFlow already ran
operations (the cache then stays off for the process).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import platform
import re
import shutil
import sys
import uuid

logger = logging.getLogger("tfhf")

ENV = "TFHF_XLA_CACHE"
_FLAG = "--tf_xla_persistent_cache_directory"
_OFF = ("", "0", "off", "false", "no", "none")
_ON = ("1", "on", "true", "yes")
_STAGING = ".staging"
_STATE = {"shared": None, "staging": None}


def cache_root():
    """The folder the environment asks for (``$TFHF_XLA_CACHE``), or None when off."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value.lower() in _ON:
        base = os.environ.get("TFHF_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tfhf")
        return os.path.join(base, "xla")
    return os.path.abspath(os.path.expanduser(value))


def _tensorflow_version():
    if "tensorflow" in sys.modules and hasattr(sys.modules["tensorflow"], "__version__"):
        return sys.modules["tensorflow"].__version__
    from importlib import metadata

    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos",
                 "tf-nightly", "tf-nightly-cpu"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def _cpu_signature():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags", "Features", "CPU part") and key not in fields:
                    fields[key] = value.strip()
    except OSError:
        pass
    return f"{platform.machine()}|{platform.processor()}|{sorted(fields.items())}"


def compiler_folder_name(tf_version, xla_flags):
    """``tf<version>-<hash of the flags and the CPU>``: where this compiler's entries go."""
    text = "\n".join([tf_version, xla_flags, os.environ.get("XLA_FLAGS", ""), _cpu_signature()])
    return f"tf{tf_version}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _tensorflow_started():
    """Whether TensorFlow already ran operations (it has read TF_XLA_FLAGS then)."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context

        return context.context()._context_handle is not None  # noqa: SLF001 (no public API)
    except Exception:  # pragma: no cover - other TensorFlow versions: assume started
        return True


def configure():
    """Point TensorFlow's cache at a private folder of this process when ``TFHF_XLA_CACHE``
    asks for the cache and TensorFlow has not run operations yet (called again, e.g. after
    the ``tfhf`` command set the variable, until it succeeds). Returns the shared folder in
    use, or None."""
    if _STATE["shared"] is not None:
        return _STATE["shared"]
    flags = os.environ.get("TF_XLA_FLAGS", "")
    root = cache_root()
    if root is None or re.search(re.escape(_FLAG) + r"=", flags):
        return None  # off, or the user's own TensorFlow cache
    version = _tensorflow_version()
    if version is None or _tensorflow_started():
        logger.debug("tfhf: no persistent XLA cache (%s)", "TensorFlow version unknown"
                    if version is None else "TensorFlow ran operations before import tfhf")
        return None
    shared = os.path.join(root, compiler_folder_name(version, flags))
    staging = os.path.join(shared, _STAGING, f"{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.makedirs(staging)
    except OSError as e:
        logger.info("tfhf: no persistent XLA cache in %s: %s", shared, e)
        return None
    _remove_stale_staging(os.path.dirname(staging))
    atexit.register(shutil.rmtree, staging, True)
    os.environ["TF_XLA_FLAGS"] = f"{flags} {_FLAG}={staging}".strip()
    _STATE["shared"], _STATE["staging"] = shared, staging
    return shared


def staging_folder():
    """The folder TensorFlow reads and writes in this process (None when the cache is off)."""
    return _STATE["staging"]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale_staging(parent):
    for name in _entries(parent):
        pid = name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def _entries(folder):
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def entries(folder):
    """Names of the complete-looking entries (``*.pb``) of ``folder``."""
    return {n for n in _entries(folder) if n.endswith(".pb") and not n.startswith(".")}


# ---------------------------------------------------------------- checking an entry
def _varint(data, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def is_complete_entry(path) -> bool:
    """Whether ``path`` parses as a whole serialized cache entry: top-level protocol-buffer
    fields up to the exact end of the file, the executable (field 3) among them non-empty."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        pos, fields = 0, {}
        while pos < len(data):
            tag, pos = _varint(data, pos)
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                _, pos = _varint(data, pos)
                continue
            if wire == 1 or wire == 5:
                pos += 8 if wire == 1 else 4
            elif wire == 2:
                size, pos = _varint(data, pos)
                pos += size
                fields[number] = size
            else:
                return False
            if pos > len(data):
                return False
        return fields.get(1, 0) > 0 and fields.get(3, 0) > 0
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------- sharing entries
def prepare(shared=None, staging=None):
    """Link the shared entries this process lacks into its folder (before a compilation).
    ``shared`` / ``staging``: other folders than the configured ones (tests)."""
    shared, staging = shared or _STATE["shared"], staging or _STATE["staging"]
    if shared is None:
        return
    have = _entries(staging)
    for name in entries(shared) - have:
        try:
            os.link(os.path.join(shared, name), os.path.join(staging, name))
        except OSError:
            try:
                _copy_atomic(os.path.join(shared, name), staging, name)
            except OSError:
                pass


def publish(shared=None, staging=None):
    """Share the complete entries TensorFlow wrote in this process's folder; returns their
    names."""
    shared, staging = shared or _STATE["shared"], staging or _STATE["staging"]
    if shared is None:
        return []
    done = []
    for name in sorted(entries(staging) - entries(shared)):
        src = os.path.join(staging, name)
        if not is_complete_entry(src):
            logger.info("tfhf: not sharing the incomplete XLA cache entry %s", src)
            continue
        try:
            os.link(src, os.path.join(shared, name))  # atomic: the name appears complete
        except FileExistsError:
            pass
        except OSError:
            try:
                _copy_atomic(src, shared, name)
            except OSError as e:
                logger.info("tfhf: could not share the XLA cache entry %s: %s", name, e)
                continue
        done.append(name)
    return done


def _copy_atomic(src, folder, name):
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, os.path.join(folder, name))
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
