"""Encoder-decoder ``generate`` (T5 v1.0 / v1.1, BART, M2M100) against PyTorch transformers'
``generate`` on the same tiny random checkpoints: greedy and beam tokens equal on a padded
batch, eagerly and under XLA; forced BOS/EOS, decoder prompts, forced decoder ids, suppressed
tokens, processors, scores; seeded sampling; source buckets and the compile counter; input
errors; mixed bfloat16.

The tiny random models repeat one token when left alone, so most comparisons also ban
repeated tokens (``no_repeat_ngram_size=1``): every step then depends on the whole ranking
of the logits, not just the top token.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import generation as G  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

from tiny_configs import SEQ2SEQ_VOCAB as VOCAB  # noqa: E402
from tiny_configs import seq2seq_config as hf_config  # noqa: E402
from tiny_configs import torch_seq2seq_lm, widen_weights  # noqa: E402

NO_REPEAT = dict(no_repeat_ngram_size=1)


@functools.lru_cache(maxsize=None)
def _pair(name, root):
    pt = widen_weights(torch_seq2seq_lm(name, seed=0))  # less degenerate outputs
    folder = f"{root}/{name}"
    pt.save_pretrained(folder)
    return pt, tfhf.TFAutoModelForSeq2SeqLM.from_pretrained(folder), folder


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("s2s_generate"))
    return lambda name: _pair(name, root)


def batch(name, lengths=(9, 6, 3), seed=0):
    """A right-padded batch (the tokenizers' padding side for encoder-decoders)."""
    pad = hf_config(name).pad_token_id
    rs = np.random.RandomState(seed)
    ids = rs.randint(3, VOCAB, size=(len(lengths), max(lengths)))
    mask = (np.arange(ids.shape[1])[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
    return np.where(mask == 1, ids, pad), mask


def pt_generate(pt, ids, mask, **kwargs):
    kwargs = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                           **kwargs)


def as_np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


# ---------------------------------------------------------------------------- parity
GREEDY = dict(max_new_tokens=8, **NO_REPEAT)
BEAM = dict(max_new_tokens=6, num_beams=3, **NO_REPEAT)


@pytest.mark.parametrize("name,xla", [("t5", "greedy"), ("t5_v11", None), ("bart", "beam"),
                                      ("m2m100", "greedy")])
def test_greedy_and_beam_match_pytorch(pair, name, xla):
    """Eagerly every strategy; under XLA (the same Python, compiled: seconds per key) one
    strategy for three of the families."""
    pt, model, _ = pair(name)
    ids, mask = batch(name)
    for strategy, kwargs in (("plain", dict(max_new_tokens=5)), ("greedy", GREEDY),
                             ("beam", BEAM)):
        ref = pt_generate(pt, ids, mask, **kwargs).numpy()
        for use_xla in (False, True) if strategy == xla else (False,):
            out = model.generate(ids, attention_mask=mask, use_xla=use_xla, **kwargs)
            assert out.dtype == tf.int32
            np.testing.assert_array_equal(as_np(out), ref, err_msg=f"{kwargs} xla={use_xla}")


def test_beam_return_sequences_and_scores_match_pytorch(pair):
    pt, model, _ = pair("bart")
    ids, mask = batch("bart")
    kwargs = dict(max_new_tokens=6, num_beams=3, num_return_sequences=2, length_penalty=0.7,
                  return_dict_in_generate=True, output_scores=True, **NO_REPEAT)
    ref = pt_generate(pt, ids, mask, **kwargs)
    out = model.generate(ids, attention_mask=mask, use_xla=False, **kwargs)
    assert type(out).__name__ == "GenerateBeamEncoderDecoderOutput"
    np.testing.assert_array_equal(as_np(out.sequences), ref.sequences.numpy())
    np.testing.assert_allclose(as_np(out.sequences_scores), ref.sequences_scores.numpy(),
                               atol=1e-4)
    np.testing.assert_array_equal(as_np(out.beam_indices),
                                  ref.beam_indices.numpy()[:, :out.beam_indices.shape[1]])


def test_greedy_scores_and_early_eos_match_pytorch(pair):
    """BART's generation config forces EOS at max_length - 1; an EOS that many rows hit ends
    rows early (padded with pad_token_id)."""
    pt, model, _ = pair("bart")
    ids, mask = batch("bart")
    probe = pt_generate(pt, ids, mask, max_new_tokens=4, **NO_REPEAT).numpy()
    eos = int(probe[0, 2])
    kwargs = dict(max_new_tokens=7, eos_token_id=eos, return_dict_in_generate=True,
                  output_scores=True, **NO_REPEAT)
    ref = pt_generate(pt, ids, mask, **kwargs)
    out = model.generate(ids, attention_mask=mask, use_xla=False, **kwargs)
    assert type(out).__name__ == "GenerateEncoderDecoderOutput"
    seqs = as_np(out.sequences)
    np.testing.assert_array_equal(seqs, ref.sequences.numpy())
    assert seqs[0, 2] == eos and (seqs[0, 3:] == hf_config("bart").pad_token_id).all()
    assert len(out.scores) == len(ref.scores)
    for a, b in zip(out.scores, ref.scores):
        a, b = as_np(a), b.numpy()
        assert np.array_equal(np.isinf(a), np.isinf(b))
        np.testing.assert_allclose(a[np.isfinite(b)], b[np.isfinite(b)], atol=1e-4)


def test_length_semantics_match_pytorch(pair):
    """``max_length`` counts decoder tokens, the start token included; with neither it nor
    ``max_new_tokens`` set, 20 new tokens (capped by max_position_embeddings) and a warning."""
    pt, model, _ = pair("bart")
    ids, mask = batch("bart")
    ref = pt_generate(pt, ids, mask, max_length=5, **NO_REPEAT).numpy()
    out = as_np(model.generate(ids, attention_mask=mask, max_length=5, use_xla=False,
                               **NO_REPEAT))
    assert out.shape == (3, 5)
    np.testing.assert_array_equal(out, ref)
    ref = pt_generate(pt, ids, mask, repetition_penalty=2.0).numpy()
    with pytest.warns(UserWarning, match="max_new_tokens"):
        out = as_np(model.generate(ids, attention_mask=mask, repetition_penalty=2.0,
                                   use_xla=False))
    assert out.shape == (3, 21)
    np.testing.assert_array_equal(out, ref)


def test_processors_match_pytorch(pair):
    pt, model, _ = pair("t5_v11")
    ids, mask = batch("t5_v11")
    kwargs = dict(max_new_tokens=9, repetition_penalty=1.5, no_repeat_ngram_size=2,
                  bad_words_ids=[[5], [7, 8]], min_new_tokens=4, eos_token_id=[1, 9],
                  suppress_tokens=[10, 11, 12], begin_suppress_tokens=[13, 14])
    ref = pt_generate(pt, ids, mask, **kwargs).numpy()
    np.testing.assert_array_equal(
        as_np(model.generate(ids, attention_mask=mask, use_xla=False, **kwargs)), ref)


def test_forced_bos_and_suppress_tokens_m2m100(pair):
    """M2M100 / NLLB force the target language token after the start token."""
    pt, model, _ = pair("m2m100")
    ids, mask = batch("m2m100")
    for kwargs in (dict(forced_bos_token_id=7, max_new_tokens=6, **NO_REPEAT),
                   dict(forced_bos_token_id=7, begin_suppress_tokens=[20, 21],
                        suppress_tokens=[22], max_new_tokens=5, num_beams=3, **NO_REPEAT)):
        ref = pt_generate(pt, ids, mask, **kwargs).numpy()
        out = as_np(model.generate(ids, attention_mask=mask, use_xla=False, **kwargs))
        np.testing.assert_array_equal(out, ref)
        assert (out[:, 1] == 7).all()


def test_decoder_prompt_and_forced_decoder_ids(pair):
    """A multi-token decoder prompt (Whisper's ``<|startoftranscript|><|lang|><|task|>...``
    shape) continues as in PyTorch; ``decoder_start_token_id`` is put in front when the rows
    do not start with it; ``forced_decoder_ids`` continuing the start token build the same
    prompt, later ones are forced at their positions."""
    pt, model, _ = pair("t5")
    ids, mask = batch("t5")
    start = hf_config("t5").decoder_start_token_id
    prompt = np.array([[start, 30, 31, 32]] * 3)
    ref = pt_generate(pt, ids, mask, decoder_input_ids=prompt, max_new_tokens=5,
                      **NO_REPEAT).numpy()
    out = model.generate(ids, attention_mask=mask, decoder_input_ids=prompt, max_new_tokens=5,
                         use_xla=False, **NO_REPEAT)
    np.testing.assert_array_equal(as_np(out), ref)
    # without the start token it is prepended (transformers does the same)
    out = model.generate(ids, attention_mask=mask, decoder_input_ids=prompt[:, 1:],
                         max_new_tokens=5, use_xla=False, **NO_REPEAT)
    np.testing.assert_array_equal(as_np(out), ref)
    # forced_decoder_ids 1..3 -> the same prompt; 6 -> forced at position 6
    forced = [[1, 30], [2, 31], [3, 32], [6, 40]]
    out = as_np(model.generate(ids, attention_mask=mask, forced_decoder_ids=forced,
                               max_new_tokens=5, use_xla=False, **NO_REPEAT))
    np.testing.assert_array_equal(out[:, :6], ref[:, :6])
    assert (out[:, 6] == 40).all() and out.shape == ref.shape


# ---------------------------------------------------------------------------- other paths
def test_encoder_outputs_streamer_and_free_function(pair):
    pt, model, _ = pair("bart")
    ids, mask = batch("bart")
    ref = pt_generate(pt, ids, mask, max_new_tokens=6, **NO_REPEAT).numpy()
    enc = model.encode(ids, mask)
    out = model.generate(encoder_outputs=(enc,), attention_mask=mask, max_new_tokens=6,
                         use_xla=False, **NO_REPEAT)
    np.testing.assert_array_equal(as_np(out), ref)

    class Collect:
        def __init__(self):
            self.parts, self.ended = [], False

        def put(self, value):
            self.parts.append(np.asarray(value).reshape(3, -1))

        def end(self):
            self.ended = True

    streamer = Collect()
    out = G.generate_seq2seq(model, {"input_ids": ids, "attention_mask": mask},
                             max_new_tokens=6, streamer=streamer, stream_chunk_size=2,
                             use_xla=False, **NO_REPEAT)
    np.testing.assert_array_equal(as_np(out), ref)
    assert streamer.ended and len(streamer.parts) >= 3
    np.testing.assert_array_equal(np.concatenate(streamer.parts, axis=1), ref)


def test_sampling_is_reproducible_with_a_seed(pair):
    _, model, _ = pair("t5_v11")
    ids, mask = batch("t5_v11")
    kwargs = dict(do_sample=True, temperature=1.5, top_k=20, top_p=0.9, min_p=0.01,
                  max_new_tokens=8, num_return_sequences=2)
    kwargs["use_xla"] = False  # the stateless RNG draws the same under XLA (test_generate)
    a = as_np(model.generate(ids, attention_mask=mask, seed=11, **kwargs))
    b = as_np(model.generate(ids, attention_mask=mask, seed=11, **kwargs))
    c = as_np(model.generate(ids, attention_mask=mask, seed=12, **kwargs))
    assert a.shape == (6, 9) and (a[:, 0] == 0).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    tfhf.set_seed(3)
    d = as_np(model.generate(ids, attention_mask=mask, **kwargs))
    tfhf.set_seed(3)
    np.testing.assert_array_equal(as_np(model.generate(ids, attention_mask=mask, **kwargs)), d)


def test_source_buckets_bound_compilations(pair):
    """Sources of 2..60 tokens fall in two buckets (32, 64): at most two compilations (one
    when test_greedy_and_beam_match_pytorch compiled the 32 bucket already); the bucket
    padding changes no token. (T5's relative positions have no source limit; BART's 32
    positions refuse longer inputs, see the errors below.)"""
    pt, model, _ = pair("t5")
    before = G.compile_count()
    for n in (2, 15, 31, 33, 47, 60):
        ids, mask = batch("t5", lengths=(n, max(1, n - 5), max(1, n // 2)), seed=n)
        out = as_np(model.generate(ids, attention_mask=mask, **GREEDY))
        if n in (15, 47):
            np.testing.assert_array_equal(out, pt_generate(pt, ids, mask, **GREEDY).numpy())
    assert G.compile_count() - before <= 2
    # greedy calls run the loop they share with sampling (mode "sample", do_sample=False)
    sources = {s.encoder for s in G.cached_specs(model)
               if s.batch == 3 and s.mode in ("greedy", "sample")}
    assert {("ids", 32), ("ids", 64)} <= sources


def test_bfloat16_compute_runs_and_mostly_agrees(pair):
    _, model, folder = pair("bart")
    ids, mask = batch("bart")
    bf16 = tfhf.TFAutoModelForSeq2SeqLM.from_pretrained(folder, dtype="mixed_bfloat16")
    assert all(buf.dtype == tf.bfloat16 for pair in bf16.init_cache(1, 4) for buf in pair)
    ref = as_np(model.generate(ids, attention_mask=mask, use_xla=False, **GREEDY))
    out = as_np(bf16.generate(ids, attention_mask=mask, **GREEDY))  # XLA
    assert out.shape == ref.shape
    assert (out[:, :4] == ref[:, :4]).mean() >= 0.6
    out = bf16.generate(ids, attention_mask=mask, max_new_tokens=3, num_beams=2,
                        return_dict_in_generate=True, output_scores=True, use_xla=False)
    assert out.scores[0].dtype == tf.float32


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,name", [
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(max_new_tokens=-1), "max_new_tokens"),
    (dict(num_beams=0), "num_beams"),
    (dict(input_ids=np.zeros((1, 0), np.int64)), "input_ids"),
    (dict(input_ids=np.zeros((0, 3), np.int64)), "input_ids"),
    (dict(input_ids=np.array([[5, VOCAB]])), "input_ids"),
    (dict(attention_mask=np.ones((2, 4), np.int64)), "attention_mask"),
    (dict(decoder_input_ids=np.array([[2, 5]])), "decoder_input_ids"),
    (dict(decoder_input_ids=np.array([[2, 5], [2, 6]]),
          decoder_attention_mask=np.array([[1, 1], [0, 1]])), "decoder_attention_mask"),
    (dict(forced_decoder_ids=[[1, None]]), "forced_decoder_ids"),
    (dict(forced_bos_token_id=VOCAB), "forced_bos_token_id"),
    (dict(suppress_tokens=[-1]), "suppress_tokens"),
    (dict(input_ids=np.ones((2, 40), np.int64)), "input_ids"),  # > BART's 32 positions
    (dict(max_length=1), "max_length"),
])
def test_bad_input_names_the_argument(pair, kwargs, name):
    _, model, _ = pair("bart")
    ids, mask = batch("bart", lengths=(5, 3))
    kwargs = dict(kwargs)
    ids = kwargs.pop("input_ids", ids)
    if "attention_mask" not in kwargs and ids.shape == mask.shape:
        kwargs["attention_mask"] = mask
    kwargs.setdefault("max_new_tokens", 2)
    if "max_length" in kwargs:
        kwargs.pop("max_new_tokens")
    with pytest.raises(InvalidInputError, match=name) as info:
        model.generate(ids, use_xla=False, **kwargs)
    assert isinstance(info.value, ValueError)
