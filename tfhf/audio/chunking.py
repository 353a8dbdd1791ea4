"""Long audio in windows: cut a waveform into overlapping windows and stitch the token
sequences decoded from them back together (transformers' ASR pipeline chunking for Whisper).

:func:`chunk_windows`: windows of ``chunk_len`` samples that start every
``chunk_len - stride_left - stride_right`` samples, so neighbours overlap by
``stride_left + stride_right``. Each window carries ``(length, left, right)``: how much of it
is context already covered by the previous window (``left``, 0 for the first) and by the next
one (``right``, 0 for the last). A trailing window that would hold nothing but the previous
window's context is dropped.

:func:`merge_overlapping`: the text tokens of consecutive windows are aligned where they
overlap. For every shift of the next sequence against the end of the merged one, score =
(equal tokens at the same positions) / shift + shift / 10000 (a small bonus favouring long
matches); the best shift with at least two equal tokens wins, and the overlap is split in its
middle: the left sequence is trusted for the first half, the right one for the second. Without
any such shift the sequences are simply concatenated.
"""

from __future__ import annotations

from ..errors import InvalidInputError

__all__ = ["window_sizes", "chunk_windows", "merge_overlapping"]


def window_sizes(chunk_length_s, stride_length_s, sampling_rate):
    """(chunk_len, stride_left, stride_right) in samples; ``stride_length_s`` is a number, a
    ``(left, right)`` pair or None (chunk_length_s / 6 on both sides, as transformers)."""
    if not isinstance(chunk_length_s, (int, float)) or isinstance(chunk_length_s, bool) \
            or chunk_length_s <= 0:
        raise InvalidInputError(f"chunk_length_s must be a positive number of seconds, got "
                                f"{chunk_length_s!r}.")
    if stride_length_s is None:
        stride_length_s = chunk_length_s / 6
    if isinstance(stride_length_s, (int, float)) and not isinstance(stride_length_s, bool):
        stride_length_s = (stride_length_s, stride_length_s)
    if not (isinstance(stride_length_s, (list, tuple)) and len(stride_length_s) == 2
            and all(isinstance(s, (int, float)) and not isinstance(s, bool) and s >= 0
                    for s in stride_length_s)):
        raise InvalidInputError(f"stride_length_s must be a number of seconds >= 0 or a (left, "
                                f"right) pair of them, got {stride_length_s!r}.")
    chunk_len = int(round(chunk_length_s * sampling_rate))
    left = int(round(stride_length_s[0] * sampling_rate))
    right = int(round(stride_length_s[1] * sampling_rate))
    if chunk_len <= left + right:
        raise InvalidInputError(
            f"chunk_length_s={chunk_length_s} must be longer than the two strides together "
            f"({stride_length_s[0]} + {stride_length_s[1]} s): windows would not advance.")
    return chunk_len, left, right


def chunk_windows(samples, chunk_len, stride_left, stride_right):
    """Yield ``(window, (length, left, right), is_last)`` over a 1-D waveform."""
    total = len(samples)
    step = chunk_len - stride_left - stride_right
    if step <= 0:
        raise InvalidInputError("the window must be longer than its two strides.")
    start = 0
    while start < total:
        end = start + chunk_len
        window = samples[start:end]
        is_last = end >= total
        left = stride_left if start > 0 else 0
        right = 0 if is_last else stride_right
        if len(window) > left:
            yield window, (len(window), left, right), is_last
        if is_last:
            return
        start += step


def _best_overlap(left, right):
    """(left_start, left_stop, right_start, right_stop) of the best alignment of the end of
    ``left`` with the start of ``right`` (see the module docstring)."""
    n, m = len(left), len(right)
    best, best_score = (n, n, 0, 0), 0.0
    for shift in range(1, n + m):
        l0, l1 = max(0, n - shift), min(n, n + m - shift)
        r0, r1 = max(0, shift - n), min(m, shift)
        equal = sum(1 for a, b in zip(left[l0:l1], right[r0:r1]) if a == b)
        score = equal / shift + shift / 10000.0
        if equal > 1 and score > best_score:
            best, best_score = (l0, l1, r0, r1), score
    return best


def merge_overlapping(sequences):
    """One token list from the token lists of consecutive overlapping windows."""
    sequences = [list(s) for s in sequences]
    if not sequences:
        return []
    merged, tail = [], sequences[0]
    for right in sequences[1:]:
        l0, l1, r0, r1 = _best_overlap(tail, right)
        merged.extend(tail[:(l0 + l1) // 2])
        tail = right[(r0 + r1) // 2:]
    return merged + tail
