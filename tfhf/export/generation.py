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

The loop is :class:`tfhf.generation.loop.Runner`, the code ``model.generate`` runs: prefill
plus a ``tf.while_loop`` over the static KV cache in one ``tf.function(jit_compile=True)``,
with its parameters from :func:`tfhf.generation.loop.loop_params`. Prompts are left-aligned
in the graph and laid into a prompt bucket (:func:`tfhf.generation.inputs.bucket_sizes` up to
the exported maximum, one compiled function per bucket and mode, chosen with
``tf.switch_case``) by :func:`tfhf.generation.inputs.left_pad`, like ``generate``, so greedy
output is token-for-token ``model.generate``'s. The generation
config's other processors (repetition penalty, no-repeat n-grams, bad words, min length) are
applied as ``generate`` applies them; EOS and pad ids come from it too.
"""

from __future__ import annotations

import copy

import tensorflow as tf

from ..errors import InvalidInputError, UnsupportedModelError
from ..generation.config import eos_list, logits_dim, model_generation_config
from ..generation.inputs import MIN_NEW_BUCKET, MIN_PROMPT_BUCKET, bucket, bucket_sizes, left_pad
from ..generation.logits_process import make_plan_and_params
from ..generation.loop import LoopSpec, Runner, loop_params
from ..generation.rng import seed_pair
from .signatures import track_model


def _plans(model):
    """Static processor plans and numpy parameters for greedy and sampling, from the model's
    generation config (as ``generate`` prepares them)."""
    config = copy.deepcopy(model_generation_config(model))
    eos = eos_list(config.eos_token_id)
    vocab = logits_dim(model)
    if (getattr(config, "num_beams", 1) or 1) > 1:
        config.num_beams = 1  # the exported loop is greedy/sampling; beams are not exported
    greedy_config = copy.deepcopy(config)
    greedy_config.do_sample = False
    sample_config = copy.deepcopy(config)
    sample_config.do_sample, sample_config.top_k, sample_config.top_p = True, None, 0.5
    sample_config.temperature = 1.0
    greedy = make_plan_and_params(greedy_config, vocab, eos, False, 1)
    sample = make_plan_and_params(sample_config, vocab, eos, True, 1)
    pad = config.pad_token_id if config.pad_token_id is not None else (eos[0] if eos else 0)
    return greedy, sample, eos, int(pad), config


class GenerationServing(tf.Module):
    def __init__(self, model, max_prompt, max_new, jit_compile=True):
        super().__init__(name="tfhf_generation")
        track_model(self, model)
        self.max_prompt = int(max_prompt)
        self.new_len = bucket(max_new, MIN_NEW_BUCKET)
        self.default_new = int(max_new)
        self.buckets = bucket_sizes(self.max_prompt, MIN_PROMPT_BUCKET)
        greedy, sample, eos, pad, config = _plans(model)
        # plain Python state (not tracked as SavedModel children)
        object.__setattr__(self, "plans", {"greedy": greedy[0], "sample": sample[0]})
        self.eos = eos
        self.pad = pad
        base = dict(greedy[1])
        base.update({k: v for k, v in sample[1].items() if k not in ("temperature", "top_p")})
        object.__setattr__(self, "static_params", base)
        self.min_length = int(config.min_length or 0)
        self.min_new_tokens = int(config.min_new_tokens or 0)
        self.jit_compile = bool(jit_compile)
        full = {(mode, p): tf.function(self._make_full(mode, p), jit_compile=self.jit_compile)
                for mode in ("greedy", "sample") for p in self.buckets}
        object.__setattr__(self, "_full", full)

    @property
    def model(self):
        return self._model_ref[0]

    def _make_full(self, mode, prompt_len):
        plan, new_len = self.plans[mode], self.new_len

        def full(prompt, prompt_mask, positions, params):
            spec = LoopSpec(batch=tf.shape(prompt)[0], expand=1, prompt_len=prompt_len,
                            new_len=new_len, mode=mode, plan=plan, num_eos=len(self.eos))
            state = Runner(self.model, spec).full(prompt, prompt_mask, positions, params)
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
        params = loop_params(
            self.static_params, input_len=width, max_new=max_new_tokens, new_len=self.new_len,
            pad=self.pad, eos=self.eos, seed=seed_pair(seed), min_length=self.min_length,
            min_new_tokens=self.min_new_tokens)
        params.update(temperature=tf.where(temperature > 0, temperature, 1.0), top_p=top_p)
        buckets = tf.constant(self.buckets, tf.int32)
        index = tf.minimum(tf.reduce_sum(tf.cast(buckets < width, tf.int32)),
                           len(self.buckets) - 1)

        def branch(mode, p):
            def run():
                prompt, prompt_mask, positions = left_pad(ids, mask, p, self.pad)
                out_ids, steps, finish_step, finished = self._full[(mode, p)](
                    prompt, prompt_mask, positions, params)
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
