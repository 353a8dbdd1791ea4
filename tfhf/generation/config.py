"""GenerationConfig preparation and validation for ``generate``.

transformers' semantics: the user's config (or the model's), the model's defaults, then the
call's keyword arguments on a copy (:func:`prepare_config`); every value checked before
anything is compiled (:func:`validate_config`), options tfhf does not implement refused by
name; the EOS / pad ids (:func:`special_tokens`) and the generated length
(:func:`prepare_lengths`) derived as transformers derives them.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings

import numpy as np

from ..errors import ConfigError, InvalidInputError

logger = logging.getLogger("tfhf.generation")

DEFAULT_STREAM_CHUNK = 8

# GenerationConfig options tfhf does not implement: a set value raises (never silently
# ignored). The predicate says when the value changes the output.
UNSUPPORTED_OPTIONS = {
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
UNSUPPORTED_SAMPLING_OPTIONS = {
    "typical_p": lambda v: v is not None and v < 1.0,
    "epsilon_cutoff": lambda v: v is not None and 0.0 < v < 1.0,
    "eta_cutoff": lambda v: v is not None and 0.0 < v < 1.0,
    "top_h": lambda v: v is not None,
}
UNSUPPORTED_ARGS = ("logits_processor", "stopping_criteria", "prefix_allowed_tokens_fn",
                    "assistant_model", "negative_prompt_ids", "negative_prompt_attention_mask",
                    "custom_generate", "inputs_embeds", "position_ids", "cache",
                    "past_key_values")


def fail(msg):
    """Raise the :class:`InvalidInputError` of a bad ``generate`` argument."""
    raise InvalidInputError(f"generate: {msg}")


# ---------------------------------------------------------------- the model's config
def model_generation_config(model):
    """``model.generation_config``, created from the model config on first use."""
    from transformers import GenerationConfig

    config = getattr(model, "generation_config", None)
    if config is None:
        config = GenerationConfig.from_model_config(model.config)
        try:
            model.generation_config = config
        except Exception:  # noqa: BLE001 - a read-only model object still generates
            pass
    return config


def load_generation_config(source, config):
    """The GenerationConfig of a model folder/repo: ``generation_config.json`` when present,
    else ``GenerationConfig.from_model_config(config)``. ``source`` is a
    :class:`tfhf.hub.resolve.ModelSource` or a local folder path."""
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
            raise ConfigError(f"Cannot read generation config '{path}': {e}") from None
    return GenerationConfig.from_model_config(config)


def context_length(model):
    """The model's position limit (``config.max_position_embeddings``), or None."""
    return getattr(model.config, "max_position_embeddings", None)


def logits_dim(model):
    """The width of the model's logits (``model.logits_size``, else the vocabulary size)."""
    dim = getattr(model, "logits_size", None)
    if dim is None:
        dim = getattr(model.config, "vocab_size", None)
    if dim is None:
        fail("the model config has no vocab_size.")
    return int(dim)


# ---------------------------------------------------------------- the call's config
def call_options(kwargs):
    """Pop the arguments of ``generate`` that are not GenerationConfig attributes:
    ``{"tokenizer", "use_xla", "chunk"}``."""
    tokenizer = kwargs.pop("tokenizer", None)
    use_xla = kwargs.pop("use_xla", True)
    chunk = kwargs.pop("stream_chunk_size", None)
    kwargs.pop("synced_gpus", None)
    kwargs.pop("use_cache", None)
    for name in UNSUPPORTED_ARGS:
        value = kwargs.pop(name, None)
        if value is not None and not (isinstance(value, (list, tuple)) and len(value) == 0):
            fail(f"`{name}` is not supported by tfhf's generate.")
    if chunk is None:
        chunk = DEFAULT_STREAM_CHUNK
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        fail(f"`stream_chunk_size` must be a positive integer, got {chunk!r}.")
    return {"tokenizer": tokenizer, "use_xla": use_xla, "chunk": int(chunk)}


def prepare_config(model, generation_config, kwargs):
    """transformers' ``_prepare_generation_config``: user config or model config, global
    defaults, then kwargs on a copy. Returns (config, has_default_max, has_default_min)."""
    from transformers import GenerationConfig

    model_config = model_generation_config(model)
    if generation_config is not None and not isinstance(generation_config, GenerationConfig):
        fail(f"`generation_config` must be a transformers GenerationConfig, got "
             f"{type(generation_config).__name__}.")
    max_new = kwargs.get("max_new_tokens")
    if max_new is not None and (not isinstance(max_new, (int, np.integer))
                                or isinstance(max_new, bool) or max_new <= 0):
        fail(f"`max_new_tokens` must be a positive integer, got {max_new!r}.")

    def unset(name):
        return (kwargs.get(name) is None
                and (generation_config is None or getattr(generation_config, name) is None)
                and getattr(model_config, name) is None)

    has_default_max, has_default_min = unset("max_length"), unset("min_length")
    config = copy.deepcopy(generation_config if generation_config is not None
                           else GenerationConfig())
    try:
        config.update(**model_config.to_dict(), defaults_only=True, allow_custom_entries=True)
        config.update(**model_config._get_default_generation_params(), defaults_only=True)
        unused = config.update(**kwargs)
    except ValueError as e:
        raise InvalidInputError(f"generate: {e}") from None
    if unused:
        fail(f"unknown arguments {sorted(unused)}: they are neither GenerationConfig "
             "attributes nor generate() arguments.")
    return config, has_default_max, has_default_min


def _is_int(value, minimum=0):
    return isinstance(value, (int, np.integer)) and value >= minimum


def _is_token(value, vocab):
    return (_is_int(value) and not isinstance(value, bool)
            and (vocab is None or value < vocab))


def _validate_strategy(config):
    beams, returns = config.num_beams, config.num_return_sequences
    if not _is_int(beams, 1):
        fail(f"`num_beams` must be an integer >= 1, got {beams!r}.")
    if not _is_int(returns, 1):
        fail(f"`num_return_sequences` must be an integer >= 1, got {returns!r}.")
    if beams > 1 and returns > beams:
        fail(f"`num_return_sequences` ({returns}) must be <= `num_beams` ({beams}) "
             "with beam search.")
    if beams == 1 and not config.do_sample and returns > 1:
        fail(f"`num_return_sequences` ({returns}) > 1 needs do_sample=True or num_beams > 1.")
    if config.top_p is not None and not (0.0 < float(config.top_p) <= 1.0):
        fail(f"`top_p` must be in (0, 1], got {config.top_p!r}.")
    if config.do_sample and (config.temperature is None
                             or not float(config.temperature) > 0.0):
        fail(f"`temperature` must be > 0 with do_sample=True, got {config.temperature!r} "
             "(for greedy decoding set do_sample=False).")
    if config.top_k is not None and not _is_int(config.top_k):
        fail(f"`top_k` must be an integer >= 0, got {config.top_k!r}.")
    if config.min_p is not None and not (0.0 <= float(config.min_p) <= 1.0):
        fail(f"`min_p` must be in [0, 1], got {config.min_p!r}.")
    if config.repetition_penalty is not None and not float(config.repetition_penalty) > 0.0:
        fail(f"`repetition_penalty` must be > 0, got {config.repetition_penalty!r}.")
    ngram = config.no_repeat_ngram_size
    if ngram is not None and not _is_int(ngram):
        fail(f"`no_repeat_ngram_size` must be an integer >= 0, got {ngram!r}.")


def _validate_token_lists(config, vocab):
    if config.bad_words_ids is not None:
        words = config.bad_words_ids
        ok = isinstance(words, (list, tuple)) and len(words) > 0 and all(
            isinstance(w, (list, tuple)) and len(w) > 0
            and all(isinstance(t, (int, np.integer)) and t >= 0 for t in w) for w in words)
        if not ok:
            fail(f"`bad_words_ids` must be a non-empty list of non-empty lists of token ids, "
                 f"got {words!r}.")
        if vocab is not None and any(t >= vocab for w in words for t in w):
            fail(f"`bad_words_ids` holds ids >= the vocabulary size {vocab}.")
    for name in ("suppress_tokens", "begin_suppress_tokens", "forced_bos_token_id",
                 "forced_eos_token_id"):
        value = getattr(config, name, None)
        if value is None:
            continue
        single = name.startswith("forced_bos") or (
            name.startswith("forced_eos") and isinstance(value, (int, np.integer)))
        tokens = [value] if single else value
        ok = isinstance(tokens, (list, tuple)) and all(
            _is_token(t, vocab) for t in tokens)
        if not ok:
            what = "a token id" if single else "a list of token ids"
            fail(f"`{name}` must be {what} in [0, {vocab}), got {value!r}.")


def _refuse_unsupported(config):
    tables = [UNSUPPORTED_OPTIONS]
    if config.do_sample:
        tables.append(UNSUPPORTED_SAMPLING_OPTIONS)
    for table in tables:
        for name, is_set in table.items():
            if is_set(getattr(config, name, None)):
                fail(f"`{name}={getattr(config, name)!r}` is not supported by tfhf's generate; "
                     "unset it.")


def validate_config(config, model):
    """Refuse out-of-range values and options tfhf does not implement, by name."""
    _validate_strategy(config)
    _validate_token_lists(config, getattr(model.config, "vocab_size", None))
    _refuse_unsupported(config)


# ---------------------------------------------------------------- derived values
def eos_list(value):
    """An ``eos_token_id`` (None, int, list, array or tensor) as a list of ints."""
    if value is None:
        return []
    if hasattr(value, "numpy"):
        value = value.numpy()
    return [int(x) for x in np.asarray(value).reshape(-1)]


def special_tokens(config, has_mask, batch):
    """transformers' ``_prepare_special_tokens``: (eos ids, pad id or None)."""
    eos_ids = eos_list(config.eos_token_id)
    pad = config.pad_token_id
    if pad is None and eos_ids:
        if not has_mask and batch > 1:
            logger.warning("The attention mask and the pad token id were not set, with a batched "
                           "input. As a consequence, you may observe unexpected behavior. Please "
                           "pass your input's `attention_mask` to obtain reliable results.")
        logger.warning("Setting `pad_token_id` to `eos_token_id`:%s for open-end generation.",
                       eos_ids[0])
        pad = eos_ids[0]
    return eos_ids, pad


def prepare_lengths(config, input_len, has_default_max, context, prompt_name):
    """transformers' ``_prepare_generated_length`` / ``_validate_generated_length``: sets
    ``config.max_length`` / ``config.min_length`` and returns the number of new tokens."""
    if config.max_new_tokens is not None:
        if not has_default_max and config.max_length is not None:
            logger.warning("Both `max_new_tokens` (=%s) and `max_length`(=%s) seem to have been "
                           "set. `max_new_tokens` will take precedence.", config.max_new_tokens,
                           config.max_length)
        config.max_length = config.max_new_tokens + input_len
    elif has_default_max:
        config.max_length = config.max_length + input_len
        if context is not None:
            config.max_length = min(config.max_length, context)
    if config.min_new_tokens is not None:
        config.min_length = config.min_new_tokens + input_len
    if has_default_max and config.max_new_tokens is None:
        warnings.warn(f"Using the model-agnostic default `max_length` (={config.max_length}) to "
                      "control the generation length. We recommend setting `max_new_tokens` to "
                      "control the maximum length of the generation.", UserWarning, stacklevel=5)
    if input_len >= config.max_length:
        fail(f"the prompt (`{prompt_name}`) has {input_len} tokens but `max_length` is "
             f"{config.max_length}: nothing is left to generate; set `max_new_tokens`.")
    if context is not None and config.max_length > context:
        logger.warning("The prompt plus max_new_tokens (%d) exceeds the model's maximum length "
                       "(%d). Depending on the model, you may observe exceptions, performance "
                       "degradation, or nothing at all.", config.max_length, context)
    return int(config.max_length - input_len)
