"""Logits processors as pure TensorFlow functions on (batch, vocab) float32 scores.

Each function ports one of transformers' ``LogitsProcessor`` classes (same name without the
class suffix) and gives the same numbers. They take the scores plus whatever context they need
as tensors, so they run inside the compiled decode loop (static shapes, no Python on tensor
values) and eagerly alike.

Token context is a fixed-size buffer ``ids`` of shape (batch, length) whose valid part is
``ids[:, start:cur_len]`` (``start`` scalar or per row, ``cur_len`` scalar): transformers'
``input_ids`` at this step. In the decode loop ``start`` skips the bucket padding in front of
the user's prompt and ``cur_len`` is the number of slots written so far; called on a plain
``input_ids`` tensor, ``start=0`` and ``cur_len=input_ids.shape[1]``.

:class:`ProcessorPlan` composes them in transformers' order (``_get_logits_processor``):
repetition penalty, no-repeat n-gram, bad words, min length, min new tokens, forced BOS,
forced EOS, suppressed tokens, tokens suppressed at the first new step, forced decoder ids
(transformers 4.x's ``ForceTokensLogitsProcessor``); then, for sampling only, temperature,
top-k, top-p, min-p.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

NEG_INF = float("-inf")


def _as_i32(x):
    return tf.cast(x, tf.int32)


def _vocab_mask(token_ids, vocab_size):
    """(n,) ids (``-1`` = none) -> (vocab,) bool mask."""
    token_ids = _as_i32(token_ids)
    return tf.reduce_any(tf.range(vocab_size)[None, :] == token_ids[:, None], axis=0)


def eos_vocab_mask(eos_ids, vocab_size):
    return _vocab_mask(eos_ids, vocab_size)


def valid_slots(ids, start, cur_len):
    """(batch, length) bool: slots holding transformers' ``input_ids`` at this step."""
    slots = tf.range(tf.shape(ids)[1])[None, :]
    start = _as_i32(start)
    if start.shape.rank == 1:
        start = start[:, None]
    return (slots >= start) & (slots < _as_i32(cur_len))


# ---------------------------------------------------------------- context processors
def repetition_penalty(scores, ids, valid, penalty):
    """``RepetitionPenaltyLogitsProcessor``: tokens present in ``ids`` where ``valid`` get
    ``score * penalty`` (negative scores) or ``score / penalty`` (others), once per token."""
    vocab = scores.shape[-1] if scores.shape[-1] is not None else tf.shape(scores)[-1]
    batch = tf.shape(ids)[0]
    # Positions that do not count go to a spare column past the vocab, dropped afterwards.
    cols = tf.where(valid, tf.minimum(_as_i32(ids), vocab), vocab)
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(cols))
    idx = tf.stack([tf.reshape(rows, [-1]), tf.reshape(cols, [-1])], axis=1)
    seen = tf.scatter_nd(idx, tf.ones([tf.shape(idx)[0]], tf.int32), [batch, vocab + 1])
    seen = seen[:, :vocab] > 0
    penalty = tf.cast(penalty, scores.dtype)
    penalized = tf.where(scores < 0, scores * penalty, scores / penalty)
    return tf.where(seen, penalized, scores)


def no_repeat_ngram(scores, ids, start, cur_len, ngram_size):
    """``NoRepeatNGramLogitsProcessor`` (``ngram_size`` static): ban every token that would
    complete an n-gram already present in ``ids[:, start:cur_len]``."""
    n = int(ngram_size)
    vocab = scores.shape[-1]
    batch, length = tf.shape(ids)[0], ids.shape[1]
    ids = _as_i32(ids)
    start, cur_len = _as_i32(start), _as_i32(cur_len)
    if length is None or length < n:
        return scores
    num_windows = length - n + 1
    # prefix: the last n-1 tokens (ids[:, cur_len-n+1:cur_len])
    if n > 1:
        begin = tf.maximum(cur_len - (n - 1), 0)
        prefix = tf.slice(ids, tf.stack([0, begin]), tf.stack([batch, n - 1]))
        match = tf.ones([batch, num_windows], tf.bool)
        for k in range(n - 1):
            match &= ids[:, k:k + num_windows] == prefix[:, k:k + 1]
    else:
        match = tf.ones([batch, num_windows], tf.bool)
    s = tf.range(num_windows)[None, :]
    # complete windows inside [start, cur_len) whose last token is not the one being chosen
    window_ok = (s >= start) & (s + n <= cur_len)
    match &= window_ok
    match &= (cur_len - start) >= n
    last = ids[:, n - 1:n - 1 + num_windows]
    cols = tf.where(match, tf.minimum(last, vocab), vocab)
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(cols))
    idx = tf.stack([tf.reshape(rows, [-1]), tf.reshape(cols, [-1])], axis=1)
    banned = tf.scatter_nd(idx, tf.ones([tf.shape(idx)[0]], tf.int32), [batch, vocab + 1])
    return tf.where(banned[:, :vocab] > 0, tf.constant(NEG_INF, scores.dtype), scores)


def bad_words(scores, ids, start, cur_len, single_mask, groups=()):
    """``NoBadWordsLogitsProcessor``: ``single_mask`` (vocab,) bool bans one-token words;
    ``groups`` is a sequence of ``(prefixes (g, m) int32, last_tokens (g,) int32)`` for words
    of ``m + 1`` tokens, banned when ``ids`` ends with the prefix."""
    vocab = scores.shape[-1]
    out = scores + tf.where(single_mask, tf.constant(NEG_INF, scores.dtype),
                            tf.zeros([], scores.dtype))[None, :]
    ids = _as_i32(ids)
    cur_len, start = _as_i32(cur_len), _as_i32(start)
    batch = tf.shape(ids)[0]
    for prefixes, last_tokens in groups:
        m = prefixes.shape[1]
        begin = tf.maximum(cur_len - m, 0)
        tail = tf.slice(ids, tf.stack([0, begin]), tf.stack([batch, m]))  # (batch, m)
        matching = tf.reduce_all(tail[:, None, :] == _as_i32(prefixes)[None, :, :], axis=-1)
        matching &= (cur_len - start) >= m  # the prefix is longer than the context: ignore
        # scatter the matching words' last tokens (others to a spare column past the vocab):
        # O(batch * g), not O(batch * g * vocab), so thousands of words stay cheap per step
        last = tf.broadcast_to(tf.minimum(_as_i32(last_tokens), vocab)[None, :],
                               tf.shape(matching))
        cols = tf.where(matching, last, vocab)
        rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(cols))
        idx = tf.stack([tf.reshape(rows, [-1]), tf.reshape(cols, [-1])], axis=1)
        banned = tf.scatter_nd(idx, tf.ones([tf.shape(idx)[0]], tf.int32), [batch, vocab + 1])
        out = tf.where(banned[:, :vocab] > 0, tf.constant(NEG_INF, scores.dtype), out)
    return out


def min_length(scores, cur_len, min_len, eos_mask):
    """``MinLengthLogitsProcessor`` / ``MinNewTokensLengthLogitsProcessor``: while
    ``cur_len < min_len``, EOS scores are ``-inf``."""
    active = _as_i32(cur_len) < _as_i32(min_len)
    return tf.where(active & eos_mask[None, :], tf.constant(NEG_INF, scores.dtype), scores)


def force_tokens(scores, allowed, active):
    """``ForcedBOSTokenLogitsProcessor`` / ``ForcedEOSTokenLogitsProcessor`` /
    ``ForceTokensLogitsProcessor``: where ``active`` (scalar or (batch,) bool), every score is
    ``-inf`` except the ``allowed`` tokens' ((vocab,) bool), which are 0."""
    forced = tf.where(allowed, tf.zeros([], scores.dtype),
                      tf.constant(NEG_INF, scores.dtype))[None, :]
    active = tf.convert_to_tensor(active)
    if active.shape.rank == 1:
        active = active[:, None]
    return tf.where(active, forced, scores)


def suppress_tokens(scores, suppressed, active=True):
    """``SuppressTokensLogitsProcessor`` (always active) / ``SuppressTokensAtBeginLogitsProcessor``
    (active at the first generated position): ``suppressed`` (vocab,) bool -> ``-inf``."""
    return tf.where(suppressed[None, :] & tf.convert_to_tensor(active),
                    tf.constant(NEG_INF, scores.dtype), scores)


def forced_token_at(table, length):
    """The token ForceTokens forces when the sequence holds ``length`` tokens (``-1``: none);
    ``table`` (T,) int32 maps a length to its token."""
    size = table.shape[0]
    inside = _as_i32(length) < size
    return tf.where(inside, tf.gather(table, tf.minimum(_as_i32(length), size - 1)), -1)


# ---------------------------------------------------------------- warpers (sampling)
def temperature(scores, temp):
    """``TemperatureLogitsWarper``."""
    return scores / tf.cast(temp, scores.dtype)


def top_k(scores, k, k_bucket=None, min_tokens_to_keep=1):
    """``TopKLogitsWarper``: keep scores >= the k-th largest. ``k`` may be a tensor; the top-k
    op runs with the static ``k_bucket >= k`` (default: ``k`` itself when it is a Python int)."""
    vocab = scores.shape[-1]
    if k_bucket is None:
        k_bucket = int(k)
    k_bucket = int(min(max(int(k_bucket), int(min_tokens_to_keep)), vocab))
    k = tf.clip_by_value(tf.maximum(_as_i32(k), int(min_tokens_to_keep)), 1, k_bucket)
    values = tf.math.top_k(scores, k=k_bucket, sorted=True).values
    kth = tf.gather(values, k - 1, axis=1)[:, None]
    return tf.where(scores < kth, tf.constant(NEG_INF, scores.dtype), scores)


def top_p(scores, p, min_tokens_to_keep=1):
    """``TopPLogitsWarper``: in ascending order, drop the tokens whose cumulative probability
    is <= 1 - top_p (keeping at least ``min_tokens_to_keep``)."""
    vocab = scores.shape[-1]
    sorted_logits = tf.sort(scores, axis=-1, direction="ASCENDING")
    cum = tf.cumsum(tf.nn.softmax(sorted_logits, axis=-1), axis=-1)
    remove = cum <= (1.0 - tf.cast(p, scores.dtype))
    keep_tail = tf.range(vocab) >= vocab - int(min_tokens_to_keep)
    remove &= ~keep_tail[None, :]
    # the removed tokens are a prefix of the ascending order: keep scores >= first kept value
    n_removed = tf.reduce_sum(tf.cast(remove, tf.int32), axis=-1)
    threshold = tf.gather(sorted_logits, n_removed, axis=1, batch_dims=1)[:, None]
    return tf.where(scores < threshold, tf.constant(NEG_INF, scores.dtype), scores)


def min_p(scores, p, min_tokens_to_keep=1):
    """``MinPLogitsWarper``: drop tokens whose probability is below ``min_p`` times the top
    probability, keeping the ``min_tokens_to_keep`` most likely."""
    probs = tf.nn.softmax(scores, axis=-1)
    top = tf.reduce_max(probs, axis=-1, keepdims=True)
    remove = probs < tf.cast(p, probs.dtype) * top
    k = int(min(min_tokens_to_keep, scores.shape[-1]))
    kth = tf.math.top_k(probs, k=k).values[:, -1:]
    remove &= probs < kth
    return tf.where(remove, tf.constant(NEG_INF, scores.dtype), scores)


# ---------------------------------------------------------------- composition
def _bucket_pow2(n, minimum=1):
    n = max(int(n), int(minimum))
    return 1 << (n - 1).bit_length()


@dataclasses.dataclass(frozen=True)
class ProcessorPlan:
    """Which processors run (static: part of the compiled function's key). The per-call
    values (penalty, temperature, top_p, ...) are tensors in ``params``."""

    repetition_penalty: bool = False
    no_repeat_ngram_size: int = 0
    bad_words_single: bool = False
    bad_words_groups: tuple = ()  # ((num_words, prefix_len), ...)
    min_length: bool = False  # MinLength + MinNewTokens (eos known)
    forced_bos: bool = False  # force params["forced_bos"] when the sequence holds 1 token
    forced_eos: bool = False  # force params["forced_eos"] (vocab mask) at max_length - 1
    suppress: bool = False  # params["suppress"] (vocab mask) always -inf
    begin_suppress: bool = False  # params["begin_suppress"] -inf at length begin_index
    forced_ids: bool = False  # params["forced_table"]: length -> token (-1 none)
    sample: bool = False  # warpers on
    top_k_bucket: int = 0  # 0: no top-k
    top_p: bool = False
    min_p: bool = False
    min_tokens_to_keep: int = 1

    def apply(self, scores, ctx, params):
        """``ctx``: dict with ``ids``, ``start`` (scalar), ``rep_start`` (per row),
        ``cur_len`` (slots written), ``step`` (new tokens so far);
        ``params``: dict of tensors (see :func:`make_params`)."""
        ids, start, cur_len = ctx["ids"], ctx["start"], ctx["cur_len"]
        if self.repetition_penalty:
            valid = valid_slots(ids, ctx["rep_start"], cur_len)
            scores = repetition_penalty(scores, ids, valid, params["repetition_penalty"])
        if self.no_repeat_ngram_size > 0:
            scores = no_repeat_ngram(scores, ids, start, cur_len, self.no_repeat_ngram_size)
        if self.bad_words_single or self.bad_words_groups:
            groups = [(params[f"bad_prefix_{i}"], params[f"bad_last_{i}"])
                      for i in range(len(self.bad_words_groups))]
            scores = bad_words(scores, ids, start, cur_len, params["bad_single"], groups)
        if self.min_length:
            eos_mask = eos_vocab_mask(params["eos"], scores.shape[-1])
            scores = min_length(scores, cur_len - start, params["min_length"], eos_mask)
            scores = min_length(scores, ctx["step"], params["min_new_tokens"], eos_mask)
        length = cur_len - start  # transformers' input_ids.shape[-1]
        vocab = scores.shape[-1]
        if self.forced_bos:
            scores = force_tokens(scores, tf.range(vocab) == params["forced_bos"],
                                  tf.equal(length, 1))
        if self.forced_eos:
            scores = force_tokens(scores, params["forced_eos"],
                                  tf.equal(length, params["max_length"] - 1))
        if self.suppress:
            scores = suppress_tokens(scores, params["suppress"])
        if self.begin_suppress:
            scores = suppress_tokens(scores, params["begin_suppress"],
                                     tf.equal(length, params["begin_index"]))
        if self.forced_ids:
            token = forced_token_at(params["forced_table"], length)
            scores = tf.where(token >= 0, force_tokens(scores, tf.range(vocab) == token, True),
                              scores)
        if self.sample:
            if "do_sample" in params:  # a loop shared by greedy and sampling calls
                processed = scores
                scores = tf.cond(params["do_sample"], lambda: self._warp(processed, params),
                                 lambda: processed)
            else:
                scores = self._warp(scores, params)
        return scores

    def _warp(self, scores, params):
        """The sampling warpers: temperature, top-k, top-p, min-p."""
        scores = temperature(scores, params["temperature"])
        if self.top_k_bucket:
            scores = top_k(scores, params["top_k"], self.top_k_bucket, self.min_tokens_to_keep)
        if self.top_p:
            scores = top_p(scores, params["top_p"], self.min_tokens_to_keep)
        if self.min_p:
            scores = min_p(scores, params["min_p"], self.min_tokens_to_keep)
        return scores


def _vocab_bool(ids, vocab_size):
    mask = np.zeros([vocab_size], bool)
    mask[[int(t) for t in ids]] = True
    return mask


def make_plan_and_params(config, vocab_size, eos_ids, sample, num_beams, input_len=None,
                         table_len=None, forced_ids=()):
    """From a prepared GenerationConfig: the static :class:`ProcessorPlan` and the numpy
    values of its per-call parameters.

    ``input_len``: the prompt length (the decoder prompt for encoder-decoders), which places
    ``begin_suppress_tokens``; ``forced_ids``: ``(length, token)`` pairs forced when the
    sequence holds ``length`` tokens, in a table of ``table_len`` entries (the loop's slots).
    """
    params = {}
    plan = {}
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        plan["repetition_penalty"] = True
        params["repetition_penalty"] = np.float32(config.repetition_penalty)
    if config.no_repeat_ngram_size:
        plan["no_repeat_ngram_size"] = int(config.no_repeat_ngram_size)
    if config.bad_words_ids is not None:
        words = [list(w) for w in config.bad_words_ids]
        if eos_ids:
            words = [w for w in words if not (len(w) == 1 and w[0] in eos_ids)]
        single = np.zeros([vocab_size], bool)
        by_len = {}
        for w in words:
            if len(w) == 1:
                single[w[0]] = True
            elif len(w) > 1:
                by_len.setdefault(len(w) - 1, []).append(w)
        plan["bad_words_single"] = True
        params["bad_single"] = single
        groups = []
        for i, (m, ws) in enumerate(sorted(by_len.items())):
            groups.append((len(ws), m))
            params[f"bad_prefix_{i}"] = np.asarray([w[:-1] for w in ws], np.int32)
            params[f"bad_last_{i}"] = np.asarray([w[-1] for w in ws], np.int32)
        plan["bad_words_groups"] = tuple(groups)
    if eos_ids and ((config.min_length or 0) > 0 or (config.min_new_tokens or 0) > 0):
        plan["min_length"] = True
    if config.forced_bos_token_id is not None:
        plan["forced_bos"] = True
        params["forced_bos"] = np.int32(config.forced_bos_token_id)
    if config.forced_eos_token_id is not None:
        forced_eos = config.forced_eos_token_id
        forced_eos = [forced_eos] if isinstance(forced_eos, (int, np.integer)) else forced_eos
        plan["forced_eos"] = True
        params["forced_eos"] = _vocab_bool(forced_eos, vocab_size)
        params["max_length"] = np.int32(config.max_length)
    if config.suppress_tokens is not None:
        plan["suppress"] = True
        params["suppress"] = _vocab_bool(config.suppress_tokens, vocab_size)
    if config.begin_suppress_tokens is not None and input_len is not None:
        begin = int(input_len)
        if begin == 1 and config.forced_bos_token_id is not None:
            begin += 1  # transformers: the forced BOS comes first
        plan["begin_suppress"] = True
        params["begin_suppress"] = _vocab_bool(config.begin_suppress_tokens, vocab_size)
        params["begin_index"] = np.int32(begin)
    if forced_ids:
        table = np.full([int(table_len)], -1, np.int32)
        for length, token in forced_ids:
            if length < table_len:
                table[length] = token
        plan["forced_ids"] = True
        params["forced_table"] = table
    if sample:
        plan["sample"] = True
        keep = max(2, len(eos_ids) + 1) if num_beams > 1 else 1
        plan["min_tokens_to_keep"] = keep
        temperature = config.temperature
        params["temperature"] = np.float32(temperature if temperature is not None else 1.0)
        if config.top_k is not None and config.top_k != 0:
            k = max(int(config.top_k), keep)
            plan["top_k_bucket"] = min(_bucket_pow2(k, 64), int(vocab_size))
            params["top_k"] = np.int32(min(k, vocab_size))
        if config.top_p is not None and config.top_p < 1.0:
            plan["top_p"] = True
            params["top_p"] = np.float32(config.top_p)
        if config.min_p is not None:
            plan["min_p"] = True
            params["min_p"] = np.float32(config.min_p)
    return ProcessorPlan(**plan), params
