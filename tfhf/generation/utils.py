"""``generate``: transformers' GenerationConfig semantics on an XLA-compiled decode loop.

``GenerationMixin.generate`` (inherited by tfhf's causal LMs) and the free function
``generate(model, ...)`` take a model implementing the cache contract of
``docs/generation-design.md`` (``init_cache``, ``forward_with_cache``) and return the
sequences (prompt included) as an int32 ``tf.Tensor``, or a ``Generate*Output`` with
``return_dict_in_generate=True``.

Buckets (the compiled-function key, see :mod:`tfhf.generation.loop`): the prompt is
left-padded to ``P = max(32, next_power_of_two(prompt_len))`` and the cache holds
``P + N`` slots with ``N = max(32, next_power_of_two(max_new_tokens))``. Prompts of 1..32
tokens share one compilation, 33..64 the next, and so on; max_new_tokens 1..32 share one.
"""

from __future__ import annotations

import copy
import logging
import warnings

import numpy as np
import tensorflow as tf

from ..errors import InvalidInputError
from ..outputs import make_output
from . import loop as _loop
from . import rng
from .logits_process import make_plan_and_params
from .stop_strings import StopStringChecker
from .streamers import as_numpy

logger = logging.getLogger("tfhf.generation")

MIN_PROMPT_BUCKET = 32
MIN_NEW_BUCKET = 32
DEFAULT_STREAM_CHUNK = 8

# GenerationConfig options tfhf does not implement: a set value raises (never silently
# ignored). The predicate says when the value changes the output.
_UNSUPPORTED = {
    "guidance_scale": lambda v: v is not None and v != 1,
    "sequence_bias": lambda v: v is not None,
    "encoder_repetition_penalty": lambda v: v is not None and v != 1.0,
    "encoder_no_repeat_ngram_size": lambda v: bool(v),
    "remove_invalid_values": lambda v: v is True,
    "exponential_decay_length_penalty": lambda v: v is not None,
    "watermarking_config": lambda v: v is not None,
    "renormalize_logits": lambda v: v is True,
    "num_beam_groups": lambda v: v is not None and v > 1,
    "diversity_penalty": lambda v: bool(v),
    "penalty_alpha": lambda v: v is not None and v > 0,
    "dola_layers": lambda v: v is not None,
    "constraints": lambda v: v is not None,
    "force_words_ids": lambda v: v is not None,
    "token_healing": lambda v: v is True,
    "prompt_lookup_num_tokens": lambda v: v is not None,
    "max_time": lambda v: v is not None,
    "low_memory": lambda v: v is True,
    "output_attentions": lambda v: v is True,
    "output_hidden_states": lambda v: v is True,
}
_UNSUPPORTED_SAMPLING = {
    "typical_p": lambda v: v is not None and v < 1.0,
    "epsilon_cutoff": lambda v: v is not None and 0.0 < v < 1.0,
    "eta_cutoff": lambda v: v is not None and 0.0 < v < 1.0,
    "top_h": lambda v: v is not None,
}
_UNSUPPORTED_ARGS = ("logits_processor", "stopping_criteria", "prefix_allowed_tokens_fn",
                     "assistant_model", "negative_prompt_ids", "negative_prompt_attention_mask",
                     "custom_generate", "inputs_embeds", "position_ids", "cache",
                     "past_key_values")


# ---------------------------------------------------------------- outputs
def _output_classes():
    classes = []
    for kind in ("DecoderOnly", "EncoderDecoder"):
        dec = make_output(f"Generate{kind}Output", "sequences", "scores", "logits",
                          module=__name__)
        beam = make_output(f"GenerateBeam{kind}Output", "sequences", "sequences_scores",
                           "scores", "logits", "beam_indices", module=__name__)
        classes += [dec, beam]
    return classes


(GenerateDecoderOnlyOutput, GenerateBeamDecoderOnlyOutput, GenerateEncoderDecoderOutput,
 GenerateBeamEncoderDecoderOutput) = _output_classes()


# ---------------------------------------------------------------- config
def _fail(msg):
    raise InvalidInputError(f"generate: {msg}")


def model_generation_config(model):
    """``model.generation_config``, created from the model config on first use."""
    from transformers import GenerationConfig

    gc = getattr(model, "generation_config", None)
    if gc is None:
        gc = GenerationConfig.from_model_config(model.config)
        try:
            model.generation_config = gc
        except Exception:  # noqa: BLE001 - a read-only model object still generates
            pass
    return gc


def load_generation_config(source, config):
    """The GenerationConfig of a model folder/repo: ``generation_config.json`` when present,
    else ``GenerationConfig.from_model_config(config)``. ``source`` is a
    :class:`tfhf.hub.resolve.ModelSource` or a local folder path."""
    import os

    from transformers import GenerationConfig

    path = None
    if isinstance(source, (str, os.PathLike)):
        candidate = os.path.join(os.fspath(source), "generation_config.json")
        path = candidate if os.path.isfile(candidate) else None
    elif source is not None and hasattr(source, "get"):
        path = source.get("generation_config.json", required=False)
    if path:
        try:
            return GenerationConfig.from_pretrained(os.path.dirname(path),
                                                    config_file_name=os.path.basename(path))
        except (OSError, ValueError) as e:
            from ..errors import ConfigError

            raise ConfigError(f"Cannot read generation config '{path}': {e}") from None
    return GenerationConfig.from_model_config(config)


def _prepare_config(model, generation_config, kwargs):
    """transformers' ``_prepare_generation_config``: user config or model config, global
    defaults, then kwargs on a copy. Returns (config, has_default_max, has_default_min)."""
    from transformers import GenerationConfig

    model_gc = model_generation_config(model)
    if generation_config is not None and not isinstance(generation_config, GenerationConfig):
        _fail(f"`generation_config` must be a transformers GenerationConfig, got "
              f"{type(generation_config).__name__}.")
    mnt = kwargs.get("max_new_tokens")
    if mnt is not None and (not isinstance(mnt, (int, np.integer)) or isinstance(mnt, bool)
                            or mnt <= 0):
        _fail(f"`max_new_tokens` must be a positive integer, got {mnt!r}.")
    has_default_max = (kwargs.get("max_length") is None
                       and (generation_config is None or generation_config.max_length is None)
                       and model_gc.max_length is None)
    has_default_min = (kwargs.get("min_length") is None
                       and (generation_config is None or generation_config.min_length is None)
                       and model_gc.min_length is None)
    gc = copy.deepcopy(generation_config if generation_config is not None else GenerationConfig())
    try:
        gc.update(**model_gc.to_dict(), defaults_only=True, allow_custom_entries=True)
        gc.update(**model_gc._get_default_generation_params(), defaults_only=True)
        unused = gc.update(**kwargs)
    except ValueError as e:
        raise InvalidInputError(f"generate: {e}") from None
    if unused:
        _fail(f"unknown arguments {sorted(unused)}: they are neither GenerationConfig "
              "attributes nor generate() arguments.")
    return gc, has_default_max, has_default_min


def _context_length(model):
    return getattr(model.config, "max_position_embeddings", None)


def _validate(gc, model):
    if not isinstance(gc.num_beams, (int, np.integer)) or gc.num_beams < 1:
        _fail(f"`num_beams` must be an integer >= 1, got {gc.num_beams!r}.")
    nrs = gc.num_return_sequences
    if not isinstance(nrs, (int, np.integer)) or nrs < 1:
        _fail(f"`num_return_sequences` must be an integer >= 1, got {nrs!r}.")
    if gc.num_beams > 1 and nrs > gc.num_beams:
        _fail(f"`num_return_sequences` ({nrs}) must be <= `num_beams` ({gc.num_beams}) "
              "with beam search.")
    if gc.num_beams == 1 and not gc.do_sample and nrs > 1:
        _fail(f"`num_return_sequences` ({nrs}) > 1 needs do_sample=True or num_beams > 1.")
    if gc.top_p is not None and not (0.0 < float(gc.top_p) <= 1.0):
        _fail(f"`top_p` must be in (0, 1], got {gc.top_p!r}.")
    if gc.do_sample and (gc.temperature is None or not float(gc.temperature) > 0.0):
        _fail(f"`temperature` must be > 0 with do_sample=True, got {gc.temperature!r} "
              "(for greedy decoding set do_sample=False).")
    if gc.top_k is not None and (not isinstance(gc.top_k, (int, np.integer)) or gc.top_k < 0):
        _fail(f"`top_k` must be an integer >= 0, got {gc.top_k!r}.")
    if gc.min_p is not None and not (0.0 <= float(gc.min_p) <= 1.0):
        _fail(f"`min_p` must be in [0, 1], got {gc.min_p!r}.")
    if gc.repetition_penalty is not None and not float(gc.repetition_penalty) > 0.0:
        _fail(f"`repetition_penalty` must be > 0, got {gc.repetition_penalty!r}.")
    if gc.no_repeat_ngram_size is not None and (
            not isinstance(gc.no_repeat_ngram_size, (int, np.integer))
            or gc.no_repeat_ngram_size < 0):
        _fail(f"`no_repeat_ngram_size` must be an integer >= 0, got {gc.no_repeat_ngram_size!r}.")
    if gc.bad_words_ids is not None:
        bw = gc.bad_words_ids
        ok = isinstance(bw, (list, tuple)) and len(bw) > 0 and all(
            isinstance(w, (list, tuple)) and len(w) > 0
            and all(isinstance(t, (int, np.integer)) and t >= 0 for t in w) for w in bw)
        if not ok:
            _fail(f"`bad_words_ids` must be a non-empty list of non-empty lists of token ids, "
                  f"got {bw!r}.")
        vocab = getattr(model.config, "vocab_size", None)
        if vocab is not None and any(t >= vocab for w in bw for t in w):
            _fail(f"`bad_words_ids` holds ids >= the vocabulary size {vocab}.")
    vocab = getattr(model.config, "vocab_size", None)
    for name in ("suppress_tokens", "begin_suppress_tokens", "forced_bos_token_id",
                 "forced_eos_token_id"):
        value = getattr(gc, name, None)
        if value is None:
            continue
        single = name.startswith("forced_bos") or (
            name.startswith("forced_eos") and isinstance(value, (int, np.integer)))
        tokens = [value] if single else value
        ok = isinstance(tokens, (list, tuple)) and all(
            isinstance(t, (int, np.integer)) and not isinstance(t, bool) and t >= 0
            and (vocab is None or t < vocab) for t in tokens)
        if not ok:
            what = "a token id" if single else "a list of token ids"
            _fail(f"`{name}` must be {what} in [0, {vocab}), got {value!r}.")
    for name, pred in _UNSUPPORTED.items():
        if pred(getattr(gc, name, None)):
            _fail(f"`{name}={getattr(gc, name)!r}` is not supported by tfhf's generate; unset it.")
    if gc.do_sample:
        for name, pred in _UNSUPPORTED_SAMPLING.items():
            if pred(getattr(gc, name, None)):
                _fail(f"`{name}={getattr(gc, name)!r}` is not supported by tfhf's generate; "
                      "unset it.")


def _eos_list(value):
    if value is None:
        return []
    if hasattr(value, "numpy"):
        value = value.numpy()
    arr = np.asarray(value).reshape(-1)
    return [int(x) for x in arr]


def checked_input_ids(input_ids, model, gc, per="prompt"):
    """``input_ids`` as a 2-D numpy array (``[[bos_token_id]]`` when None), refused when empty or
    holding ids outside the vocabulary."""
    ids = _to_numpy_ids(input_ids, "input_ids")
    if ids is None:
        if gc.bos_token_id is None:
            _fail("`input_ids` is required (the model has no bos_token_id to start from).")
        ids = np.full((1, 1), int(gc.bos_token_id), np.int64)
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        _fail(f"`input_ids` is empty (shape {tuple(ids.shape)}): give at least one token per "
              f"{per}.")
    vocab = getattr(model.config, "vocab_size", None)
    if (ids < 0).any() or (vocab is not None and (ids >= vocab).any()):
        _fail(f"`input_ids` holds ids outside [0, {vocab}) (the vocabulary size).")
    return ids


def _to_numpy_ids(x, name):
    if x is None:
        return None
    try:
        arr = as_numpy(x)
    except Exception as e:  # noqa: BLE001
        raise InvalidInputError(
            f"generate: `{name}` must be a 2-D array of token ids: {e}") from None
    if arr.dtype == object:
        _fail(f"`{name}` must be a rectangular 2-D array (pad the prompts to one length, "
              "on the left, with an attention mask).")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer)
                         or np.issubdtype(arr.dtype, np.bool_)):
        _fail(f"`{name}` must hold integers, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        _fail(f"`{name}` must be 2-D (batch, sequence_length), got shape {tuple(arr.shape)}.")
    return arr.astype(np.int64)


def _bucket(n, minimum):
    n = max(int(n), 1)
    return max(int(minimum), 1 << (n - 1).bit_length())


def _unpack_inputs(input_ids, attention_mask, kwargs):
    inputs = kwargs.pop("inputs", None)
    if input_ids is None:
        input_ids = inputs
    if input_ids is not None and not hasattr(input_ids, "shape") and hasattr(input_ids, "keys") \
            and hasattr(input_ids, "__getitem__"):
        d = dict(input_ids.items())
        input_ids = d.pop("input_ids", None)
        if attention_mask is None:
            attention_mask = d.pop("attention_mask", None)
        d.pop("token_type_ids", None)
        for k, v in d.items():
            kwargs.setdefault(k, v)
    return input_ids, attention_mask


# ---------------------------------------------------------------- generate
def _call_options(kwargs):
    """Pop the arguments of ``generate`` that are not GenerationConfig attributes."""
    tokenizer = kwargs.pop("tokenizer", None)
    use_xla = kwargs.pop("use_xla", True)
    chunk = kwargs.pop("stream_chunk_size", None)
    kwargs.pop("synced_gpus", None)
    kwargs.pop("use_cache", None)
    for name in _UNSUPPORTED_ARGS:
        value = kwargs.pop(name, None)
        if value is not None and not (isinstance(value, (list, tuple)) and len(value) == 0):
            _fail(f"`{name}` is not supported by tfhf's generate.")
    if chunk is None:
        chunk = DEFAULT_STREAM_CHUNK
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        _fail(f"`stream_chunk_size` must be a positive integer, got {chunk!r}.")
    return {"tokenizer": tokenizer, "use_xla": use_xla, "chunk": int(chunk)}


def _special_tokens(gc, has_mask, batch):
    """transformers' ``_prepare_special_tokens``: (eos ids, pad id or None)."""
    eos_ids = _eos_list(gc.eos_token_id)
    pad = gc.pad_token_id
    if pad is None and eos_ids:
        if not has_mask and batch > 1:
            logger.warning("The attention mask and the pad token id were not set, with a batched "
                           "input. As a consequence, you may observe unexpected behavior. Please "
                           "pass your input's `attention_mask` to obtain reliable results.")
        logger.warning("Setting `pad_token_id` to `eos_token_id`:%s for open-end generation.",
                       eos_ids[0])
        pad = eos_ids[0]
    return eos_ids, pad


def generate(model, input_ids=None, attention_mask=None, generation_config=None, streamer=None,
             seed=None, **kwargs):
    """Generate token sequences with ``model`` (see :meth:`GenerationMixin.generate`)."""
    input_ids, attention_mask = _unpack_inputs(input_ids, attention_mask, kwargs)
    opts = _call_options(kwargs)
    gc, has_default_max, has_default_min = _prepare_config(model, generation_config, kwargs)
    _validate(gc, model)

    # ---- inputs
    ids = checked_input_ids(input_ids, model, gc, "prompt")
    batch, input_len = ids.shape
    context = _context_length(model)
    if context is not None and input_len > context:
        _fail(f"the prompt (`input_ids`) has {input_len} tokens but the model's context "
              f"(config.max_position_embeddings) is {context}; truncate the prompt.")
    has_mask = attention_mask is not None
    mask = _to_numpy_ids(attention_mask, "attention_mask")
    if mask is not None and mask.shape != ids.shape:
        _fail(f"`attention_mask` has shape {tuple(mask.shape)} but `input_ids` has shape "
              f"{tuple(ids.shape)}; they must match.")

    eos_ids, pad = _special_tokens(gc, has_mask, batch)
    if mask is None:
        mask = np.ones_like(ids)
        if pad is not None and (ids == pad).any() and pad not in eos_ids:
            mask = (ids != pad).astype(np.int64)
    mask = (mask != 0).astype(np.int64)
    if pad is not None and batch > 1:
        right_padded = (mask[:, -1] == 0).any() if has_mask else (ids[:, -1] == pad).any()
        if right_padded:
            logger.warning("A decoder-only architecture is being used, but right-padding was "
                           "detected! For correct generation results, please set "
                           "`padding_side='left'` when initializing the tokenizer.")
    return run_generation(model, gc, ids, mask, eos_ids, pad, has_default_max, opts, streamer,
                          seed, context=context)


def _prepare_lengths(gc, input_len, has_default_max, context, prompt_name):
    """transformers' ``_prepare_generated_length`` / ``_validate_generated_length``: sets
    ``gc.max_length`` / ``gc.min_length`` and returns the number of new tokens."""
    if gc.max_new_tokens is not None:
        if not has_default_max and gc.max_length is not None:
            logger.warning("Both `max_new_tokens` (=%s) and `max_length`(=%s) seem to have been "
                           "set. `max_new_tokens` will take precedence.", gc.max_new_tokens,
                           gc.max_length)
        gc.max_length = gc.max_new_tokens + input_len
    elif has_default_max:
        gc.max_length = gc.max_length + input_len
        if context is not None:
            gc.max_length = min(gc.max_length, context)
    if gc.min_new_tokens is not None:
        gc.min_length = gc.min_new_tokens + input_len
    if has_default_max and gc.max_new_tokens is None:
        warnings.warn(f"Using the model-agnostic default `max_length` (={gc.max_length}) to "
                      "control the generation length. We recommend setting `max_new_tokens` to "
                      "control the maximum length of the generation.", UserWarning, stacklevel=5)
    if input_len >= gc.max_length:
        _fail(f"the prompt (`{prompt_name}`) has {input_len} tokens but `max_length` is "
              f"{gc.max_length}: nothing is left to generate; set `max_new_tokens`.")
    if context is not None and gc.max_length > context:
        logger.warning("The prompt plus max_new_tokens (%d) exceeds the model's maximum length "
                       "(%d). Depending on the model, you may observe exceptions, performance "
                       "degradation, or nothing at all.", gc.max_length, context)
    return int(gc.max_length - input_len)


def run_generation(model, gc, ids, mask, eos_ids, pad, has_default_max, opts, streamer, seed,
                   context=None, min_prompt_bucket=MIN_PROMPT_BUCKET, encoder=(),
                   encoder_inputs=(), forced_ids=()):
    """The part of ``generate`` shared by decoder-only and encoder-decoder models: lengths,
    strategy, the compiled loop's key and parameters, running it (in chunks for streamers and
    stop strings) and the outputs.

    ``ids``/``mask``: the (decoder) prompt, numpy (batch, length); ``encoder``: the static
    :attr:`LoopSpec.encoder` description and ``encoder_inputs`` the source tensors (encoder-
    decoder models); ``forced_ids``: ``(length, token)`` pairs forced by the loop.
    """
    batch, input_len = ids.shape
    seq2seq = bool(encoder)
    max_new = _prepare_lengths(gc, input_len, has_default_max, context,
                               "decoder_input_ids" if seq2seq else "input_ids")

    # ---- strategy
    num_beams = int(gc.num_beams)
    beam = num_beams > 1
    sample = bool(gc.do_sample)
    mode = ("beam_sample" if sample else "beam") if beam else ("sample" if sample else "greedy")
    nrs = int(gc.num_return_sequences)
    expand = num_beams if beam else nrs
    stop_checker = None
    if gc.stop_strings is not None:
        if beam:
            _fail("`stop_strings` are not supported with beam search in tfhf (num_beams > 1).")
        stop_checker = StopStringChecker(gc.stop_strings, opts["tokenizer"])
    if streamer is not None and beam:
        _fail("`streamer` cannot be used with beam search. Make sure that `num_beams` is set to 1.")

    logits_dim = _logits_dim(model)
    P = _bucket(input_len, min_prompt_bucket)
    N = _bucket(max_new, MIN_NEW_BUCKET)
    plan, pparams = make_plan_and_params(gc, logits_dim, eos_ids, sample, num_beams,
                                         input_len=input_len, table_len=P + N + 1,
                                         forced_ids=forced_ids)
    out_scores = bool(gc.return_dict_in_generate and gc.output_scores)
    out_logits = bool(gc.return_dict_in_generate and gc.output_logits)
    spec = _loop.LoopSpec(
        batch=batch, expand=expand, prompt_len=P, new_len=N, mode=mode, plan=plan,
        num_eos=len(eos_ids), output_scores=out_scores, output_logits=out_logits,
        num_beams=num_beams, beams_to_keep=max(2, 1 + len(eos_ids)) * num_beams if beam else 0,
        early_stopping_true=gc.early_stopping is True, encoder=tuple(encoder))

    # ---- tensors: left-pad to P, positions = cumsum(mask) - 1 (pads at 0)
    pad_fill = pad if pad is not None else 0
    prompt = np.full((batch, P), pad_fill, np.int64)
    prompt[:, P - input_len:] = ids
    pmask = np.zeros((batch, P), np.int64)
    pmask[:, P - input_len:] = mask
    positions = np.where(pmask == 0, 0, np.cumsum(pmask, axis=1) - 1)
    if beam:
        fill = ((pad or eos_ids[0]) if eos_ids else -1)  # transformers' beam output fill value
    else:
        fill = pad_fill
    lp = float(gc.length_penalty if gc.length_penalty is not None else 1.0)
    params = dict(pparams)
    params.update(
        input_len=np.int32(input_len), max_new=np.int32(max_new), stop_step=np.int32(max_new),
        pad=np.int32(pad_fill), fill=np.int32(fill),
        eos=np.asarray(eos_ids, np.int32).reshape(-1), seed=rng.next_seed(seed),
        min_length=np.int32(gc.min_length or 0), min_new_tokens=np.int32(gc.min_new_tokens or 0),
        len_pow=np.asarray([_pow(s, lp) for s in range(N + 1)], np.float32),
        max_len_pow=np.float32(_pow(max_new, lp)),
        use_max_len_pow=np.bool_(gc.early_stopping == "never" and lp > 0.0),
    )
    params = {k: tf.convert_to_tensor(v) for k, v in params.items()}
    inputs = (tf.constant(prompt, tf.int32), tf.constant(pmask, tf.int32),
              tf.constant(positions, tf.int32))
    full, cont = _loop.functions_for(model, spec, opts["use_xla"])
    if encoder_inputs:
        full = _bind_tail(full, encoder_inputs)

    if streamer is not None:
        streamer.put(np.repeat(ids, expand, axis=0))
    if streamer is None and stop_checker is None:
        state = full(*inputs, params)
        steps = int(state["step"])
    else:
        state, steps = _run_chunked(full, cont, inputs, params, spec, opts["chunk"], streamer,
                                    stop_checker, ids, mask, expand, max_new, pad_fill)
    if streamer is not None:
        streamer.end()
    return _outputs(state, steps, spec, gc, input_len, nrs)


def _bind_tail(fn, tail):
    """``fn(*args, params)`` -> ``fn(*args, params, *tail)``."""

    def call(*args):
        return fn(*args, *tail)

    return call


def _pow(base, exponent):
    try:
        return float(base) ** exponent
    except ZeroDivisionError:
        return float("inf")


def _logits_dim(model):
    dim = getattr(model, "logits_size", None)
    if dim is None:
        dim = getattr(model.config, "vocab_size", None)
    if dim is None:
        _fail("the model config has no vocab_size.")
    return int(dim)


def _run_chunked(full, cont, inputs, params, spec, chunk, streamer, stop_checker, ids, mask,
                 expand, max_new, pad):
    """Run the loop ``chunk`` steps at a time, streaming and checking stop strings between."""
    P, start = spec.prompt_len, spec.prompt_len - ids.shape[1]
    prompts = [list(row[m != 0]) for row, m in zip(np.repeat(ids, expand, 0),
                                                      np.repeat(mask, expand, 0))]
    params = dict(params)
    params["stop_step"] = tf.constant(min(chunk, max_new), tf.int32)
    state = full(*inputs, params)
    prev = 0
    while True:
        steps = int(state["step"])
        end = steps
        if stop_checker is not None:
            state, end = _apply_stop_strings(state, stop_checker, prompts, prev, steps, P, pad)
        if streamer is not None and end > prev:
            new = state["ids"].numpy()[:, P + prev:P + end]
            if new.shape[0] == 1:
                streamer.put(new[0])
            else:
                for t in range(new.shape[1]):
                    streamer.put(new[:, t])
        if bool(state["done"]) or steps >= max_new:
            return state, end
        prev = steps
        params["stop_step"] = tf.constant(min(steps + chunk, max_new), tf.int32)
        state = cont(state, params)


def _apply_stop_strings(state, checker, prompts, prev, steps, P, pad):
    ids = state["ids"].numpy()
    finished = state["finished"].numpy()
    finish_step = state["finish_step"].numpy()
    changed = False
    for r in range(ids.shape[0]):
        limit = min(steps, int(finish_step[r]) + 1) if finished[r] else steps
        if limit <= prev:
            continue
        tokens = prompts[r] + list(ids[r, P:P + limit])
        hit = checker.first_stop(tokens, len(prompts[r]) + prev, len(tokens))
        if hit is not None:
            s = hit - len(prompts[r])
            finished[r] = True
            finish_step[r] = s
            ids[r, P + s + 1:P + steps] = pad
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


def _outputs(state, steps, spec, gc, input_len, nrs):
    P = spec.prompt_len
    start = P - input_len
    if spec.encoder:
        out_class, beam_class = GenerateEncoderDecoderOutput, GenerateBeamEncoderDecoderOutput
    else:
        out_class, beam_class = GenerateDecoderOnlyOutput, GenerateBeamDecoderOnlyOutput
    if spec.is_beam:
        B, nb = spec.batch, spec.num_beams
        seqs = state["seqs"].numpy()[:, :nrs].reshape(B * nrs, -1)
        bidx = state["bidx_done"].numpy()[:, :nrs].reshape(B * nrs, -1)
        scores_seq = state["beam_scores"].numpy()[:, :nrs].reshape(-1)
        gen = int(((bidx + 1) != 0).sum(axis=1).max())
        sequences = tf.constant(seqs[:, start:P + gen], tf.int32)
        if not gc.return_dict_in_generate:
            return sequences
        return beam_class(
            sequences=sequences,
            sequences_scores=tf.constant(scores_seq) if gc.output_scores else None,
            scores=_steps_tuple(state, "scores", steps),
            logits=_steps_tuple(state, "logits", steps),
            beam_indices=tf.constant(bidx[:, :gen], tf.int32))
    ids = state["ids"].numpy()
    sequences = tf.constant(ids[:, start:P + steps], tf.int32)
    if not gc.return_dict_in_generate:
        return sequences
    return out_class(sequences=sequences, scores=_steps_tuple(state, "scores", steps),
                     logits=_steps_tuple(state, "logits", steps))


def _steps_tuple(state, key, steps):
    if key not in state:
        return None
    buf = state[key]
    return tuple(buf[t] for t in range(steps))


class GenerationMixin:
    """``generate`` for tfhf causal LMs (models implementing ``init_cache`` and
    ``forward_with_cache``, see docs/generation-design.md)."""

    def can_generate(self) -> bool:
        return True

    def _load_generation_config(self, source):
        self.generation_config = load_generation_config(source, self.config)

    def generate(self, input_ids=None, attention_mask=None, generation_config=None,
                 streamer=None, seed=None, **kwargs):
        """Generate continuations of ``input_ids`` (transformers' ``generate`` semantics).

        Args:
            input_ids: (batch, length) int prompt ids, left-padded for batches (a
                ``BatchEncoding``/dict with ``input_ids``/``attention_mask`` also works).
            attention_mask: (batch, length) 1 for real tokens, 0 for padding.
            generation_config: a transformers ``GenerationConfig``; defaults to
                ``self.generation_config``. Keyword arguments override a copy of it
                (``max_new_tokens``, ``do_sample``, ``temperature``, ``top_k``, ``top_p``,
                ``min_p``, ``num_beams``, ``repetition_penalty``, ``stop_strings``, ...).
            streamer: a ``TextStreamer``/``TextIteratorStreamer`` (or any object with
                ``put``/``end``); tokens are put in chunks of ``stream_chunk_size`` (8).
            seed: int or pair of ints for sampling; default: drawn from :func:`tfhf.set_seed`'s
                generator.
            tokenizer: needed with ``stop_strings``.
            use_xla: ``False`` runs the same loop eagerly (debugging); default ``True``.

        Returns:
            int32 ``tf.Tensor`` (batch * num_return_sequences, length): the prompt followed by
            the new tokens, finished rows padded with ``pad_token_id``; with
            ``return_dict_in_generate=True`` a ``GenerateDecoderOnlyOutput`` (or
            ``GenerateBeamDecoderOnlyOutput``) with ``sequences`` and, with
            ``output_scores=True``, ``scores`` (processed scores, one (rows, vocab) tensor per
            step).
        """
        return generate(self, input_ids, attention_mask=attention_mask,
                        generation_config=generation_config, streamer=streamer, seed=seed,
                        **kwargs)
