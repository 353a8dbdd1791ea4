"""Projections that read the same input, computed as one matmul in compiled programs.

A decode step of a Llama-style block runs q/k/v and gate/up as separate small matmuls (five
XLA dot kernels per layer). In a traced program (``tf.function``, XLA ``generate``),
:func:`fused_matmul` concatenates their kernels and runs one dot instead. The variables stay
the HF ones (``q_proj.kernel``, ``gate_proj.kernel``...), so checkpoints, ``save_pretrained``,
training and quantization see the same layers as before; the concatenation reads only
variables, so XLA hoists it out of the decode ``while`` loop (loop-invariant code motion):
it runs once per ``generate`` call, and each step reads the fused kernel once
(docs/benchmarks.md, "decode step HLO"). Eager calls keep the separate matmuls (a
concatenation per eager call would copy the weights every time).

Quantized layers (``Dense.quantized`` set) are never fused: each keeps its own small weight;
nor are layers carrying a LoRA adapter (``has_lora``), whose call adds the adapter's update.
"""

from __future__ import annotations

import tensorflow as tf

from .streamed import matmul_weight


def can_fuse(denses) -> bool:
    """Whether ``denses`` (same input size, float weights, same bias use) may run as one
    matmul here: only while tracing a graph."""
    if tf.executing_eagerly():
        return False
    first = denses[0]
    # a layer with a LoRA adapter (tfhf.models.lora) adds its update in its own call
    return all(getattr(d, "quantized", None) is None and not getattr(d, "has_lora", False)
               and d.use_bias == first.use_bias
               and d.in_features == first.in_features
               and d.compute_dtype == first.compute_dtype for d in denses)


def fused_matmul(x, denses):
    """``x @ [k_1 | k_2 | ...] (+ [b_1 | b_2 | ...])`` for layers that :func:`can_fuse`:
    the concatenated outputs of ``d(x) for d in denses``."""
    dtype = denses[0].compute_dtype
    kernel = tf.concat([tf.cast(d.kernel, dtype) for d in denses], axis=1)
    y = matmul_weight(tf.cast(x, dtype), kernel)
    if denses[0].use_bias:
        y = y + tf.concat([tf.cast(d.bias, dtype) for d in denses], axis=0)
    return y
