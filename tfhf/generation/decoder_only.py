"""``generate``: transformers' GenerationConfig semantics on an XLA-compiled decode loop.

``GenerationMixin.generate`` (inherited by tfhf's causal LMs) and the free function
``generate(model, ...)`` take a model implementing the cache contract of
``docs/generation-design.md`` (``init_cache``, ``forward_with_cache``) and return the
sequences (prompt included) as an int32 ``tf.Tensor``, or a ``Generate*Output`` with
``return_dict_in_generate=True``. Config handling lives in :mod:`.config`, input checks and
buckets in :mod:`.inputs`, the shared run in :mod:`.run`, the compiled loop in :mod:`.loop`.
"""

from __future__ import annotations

import numpy as np

from .config import (call_options, context_length, fail, load_generation_config, logger,
                     prepare_config, special_tokens, validate_config)
from .inputs import checked_input_ids, to_numpy_ids, unpack_inputs
from .run import run_generation


def _inferred_mask(ids, pad, eos_ids):
    """Without an attention mask: every token counts, except ``pad`` when it is not an EOS."""
    if pad is not None and (ids == pad).any() and pad not in eos_ids:
        return (ids != pad).astype(np.int64)
    return np.ones_like(ids)


def generate(model, input_ids=None, attention_mask=None, generation_config=None, streamer=None,
             seed=None, **kwargs):
    """Generate token sequences with ``model`` (see :meth:`GenerationMixin.generate`)."""
    input_ids, attention_mask = unpack_inputs(input_ids, attention_mask, kwargs)
    opts = call_options(kwargs)
    config, has_default_max, _ = prepare_config(model, generation_config, kwargs)
    validate_config(config, model)

    ids = checked_input_ids(input_ids, model, config, "prompt")
    batch, input_len = ids.shape
    context = context_length(model)
    if context is not None and input_len > context:
        fail(f"the prompt (`input_ids`) has {input_len} tokens but the model's context "
             f"(config.max_position_embeddings) is {context}; truncate the prompt.")
    has_mask = attention_mask is not None
    mask = to_numpy_ids(attention_mask, "attention_mask")
    if mask is not None and mask.shape != ids.shape:
        fail(f"`attention_mask` has shape {tuple(mask.shape)} but `input_ids` has shape "
             f"{tuple(ids.shape)}; they must match.")
    eos_ids, pad = special_tokens(config, has_mask, batch)
    if mask is None:
        mask = _inferred_mask(ids, pad, eos_ids)
    mask = (mask != 0).astype(np.int64)
    if pad is not None and batch > 1:
        right_padded = (mask[:, -1] == 0).any() if has_mask else (ids[:, -1] == pad).any()
        if right_padded:
            logger.warning("A decoder-only architecture is being used, but right-padding was "
                           "detected! For correct generation results, please set "
                           "`padding_side='left'` when initializing the tokenizer.")
    return run_generation(model, config, ids, mask, eos_ids, pad, has_default_max, opts,
                          streamer, seed, context=context)


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
