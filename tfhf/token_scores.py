"""``tfhf generate --show-scores``: each generated token with the probability the model gave
it, coloured by that probability in a terminal.

The probability is the softmax of the *processed* scores of the step (after temperature,
top-k/top-p, repetition penalty...), i.e. the distribution the token was chosen from, taken
from ``generate(..., output_scores=True, return_dict_in_generate=True)``. On a terminal the
tokens are printed in ANSI colours (green: p >= 0.8, yellow: >= 0.5, orange: >= 0.2, red
below; ``NO_COLOR`` turns colours off); otherwise as plain ``token (p=0.83)`` pieces.
"""

from __future__ import annotations

import os

import numpy as np

# (lower bound, ANSI 256-colour code, name)
SCALE = ((0.8, 34, "green"), (0.5, 178, "yellow"), (0.2, 208, "orange"), (0.0, 196, "red"))


def token_probabilities(out, prompt_len, stop_ids=()):
    """``[(token id, probability)]`` of row 0's generated tokens, up to and including the
    first id in ``stop_ids`` (padding after it is not a generated token)."""
    ids = np.asarray(out.sequences)[0, prompt_len:]
    stop = set(int(i) for i in np.atleast_1d(stop_ids if stop_ids is not None else ()))
    pairs = []
    for step, scores in enumerate(out.scores or ()):
        if step >= len(ids):
            break
        s = np.asarray(scores, dtype=np.float64)[0]
        s = s - s[np.isfinite(s)].max()
        probs = np.where(np.isfinite(s), np.exp(s), 0.0)
        token = int(ids[step])
        pairs.append((token, float(probs[token] / probs.sum())))
        if token in stop:
            break
    return pairs


def token_texts(tokenizer, ids):
    """The text each token adds (decoding the prefix each time, so multi-byte characters
    split over tokens and word-boundary spaces come out right); special tokens give ''."""
    texts, before = [], ""
    for i in range(len(ids)):
        now = tokenizer.decode(list(ids[: i + 1]), skip_special_tokens=True)
        texts.append(now[len(before):] if now.startswith(before) else now)
        before = now
    return texts


def colour_of(p):
    return next((code, name) for low, code, name in SCALE if p >= low)


def render(pieces, color):
    """``pieces``: ``[(text, probability)]``; the line(s) to print."""
    if color:
        out = []
        for text, p in pieces:
            code, _ = colour_of(p)
            out.append(f"\x1b[38;5;{code}m{text}\x1b[0m")
        legend = ", ".join(f"{name} p>={low:g}" if low else f"{name} below"
                           for low, _, name in SCALE)
        return "".join(out) + f"\n\x1b[2m(token probability: {legend})\x1b[0m"
    return "".join(f"{text.replace(chr(10), chr(92) + 'n')} (p={p:.2f})" for text, p in pieces
                   if text)


def use_color(stream):
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def generate_with_scores(model, tokenizer, ids, stream, stop_ids=None, **generate_kwargs):
    """Generate from the prompt ``ids`` (one row) and print each new token with its
    probability to ``stream``; returns ``[(text, probability)]``."""
    out = model.generate(np.asarray([ids], np.int32), output_scores=True,
                         return_dict_in_generate=True, **generate_kwargs)
    if stop_ids is None:
        config = getattr(model, "generation_config", None)
        stop_ids = generate_kwargs.get("eos_token_id", getattr(config, "eos_token_id", None))
    pairs = token_probabilities(out, len(ids), stop_ids)
    texts = token_texts(tokenizer, [t for t, _ in pairs])
    pieces = [(text, p) for text, (_, p) in zip(texts, pairs) if text]
    print(render(pieces, use_color(stream)), file=stream, flush=True)
    return pieces
