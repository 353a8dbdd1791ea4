"""Word error rate and the long-audio windowing / overlap merging, the latter checked against
transformers' own functions (its ASR pipeline's chunk_iter and Whisper's token merging)."""

from __future__ import annotations

import numpy as np
import pytest

from tfhf.audio import chunk_windows, merge_overlapping, normalize_text, word_error_rate
from tfhf.audio.chunking import window_sizes
from tfhf.audio.wer import word_errors
from tfhf.errors import InvalidInputError


def test_normalize_text():
    assert normalize_text("  Hello, World!  ") == "hello world"
    assert normalize_text("Don't STOP — it's 'quoted'.") == "don't stop it's quoted"
    assert normalize_text("") == ""


def test_word_errors_count_edits():
    assert word_errors("the cat sat on the mat", "the cat sat on the mat") == (0, 6)
    assert word_errors("the cat sat on the mat", "The cat, sat on mat.") == (1, 6)  # deletion
    assert word_errors("a b c", "a x c d") == (2, 3)  # substitution + insertion
    assert word_errors("a b c", "") == (3, 3)
    assert word_errors("", "a b") == (2, 0)
    assert word_errors("A", "a", normalize=False) == (1, 1)


def test_word_error_rate_is_corpus_level():
    assert word_error_rate("a b c d", "a b c d") == 0.0
    assert word_error_rate(["a b", "c d e f"], ["a", "c d e f"]) == pytest.approx(1 / 6)
    assert word_error_rate("", "") == 0.0
    with pytest.raises(ValueError):
        word_error_rate(["a"], ["a", "b"])
    with pytest.raises(TypeError):
        word_error_rate("a", ["a"])


def _reference_windows(total, chunk_len, left, right):
    """transformers' chunk_iter on an identity 'feature extractor'."""
    from transformers.pipelines.automatic_speech_recognition import chunk_iter

    class Identity:
        sampling_rate = 16000

        def __call__(self, chunk, **kwargs):
            return {"input_values": np.asarray(chunk)}

    return [(item["input_values"].tolist(), item["stride"], item["is_last"])
            for item in chunk_iter(np.arange(total), Identity(), chunk_len, left, right)]


@pytest.mark.parametrize("total", [1, 50, 99, 100, 101, 160, 250, 333, 1000])
@pytest.mark.parametrize("chunk_len,left,right", [(100, 16, 16), (100, 0, 0), (100, 30, 10)])
def test_windows_equal_transformers(total, chunk_len, left, right):
    ours = [(w.tolist(), stride, last)
            for w, stride, last in chunk_windows(np.arange(total), chunk_len, left, right)]
    assert ours == _reference_windows(total, chunk_len, left, right)
    # every sample is inside some window
    covered = set()
    for w, _, _ in ours:
        covered.update(w)
    assert covered == set(range(total))


def test_window_sizes():
    assert window_sizes(30, None, 16000) == (480000, 80000, 80000)
    assert window_sizes(10, (1, 2), 16000) == (160000, 16000, 32000)
    for bad in (0, -1, "30"):
        with pytest.raises(InvalidInputError, match="chunk_length_s"):
            window_sizes(bad, None, 16000)
    with pytest.raises(InvalidInputError, match="longer than the two strides"):
        window_sizes(10, 5, 16000)
    with pytest.raises(InvalidInputError, match="stride_length_s"):
        window_sizes(10, (1, 2, 3), 16000)


def test_merge_overlapping_equals_transformers():
    from transformers.models.whisper.tokenization_whisper import (
        _find_longest_common_sequence)

    rs = np.random.RandomState(0)
    for _ in range(500):
        seqs = [rs.randint(0, rs.randint(2, 6), size=rs.randint(0, 12)).tolist()
                for _ in range(rs.randint(1, 5))]
        assert merge_overlapping(seqs) == list(_find_longest_common_sequence(seqs)), seqs


def test_merge_overlapping_stitches_a_sentence():
    words = "the quick brown fox jumps over the lazy dog and runs away".split()
    first, second = words[:7], words[4:]  # overlap: jumps over the
    assert merge_overlapping([first, second]) == words
    assert merge_overlapping([words]) == words
    assert merge_overlapping([]) == []
    assert merge_overlapping([["a", "b"], ["c", "d"]]) == ["a", "b", "c", "d"]  # no overlap
