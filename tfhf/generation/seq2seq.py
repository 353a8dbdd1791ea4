"""``generate`` for encoder-decoder models (T5, BART, M2M100/NLLB, Whisper) on the decoder-only
loop of :mod:`tfhf.generation.loop`.

The model implements the encoder-decoder cache contract of docs/generation-design.md
(``encode``, ``cross_cache``, ``init_cache``, ``decoder_forward_with_cache``,
``encoder_output_mask``). One compiled function per key runs the encoder once, projects the
cross-attention keys/values once, expands them for beams / return sequences once, prefills the
decoder prompt and runs the same ``tf.while_loop`` as decoder-only models.

Semantics follow transformers' ``generate`` for ``config.is_encoder_decoder``:

* the encoder input is ``model.main_input_name`` (``input_ids``, or ``input_features`` for
  Whisper, passed positionally or by name); ``encoder_outputs=`` skips the encoder; without
  ``attention_mask`` the encoder attends to every position (transformers 5 does not infer
  the mask from pad tokens for encoder-decoders);
* the decoder prompt is ``decoder_start_token_id`` (falling back to ``bos_token_id``), or
  ``decoder_input_ids`` (every row the same length; ``decoder_start_token_id`` is put in
  front unless a row already starts with it, except for Whisper), followed by the leading
  run of ``forced_decoder_ids`` (Whisper's ``<|lang|><|task|>...`` prefix); the other forced
  ids are forced at their positions like transformers 4.x's ``ForceTokensLogitsProcessor``;
* ``max_length`` counts decoder tokens, the start token included; ``max_new_tokens`` counts
  tokens after the decoder prompt;
* the result starts with the decoder prompt; rows that finished are padded with
  ``pad_token_id``.

Shapes: token-id sources are right-padded to a bucket (32, 64, ..., capped at the model's
position table) with the encoder mask marking the padding; the decoder prompt is left-padded
to a power of two (1, 2, 4, ...; the usual one-token prompt is not padded) and the new tokens
to the decoder-only loop's buckets, so many inputs share a bounded number of compilations
(:func:`tfhf.generation.compile_count` counts them).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..errors import InvalidInputError
from .config import (call_options, context_length, fail, prepare_config, special_tokens,
                     validate_config)
from .decoder_only import GenerationMixin
from .inputs import (MIN_PROMPT_BUCKET, bucket, checked_input_ids, pad_right, to_numpy_ids,
                     unpack_inputs)
from .run import run_generation
from .streamers import as_numpy

MIN_SOURCE_BUCKET = MIN_PROMPT_BUCKET
MIN_DECODER_PROMPT_BUCKET = 1


def _encoder_states(encoder_outputs):
    if hasattr(encoder_outputs, "keys") and not hasattr(encoder_outputs, "shape"):
        return encoder_outputs["last_hidden_state"]
    if isinstance(encoder_outputs, (list, tuple)):
        return encoder_outputs[0]
    return encoder_outputs


def _source(model, config, source, attention_mask, encoder_outputs):
    """-> (batch, LoopSpec.encoder, (source tensor, source mask tensor or None), has_mask)."""
    main = model.main_input_name
    has_mask = attention_mask is not None
    if encoder_outputs is not None:
        hidden = as_numpy(_encoder_states(encoder_outputs))
        if hidden.ndim != 3 or hidden.shape[0] == 0 or hidden.shape[1] == 0:
            fail(f"`encoder_outputs` must hold the encoder's last hidden state of shape "
                  f"(batch, source_length, hidden_size), got shape {tuple(hidden.shape)}.")
        batch, length = hidden.shape[:2]
        mask = to_numpy_ids(attention_mask, "attention_mask")
        if mask is None:
            mask = np.ones((batch, length), np.int64)
        elif mask.shape != (batch, length):
            fail(f"`attention_mask` has shape {tuple(mask.shape)} but `encoder_outputs` has "
                  f"(batch, source_length) {(batch, length)}; they must match.")
        S = bucket(length, MIN_SOURCE_BUCKET)
        hidden = pad_right(hidden, S, 0.0)
        mask = pad_right((mask != 0).astype(np.int32), S, 0)
        dtype = tf.as_dtype(getattr(model, "cache_dtype", tf.float32))
        return batch, ("hidden", S, hidden.shape[2]), (tf.constant(hidden, dtype),
                                                     tf.constant(mask, tf.int32)), has_mask
    if main != "input_ids":  # features (Whisper): the shape is part of the key, no buckets
        if source is None:
            fail(f"`{main}` is required (or `encoder_outputs`).")
        try:
            feats = as_numpy(source)
        except Exception as e:  # noqa: BLE001
            raise InvalidInputError(f"generate: `{main}` must be an array: {e}") from None
        if feats.ndim < 2 or 0 in feats.shape or not np.issubdtype(feats.dtype, np.number):
            fail(f"`{main}` must be a non-empty numeric array with a batch axis, got shape "
                  f"{tuple(feats.shape)} and dtype {feats.dtype}.")
        mask = None
        if has_mask:
            mask = to_numpy_ids(attention_mask, "attention_mask")
            if mask.shape[0] != feats.shape[0]:
                fail(f"`attention_mask` has {mask.shape[0]} rows but `{main}` has "
                      f"{feats.shape[0]}; they must match.")
            mask = tf.constant((mask != 0).astype(np.int32))
        dtype = tf.as_dtype(getattr(model, "cache_dtype", tf.float32))
        feats = tf.constant(feats, dtype if np.issubdtype(feats.dtype, np.floating) else None)
        spec = ("features", tuple(feats.shape[1:]), has_mask)
        return int(feats.shape[0]), spec, (feats, mask), has_mask
    ids = checked_input_ids(source, model, config, "input")
    batch, length = ids.shape
    mask = to_numpy_ids(attention_mask, "attention_mask")
    if mask is None:
        mask = np.ones_like(ids)
    elif mask.shape != ids.shape:
        fail(f"`attention_mask` has shape {tuple(mask.shape)} but `input_ids` has shape "
              f"{tuple(ids.shape)}; they must match.")
    limit = model.generation_max_source_length() if hasattr(
        model, "generation_max_source_length") else None
    if limit is not None and length > limit:
        fail(f"`input_ids` has {length} tokens but the encoder takes at most {limit} "
              "(its position table); truncate the input.")
    S = bucket(length, MIN_SOURCE_BUCKET)
    if limit is not None:
        S = min(S, limit)
    fill = getattr(model.config, "pad_token_id", None)
    ids = pad_right(ids, S, 0 if fill is None else int(fill))
    mask = pad_right((mask != 0).astype(np.int64), S, 0)
    return batch, ("ids", S), (tf.constant(ids, tf.int32), tf.constant(mask, tf.int32)), has_mask


def _decoder_start(config, batch):
    start = config.decoder_start_token_id
    if start is None:
        start = config.bos_token_id
    if start is None:
        fail("`decoder_start_token_id` or `bos_token_id` has to be defined for "
              "encoder-decoder generation.")
    start = np.asarray(as_numpy(start)).reshape(-1) if not isinstance(start, (int, np.integer)) \
        else np.asarray([start])
    if start.size == 1:
        start = np.repeat(start, batch)
    elif start.size != batch:
        fail(f"`decoder_start_token_id` has {start.size} entries; give one id or one per "
              f"input ({batch}).")
    return start.astype(np.int64)


def _forced_pairs(value):
    if value is None:
        return []
    try:
        pairs = [(int(p), None if t is None else int(t)) for p, t in value]
    except (TypeError, ValueError):
        fail(f"`forced_decoder_ids` must be a list of (position, token_id) pairs, got {value!r}.")
    for p, t in pairs:
        if t is None:
            fail("`forced_decoder_ids` has no token at position "
                  f"{p} (Whisper's language detection): pass the tokens explicitly, e.g. "
                  "`decoder_input_ids` or `forced_decoder_ids` with every token set.")
        if p < 1 or t < 0:
            fail(f"`forced_decoder_ids` must hold positions >= 1 and token ids >= 0, got "
                  f"{value!r}.")
    return sorted(pairs)


def _decoder_prompt(model, config, batch, decoder_input_ids, decoder_attention_mask, forced):
    """-> (decoder prompt (batch, D) numpy, forced (length, token) pairs left for the loop)."""
    start = _decoder_start(config, batch)
    dec = to_numpy_ids(decoder_input_ids, "decoder_input_ids")
    vocab = getattr(model.config, "vocab_size", None)
    if dec is None:
        dec = start[:, None]
    else:
        if dec.shape[0] != batch or dec.shape[1] == 0:
            fail(f"`decoder_input_ids` has shape {tuple(dec.shape)}: it needs {batch} rows "
                  "(one per input) of at least one token.")
        if decoder_attention_mask is not None:
            dmask = to_numpy_ids(decoder_attention_mask, "decoder_attention_mask")
            if dmask.shape != dec.shape or not (dmask != 0).all():
                fail("`decoder_attention_mask` must be all ones with the shape of "
                      "`decoder_input_ids`: decoder prompts must all have the same length "
                      "(no padding).")
        keeps = getattr(model.config, "model_type", None) == "whisper" or getattr(
            model, "keeps_decoder_prompt", False)  # Donut's task prompts start themselves
        if not keeps and (dec[:, 0] != start).all():
            dec = np.concatenate([start[:, None], dec], axis=1)
    for p, t in forced:
        if vocab is not None and t >= vocab:
            fail(f"`forced_decoder_ids` holds token {t}, outside [0, {vocab}).")
    rest = []
    for p, t in forced:
        if p == dec.shape[1]:  # the next position: part of the prompt (Whisper's prefix)
            dec = np.concatenate([dec, np.full((batch, 1), t, np.int64)], axis=1)
        elif p > dec.shape[1]:
            rest.append((p, t))
    if vocab is not None and ((dec < 0).any() or (dec >= vocab).any()):
        fail(f"`decoder_input_ids` holds ids outside [0, {vocab}) (the vocabulary size).")
    return dec, rest


def generate_seq2seq(model, input_ids=None, attention_mask=None, generation_config=None,
                     streamer=None, seed=None, **kwargs):
    """Generate decoder sequences with an encoder-decoder ``model``
    (see :meth:`Seq2SeqGenerationMixin.generate`)."""
    main = model.main_input_name
    input_ids, attention_mask = unpack_inputs(input_ids, attention_mask, kwargs)
    decoder_input_ids = kwargs.pop("decoder_input_ids", None)
    decoder_attention_mask = kwargs.pop("decoder_attention_mask", None)
    encoder_outputs = kwargs.pop("encoder_outputs", None)
    forced = kwargs.pop("forced_decoder_ids", None)
    if main == "input_ids":
        source = input_ids
    else:
        source = kwargs.pop(main, None)
        if source is None:
            source = input_ids
        elif input_ids is not None:  # transformers: input_ids are then the decoder's
            if decoder_input_ids is not None:
                fail(f"got `input_ids` and `decoder_input_ids` besides `{main}`; pass the "
                      "decoder prompt once, as `decoder_input_ids`.")
            decoder_input_ids = input_ids
    opts = call_options(kwargs)
    config, has_default_max, _ = prepare_config(model, generation_config, kwargs)
    validate_config(config, model)
    if forced is None:
        forced = getattr(config, "forced_decoder_ids", None)
    if forced is None:
        forced = getattr(model.config, "forced_decoder_ids", None)
    forced = _forced_pairs(forced)

    batch, encoder, encoder_inputs, has_mask = _source(model, config, source, attention_mask,
                                                        encoder_outputs)
    eos_ids, pad = special_tokens(config, has_mask, batch)
    dec, rest = _decoder_prompt(model, config, batch, decoder_input_ids, decoder_attention_mask,
                                forced)
    return run_generation(model, config, dec, np.ones_like(dec), eos_ids, pad, has_default_max,
                          opts, streamer, seed, context=context_length(model),
                          min_prompt_bucket=MIN_DECODER_PROMPT_BUCKET, encoder=encoder,
                          encoder_inputs=encoder_inputs, forced_ids=tuple(rest))


class Seq2SeqGenerationMixin(GenerationMixin):
    """``generate`` for tfhf encoder-decoder LMs (``TFSeq2SeqLMBase`` subclasses)."""

    def generate(self, input_ids=None, attention_mask=None, generation_config=None,
                 streamer=None, seed=None, **kwargs):
        """Generate decoder sequences (transformers' ``generate`` for encoder-decoders).

        Args:
            input_ids: (batch, length) encoder token ids (right or left padded, with
                ``attention_mask``); for models whose ``main_input_name`` is not
                ``input_ids`` (Whisper: ``input_features``) the encoder input, positionally
                or by that name (``input_ids=`` given beside it is the decoder prompt).
            attention_mask: (batch, length) encoder mask, 1 for real tokens.
            generation_config: a transformers ``GenerationConfig``; defaults to
                ``self.generation_config``; keyword arguments override a copy of it
                (``max_new_tokens``, ``num_beams``, ``do_sample``, ``forced_bos_token_id``,
                ``suppress_tokens``, ``begin_suppress_tokens``, ...).
            streamer: gets the decoder prompt, then the new tokens in chunks.
            seed: int or pair of ints for sampling.
            decoder_input_ids: (batch, length) decoder prompt, every row the same length.
            forced_decoder_ids: ``[(position, token), ...]``; the run that continues the
                decoder prompt is appended to it (Whisper's prefix), the others are forced.
            encoder_outputs: the encoder's last hidden state (or an output holding it):
                skips the encoder.
            use_xla: ``False`` runs the same loop eagerly (same tokens).

        Returns:
            int32 ``tf.Tensor`` (batch * num_return_sequences, length): the decoder prompt
            (``decoder_start_token_id`` first) and the new tokens, finished rows padded with
            ``pad_token_id``; with ``return_dict_in_generate=True`` a
            ``GenerateEncoderDecoderOutput`` / ``GenerateBeamEncoderDecoderOutput``.
        """
        return generate_seq2seq(self, input_ids, attention_mask=attention_mask,
                                generation_config=generation_config, streamer=streamer,
                                seed=seed, **kwargs)


__all__ = ["Seq2SeqGenerationMixin", "generate_seq2seq"]
