"""Word error rate: (substitutions + deletions + insertions) / reference words, from a
Levenshtein alignment over words after :func:`normalize_text` (case folded, punctuation
removed, whitespace collapsed; apostrophes inside words kept, so "don't" stays one word)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text", "word_errors", "word_error_rate"]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def normalize_text(text):
    """Lower case, NFKC, punctuation -> spaces (apostrophes inside words kept), one space
    between words. ``"Hello, World!"`` -> ``"hello world"``."""
    text = unicodedata.normalize("NFKC", str(text)).translate(_APOSTROPHES).casefold()
    chars = []
    for ch in text:
        cat = unicodedata.category(ch)
        chars.append(ch if ch == "'" or not (cat.startswith("P") or cat.startswith("S"))
                     else " ")
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", "".join(chars))  # quotes, not apostrophes
    return " ".join(text.split())


def word_errors(reference, hypothesis, normalize=True):
    """``(errors, reference_word_count)``: the word-level edit distance between the texts."""
    if normalize:
        reference, hypothesis = normalize_text(reference), normalize_text(hypothesis)
    ref, hyp = str(reference).split(), str(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1,            # deletion
                             current[j - 1] + 1,         # insertion
                             previous[j - 1] + (r != h))  # substitution / match
        previous = current
    return previous[-1], len(ref)


def word_error_rate(references, hypotheses, normalize=True):
    """Corpus WER: total errors / total reference words. Takes two strings or two equally
    long lists of strings. An empty reference gives 0.0 for an empty hypothesis, else 1.0 per
    inserted word (errors / max(1, words))."""
    if isinstance(references, str) != isinstance(hypotheses, str):
        raise TypeError("pass two strings or two lists of strings")
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    errors = words = 0
    for ref, hyp in zip(references, hypotheses):
        e, n = word_errors(ref, hyp, normalize)
        errors, words = errors + e, words + n
    return errors / max(words, 1)
