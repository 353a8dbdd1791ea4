"""XLA:CPU flags tfhf sets for the process before TensorFlow compiles anything.

``--xla_cpu_experimental_ynn_fusion_type=-reduce`` (TensorFlow >= 2.21): XLA:CPU hands every
large float reduction to a YNNPACK fusion, which takes the reduction alone, so the elementwise
product that feeds it is materialized first. The batch-1 decode step of 4-bit (and grouped)
quantized weights is such a reduction (``tfhf.quantization.ops.gemv``: per-group partial sums
of ``x * unpacked nibbles``): with YNNPACK's reduce it wrote and re-read a float32 copy of the
product per step (~5x slower); without it XLA fuses the unpack, multiply and reduce into one
loop over the packed bytes (docs/benchmarks.md, "Quantized decode at batch 1").

The flag is process-wide and costs float models: XLA:CPU's YNNPACK reduce is the faster one
for their norms and softmax (a quiet run of ``scripts/bench_generate.py``, AMD EPYC: float32
SmolLM2 batch 1 decoded at 31-38 tok/s with the flag, 39-40 without; ViLT-base forward batch 1
0.180 s with it, 0.164 s without). So it is not set for every process: :func:`configure` runs
when a model is quantized (``tfhf.quantization.quantize_model``: ``model.quantize``,
``from_pretrained(..., quantization=...)``, a saved quantized model, GGUF-native loading),
and at ``import tfhf`` only with ``TFHF_XLA_FLAGS=1``. XLA reads ``XLA_FLAGS`` once, at its
first compilation, so the flag takes effect when the quantized model is loaded before the
process compiles anything with XLA (``tfhf chat --quantize``, a script that loads its model
first); later, it changes nothing. An ``XLA_FLAGS`` that already names
``xla_cpu_experimental_ynn_fusion_type`` is the user's choice and stays as it is, and
``TFHF_XLA_FLAGS=0`` leaves ``XLA_FLAGS`` alone.
"""

from __future__ import annotations

import os
import re
import sys

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-reduce"
# whether the flag was in XLA_FLAGS before TensorFlow was imported (then XLA uses it)
_STATE = {"early": YNN_FLAG in os.environ.get("XLA_FLAGS", "")
          and "tensorflow" not in sys.modules}


def _tf_at_least(major, minor):
    version = getattr(sys.modules.get("tensorflow"), "__version__", None)
    if version is None:
        from importlib import metadata

        for dist in ("tensorflow", "tensorflow-cpu", "tf-nightly", "tf-nightly-cpu"):
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    m = re.match(r"(\d+)\.(\d+)", version or "")
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (major, minor)


def _setting():
    return os.environ.get("TFHF_XLA_FLAGS", "").strip().lower()


def configure_at_import() -> bool:
    """``import tfhf``: :func:`configure` only when ``TFHF_XLA_FLAGS=1``."""
    return configure() if _setting() in ("1", "on", "true", "yes") else False


def configure() -> bool:
    """Append :data:`YNN_FLAG` to ``XLA_FLAGS`` (see the module docstring); True if set."""
    flags = os.environ.get("XLA_FLAGS", "")
    if _setting() in ("0", "off", "false", "no"):
        return False
    if "xla_cpu_experimental_ynn_fusion_type" in flags:
        return YNN_FLAG in flags
    if not _tf_at_least(2, 21):  # older XLA does not know the flag (and dies on unknown ones)
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}".strip()
    _STATE["early"] = _STATE["early"] or "tensorflow" not in sys.modules
    return True


def in_effect() -> bool:
    """Whether XLA compiles with :data:`YNN_FLAG`: it was in ``XLA_FLAGS`` before TensorFlow
    was imported (set later, XLA may already have read its flags)."""
    return _STATE["early"] and YNN_FLAG in os.environ.get("XLA_FLAGS", "")
