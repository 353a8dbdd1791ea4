"""generate() on the toy LM: transformers' generate (on the toy's PyTorch twin) is the
reference for greedy, beam search, processors and scores; XLA and eager give the same tokens;
left padding, buckets and the compile counter, seeds, config handling."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import generation as G  # noqa: E402
from toy_lm import ToyCausalLM, toy_config  # noqa: E402
from toy_lm_torch import TorchToyCausalLM, hf_generate  # noqa: E402

# a left-padded batch: 7, 4 and 2 real tokens
IDS = np.array([[5, 6, 7, 8, 9, 10, 11],
                [0, 0, 0, 12, 13, 14, 15],
                [0, 0, 0, 0, 0, 16, 17]])
MASK = (IDS != 0).astype(np.int64)


@pytest.fixture(scope="module")
def toy():
    return ToyCausalLM(toy_config())


@pytest.fixture(scope="module")
def twin(toy):
    return TorchToyCausalLM(toy.config, toy)


@pytest.fixture(scope="module")
def greedy_ref(twin):
    return hf_generate(twin, IDS, MASK, max_new_tokens=12, do_sample=False)


def _frequent_token(seqs, prompt_len, row=0, after=2):
    """A token the model generates in ``row`` (used as EOS so rows finish early)."""
    return int(seqs[row, prompt_len + after])


def test_toy_cache_path_matches_full_forward(toy):
    pos = np.where(MASK == 0, 0, np.cumsum(MASK, 1) - 1)
    full = toy(tf.constant(IDS), attention_mask=tf.constant(MASK),
               position_ids=tf.constant(pos))["logits"].numpy()
    L = 10
    mask = np.concatenate([MASK, np.ones((3, L - 7), np.int64)], 1)
    cache = toy.init_cache(3, L)
    logits, cache = toy.forward_with_cache(IDS[:, :4], pos[:, :4], mask, cache, 0)
    got = [logits.numpy()]
    for i in range(4, 7):
        logits, cache = toy.forward_with_cache(IDS[:, i:i + 1], pos[:, i:i + 1], mask, cache, i)
        got.append(logits.numpy())
    got = np.concatenate(got, 1)
    real = MASK.astype(bool)
    np.testing.assert_allclose(got[real], full[real], atol=1e-5)


@pytest.mark.parametrize("use_xla", [False, True])
def test_greedy_matches_transformers(toy, greedy_ref, use_xla):
    out = toy.generate(IDS, attention_mask=MASK, max_new_tokens=12, use_xla=use_xla)
    assert out.dtype == tf.int32
    np.testing.assert_array_equal(out.numpy(), greedy_ref)


def test_free_function_and_batch_encoding(toy, greedy_ref):
    out = G.generate(toy, {"input_ids": IDS, "attention_mask": MASK}, max_new_tokens=12)
    np.testing.assert_array_equal(out.numpy(), greedy_ref)


def test_left_padded_batch_equals_each_prompt_alone(toy, greedy_ref):
    for row in range(3):
        alone = IDS[row][MASK[row] == 1][None]
        out = toy.generate(alone, max_new_tokens=12).numpy()
        np.testing.assert_array_equal(out[0], greedy_ref[row, 7 - alone.shape[1]:])


def test_compile_count_bucketing(toy):
    """Ten prompts of 3..60 tokens, same max_new_tokens: prompt buckets 32 and 64 -> at most
    two compilations; max_new_tokens and sampling values within a bucket never recompile."""
    lengths = [3, 9, 15, 21, 27, 33, 39, 45, 51, 60]
    rng = np.random.RandomState(1)
    before = G.compile_count()
    for n in lengths:
        toy.generate(rng.randint(3, 64, size=(1, n)), max_new_tokens=6)
    assert G.compile_count() - before <= 2
    after = G.compile_count()
    for n, new in [(5, 1), (40, 20), (60, 32)]:
        toy.generate(rng.randint(3, 64, size=(1, n)), max_new_tokens=new)
    assert G.compile_count() == after
    shapes = {(s.prompt_len, s.new_len) for s in G.cached_specs(toy) if s.batch == 1}
    assert {(32, 32), (64, 32)} <= shapes


def test_eos_stops_rows_and_pads(toy, twin, greedy_ref):
    eos = _frequent_token(greedy_ref, 7, row=0, after=2)
    kwargs = dict(max_new_tokens=12, eos_token_id=eos, pad_token_id=0)
    ref = hf_generate(twin, IDS, MASK, **kwargs)
    out = toy.generate(IDS, attention_mask=MASK, **kwargs).numpy()
    np.testing.assert_array_equal(out, ref)
    row0 = out[0, 7:]
    stop = list(row0).index(eos)
    assert stop == 2 and (row0[stop + 1:] == 0).all()
    # every row finishing ends the loop early
    eos2 = [eos] + [_frequent_token(greedy_ref, 7, row=r, after=1) for r in (1, 2)]
    kwargs = dict(max_new_tokens=12, eos_token_id=eos2, pad_token_id=0)
    ref = hf_generate(twin, IDS, MASK, **kwargs)
    out = toy.generate(IDS, attention_mask=MASK, use_xla=False, **kwargs).numpy()
    assert out.shape[1] < 7 + 12
    np.testing.assert_array_equal(out, ref)


def test_default_is_20_new_tokens_with_warning(toy, greedy_ref):
    with pytest.warns(UserWarning, match="max_new_tokens"):
        out = toy.generate(IDS, attention_mask=MASK)
    assert out.shape == (3, 7 + 20)
    np.testing.assert_array_equal(out.numpy()[:, :19], greedy_ref)


def _beam_cases():
    return [
        dict(num_beams=3, num_return_sequences=2),
        dict(num_beams=3, num_return_sequences=3, early_stopping=True, length_penalty=0.5),
        dict(num_beams=4, num_return_sequences=2, early_stopping="never", length_penalty=2.0),
        dict(num_beams=2, num_return_sequences=1, early_stopping=False, length_penalty=-1.0),
    ]


@pytest.mark.parametrize("case", range(4))
def test_beam_search_matches_transformers(toy, twin, greedy_ref, case):
    eos = _frequent_token(greedy_ref, 7, row=1, after=1)
    kwargs = dict(max_new_tokens=9, eos_token_id=[eos, 2], pad_token_id=0,
                  return_dict_in_generate=True, output_scores=True, **_beam_cases()[case])
    ref = hf_generate(twin, IDS, MASK, **kwargs)
    out = toy.generate(IDS, attention_mask=MASK, use_xla=False, **kwargs)
    np.testing.assert_array_equal(out.sequences.numpy(), ref.sequences.numpy())
    np.testing.assert_allclose(out.sequences_scores.numpy(), ref.sequences_scores.numpy(),
                               atol=1e-4)
    np.testing.assert_array_equal(out.beam_indices.numpy(), ref.beam_indices.numpy())
    assert len(out.scores) == len(ref.scores)
    for a, b in zip(out.scores, ref.scores):
        a, b = a.numpy(), b.numpy()
        assert np.array_equal(np.isinf(a), np.isinf(b))
        np.testing.assert_allclose(a[np.isfinite(b)], b[np.isfinite(b)], atol=1e-4)


def test_beam_search_xla_equals_eager_and_transformers(toy, twin, greedy_ref):
    eos = _frequent_token(greedy_ref, 7, row=1, after=1)
    kwargs = dict(max_new_tokens=9, eos_token_id=[eos, 2], pad_token_id=0, num_beams=3,
                  num_return_sequences=2)
    ref = hf_generate(twin, IDS, MASK, **kwargs)
    np.testing.assert_array_equal(toy.generate(IDS, attention_mask=MASK, **kwargs).numpy(), ref)


PROCESSOR_KWARGS = dict(repetition_penalty=1.8, no_repeat_ngram_size=2,
                        bad_words_ids=[[58], [47, 15]], min_new_tokens=4, max_new_tokens=10,
                        pad_token_id=0)


def test_processors_in_the_loop_match_transformers(toy, twin, greedy_ref):
    eos = _frequent_token(greedy_ref, 7, row=2, after=1)
    kwargs = dict(PROCESSOR_KWARGS, eos_token_id=eos, return_dict_in_generate=True,
                  output_scores=True)
    ref = hf_generate(twin, IDS, MASK, **kwargs)
    out = toy.generate(IDS, attention_mask=MASK, use_xla=False, **kwargs)
    np.testing.assert_array_equal(out.sequences.numpy(), ref.sequences.numpy())
    assert not np.array_equal(ref.sequences.numpy()[:, :19], greedy_ref[:, :19])
    assert len(out.scores) == len(ref.scores)
    for a, b in zip(out.scores, ref.scores):
        a, b = a.numpy(), b.numpy()
        assert a.shape == (3, 64)
        assert np.array_equal(np.isinf(a), np.isinf(b))
        np.testing.assert_allclose(a[np.isfinite(b)], b[np.isfinite(b)], atol=1e-5)
    # XLA: same tokens and scores
    xla = toy.generate(IDS, attention_mask=MASK, **kwargs)
    np.testing.assert_array_equal(xla.sequences.numpy(), ref.sequences.numpy())
    for a, b in zip(xla.scores, out.scores):
        a, b = a.numpy(), b.numpy()
        assert np.array_equal(np.isinf(a), np.isinf(b))
        np.testing.assert_allclose(a[np.isfinite(b)], b[np.isfinite(b)], atol=1e-5)


SAMPLE = dict(do_sample=True, max_new_tokens=10, num_return_sequences=2, top_k=20, top_p=0.9,
              temperature=0.9)


def test_sampling_seeds_are_reproducible(toy):
    ids, mask = IDS[:2], MASK[:2]
    a = toy.generate(ids, attention_mask=mask, seed=7, **SAMPLE).numpy()
    assert a.shape == (4, 17)
    b = toy.generate(ids, attention_mask=mask, seed=7, **SAMPLE).numpy()
    np.testing.assert_array_equal(a, b)
    c = toy.generate(ids, attention_mask=mask, seed=8, **SAMPLE).numpy()
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])  # the return sequences of one prompt differ
    np.testing.assert_array_equal(a[:, :7], np.repeat(ids, 2, 0))
    # tfhf.set_seed fixes the seeds of the calls that follow
    tfhf.set_seed(3)
    first = [toy.generate(ids, attention_mask=mask, **SAMPLE).numpy() for _ in range(2)]
    tfhf.set_seed(3)
    again = [toy.generate(ids, attention_mask=mask, **SAMPLE).numpy() for _ in range(2)]
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])
    # the eager loop draws the same tokens
    eager = toy.generate(ids, attention_mask=mask, seed=7, use_xla=False, **SAMPLE).numpy()
    np.testing.assert_array_equal(eager, a)


def test_sampling_values_are_tensors_not_recompiles(toy):
    ids, mask = IDS[:2], MASK[:2]
    toy.generate(ids, attention_mask=mask, seed=1, **SAMPLE)
    before = G.compile_count()
    for kw in [dict(temperature=0.3), dict(top_p=0.5), dict(top_k=1), dict(max_new_tokens=3)]:
        toy.generate(ids, attention_mask=mask, seed=1, **dict(SAMPLE, **kw))
    assert G.compile_count() == before
    # top_k=1 sampling is greedy
    greedy = toy.generate(ids, attention_mask=mask, max_new_tokens=10).numpy()
    k1 = toy.generate(ids, attention_mask=mask, seed=5, **dict(SAMPLE, top_k=1)).numpy()
    np.testing.assert_array_equal(k1, np.repeat(greedy, 2, 0))


def test_sampled_tokens_respect_the_warpers(toy):
    out = toy.generate(IDS, attention_mask=MASK, do_sample=True, max_new_tokens=6, top_k=3,
                       min_p=0.2, temperature=1.5, seed=0, use_xla=False, eos_token_id=None,
                       return_dict_in_generate=True, output_scores=True)
    seq = out.sequences.numpy()
    for t, scores in enumerate(out.scores):
        s = scores.numpy()
        assert (np.isfinite(s).sum(1) <= 3).all()
        assert np.isfinite(s[np.arange(3), seq[:, 7 + t]]).all()


def test_generation_config_handling(toy, tmp_path):
    from transformers import GenerationConfig

    gc = G.model_generation_config(toy)
    assert toy.generation_config is gc and gc.eos_token_id == 2
    out = toy.generate(IDS, attention_mask=MASK, max_new_tokens=3, pad_token_id=0)
    assert out.shape == (3, 10) and gc.max_new_tokens is None  # kwargs change a copy
    out = toy.generate(IDS, attention_mask=MASK,
                       generation_config=GenerationConfig(max_new_tokens=4, pad_token_id=0))
    assert out.shape == (3, 11)
    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"max_new_tokens": 5, "eos_token_id": [2, 3], "pad_token_id": 0}))
    loaded = G.load_generation_config(str(tmp_path), toy.config)
    assert loaded.max_new_tokens == 5 and loaded.eos_token_id == [2, 3]
    assert G.load_generation_config(str(tmp_path / "missing"), toy.config).eos_token_id == 2
    old = toy.generation_config
    try:
        toy.generation_config = loaded
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # max_new_tokens comes from the config
            assert toy.generate(IDS, attention_mask=MASK, use_xla=False).shape == (3, 12)
    finally:
        toy.generation_config = old


def test_return_dict_greedy_scores(toy, greedy_ref, twin):
    kwargs = dict(max_new_tokens=12, return_dict_in_generate=True, output_scores=True,
                  output_logits=True)
    ref = hf_generate(twin, IDS, MASK, **kwargs)
    out = toy.generate(IDS, attention_mask=MASK, use_xla=False, **kwargs)
    assert isinstance(out, G.GenerateDecoderOnlyOutput)
    np.testing.assert_array_equal(out.sequences.numpy(), greedy_ref)
    assert len(out.scores) == 12 == len(out.logits)
    for a, b in zip(out.scores, ref.scores):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    plain = toy.generate(IDS, attention_mask=MASK, use_xla=False, max_new_tokens=2,
                         return_dict_in_generate=True)
    assert plain.scores is None and plain.sequences.shape == (3, 9)


def test_beam_sampling(toy):
    kw = dict(do_sample=True, num_beams=3, num_return_sequences=2, max_new_tokens=6, top_k=10,
              use_xla=False, return_dict_in_generate=True, output_scores=True)
    a = toy.generate(IDS, attention_mask=MASK, seed=4, **kw)
    b = toy.generate(IDS, attention_mask=MASK, seed=4, **kw)
    assert a.sequences.shape[0] == 6 and a.sequences.shape[1] <= 13
    np.testing.assert_array_equal(a.sequences.numpy(), b.sequences.numpy())
    np.testing.assert_array_equal(a.sequences.numpy()[:, :7], np.repeat(IDS, 2, 0))
    # the best beams come first; each step keeps at most top_k tokens per beam
    s = a.sequences_scores.numpy().reshape(3, 2)
    assert (s[:, 0] >= s[:, 1]).all()
    assert all((np.isfinite(x.numpy()).sum(1) <= 10).all() for x in a.scores)


def test_greedy_then_sampling_compile_once_and_say_so(capfd):
    """Greedy and sampling calls of the same shapes share one compiled loop (greedy runs the
    sampling loop with do_sample=False); the one compilation prints one stderr line naming
    the buckets, and set_compile_notice(False) silences it."""
    model = ToyCausalLM(toy_config())  # nothing compiled for it yet
    ids, mask = IDS[:2], MASK[:2]
    capfd.readouterr()
    before = G.compile_count()
    greedy = model.generate(ids, attention_mask=mask, max_new_tokens=8).numpy()
    assert G.compile_count() - before == 1
    err = capfd.readouterr().err
    assert err.count("tfhf: compiling") == 1, err
    assert "batch 2" in err and "prompt bucket 32" in err and "32 new-token slots" in err
    sampled = model.generate(ids, attention_mask=mask, max_new_tokens=8, do_sample=True,
                             seed=3).numpy()
    again = model.generate(ids, attention_mask=mask, max_new_tokens=8).numpy()
    assert G.compile_count() - before == 1
    assert "tfhf: compiling" not in capfd.readouterr().err
    assert sampled.shape == greedy.shape
    np.testing.assert_array_equal(again, greedy)
    # the shared loop picks the argmax: the eager loop and top_k=1 sampling agree with it
    eager = model.generate(ids, attention_mask=mask, max_new_tokens=8, use_xla=False).numpy()
    np.testing.assert_array_equal(eager, greedy)
    k1 = model.generate(ids, attention_mask=mask, max_new_tokens=8, do_sample=True, top_k=1,
                        seed=5).numpy()
    np.testing.assert_array_equal(k1, greedy)
    G.set_compile_notice(False)  # (the quiet `tfhf` commands set TFHF_COMPILE_NOTICE=0)
    try:
        model.generate(ids[:1], attention_mask=mask[:1], max_new_tokens=8)  # a new shape
        assert G.compile_count() - before == 2
        assert "tfhf: compiling" not in capfd.readouterr().err
    finally:
        G.set_compile_notice(None)
