"""Text generation helpers the model-backed tools and the agents share.

``input_limit`` (how many input tokens a model takes), ``generate_ids`` (``model.generate`` on
a tool's device, as numpy sequences), ``generation_kwargs_of`` (a tool's ``generate`` keyword
arguments) and ``truncate_at_stops`` (cut a reply at its first stop string).
"""

from __future__ import annotations

__all__ = ["input_limit", "generate_ids", "generation_kwargs_of", "truncate_at_stops"]


def input_limit(model, tokenizer):
    """The most input tokens the model takes: the smaller of the tokenizer's
    ``model_max_length`` (when set) and the config's ``max_position_embeddings``."""
    limits = []
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
        limits.append(tok_limit)
    ctx = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(ctx, int) and ctx > 0:
        limits.append(ctx)
    return min(limits) if limits else None


def generate_ids(tool, input_ids, attention_mask, kwargs):
    """``tool.model.generate`` (on ``tool.device``) -> numpy sequences."""
    import numpy as np

    def run():
        return tool.model.generate(input_ids, attention_mask=attention_mask, **kwargs)

    if tool.device is not None:
        import tensorflow as tf

        with tf.device(tool.device):
            out = run()
    else:
        out = run()
    return np.asarray(getattr(out, "sequences", out))


def generation_kwargs_of(tool):
    """A tool's ``generation_kwargs``, with its ``max_new_tokens`` when that is set."""
    kwargs = dict(tool.generation_kwargs)
    if tool.max_new_tokens is not None:
        kwargs["max_new_tokens"] = tool.max_new_tokens
    return kwargs


def truncate_at_stops(text, stop):
    """``text`` up to the first occurrence of any of the ``stop`` strings."""
    cut = len(text)
    for s in stop or ():
        i = text.find(s)
        if s and i != -1:
            cut = min(cut, i)
    return text[:cut]
