"""The part of ``generate`` shared by decoder-only and encoder-decoder models: lengths,
strategy, the compiled loop's key (:class:`LoopSpec`) and parameters, running it (in chunks for
streamers and stop strings) and the ``Generate*Output`` results."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..outputs import make_output
from . import rng
from .config import fail, logits_dim, prepare_lengths
from .inputs import MIN_NEW_BUCKET, MIN_PROMPT_BUCKET, bucket, left_pad
from .logits_process import make_plan_and_params
from .loop import LoopSpec, functions_for, loop_params
from .stop_strings import StopStringChecker


# ---------------------------------------------------------------- outputs
def _output_classes():
    classes = []
    for kind in ("DecoderOnly", "EncoderDecoder"):
        # pickled by their public home, tfhf.generation
        classes.append(make_output(f"Generate{kind}Output", "sequences", "scores", "logits",
                                   module="tfhf.generation"))
        classes.append(make_output(f"GenerateBeam{kind}Output", "sequences", "sequences_scores",
                                   "scores", "logits", "beam_indices", module="tfhf.generation"))
    return classes


(GenerateDecoderOnlyOutput, GenerateBeamDecoderOnlyOutput, GenerateEncoderDecoderOutput,
 GenerateBeamEncoderDecoderOutput) = _output_classes()


def _strategy(config):
    """-> (mode, rows per prompt) of transformers' decoding strategy."""
    beams = int(config.num_beams)
    sample = bool(config.do_sample)
    if beams > 1:
        return ("beam_sample" if sample else "beam"), beams
    return ("sample" if sample else "greedy"), int(config.num_return_sequences)


def _loop_spec(config, batch, expand, mode, plan, eos_ids, buckets, encoder):
    beams = int(config.num_beams)
    beam = beams > 1
    return LoopSpec(
        batch=batch, expand=expand, prompt_len=buckets[0], new_len=buckets[1], mode=mode,
        plan=plan, num_eos=len(eos_ids),
        output_scores=bool(config.return_dict_in_generate and config.output_scores),
        output_logits=bool(config.return_dict_in_generate and config.output_logits),
        num_beams=beams, beams_to_keep=max(2, 1 + len(eos_ids)) * beams if beam else 0,
        early_stopping_true=config.early_stopping is True, encoder=tuple(encoder))


def run_generation(model, config, ids, mask, eos_ids, pad, has_default_max, opts, streamer,
                   seed, context=None, min_prompt_bucket=MIN_PROMPT_BUCKET, encoder=(),
                   encoder_inputs=(), forced_ids=()):
    """Run the compiled loop for a prepared ``generate`` call and return its result.

    ``ids``/``mask``: the (decoder) prompt, numpy (batch, length); ``opts``: from
    :func:`tfhf.generation.config.call_options`; ``encoder``: the static
    :attr:`LoopSpec.encoder` description and ``encoder_inputs`` the source tensors (encoder-
    decoder models); ``forced_ids``: ``(length, token)`` pairs forced by the loop.
    """
    batch, input_len = ids.shape
    max_new = prepare_lengths(config, input_len, has_default_max, context,
                              "decoder_input_ids" if encoder else "input_ids")
    mode, expand = _strategy(config)
    beam = mode.startswith("beam")
    stop_checker = None
    if config.stop_strings is not None:
        if beam:
            fail("`stop_strings` are not supported with beam search in tfhf (num_beams > 1).")
        stop_checker = StopStringChecker(config.stop_strings, opts["tokenizer"])
    if streamer is not None and beam:
        fail("`streamer` cannot be used with beam search. Make sure that `num_beams` is set to 1.")

    P, N = bucket(input_len, min_prompt_bucket), bucket(max_new, MIN_NEW_BUCKET)
    # greedy and sampling share one compiled loop: greedy runs the sampling loop (with this
    # config's warpers, skipped) with do_sample=False
    do_sample = None if beam else mode == "sample"
    loop_mode = mode if beam else "sample"
    plan, processor_params = make_plan_and_params(
        config, logits_dim(model), eos_ids, loop_mode in ("sample", "beam_sample"),
        int(config.num_beams), input_len=input_len, table_len=P + N + 1, forced_ids=forced_ids)
    spec = _loop_spec(config, batch, expand, loop_mode, plan, eos_ids, (P, N), encoder)
    pad_fill = pad if pad is not None else 0
    fill = ((pad or eos_ids[0]) if eos_ids else -1) if beam else pad_fill  # transformers' fill
    params = loop_params(
        processor_params, input_len=input_len, max_new=max_new, new_len=N, pad=pad_fill,
        fill=fill, eos=eos_ids, seed=rng.next_seed(seed), min_length=config.min_length,
        min_new_tokens=config.min_new_tokens, length_penalty=config.length_penalty,
        early_stopping=config.early_stopping, do_sample=do_sample)
    inputs = left_pad(ids, mask, P, pad_fill)
    full, cont = functions_for(model, spec, opts["use_xla"])
    if encoder_inputs:
        full = _bind_tail(full, encoder_inputs)

    if streamer is not None:
        streamer.put(np.repeat(ids, expand, axis=0))
    if streamer is None and stop_checker is None:
        state = full(*inputs, params)
        steps = int(state["step"])
    else:
        chunked = _Chunked(full, cont, spec, opts["chunk"], streamer, stop_checker, max_new,
                           pad_fill)
        state, steps = chunked.run(inputs, params, ids, mask)
    if streamer is not None:
        streamer.end()
    return _outputs(state, steps, spec, config, input_len)


def _bind_tail(fn, tail):
    """``fn(*args, params)`` -> ``fn(*args, params, *tail)``."""

    def call(*args):
        return fn(*args, *tail)

    return call


# ---------------------------------------------------------------- chunked runs
class _Chunked:
    """Runs the loop ``chunk`` steps at a time, streaming and checking stop strings between."""

    def __init__(self, full, cont, spec, chunk, streamer, stop_checker, max_new, pad):
        self.full, self.cont, self.spec = full, cont, spec
        self.chunk, self.streamer, self.stop_checker = chunk, streamer, stop_checker
        self.max_new, self.pad = max_new, pad

    def run(self, inputs, params, ids, mask):
        expand, P = self.spec.expand, self.spec.prompt_len
        prompts = [list(row[m != 0]) for row, m in zip(np.repeat(ids, expand, 0),
                                                          np.repeat(mask, expand, 0))]
        params = dict(params)
        params["stop_step"] = tf.constant(min(self.chunk, self.max_new), tf.int32)
        state = self.full(*inputs, params)
        prev = 0
        while True:
            steps = int(state["step"])
            end = steps
            if self.stop_checker is not None:
                state, end = self._stop_strings(state, prompts, prev, steps)
            if self.streamer is not None and end > prev:
                self._stream(state["ids"].numpy()[:, P + prev:P + end])
            if bool(state["done"]) or steps >= self.max_new:
                return state, end
            prev = steps
            params["stop_step"] = tf.constant(min(steps + self.chunk, self.max_new), tf.int32)
            state = self.cont(state, params)

    def _stream(self, new):
        if new.shape[0] == 1:
            self.streamer.put(new[0])
        else:
            for t in range(new.shape[1]):
                self.streamer.put(new[:, t])

    def _stop_strings(self, state, prompts, prev, steps):
        P = self.spec.prompt_len
        ids = state["ids"].numpy()
        finished = state["finished"].numpy()
        finish_step = state["finish_step"].numpy()
        changed = False
        for r in range(ids.shape[0]):
            limit = min(steps, int(finish_step[r]) + 1) if finished[r] else steps
            if limit <= prev:
                continue
            tokens = prompts[r] + list(ids[r, P:P + limit])
            hit = self.stop_checker.first_stop(tokens, len(prompts[r]) + prev, len(tokens))
            if hit is not None:
                s = hit - len(prompts[r])
                finished[r] = True
                finish_step[r] = s
                ids[r, P + s + 1:P + steps] = self.pad
                changed = True
        end = steps
        if finished.all():
            end = min(steps, int(finish_step.max()) + 1)
        if changed:
            state = dict(state)
            state["ids"] = tf.constant(ids, tf.int32)
            state["finished"] = tf.constant(finished)
            state["finish_step"] = tf.constant(finish_step, tf.int32)
            state["done"] = tf.constant(bool(finished.all()))
        return state, end


# ---------------------------------------------------------------- results
def _outputs(state, steps, spec, config, input_len):
    P = spec.prompt_len
    start = P - input_len
    if spec.encoder:
        out_class, beam_class = GenerateEncoderDecoderOutput, GenerateBeamEncoderDecoderOutput
    else:
        out_class, beam_class = GenerateDecoderOnlyOutput, GenerateBeamDecoderOnlyOutput
    if spec.is_beam:
        B, returns = spec.batch, int(config.num_return_sequences)
        seqs = state["seqs"].numpy()[:, :returns].reshape(B * returns, -1)
        bidx = state["bidx_done"].numpy()[:, :returns].reshape(B * returns, -1)
        scores_seq = state["beam_scores"].numpy()[:, :returns].reshape(-1)
        gen = int(((bidx + 1) != 0).sum(axis=1).max())
        sequences = tf.constant(seqs[:, start:P + gen], tf.int32)
        if not config.return_dict_in_generate:
            return sequences
        return beam_class(
            sequences=sequences,
            sequences_scores=tf.constant(scores_seq) if config.output_scores else None,
            scores=_steps_tuple(state, "scores", steps),
            logits=_steps_tuple(state, "logits", steps),
            beam_indices=tf.constant(bidx[:, :gen], tf.int32))
    ids = state["ids"].numpy()
    sequences = tf.constant(ids[:, start:P + steps], tf.int32)
    if not config.return_dict_in_generate:
        return sequences
    return out_class(sequences=sequences, scores=_steps_tuple(state, "scores", steps),
                     logits=_steps_tuple(state, "logits", steps))


def _steps_tuple(state, key, steps):
    if key not in state:
        return None
    buf = state[key]
    return tuple(buf[t] for t in range(steps))
