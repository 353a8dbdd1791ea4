"""Text generation inside a SavedModel: tfhf's compiled decode loop as a signature.

Signatures (ids in, ids out; see docs/serving.md for why there is no string signature):

* ``generate``: ``input_ids``, ``attention_mask`` (int32 [batch, length], left or right
  padded), ``max_new_tokens`` (int32 scalar, 1..the exported maximum), ``temperature``
  (float32 scalar; 0 = greedy), ``top_p`` (float32 scalar in (0, 1]), ``seed`` (int64 scalar)
  -> ``sequences`` (int32 [batch, length + steps]: the prompt, left-padded, then the new
  tokens; rows that finished early are filled with the pad id) and ``num_new_tokens``
  (int32 [batch]: new tokens up to and including EOS);
* ``serving_default``: ``input_ids``, ``attention_mask`` -> the same, greedy, with the
  exported default ``max_new_tokens``.

The loop is :class:`tfhf.generation.loop._Runner`, the code ``model.generate`` runs: prefill
plus a ``tf.while_loop`` over the static KV cache in one ``tf.function(jit_compile=True)``.
Prompts are left-aligned in the graph and padded to a prompt bucket (32, 64, ... up to the
exported maximum, one compiled function per bucket and mode, chosen with ``tf.switch_case``),
like ``generate``, so greedy output is token-for-token ``model.generate``'s. The generation
config's other processors (repetition penalty, no-repeat n-grams, bad words, min length) are
applied as ``generate`` applies them; EOS and pad ids come from it too.
"""

from __future__ import annotations

import copy

import numpy as np
import tensorflow as tf

from ..errors import InvalidInputError, UnsupportedModelError
from .signatures import track_model

MIN_BUCKET = 32  # tfhf.generation's smallest prompt / new-token bucket


def _pow2(n, minimum=MIN_BUCKET):
    n = max(int(n), 1)
    return max(int(minimum), 1 << (n - 1).bit_length())


def _plans(model, max_new):
    """Static processor plans and numpy parameters for greedy and sampling, from the model's
    generation config (as ``generate`` prepares them)."""
    from ..generation import logits_process as LP
    from ..generation.utils import _eos_list, model_generation_config

    gc = copy.deepcopy(model_generation_config(model))
    eos = _eos_list(gc.eos_token_id)
    vocab = int(getattr(model, "logits_size", None) or model.config.vocab_size)
    if (getattr(gc, "num_beams", 1) or 1) > 1:
        gc.num_beams = 1  # the exported loop is greedy/sampling; beams are not exported
    greedy_gc = copy.deepcopy(gc)
    greedy_gc.do_sample = False
    sample_gc = copy.deepcopy(gc)
    sample_gc.do_sample, sample_gc.top_k, sample_gc.top_p = True, None, 0.5
    sample_gc.temperature = 1.0
    greedy = LP.make_plan_and_params(greedy_gc, vocab, eos, False, 1)
    sample = LP.make_plan_and_params(sample_gc, vocab, eos, True, 1)
    pad = gc.pad_token_id if gc.pad_token_id is not None else (eos[0] if eos else 0)
    return greedy, sample, eos, int(pad), gc


class GenerationServing(tf.Module):
    def __init__(self, model, max_prompt, max_new, jit_compile=True):
        super().__init__(name="tfhf_generation")
        track_model(self, model)
        self.max_prompt = int(max_prompt)
        self.new_len = _pow2(max_new)
        self.default_new = int(max_new)
        self.buckets = []
        b = MIN_BUCKET
        while True:
            self.buckets.append(b)
            if b >= self.max_prompt:
                break
            b *= 2
        (gplan, gparams), (splan, sparams), eos, pad, gc = _plans(model, max_new)
        # plain Python state (not tracked as SavedModel children)
        object.__setattr__(self, "plans", {"greedy": gplan, "sample": splan})
        self.eos = eos
        self.pad = pad
        base = {k: v for k, v in gparams.items()}
        base.update({k: v for k, v in sparams.items() if k not in ("temperature", "top_p")})
        object.__setattr__(self, "static_params", base)
        self.min_length = int(gc.min_length or 0)
        self.min_new_tokens = int(gc.min_new_tokens or 0)
        self.jit_compile = bool(jit_compile)
        full = {(mode, p): tf.function(self._make_full(mode, p), jit_compile=self.jit_compile)
                for mode in ("greedy", "sample") for p in self.buckets}
        object.__setattr__(self, "_full", full)

    @property
    def model(self):
        return self._model_ref[0]

    def _make_full(self, mode, prompt_len):
        from ..generation import loop as L

        plan, new_len = self.plans[mode], self.new_len

        def full(prompt, prompt_mask, positions, params):
            spec = L.LoopSpec(batch=tf.shape(prompt)[0], expand=1, prompt_len=prompt_len,
                              new_len=new_len, mode=mode, plan=plan, num_eos=len(self.eos))
            state = L._Runner(self.model, spec).full(prompt, prompt_mask, positions, params)
            return state["ids"], state["step"], state["finish_step"], state["finished"]

        return full

    # -------------------------------------------------------------- graph
    def _generate(self, input_ids, attention_mask, max_new_tokens, temperature, top_p, seed):
        input_ids = tf.cast(input_ids, tf.int32)
        mask = tf.cast(tf.not_equal(attention_mask, 0), tf.int32)
        width = tf.shape(input_ids)[1]
        checks = [
            tf.debugging.assert_equal(tf.shape(attention_mask), tf.shape(input_ids),
                                      message="attention_mask must have the shape of input_ids"),
            tf.debugging.assert_positive(width, message="input_ids is empty"),
            tf.debugging.assert_less_equal(
                width, self.max_prompt,
                message=f"the prompt is longer than the exported maximum of {self.max_prompt} "
                        "tokens (re-export with a larger --max-length)"),
            tf.debugging.assert_greater_equal(max_new_tokens, 1,
                                              message="max_new_tokens must be >= 1"),
            tf.debugging.assert_less_equal(
                max_new_tokens, self.new_len,
                message=f"max_new_tokens is larger than the exported maximum {self.new_len}"),
            tf.debugging.assert_greater_equal(temperature, 0.0,
                                              message="temperature must be >= 0"),
            tf.debugging.assert_greater(top_p, 0.0, message="top_p must be in (0, 1]"),
            tf.debugging.assert_less_equal(top_p, 1.0, message="top_p must be in (0, 1]"),
        ]
        with tf.control_dependencies(checks):
            # left-align: real tokens to the right end, in order (right padding is accepted)
            order = tf.argsort(mask, axis=1, stable=True)
            ids = tf.gather(input_ids, order, batch_dims=1)
            mask = tf.gather(mask, order, batch_dims=1)
        seed = tf.cast(seed, tf.int64)
        seed2 = tf.stack([tf.cast(seed % (2**31), tf.int32),
                          tf.cast((seed // (2**31)) % (2**31), tf.int32)])
        params = {k: tf.constant(v) for k, v in self.static_params.items()}
        params.update(
            input_len=width, max_new=max_new_tokens, stop_step=max_new_tokens,
            pad=tf.constant(self.pad, tf.int32), fill=tf.constant(self.pad, tf.int32),
            eos=tf.constant(np.asarray(self.eos, np.int32).reshape(-1)), seed=seed2,
            min_length=tf.constant(self.min_length, tf.int32),
            min_new_tokens=tf.constant(self.min_new_tokens, tf.int32),
            temperature=tf.where(temperature > 0, temperature, 1.0), top_p=top_p)
        buckets = tf.constant(self.buckets, tf.int32)
        index = tf.minimum(tf.reduce_sum(tf.cast(buckets < width, tf.int32)),
                           len(self.buckets) - 1)

        def branch(mode, p):
            def run():
                pad_cols = p - width
                batch = tf.shape(ids)[0]
                prompt = tf.concat([tf.fill([batch, pad_cols], self.pad), ids], axis=1)
                pmask = tf.concat([tf.zeros([batch, pad_cols], tf.int32), mask], axis=1)
                prompt = tf.ensure_shape(prompt, [None, p])
                pmask = tf.ensure_shape(pmask, [None, p])
                positions = tf.where(pmask == 0, 0, tf.cumsum(pmask, axis=1) - 1)
                out_ids, steps, finish_step, finished = self._full[(mode, p)](
                    prompt, pmask, positions, params)
                sequences = out_ids[:, p - width:p + steps]
                new = tf.where(finished, finish_step + 1, steps)
                return sequences, new
            return run

        def run_mode(mode):
            return lambda: tf.switch_case(index, [branch(mode, p) for p in self.buckets])

        sequences, new = tf.cond(temperature > 0, run_mode("sample"), run_mode("greedy"))
        return {"sequences": sequences, "num_new_tokens": new}

    def signatures(self):
        ids = tf.TensorSpec([None, None], tf.int32, name="input_ids")
        mask = tf.TensorSpec([None, None], tf.int32, name="attention_mask")
        full = tf.function(
            lambda input_ids, attention_mask, max_new_tokens, temperature, top_p, seed:
            self._generate(input_ids, attention_mask, max_new_tokens, temperature, top_p, seed),
            input_signature=[ids, mask, tf.TensorSpec([], tf.int32, name="max_new_tokens"),
                             tf.TensorSpec([], tf.float32, name="temperature"),
                             tf.TensorSpec([], tf.float32, name="top_p"),
                             tf.TensorSpec([], tf.int64, name="seed")])
        default_new = self.default_new
        simple = tf.function(
            lambda input_ids, attention_mask: self._generate(
                input_ids, attention_mask, tf.constant(default_new, tf.int32),
                tf.constant(0.0), tf.constant(1.0), tf.constant(0, tf.int64)),
            input_signature=[ids, mask])
        return {"serving_default": simple.get_concrete_function(),
                "generate": full.get_concrete_function()}


def build_generation_module(model, tokenizer=None, max_length=None, max_new_tokens=None,
                            jit_compile=True):
    """Validate, then return ``build(scratch) -> (module, signatures, metadata)``."""
    if not (hasattr(model, "init_cache") and hasattr(model, "forward_with_cache")):
        raise UnsupportedModelError(
            f"{type(model).__name__} does not implement the generation cache contract "
            "(init_cache / forward_with_cache).")
    try:
        from ..generation import loop  # noqa: F401
    except ImportError as e:  # pragma: no cover - partial installs
        raise UnsupportedModelError("text-generation export needs tfhf.generation.") from e
    context = getattr(model.config, "max_position_embeddings", None)
    if max_new_tokens is None:
        max_new_tokens = 128
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or \
            max_new_tokens < 1:
        raise InvalidInputError(f"max_new_tokens must be a positive integer, got "
                                f"{max_new_tokens!r}.")
    if max_length is None:
        max_length = 256
        if context:
            max_length = max(1, min(max_length, context - max_new_tokens))
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise InvalidInputError(f"max_length (the longest prompt) must be a positive integer, "
                                f"got {max_length!r}.")
    if context and max_length + max_new_tokens > context:
        raise InvalidInputError(
            f"max_length ({max_length}) + max_new_tokens ({max_new_tokens}) exceeds the model's "
            f"context of {context} positions.")
    model.build_weights()

    def build(scratch):
        module = GenerationServing(model, max_length, max_new_tokens, jit_compile=jit_compile)
        meta = {"max_prompt_length": max_length, "max_new_tokens": module.new_len,
                "default_max_new_tokens": max_new_tokens, "prompt_buckets": module.buckets,
                "eos_token_id": module.eos, "pad_token_id": module.pad,
                "jit_compile": module.jit_compile, "in_graph_tokenizer": None}
        return module, module.signatures(), meta

    return build
