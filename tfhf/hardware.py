"""What the machine computes fast, and the dtype policy tfhf picks for a request.

A CPU without bfloat16 units (x86 without AVX512_BF16 or AMX-BF16, Arm without the BF16
extension) emulates bfloat16 arithmetic: every op converts to float32 and back, so a bfloat16
model runs slower than the same model in float32 (XLA:CPU has no bfloat16 dot at all; see
tfhf/layers/streamed.py). On such a machine, with no GPU or TPU, :func:`policy_for_request`
turns a bfloat16 request into float32 compute and says so once. ``TFHF_CPU_BF16=1`` keeps
bfloat16 anyway (e.g. to halve the weights' memory), ``TFHF_CPU_BF16=0`` acts as if the CPU
had no bfloat16 units.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import warnings

__all__ = ["cpu_has_bf16_units", "has_accelerator", "policy_for_request"]

#: /proc/cpuinfo flags (x86 "flags", Arm "Features") of instructions that compute in bfloat16
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
BF16_POLICIES = ("bfloat16", "mixed_bfloat16")
_WARNED = set()


def _cpuinfo_flags(text: str) -> set:
    flags = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


@functools.lru_cache(maxsize=None)
def _detected() -> bool | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = _cpuinfo_flags(f.read())
    except OSError:
        flags = set()
    if flags:
        return bool(flags & BF16_FLAGS)
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"],
                                 capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
        return out == "1" if out in ("0", "1") else None
    return None


def cpu_has_bf16_units() -> bool | None:
    """Whether the CPU has bfloat16 arithmetic units; None when it cannot be told (then tfhf
    changes nothing). ``TFHF_CPU_BF16`` (``1``/``0``) overrides the detection."""
    forced = os.environ.get("TFHF_CPU_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return _detected()


@functools.lru_cache(maxsize=None)
def has_accelerator() -> bool:
    """Whether TensorFlow sees a GPU or a TPU."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def policy_for_request(name):
    """The dtype policy to build a model with for a requested policy ``name`` (None: the
    global one): float32 instead of a bfloat16 policy on a CPU without bfloat16 units and no
    accelerator, with one warning per requested policy; ``name`` otherwise."""
    if name not in BF16_POLICIES or os.environ.get("TFHF_CPU_BF16", "").strip() == "1":
        return name
    if cpu_has_bf16_units() is not False or has_accelerator():
        return name
    if name not in _WARNED:
        _WARNED.add(name)
        memory = (" (float32 weights take twice the memory of bfloat16 ones)"
                  if name == "bfloat16" else "")
        warnings.warn(
            f"dtype {name!r} requested, but this CPU has no bfloat16 units (no AVX512_BF16, "
            "AMX-BF16 or Arm BF16) and TensorFlow sees no GPU: bfloat16 would be emulated and "
            f"slower than float32, so tfhf computes in float32{memory}. Set TFHF_CPU_BF16=1 "
            "to keep bfloat16 anyway.", RuntimeWarning, stacklevel=3)
    return "float32"
