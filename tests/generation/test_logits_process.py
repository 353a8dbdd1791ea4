"""Each TF logits processor against transformers' PyTorch LogitsProcessor (same scores)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")

from transformers import GenerationConfig  # noqa: E402
from transformers.generation import logits_process as hf  # noqa: E402

from tfhf.generation import logits_process as lp  # noqa: E402

B, T, V = 4, 14, 40
ATOL = 1e-5


@pytest.fixture
def data(rng):
    scores = (rng.randn(B, V) * 3).astype(np.float32)
    ids = rng.randint(0, 6, size=(B, T)).astype(np.int64)  # few distinct ids: repeats, n-grams
    ids[-1, -3:] = rng.randint(6, V, size=3)  # one row whose suffix never occurred
    return ids, scores


def _hf(proc, ids, scores):
    return proc(torch.tensor(ids), torch.tensor(scores)).numpy()


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.array_equal(np.isinf(a), np.isinf(b)), "different tokens filtered"
    finite = np.isfinite(b)
    np.testing.assert_allclose(a[finite], b[finite], atol=ATOL, rtol=0)


@pytest.mark.parametrize("penalty", [1.3, 0.7])
def test_repetition_penalty(data, penalty):
    ids, scores = data
    valid = lp.valid_slots(tf.constant(ids), 0, T)
    _close(lp.repetition_penalty(tf.constant(scores), tf.constant(ids), valid, penalty),
           _hf(hf.RepetitionPenaltyLogitsProcessor(penalty), ids, scores))


def test_repetition_penalty_skips_left_padding(data):
    ids, scores = data
    ignore = np.array([0, 3, 5, 1])
    valid = lp.valid_slots(tf.constant(ids), tf.constant(ignore, tf.int32), T)
    ref = hf.RepetitionPenaltyLogitsProcessor(1.5, prompt_ignore_length=torch.tensor(ignore))
    _close(lp.repetition_penalty(tf.constant(scores), tf.constant(ids), valid, 1.5),
           _hf(ref, ids, scores))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram(data, n):
    ids, scores = data
    out = lp.no_repeat_ngram(tf.constant(scores), tf.constant(ids), 0, T, n)
    ref = _hf(hf.NoRepeatNGramLogitsProcessor(n), ids, scores)
    assert np.isinf(ref).any()  # the case exercises bans
    _close(out, ref)


def test_no_repeat_ngram_on_a_buffer(data):
    """Inside the loop the ids sit in a longer buffer: padding in front, unwritten slots
    after. Only ids[:, start:cur_len] count."""
    ids, scores = data
    buf = np.full((B, T + 9), 3, np.int64)
    buf[:, 4:4 + T] = ids
    out = lp.no_repeat_ngram(tf.constant(scores), tf.constant(buf), 4, 4 + T, 2)
    _close(out, _hf(hf.NoRepeatNGramLogitsProcessor(2), ids, scores))


def test_bad_words(data):
    ids, scores = data
    words = [[7], [ids[0, -1], 9], [ids[1, -2], ids[1, -1], 11], [2], [30, 31]]
    gc = GenerationConfig(bad_words_ids=words)
    plan, params = lp.make_plan_and_params(gc, V, [2], sample=False, num_beams=1)
    ctx = {"ids": tf.constant(ids), "start": 0, "rep_start": 0, "cur_len": T, "step": 0}
    out = plan.apply(tf.constant(scores), ctx, {k: tf.constant(v) for k, v in params.items()})
    ref = _hf(hf.NoBadWordsLogitsProcessor(words, eos_token_id=2), ids, scores)
    assert np.isinf(ref[0, 9]) and np.isinf(ref[1, 11]) and not np.isinf(ref[0, 2])
    _close(out, ref)


@pytest.mark.parametrize("cur_len,min_len", [(T, T + 1), (T, T)])
def test_min_length(data, cur_len, min_len):
    ids, scores = data
    mask = lp.eos_vocab_mask(tf.constant([2, 5]), V)
    _close(lp.min_length(tf.constant(scores), cur_len, min_len, mask),
           _hf(hf.MinLengthLogitsProcessor(min_len, [2, 5]), ids, scores))
    ref = hf.MinNewTokensLengthLogitsProcessor(T - 4, min_len - T + 4, [2, 5])
    _close(lp.min_length(tf.constant(scores), 4, min_len - T + 4, mask), _hf(ref, ids, scores))


def test_temperature(data):
    ids, scores = data
    _close(lp.temperature(tf.constant(scores), 0.7),
           _hf(hf.TemperatureLogitsWarper(0.7), ids, scores))


@pytest.mark.parametrize("k,keep", [(1, 1), (5, 1), (3, 4), (V + 10, 1)])
def test_top_k(data, k, keep):
    ids, scores = data
    out = lp.top_k(tf.constant(scores), tf.constant(k), lp._bucket_pow2(max(k, keep), 8), keep)
    _close(out, _hf(hf.TopKLogitsWarper(k, min_tokens_to_keep=keep), ids, scores))


@pytest.mark.parametrize("p,keep", [(0.1, 1), (0.5, 1), (0.9, 1), (0.3, 3), (1e-6, 1)])
def test_top_p(data, p, keep):
    ids, scores = data
    _close(lp.top_p(tf.constant(scores), p, keep),
           _hf(hf.TopPLogitsWarper(p, min_tokens_to_keep=keep), ids, scores))


@pytest.mark.parametrize("p,keep", [(0.05, 1), (0.3, 1), (0.9, 2)])
def test_min_p(data, p, keep):
    ids, scores = data
    _close(lp.min_p(tf.constant(scores), p, keep),
           _hf(hf.MinPLogitsWarper(p, min_tokens_to_keep=keep), ids, scores))


@pytest.mark.parametrize("sample", [False, True])
def test_composition_in_transformers_order(data, sample):
    """The plan built from a GenerationConfig = transformers' list of processors."""
    ids, scores = data
    gc = GenerationConfig(repetition_penalty=1.2, no_repeat_ngram_size=2, bad_words_ids=[[9]],
                          min_new_tokens=3, eos_token_id=[2, 3], do_sample=sample,
                          temperature=0.8, top_k=12, top_p=0.8, min_p=0.05)
    gc.min_length = gc.min_new_tokens + T - 2
    plan, params = lp.make_plan_and_params(gc, V, [2, 3], sample=sample, num_beams=1)
    params = {k: tf.constant(v) for k, v in params.items()}
    params.update(eos=tf.constant([2, 3]), min_length=tf.constant(gc.min_length),
                  min_new_tokens=tf.constant(3))
    ctx = {"ids": tf.constant(ids), "start": 0, "rep_start": tf.zeros([B], tf.int32),
           "cur_len": T, "step": 2}
    out = plan.apply(tf.constant(scores), ctx, params)
    procs = [hf.RepetitionPenaltyLogitsProcessor(1.2), hf.NoRepeatNGramLogitsProcessor(2),
             hf.NoBadWordsLogitsProcessor([[9]], [2, 3]),
             hf.MinLengthLogitsProcessor(gc.min_length, [2, 3]),
             hf.MinNewTokensLengthLogitsProcessor(T - 2, 3, [2, 3])]
    if sample:
        procs += [hf.TemperatureLogitsWarper(0.8), hf.TopKLogitsWarper(12),
                  hf.TopPLogitsWarper(0.8), hf.MinPLogitsWarper(0.05)]
    ref = hf.LogitsProcessorList(procs)(torch.tensor(ids), torch.tensor(scores)).numpy()
    _close(out, ref)


def test_processors_compile_under_xla(data):
    ids, scores = data
    gc = GenerationConfig(repetition_penalty=1.2, no_repeat_ngram_size=3,
                          bad_words_ids=[[9], [1, 4]], do_sample=True, top_k=7, top_p=0.9,
                          min_p=0.02)
    plan, params = lp.make_plan_and_params(gc, V, [], sample=True, num_beams=1)
    params = {k: tf.constant(v) for k, v in params.items()}

    def run(s, i):
        ctx = {"ids": i, "start": 0, "rep_start": tf.zeros([B], tf.int32), "cur_len": T,
               "step": 0}
        return plan.apply(s, ctx, params)

    eager = run(tf.constant(scores), tf.constant(ids))
    xla = tf.function(run, jit_compile=True)(tf.constant(scores), tf.constant(ids))
    _close(xla, eager)


@pytest.mark.parametrize("length", [1, 2, T - 1, T])
def test_forced_and_suppressed_tokens(rng, length):
    """Forced BOS / EOS, suppressed tokens (always and at the first step) and transformers
    4.x's forced decoder ids, composed by the plan in transformers' order, at several
    sequence lengths (only some of them trigger each processor)."""
    scores = (rng.randn(B, V) * 3).astype(np.float32)
    ids = rng.randint(0, V, size=(B, length)).astype(np.int64)
    gc = GenerationConfig(forced_bos_token_id=7, forced_eos_token_id=[2, 3], max_length=T,
                          suppress_tokens=[4, 5], begin_suppress_tokens=[6, 8])
    forced = [(T - 1, 9), (2, 11)]
    plan, params = lp.make_plan_and_params(gc, V, [2, 3], sample=False, num_beams=1,
                                           input_len=2, table_len=T + 1, forced_ids=forced)
    buf = np.zeros((B, T + 1), np.int64)
    buf[:, :length] = ids
    ctx = {"ids": tf.constant(buf), "start": 0, "rep_start": 0, "cur_len": length, "step": 0}
    out = plan.apply(tf.constant(scores), ctx, {k: tf.constant(v) for k, v in params.items()})
    procs = [hf.ForcedBOSTokenLogitsProcessor(7), hf.ForcedEOSTokenLogitsProcessor(T, [2, 3]),
             hf.SuppressTokensLogitsProcessor([4, 5]),
             hf.SuppressTokensAtBeginLogitsProcessor([6, 8], 2)]
    ref = hf.LogitsProcessorList(procs)(torch.tensor(ids), torch.tensor(scores)).numpy()
    token = dict(forced).get(length)
    if token is not None:  # ForceTokensLogitsProcessor (transformers 4.x)
        ref = np.full_like(ref, -np.inf)
        ref[:, token] = 0.0
    _close(out, ref)
