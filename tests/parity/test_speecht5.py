"""Parity of SpeechT5 text-to-speech and its HiFi-GAN vocoder with PyTorch transformers on tiny
random configs (float32).

The pre-net's inference dropout is random on both sides, so the comparisons switch it off:
PyTorch's ``_consistent_dropout`` is patched to the identity and tfhf gets
``prenet_dropout=False``; one test checks the dropout's own semantics with ``p = 0`` (where
transformers' ``bernoulli(p)`` mask zeroes every unit). The spectrogram (before and after the
post-net) and the stop logits agree within 1e-4 eagerly and under XLA on a padded batch;
``generate_speech`` gives the same frame counts and waveforms for batch 1 and a padded batch
of 2 whose rows stop at different steps; checkpoints load both ways.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

from tfhf.errors import ConfigError, InvalidInputError  # noqa: E402
from tfhf.models.speecht5.hifigan import TFSpeechT5HifiGan  # noqa: E402
from tfhf.models.speecht5.modeling import TFSpeechT5ForTextToSpeech  # noqa: E402

ms = pytest.importorskip("transformers.models.speecht5.modeling_speecht5")
ATOL = 1e-4
MELS, SPK = 8, 8
IDS = np.array([[5, 6, 7, 8, 9, 10, 11, 2], [12, 13, 14, 2, 1, 1, 1, 1]])
MASK = (IDS != 1).astype(np.int32)
SPEAKERS = np.random.RandomState(3).randn(2, SPK).astype(np.float32)


def tts_config(**kw):
    args = dict(vocab_size=40, hidden_size=16, encoder_layers=2, decoder_layers=2,
                encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                decoder_ffn_dim=32, speech_decoder_prenet_units=16,
                speech_decoder_postnet_units=16, num_mel_bins=MELS, speaker_embedding_dim=SPK,
                max_text_positions=60, max_speech_positions=200, encoder_max_relative_position=5)
    args.update(kw)
    return transformers.SpeechT5Config(**args)


def vocoder_config(**kw):
    args = dict(model_in_dim=MELS, upsample_initial_channel=16, upsample_rates=[2, 2],
                upsample_kernel_sizes=[4, 4], resblock_kernel_sizes=[3, 5],
                resblock_dilation_sizes=[[1, 3], [1, 3]])
    args.update(kw)
    return transformers.SpeechT5HifiGanConfig(**args)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(PyTorch TTS, tfhf TTS, PyTorch vocoder, tfhf vocoder); non-trivial alphas, BatchNorm
    statistics and vocoder mean/scale, so every weight matters."""
    torch.manual_seed(0)
    pt = transformers.SpeechT5ForTextToSpeech(tts_config()).eval()
    voc = transformers.SpeechT5HifiGan(vocoder_config()).eval()
    with torch.no_grad():
        for name, p in pt.named_parameters():
            if "alpha" in name:
                p.fill_(0.7)
            if "batch_norm" in name:
                p.normal_(0.5, 0.2)
        for m in pt.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        voc.mean.normal_(0, 0.1)
        voc.scale.uniform_(0.8, 1.2)
    root = tmp_path_factory.mktemp("speecht5")
    pt.save_pretrained(root / "tts")
    voc.save_pretrained(root / "voc")
    return (pt, TFSpeechT5ForTextToSpeech.from_pretrained(str(root / "tts")), voc,
            TFSpeechT5HifiGan.from_pretrained(str(root / "voc")))


@pytest.fixture
def no_pt_dropout(monkeypatch):
    monkeypatch.setattr(ms.SpeechT5SpeechDecoderPrenet, "_consistent_dropout",
                        lambda self, x, p: x)


def pt_forward(pt, frames, ids=IDS, mask=MASK, speakers=SPEAKERS):
    with torch.no_grad():
        out = pt.speecht5(input_values=torch.tensor(ids), attention_mask=torch.tensor(mask),
                          decoder_input_values=torch.tensor(frames),
                          speaker_embeddings=torch.tensor(speakers), return_dict=True)
        before, after, logits = pt.speech_decoder_postnet(out[0])
    return before.numpy(), after.numpy(), logits.numpy()


def test_forward_matches_pytorch_eager_and_xla(models, no_pt_dropout):
    pt, tfm, _, _ = models
    frames = np.random.RandomState(0).randn(2, 5, MELS).astype(np.float32)
    before, after, logits = pt_forward(pt, frames)

    def run(ids, mask, frames, speakers):
        return tfm(input_ids=ids, attention_mask=mask, decoder_input_values=frames,
                   speaker_embeddings=speakers, prenet_dropout=False)

    for fn in (run, tf.function(run, jit_compile=True)):
        out = fn(tf.constant(IDS), tf.constant(MASK), tf.constant(frames), tf.constant(SPEAKERS))
        np.testing.assert_allclose(out["spectrogram"].numpy(), after, atol=ATOL)
        np.testing.assert_allclose(out["spectrogram_before_postnet"].numpy(), before, atol=ATOL)
        np.testing.assert_allclose(out["stop_logits"].numpy(), logits, atol=ATOL)


def test_prenet_dropout_keeps_transformers_semantics(models):
    """transformers keeps a unit where bernoulli(p) == 1: with p = 0 nothing is kept."""
    pt, tfm, _, _ = models
    frames = np.random.RandomState(1).randn(2, 3, MELS).astype(np.float32)
    pt.config.speech_decoder_prenet_dropout = 0.0
    tfm.speech_prenet.p = 0.0
    try:
        _, after, _ = pt_forward(pt, frames)
        out = tfm(input_ids=IDS, attention_mask=MASK, decoder_input_values=frames,
                  speaker_embeddings=SPEAKERS)
    finally:
        pt.config.speech_decoder_prenet_dropout = 0.5
        tfm.speech_prenet.p = 0.5
    np.testing.assert_allclose(out["spectrogram"].numpy(), after, atol=ATOL)
    # p = 0.5 (the real checkpoints): random masks, reproducible with a seed
    a = tfm.generate_speech(IDS[:1], SPEAKERS[:1], maxlenratio=2.0, seed=3)
    b = tfm.generate_speech(IDS[:1], SPEAKERS[:1], maxlenratio=2.0, seed=3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_vocoder_matches_pytorch(models):
    _, _, voc, tvoc = models
    x = np.random.RandomState(2).randn(2, 7, MELS).astype(np.float32)
    with torch.no_grad():
        ref = voc(torch.tensor(x)).numpy()
        ref1 = voc(torch.tensor(x[0])).numpy()
        ref1_5 = voc(torch.tensor(x[0, :5])).numpy()
    np.testing.assert_allclose(tvoc(x).numpy(), ref, atol=ATOL)
    np.testing.assert_allclose(tvoc(x[0]).numpy(), ref1, atol=ATOL)
    # the default graph with a dynamic frame axis: any length, one trace
    np.testing.assert_allclose(tvoc.synthesize(x).numpy(), ref, atol=ATOL)
    np.testing.assert_allclose(tvoc.synthesize(x[0, :5]).numpy(), ref1_5, atol=ATOL)
    assert tvoc._compiled["graph"].experimental_get_tracing_count() == 1
    # XLA, compiled on a 64-frame bucket, masked: the unpadded waveform
    np.testing.assert_allclose(tvoc.synthesize(x, jit_compile=True).numpy(), ref, atol=ATOL)


@pytest.mark.parametrize("rows", [1, 2])
def test_generate_speech_matches_pytorch(models, no_pt_dropout, rows):
    pt, tfm, voc, tvoc = models
    ids, speakers = IDS[:rows], SPEAKERS[:rows]
    # a threshold the stop probabilities of row 0 cross after a few steps and row 1's never
    # do (it runs to maxlen): rows of one batch finish at different steps
    kw = dict(threshold=1.0, maxlenratio=4.0)
    with torch.no_grad():
        ref_spec, ref_lens = pt.generate_speech(torch.tensor(ids), torch.tensor(speakers),
                                                return_output_lengths=True, **kw)
        ref_wave = pt.generate_speech(torch.tensor(ids), torch.tensor(speakers), vocoder=voc,
                                      **kw).numpy()
    spec, lens = tfm.generate_speech(ids, speakers, return_output_lengths=True,
                                     prenet_dropout=False, **kw)
    assert lens == list(ref_lens)
    np.testing.assert_allclose(spec.numpy(), ref_spec.numpy(), atol=ATOL)
    wave = tfm.generate_speech(ids, speakers, vocoder=tvoc, prenet_dropout=False, **kw)
    assert wave.shape == ref_wave.shape
    np.testing.assert_allclose(wave.numpy(), ref_wave, atol=ATOL)
    if rows == 1:
        # minlenratio above maxlenratio: transformers decodes until minlen (here past the
        # steps maxlenratio alone would allocate for the 16-token text bucket)
        with torch.no_grad():
            _, ref_lens = pt.generate_speech(torch.tensor(ids), torch.tensor(speakers),
                                             minlenratio=10.0, threshold=1.0, maxlenratio=4.0,
                                             return_output_lengths=True)
        _, lens = tfm.generate_speech(ids, speakers, minlenratio=10.0, prenet_dropout=False,
                                      return_output_lengths=True, **kw)
        assert lens == list(ref_lens) == [80]
    if rows == 2:
        assert 2 < lens[0] < lens[1]
        # minlenratio keeps row 0 going past its first stop
        with torch.no_grad():
            _, ref_lens = pt.generate_speech(torch.tensor(ids), torch.tensor(speakers),
                                             minlenratio=2.5, return_output_lengths=True, **kw)
        _, lens = tfm.generate_speech(ids, speakers, minlenratio=2.5, prenet_dropout=False,
                                      return_output_lengths=True, **kw)
        assert lens == list(ref_lens) and lens[0] >= 20


def test_save_pretrained_loads_in_pytorch(models, tmp_path, no_pt_dropout):
    pt, tfm, voc, tvoc = models
    tfm.save_pretrained(tmp_path / "tts")
    tvoc.save_pretrained(tmp_path / "voc")
    pt2 = transformers.SpeechT5ForTextToSpeech.from_pretrained(tmp_path / "tts").eval()
    voc2 = transformers.SpeechT5HifiGan.from_pretrained(tmp_path / "voc").eval()
    frames = np.random.RandomState(4).randn(2, 4, MELS).astype(np.float32)
    for a, b in zip(pt_forward(pt2, frames), pt_forward(pt, frames)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    x = torch.tensor(np.random.RandomState(5).randn(1, 5, MELS).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(voc2(x).numpy(), voc(x).numpy(), atol=1e-6)


def test_bad_inputs_get_clear_errors(models):
    _, tfm, _, tvoc = models
    with pytest.raises(InvalidInputError, match="empty"):
        tfm.generate_speech(np.zeros((1, 0), np.int32), SPEAKERS[:1])
    with pytest.raises(InvalidInputError, match="max_text_positions=60"):
        tfm.generate_speech(np.full((1, 61), 5), SPEAKERS[:1])
    with pytest.raises(InvalidInputError, match="8 floats"):
        tfm.generate_speech(IDS[:1], np.zeros((1, 7), np.float32))
    with pytest.raises(InvalidInputError, match="must be floats"):
        tfm.generate_speech(IDS[:1], np.zeros((1, SPK), np.int64))
    with pytest.raises(InvalidInputError, match="No speaker embeddings"):
        tfm.generate_speech(IDS[:1])
    other = TFSpeechT5HifiGan.from_config(vocoder_config(model_in_dim=MELS + 2))
    with pytest.raises(ConfigError, match="num_mel_bins"):
        tfm.generate_speech(IDS[:1], SPEAKERS[:1], vocoder=other)
    with pytest.raises(InvalidInputError, match="float log-mel frames"):
        tvoc(np.zeros((1, 3, MELS + 1), np.float32))


def test_bfloat16_synthesis_runs_and_agrees(models, tmp_path):
    """``dtype="bfloat16"`` (weights and compute: the memory-bound mel loop reads half the
    bytes): the same number of frames as float32 at a fixed length, and a float32 waveform
    close to float32's (bfloat16 keeps ~3 significant digits)."""
    _, tfm, _, tvoc = models
    tfm.save_pretrained(tmp_path / "tts")
    tvoc.save_pretrained(tmp_path / "voc")
    m16 = TFSpeechT5ForTextToSpeech.from_pretrained(str(tmp_path / "tts"), dtype="bfloat16")
    v16 = TFSpeechT5HifiGan.from_pretrained(str(tmp_path / "voc"), dtype="bfloat16")
    kw = dict(threshold=3.0, maxlenratio=2.0, prenet_dropout=False)
    for vocoders in ((None, None), (tvoc, v16)):
        ref = tfm.generate_speech(IDS[:1], SPEAKERS[:1], vocoder=vocoders[0], **kw).numpy()
        out = m16.generate_speech(IDS[:1], SPEAKERS[:1], vocoder=vocoders[1], **kw)
        assert out.dtype == tf.float32 and out.shape == ref.shape
        print("bf16 max abs diff", np.abs(out.numpy() - ref).max(), np.abs(ref).max())
        assert np.abs(out.numpy() - ref).max() <= 0.03 * np.abs(ref).max()
