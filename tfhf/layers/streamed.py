"""Matmuls that read bfloat16 weights as bfloat16 in XLA decode loops on CPU.

XLA:CPU has no bfloat16 dot kernel: it converts both operands to float32. When the dot sits
in a ``while`` loop (the decode loop of ``generate``), loop-invariant code motion hoists the
weight's conversion out of the loop, so every decode step reads a float32 copy of every
weight: a bfloat16 model decodes no faster than a float32 one (and holds a float32 copy of
its weights during each call). What XLA:CPU does emit well for a few rows is a dot fused
with the conversion whose contraction runs along the weight's contiguous axis: each step then
streams the bfloat16 bytes once, half of float32's (a 6-layer SmolLM2-shaped loop of
matrix-vector products: 5.3 ms vs 10.4 ms per step in float32, one thread).

:func:`matmul_weight` gives that form: the weight is laid out (out, in) (a transpose that
loop-invariant code motion hoists once per call, as a bfloat16 copy), then tied to the
loop-varying input by an XLA optimization barrier so that its conversion stays inside the
loop, fused into the dot. It applies only while tracing an XLA program on a machine without
a GPU, to bfloat16 weights and inputs of at most :data:`MAX_ROWS` rows (a batch-1 decode
step); anything else is a plain ``tf.matmul`` (XLA:GPU has native bfloat16 dots, and a
prefill's many rows are a float32 GEMM's job).

Why one row: the fused convert+dot is a loop fusion that computes each output element as its
own vectorized reduction, converting the weight row again for every input row; Eigen's
float32 GEMM on the hoisted float32 copy blocks over the rows instead. At 2 rows and more the
streamed form cost more CPU time per step than the float32 copy (SmolLM2-135M, batch 8: 133
vs 79 ms of process CPU time per step, bfloat16 decode at 0.25-0.5x float32; docs/benchmarks.md,
"bfloat16 decode: why batch 8 was slower than float32"), so batches of 2 and more take the
plain matmul and decode at float32 speed from bfloat16 weights, as keras-hub's Llama does.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as tf2xla
from tensorflow.python.ops import control_flow_util

from ..hardware import has_accelerator

#: rows (batch x tokens) up to which a bfloat16 matmul takes the streamed form
MAX_ROWS = 1


def few_rows_on_xla_cpu(x) -> bool:
    """Whether ``x`` has at most :data:`MAX_ROWS` static rows (batch x tokens) and is being
    traced into an XLA program on a machine without a GPU: the case for a streamed form (also
    used by the quantized weights, tfhf.quantization.ops)."""
    if tf.executing_eagerly():
        return False
    rows = x.shape[:-1].num_elements()
    if rows is None or rows > MAX_ROWS:
        return False
    graph = tf.compat.v1.get_default_graph()
    return control_flow_util.GraphOrParentsInXlaContext(graph) and not has_accelerator()


def streams(x, kernel) -> bool:
    """Whether :func:`matmul_weight` takes the streamed form for these operands here."""
    if kernel.dtype != tf.bfloat16 or x.dtype != tf.bfloat16:
        return False
    return few_rows_on_xla_cpu(x)


def tie(x, *weights):
    """``(x, weights)`` through one XLA optimization barrier: a conversion of the weights
    computed from the results depends on the step's input ``x``, so loop-invariant code
    motion cannot hoist it out of a decode loop (it stays fused into the dot that reads it)."""
    out = tf2xla.optimization_barrier(x, *weights)
    return out[0], tuple(out[1:])


def _barrier_gradient(op, *grads):
    """The optimization barrier is an identity: its gradient passes each one through."""
    return list(grads)


try:  # TF registers no gradient for it; a train step compiled with jit_compile under
    # mixed_bfloat16 goes through the streamed form when its batch has a few rows
    tf.RegisterGradient("XlaOptimizationBarrier")(_barrier_gradient)
except KeyError:  # registered already (by TF itself in a later version)
    pass


def matmul_weight(x, kernel, transpose_b=False):
    """``x @ kernel`` (``kernel`` (in, out)), or ``x @ kernel.T`` with ``transpose_b``
    (``kernel`` (out, in), e.g. a tied embedding table); x of any rank."""
    kernel = tf.convert_to_tensor(kernel)
    if not streams(x, kernel):
        if x.shape.rank is None or x.shape.rank <= 2:
            return tf.matmul(x, kernel, transpose_b=transpose_b)
        # (..., in) as one (rows, in) GEMM: oneDNN's MatMul (fused with a following
        # BiasAdd) instead of a broadcast BatchMatMul, whose kernel gradient is one GEMM per
        # batch row plus a Sum over them (docs/benchmarks.md, "Fine-tuning")
        y = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel, transpose_b=transpose_b)
        out = tf.reshape(y, tf.concat([tf.shape(x)[:-1], tf.shape(y)[-1:]], 0))
        out.set_shape(x.shape[:-1].concatenate(y.shape[-1:]))
        return out
    weight = kernel if transpose_b else tf.transpose(kernel)  # (out, in), hoisted
    lead = tf.shape(x)[:-1]
    flat = tf.reshape(x, [-1, x.shape[-1]])
    flat, (weight,) = tie(flat, weight)
    y = tf.matmul(flat, weight, transpose_b=True)
    return tf.reshape(y, tf.concat([lead, tf.shape(y)[-1:]], 0))


def bias_row_apart(y) -> bool:
    """Whether a ``Dense`` adds its bias to ``y`` as ``y - (-bias)`` (the same floats): one
    float32 row while tracing an XLA program without a GPU.

    XLA:CPU fuses a matrix-vector product with an ``add`` that follows into one output
    fusion emitted as a single-threaded loop; the bare dot goes to Eigen, which splits it
    over the intra-op threads, and XLA does not fuse a ``subtract`` into it. A batch-1
    decode step is such products (q/k/v/out, the MLP, the LM head, all biased in BERT,
    GPT-2, BART, BLIP): fused, all of a step's weight streaming ran on one core (16 biased
    768 x 3072 products: 8 ms of CPU time, all on one thread; apart, split over two;
    docs/benchmarks.md, "Vision-language")."""
    if y.dtype != tf.float32 or y.shape[:-1].num_elements() != 1:
        return False
    return few_rows_on_xla_cpu(y)
