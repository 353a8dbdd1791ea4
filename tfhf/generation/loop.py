"""The decode loop: prefill + ``tf.while_loop`` over new tokens, compiled once per key.

Shapes are static inside: prompts are left-padded to a prompt bucket ``P``, the cache and the
token buffer hold ``L = P + N`` slots (``N`` the new-token bucket), and everything a call may
change without changing a shape (max_new_tokens within the bucket, temperature, top_k within
its bucket, top_p, min_p, penalties, EOS/pad ids, seeds, the chunk end) is a tensor input.
The static :class:`LoopSpec` is the cache key of the compiled functions.

Two functions per key:

* ``full(prompt, mask, positions, params)``: cache allocation, prefill, decode until
  ``params["stop_step"]`` new tokens (or every row finished) -> loop state;
* ``cont(state, params)``: continue a state to a later ``stop_step`` (streaming and stop
  strings run the loop in chunks; the KV cache stays in the state between calls).

A plain ``generate`` compiles ``full`` only. With ``use_xla=False`` the same Python runs
eagerly (no compilation, same tokens).

Encoder-decoder models (``LoopSpec.encoder`` set) run the same loop on their decoder:
``full(prompt, mask, positions, params, source, source_mask)`` first encodes ``source``
(token ids right-padded to a source bucket, log-mel features, or given encoder states),
projects the cross-attention keys/values once, expands them and the encoder mask for beams
or return sequences once, and carries them unchanged in the loop state (``state["enc"]``);
each decoder step calls ``model.decoder_forward_with_cache`` instead of
``model.forward_with_cache``.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as _xla

from . import rng
from .compile_cache import AnnouncedFunction, set_compile_notice  # noqa: F401  (public here)
from .logits_process import ProcessorPlan

logger = logging.getLogger("tfhf.generation")

_NEG_BIG = -1.0e9
_COMPILES = {"count": 0}


def compile_count() -> int:
    """How many times a generation function was traced for XLA compilation (all models)."""
    return _COMPILES["count"]


def reset_compile_count():
    _COMPILES["count"] = 0


@dataclasses.dataclass(frozen=True)
class LoopSpec:
    batch: int  # prompts
    expand: int  # rows per prompt (num_beams, or num_return_sequences when sampling)
    prompt_len: int  # P, prompt bucket
    new_len: int  # N, new-token bucket (cache length L = P + N)
    mode: str  # "greedy" | "sample" | "beam" | "beam_sample"
    plan: ProcessorPlan
    num_eos: int  # length of the padded eos tensor (0: no eos)
    output_scores: bool = False
    output_logits: bool = False
    num_beams: int = 1
    beams_to_keep: int = 0
    early_stopping_true: bool = False  # early_stopping is True (beam)
    # encoder-decoder models: (kind, source shape without the batch), kind "ids" (token ids,
    # length bucketed), "features" (e.g. Whisper's log-mel input) or "hidden" (given encoder
    # states); () for decoder-only models
    encoder: tuple = ()

    @property
    def rows(self):
        return self.batch * self.expand

    @property
    def total_len(self):
        return self.prompt_len + self.new_len

    @property
    def is_beam(self):
        return self.mode.startswith("beam")


# ---------------------------------------------------------------- helpers
def _update_slice(buf, update, index):
    return _xla.dynamic_update_slice(buf, update, tf.stack(index))


def _map_cache(cache, fn):
    return tf.nest.map_structure(fn, cache)


def _isin(tokens, eos):
    """tokens (...,) int32 in the padded eos list (``-1`` never matches a token)."""
    return tf.reduce_any(tokens[..., None] == eos, axis=-1)


class Runner:
    """The loop functions for one model and one :class:`LoopSpec`: :meth:`full` (prefill and
    decode) and :meth:`cont` (decode further), run eagerly or traced into a ``tf.function``.
    Their ``params`` come from :func:`loop_params`."""

    def __init__(self, model, spec: LoopSpec):
        # weak: the compiled-function table is keyed weakly by the model, so its values must
        # not keep the model alive
        try:
            self._model_ref = weakref.ref(model)
        except TypeError:
            self._model_ref = lambda: model
        self.spec = spec
        self.batch_axis = int(getattr(model, "cache_batch_axis", 2))

    @property
    def model(self):
        model = self._model_ref()
        if model is None:  # pragma: no cover - the table entry dies with the model
            raise RuntimeError("the model of this generation function was deleted")
        return model

    # -------------------------------------------------------------- model calls
    def _forward(self, tokens, positions, mask, cache, index, enc=None):
        if enc is None:
            logits, cache = self.model.forward_with_cache(tokens, positions, mask, cache, index)
        else:
            logits, cache = self.model.decoder_forward_with_cache(
                tokens, positions, mask, cache, index, enc["cross_kv"], enc["mask"])
        return tf.cast(logits[:, -1, :], tf.float32), cache

    def encode(self, source, source_mask):
        """Encoder-decoder models: the encoder output projected to cross-attention keys/values
        (once) and the encoder mask the decoder attends with."""
        model = self.model
        kind = self.spec.encoder[0]
        hidden = source if kind == "hidden" else model.encode(source, source_mask)
        return {"cross_kv": model.cross_cache(hidden),
                "mask": tf.cast(model.encoder_output_mask(source_mask, hidden), tf.int32)}

    def _expand_encoder(self, enc):
        axis = int(getattr(self.model, "cross_cache_batch_axis", 2))
        return {"cross_kv": _map_cache(enc["cross_kv"], lambda c: self._repeat_rows(c, axis)),
                "mask": self._repeat_rows(enc["mask"])}

    def _repeat_rows(self, x, axis=0):
        n = self.spec.expand
        return x if n == 1 else tf.repeat(x, n, axis=axis)

    # -------------------------------------------------------------- prefill
    def prefill(self, prompt, prompt_mask, positions, params, enc=None):
        s = self.spec
        P, L = s.prompt_len, s.total_len
        prompt = tf.cast(prompt, tf.int32)
        prompt_mask = tf.cast(prompt_mask, tf.int32)
        positions = tf.cast(positions, tf.int32)
        mask = tf.concat([prompt_mask, tf.ones([s.batch, s.new_len], tf.int32)], axis=1)
        cache = self.model.init_cache(s.batch, L)
        logits, cache = self._forward(prompt, positions, mask, cache, tf.constant(0, tf.int32),
                                      enc)
        # transformers' repetition penalty skips the left padding of the user's prompt
        start = P - params["input_len"]
        real = (prompt_mask != 0) & (tf.range(P)[None, :] >= start)
        first_real = tf.argmax(tf.cast(real, tf.int32), axis=1, output_type=tf.int32)
        rep_start = tf.where(tf.reduce_any(real, axis=1), first_real, start)
        fill = params["fill"]
        ids = tf.concat([prompt, tf.fill([s.batch, s.new_len], fill)], axis=1)
        R, V = s.rows, logits.shape[-1]
        state = {
            "ids": self._repeat_rows(ids),
            "mask": self._repeat_rows(mask),
            "last_pos": self._repeat_rows(positions[:, -1]),
            "rep_start": self._repeat_rows(rep_start),
            "cache": _map_cache(cache, lambda c: self._repeat_rows(c, self.batch_axis)),
            "next_logits": self._repeat_rows(logits),
            "step": tf.constant(0, tf.int32),
            "done": tf.constant(False),
        }
        if enc is not None:
            state["enc"] = self._expand_encoder(enc)
        if s.output_scores:
            state["scores"] = tf.zeros([s.new_len, R, V], tf.float32)
        if s.output_logits:
            state["logits"] = tf.zeros([s.new_len, R, V], tf.float32)
        if s.is_beam:
            B, nb = s.batch, s.num_beams
            state["running_scores"] = tf.tile(
                tf.constant([[0.0] + [_NEG_BIG] * (nb - 1)], tf.float32), [B, 1])
            state["seqs"] = tf.reshape(state["ids"], [B, nb, L])
            state["beam_scores"] = tf.fill([B, nb], tf.constant(_NEG_BIG, tf.float32))
            state["sent_finished"] = tf.zeros([B, nb], tf.bool)
            state["early_unsat"] = tf.ones([B, 1], tf.bool)
            state["bidx_run"] = tf.fill([B, nb, s.new_len], tf.constant(-1, tf.int32))
            state["bidx_done"] = tf.fill([B, nb, s.new_len], tf.constant(-1, tf.int32))
        else:
            state["finished"] = tf.zeros([R], tf.bool)
            state["finish_step"] = tf.fill([R], tf.constant(s.new_len, tf.int32))
        return state

    # -------------------------------------------------------------- decode
    def decode(self, state, params):
        body = self._beam_body if self.spec.is_beam else self._body
        stop = tf.minimum(params["stop_step"], params["max_new"])

        def cond(st):
            return (st["step"] < stop) & ~st["done"]

        return tf.while_loop(cond, lambda st: (body(st, params),), (state,),
                             maximum_iterations=self.spec.new_len)[0]

    def _ctx(self, st, params):
        P = self.spec.prompt_len
        return {"ids": st["ids"], "start": P - params["input_len"], "rep_start": st["rep_start"],
                "cur_len": P + st["step"], "step": st["step"]}

    def _record(self, st, raw, scores):
        st = dict(st)
        if self.spec.output_scores:
            st["scores"] = _update_slice(st["scores"], scores[None], [st["step"], 0, 0])
        if self.spec.output_logits:
            st["logits"] = _update_slice(st["logits"], raw[None], [st["step"], 0, 0])
        return st

    def _next_logits(self, st, tokens, step, cur_len, done):
        """Forward the tokens just written at slot ``cur_len``.

        Compiled loops run it on every step, the last one included (its logits are never
        read): a ``tf.cond`` skipping it keeps the fused q/k/v and gate/up kernels
        (tfhf/layers/fused.py) inside the loop, concatenated again on every step, and makes
        XLA copy every layer's K/V buffers in and out of the conditional (docs/benchmarks.md,
        "decode step HLO"). Eager runs skip it once done."""

        def run():
            return self._forward(tokens[:, None], (st["last_pos"] + step)[:, None], st["mask"],
                                 st["cache"], cur_len, st.get("enc"))

        def skip():
            return st["next_logits"], st["cache"]

        if tf.inside_function():
            return run()
        return tf.cond(done, skip, run)

    def _body(self, st, params):
        s = self.spec
        step = st["step"]
        cur_len = s.prompt_len + step
        raw = st["next_logits"]
        scores = s.plan.apply(raw, self._ctx(st, params), params)
        st = self._record(st, raw, scores)
        if s.mode == "sample":
            def draw():
                return rng.sample(scores, rng.step_seed(params["seed"], step))

            def pick():
                return tf.argmax(scores, axis=-1, output_type=tf.int32)

            # greedy calls run the sampling loop with do_sample=False (one compilation)
            tokens = tf.cond(params["do_sample"], draw, pick) if "do_sample" in params \
                else draw()
        else:
            tokens = tf.argmax(scores, axis=-1, output_type=tf.int32)
        # finished rows (eos, or a stop string found between chunks) continue with pad
        finished = st["finished"]
        tokens = tf.where(finished, params["pad"], tokens)
        slots = tf.range(s.total_len)[None, :]
        ids = tf.where(slots == cur_len, tokens[:, None], st["ids"])
        if s.num_eos:
            newly = _isin(tokens, params["eos"]) & ~finished
            finished = finished | newly
            st["finish_step"] = tf.where(newly, step, st["finish_step"])
        step = step + 1
        done = tf.reduce_all(finished) | (step >= params["max_new"])
        st["ids"], st["finished"], st["step"], st["done"] = ids, finished, step, done
        st["next_logits"], st["cache"] = self._next_logits(st, tokens, step, cur_len, done)
        return st

    def _beam_body(self, st, params):
        """One step of transformers' vectorized beam search (``_beam_search``)."""
        s = self.spec
        B, nb, K, L, N = s.batch, s.num_beams, s.beams_to_keep, s.total_len, s.new_len
        step = st["step"]
        cur_len = s.prompt_len + step
        raw = st["next_logits"]
        V = raw.shape[-1]
        log_probs = tf.nn.log_softmax(raw, axis=-1)
        log_probs = s.plan.apply(log_probs, self._ctx(st, params), params)
        st = self._record(st, raw, log_probs)
        acc = tf.reshape(log_probs, [B, nb, V]) + st["running_scores"][:, :, None]
        acc = tf.reshape(acc, [B, nb * V])
        topk_lp, idx = self._beam_candidates(acc, params, step)
        beam_of = idx // V
        tokens = idx % V
        ids3 = tf.reshape(st["ids"], [B, nb, L])
        topk_seqs = tf.gather(ids3, beam_of, batch_dims=1)
        topk_seqs = tf.where(tf.range(L)[None, None, :] == cur_len, tokens[:, :, None], topk_seqs)
        topk_bidx = tf.gather(st["bidx_run"], beam_of, batch_dims=1)
        global_beam = beam_of + tf.range(B)[:, None] * nb
        topk_bidx = tf.where(tf.range(N)[None, None, :] == step, global_beam[:, :, None], topk_bidx)
        # d. which candidates hit a stopping criterion (eos, max length)
        hits = tf.broadcast_to(step + 1 >= params["max_new"], [B, K])
        if s.num_eos:
            hits = hits | _isin(tokens, params["eos"])
        # e. best `num_beams` unfinished candidates keep running
        run_lp = topk_lp + tf.cast(hits, tf.float32) * _NEG_BIG
        nxt = tf.math.top_k(run_lp, k=nb).indices
        running_seqs = tf.gather(topk_seqs, nxt, batch_dims=1)
        running_scores = tf.gather(run_lp, nxt, batch_dims=1)
        bidx_run = tf.gather(topk_bidx, nxt, batch_dims=1)
        # f. finished hypotheses: merge and keep the best `num_beams`
        top_mask = tf.range(K) < nb
        did = hits & top_mask[None, :]
        fin_lp = topk_lp / tf.gather(params["len_pow"], step + 1)
        sent_finished = st["sent_finished"]
        if s.early_stopping_true:
            full = tf.reduce_all(sent_finished, axis=-1, keepdims=True)
            fin_lp += tf.cast(full, tf.float32) * _NEG_BIG
        fin_lp += tf.cast(~st["early_unsat"], tf.float32) * _NEG_BIG
        fin_lp += tf.cast(~did, tf.float32) * _NEG_BIG
        merged_seqs = tf.concat([st["seqs"], topk_seqs], axis=1)
        merged_scores = tf.concat([st["beam_scores"], fin_lp], axis=1)
        merged_bidx = tf.concat([st["bidx_done"], topk_bidx], axis=1)
        merged_fin = tf.concat([sent_finished, did], axis=1)
        keep = tf.math.top_k(merged_scores, k=nb).indices
        seqs = tf.gather(merged_seqs, keep, batch_dims=1)
        beam_scores = tf.gather(merged_scores, keep, batch_dims=1)
        bidx_done = tf.gather(merged_bidx, keep, batch_dims=1)
        sent_finished = tf.gather(merged_fin, keep, batch_dims=1)
        # g. reorder the cache rows for the running beams
        rows = tf.reshape(tf.gather(bidx_run, step, axis=2), [-1])
        cache = _map_cache(st["cache"], lambda c: tf.gather(c, rows, axis=self.batch_axis))
        step = step + 1
        best_pow = tf.where(params["use_max_len_pow"], params["max_len_pow"],
                            tf.gather(params["len_pow"], step))
        best_running = running_scores[:, :1] / best_pow
        worst_finished = tf.where(sent_finished,
                                  tf.reduce_min(beam_scores, axis=1, keepdims=True), _NEG_BIG)
        early_unsat = st["early_unsat"] & tf.reduce_any(best_running > worst_finished, axis=-1,
                                                        keepdims=True)
        improvement_possible = tf.reduce_any(early_unsat)
        exists_open = tf.constant(True)
        if s.early_stopping_true:
            exists_open = ~tf.reduce_all(sent_finished)
        valid_continuations = ~tf.reduce_all(hits)
        done = ~(improvement_possible & exists_open & valid_continuations)
        done = done | (step >= params["max_new"])
        ids = tf.reshape(running_seqs, [B * nb, L])
        st.update(ids=ids, running_scores=running_scores, bidx_run=bidx_run, seqs=seqs,
                  beam_scores=beam_scores, bidx_done=bidx_done, sent_finished=sent_finished,
                  early_unsat=early_unsat, cache=cache, step=step, done=done)
        last_tokens = tf.gather(ids, cur_len, axis=1)
        st["next_logits"], st["cache"] = self._next_logits(st, last_tokens, step, cur_len, done)
        return st

    def _beam_candidates(self, acc, params, step):
        """c. the top-K continuations (K = max(2, 1 + n_eos) * num_beams): (scores, flat
        indices into beams x vocab), best first."""
        K = self.spec.beams_to_keep
        if self.spec.mode != "beam_sample":
            return tf.math.top_k(acc, k=K)
        idx = rng.sample_without_replacement(acc, K, rng.step_seed(params["seed"], step))
        topk_lp = tf.gather(acc, idx, batch_dims=1)
        order = tf.math.top_k(topk_lp, k=K).indices
        return tf.gather(topk_lp, order, batch_dims=1), tf.gather(idx, order, batch_dims=1)

    # -------------------------------------------------------------- entry points
    def full(self, prompt, prompt_mask, positions, params, source=None, source_mask=None):
        if tf.inside_function():
            _COMPILES["count"] += 1
        enc = self.encode(source, source_mask) if self.spec.encoder else None
        state = self.prefill(prompt, prompt_mask, positions, params, enc)
        return self.decode(state, params)

    def cont(self, state, params):
        if tf.inside_function():
            _COMPILES["count"] += 1
        return self.decode(state, params)


# ---------------------------------------------------------------- parameters
def _pow(base, exponent):
    try:
        return float(base) ** exponent
    except ZeroDivisionError:
        return float("inf")


def _max_len_pow(max_new, exponent):
    if isinstance(max_new, (tf.Tensor, tf.Variable)):
        power = tf.pow(tf.cast(max_new, tf.float64), exponent)
        return tf.cast(power, tf.float32)
    return tf.constant(_pow(max_new, exponent), tf.float32)


def loop_params(processor_params, *, input_len, max_new, new_len, pad, eos, seed, fill=None,
                stop_step=None, min_length=0, min_new_tokens=0, length_penalty=1.0,
                early_stopping=False, do_sample=None):
    """The tensor inputs (``params``) of :meth:`Runner.full` / :meth:`Runner.cont`; the one
    place that lists them. Changing a value never recompiles.

    Args:
        processor_params: the processors' parameters from
            :func:`tfhf.generation.logits_process.make_plan_and_params`.
        input_len: the prompt's width before bucket padding; ``max_new``: new tokens to
            generate (<= ``new_len``, the :attr:`LoopSpec.new_len` bucket); ``stop_step``: stop
            after this many (chunked runs; default ``max_new``).
        pad: the id finished rows continue with; ``fill``: the id of unwritten slots (default
            ``pad``; beam search uses transformers' fill value); ``eos``: list of EOS ids.
        seed: (2,) int32 sampling seed (see :mod:`tfhf.generation.rng`).
        min_length, min_new_tokens, length_penalty, early_stopping: the GenerationConfig
            values (``length_penalty`` / ``early_stopping`` are used by beam search).
        do_sample: for a ``"sample"`` loop, whether this call samples (True) or picks the
            argmax of the unwarped scores (False, a greedy call sharing the compiled loop);
            None leaves the flag out (the loop always samples).
    Numbers may be Python/NumPy values (``generate``) or tensors (the SavedModel graph).
    """
    lp = float(length_penalty if length_penalty is not None else 1.0)

    def i32(value):
        return tf.cast(value, tf.int32)

    params = {k: tf.convert_to_tensor(v) for k, v in processor_params.items()}
    params.update(
        input_len=i32(input_len), max_new=i32(max_new),
        stop_step=i32(max_new if stop_step is None else stop_step),
        pad=i32(pad), fill=i32(pad if fill is None else fill),
        eos=tf.constant(np.asarray(eos, np.int32).reshape(-1)), seed=i32(seed),
        min_length=i32(min_length or 0), min_new_tokens=i32(min_new_tokens or 0),
        len_pow=tf.constant([_pow(s, lp) for s in range(int(new_len) + 1)], tf.float32),
        max_len_pow=_max_len_pow(max_new, lp),
        use_max_len_pow=tf.constant(early_stopping == "never" and lp > 0.0),
    )
    if do_sample is not None:
        params["do_sample"] = tf.cast(do_sample, tf.bool)
    return params


# ---------------------------------------------------------------- compile notice
def _describe(spec: LoopSpec, part: str) -> str:
    what = "sampling/greedy" if spec.mode == "sample" else spec.mode.replace("_", " ")
    rows = f"batch {spec.batch}" + (f" x {spec.expand}" if spec.expand > 1 else "")
    source = ""
    if spec.encoder:
        source = f", source {spec.encoder[1]}" if spec.encoder[0] != "features" else ""
    return (f"the {what} {part} ({rows}, prompt bucket {spec.prompt_len}, "
            f"{spec.new_len} new-token slots{source})")


# ---------------------------------------------------------------- compiled-function cache
_FUNCTIONS = weakref.WeakKeyDictionary()
_FUNCTIONS_BY_ID = {}


def _model_table(model):
    try:
        return _FUNCTIONS.setdefault(model, {})
    except TypeError:  # not weak-referenceable
        return _FUNCTIONS_BY_ID.setdefault(id(model), {})


def functions_for(model, spec: LoopSpec, use_xla: bool):
    """``(full, cont)`` for this model and spec: XLA-compiled ``tf.function``s cached by key
    (:class:`~tfhf.generation.compile_cache.AnnouncedFunction`: one notice line per
    compilation, compiled programs shared through the opt-in persistent cache), or the
    plain Python (eager) versions."""
    runner_key = (spec, bool(use_xla))
    table = _model_table(model)
    if runner_key not in table:
        runner = Runner(model, spec)
        if use_xla:
            table[runner_key] = (
                AnnouncedFunction(runner.full, lambda: _describe(spec, "decode loop")),
                AnnouncedFunction(runner.cont, lambda: _describe(spec, "streaming continuation")))
        else:
            table[runner_key] = (runner.full, runner.cont)
    return table[runner_key]


def cached_specs(model):
    """The keys compiled so far for ``model`` (for inspection and tests)."""
    return [k[0] for k in _model_table(model) if k[1]]
