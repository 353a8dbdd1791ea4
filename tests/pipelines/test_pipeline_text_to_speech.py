"""``pipeline("text-to-speech")`` on a tiny SpeechT5 checkpoint + vocoder equals transformers'
PyTorch pipeline (one text and a padded batch of two), with the pre-net's inference dropout off
on both sides (it draws random masks in each library); the waveform saves as WAV and FLAC; bad
inputs get tfhf errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")
sys.path.insert(0, str(Path(__file__).parents[1] / "audio"))
from tiny_speecht5 import SPK, expected_samples, make_tiny_speecht5  # noqa: E402

import tfhf  # noqa: E402
from tfhf.errors import ConfigError, InvalidInputError  # noqa: E402
from tfhf.models.speecht5 import TFSpeechT5HifiGan  # noqa: E402

TEXTS = ["This is a text to speech tool", "read it out loud"]
# the tiny model never stops by itself: maxlenratio ends both (PyTorch's eager loop is slow)
SHORT = 4.0


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_tiny_speecht5(tmp_path_factory.mktemp("tts"))


@pytest.fixture(scope="module")
def pipe(folders):
    tts, voc = folders
    return tfhf.pipeline("text-to-speech", model=tts, vocoder=voc)


def test_pipeline_equals_pytorch(folders, pipe, monkeypatch):
    from transformers.models.speecht5 import modeling_speecht5 as ms

    monkeypatch.setattr(ms.SpeechT5SpeechDecoderPrenet, "_consistent_dropout",
                        lambda self, x, p: x)
    tts, voc = folders
    speakers = np.load(Path(tts) / "speaker_embeddings.npy")[None]
    ref_pipe = transformers.pipeline(
        "text-to-speech", model=tts, vocoder=transformers.SpeechT5HifiGan.from_pretrained(voc))
    ref = ref_pipe(TEXTS, batch_size=2, forward_params={
        "speaker_embeddings": torch.tensor(speakers), "maxlenratio": SHORT})
    # the default voice (speaker_embeddings.npy beside the checkpoint)
    ours = pipe(TEXTS, batch_size=2, forward_params={"prenet_dropout": False,
                                                     "maxlenratio": SHORT})
    for a, b in zip(ours, ref):
        assert a["sampling_rate"] == b["sampling_rate"] == 16000
        assert a["audio"].shape == b["audio"].shape
        np.testing.assert_allclose(a["audio"], b["audio"], atol=1e-4)
    one = pipe(TEXTS[0], forward_params={"prenet_dropout": False, "maxlenratio": SHORT,
                                         "speaker_embeddings": speakers})
    n = len(pipe.tokenizer(TEXTS[0])["input_ids"])
    assert one["audio"].shape == (expected_samples(n, SHORT),)
    ref_one = ref_pipe(TEXTS[0], forward_params={"speaker_embeddings": torch.tensor(speakers),
                                                 "maxlenratio": SHORT})
    np.testing.assert_allclose(one["audio"], ref_one["audio"], atol=1e-4)


def test_waveform_saves_as_wav_and_flac(folders, pipe, tmp_path):
    import soundfile

    from tfhf.audio import save_audio

    tts, _ = folders  # the voice as a .npy path (shapes compiled above: no new compilation)
    out = pipe(TEXTS[1], forward_params={
        "prenet_dropout": False, "maxlenratio": SHORT,
        "speaker_embeddings": str(Path(tts) / "speaker_embeddings.npy")})
    assert out["audio"].ndim == 1 and np.all(np.abs(out["audio"]) <= 1.0)
    for name in ("speech.wav", "speech.flac"):
        save_audio(tmp_path / name, out["audio"], out["sampling_rate"])
        data, rate = soundfile.read(tmp_path / name)
        assert rate == 16000 and data.shape == out["audio"].shape
        np.testing.assert_allclose(data, out["audio"], atol=1.0 / 32767 + 1e-6)
    with pytest.raises(InvalidInputError, match=r"\.wav or \.flac"):
        save_audio(tmp_path / "speech.mp3", out["audio"])


def test_bad_inputs(folders, pipe):
    with pytest.raises(InvalidInputError, match="empty"):
        pipe("   ")
    with pytest.raises(InvalidInputError, match="max_text_positions"):
        pipe("hello world " * 10)
    with pytest.raises(InvalidInputError, match=f"{SPK} floats"):
        pipe("hello", forward_params={"speaker_embeddings": np.zeros(SPK + 1, np.float32)})
    with pytest.raises(InvalidInputError, match="must be floats"):
        pipe("hello", forward_params={"speaker_embeddings": np.zeros(SPK, np.int32)})
    with pytest.raises(InvalidInputError, match="does not exist"):
        pipe("hello", forward_params={"speaker_embeddings": "no-such-voice.npy"})
    with pytest.raises(InvalidInputError, match="unknown forward_params"):
        pipe("hello", forward_params={"temperature": 0.5})
    tts, voc = folders
    bare = tfhf.TFAutoModelForTextToSpectrogram.from_pretrained(tts)
    bare.name_or_path = None  # no speaker_embeddings.npy to fall back on
    no_voice = tfhf.pipeline("text-to-speech", model=bare, tokenizer=tts, vocoder=voc)
    with pytest.raises(InvalidInputError, match="No speaker embeddings given.*8 floats"):
        no_voice("hello")
    other = TFSpeechT5HifiGan.from_config(transformers.SpeechT5HifiGanConfig(
        model_in_dim=16, upsample_initial_channel=8, upsample_rates=[2],
        upsample_kernel_sizes=[4], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]]))
    with pytest.raises(ConfigError, match="num_mel_bins"):  # when the pipeline is made
        tfhf.pipeline("text-to-speech", model=bare, tokenizer=tts, vocoder=other)
    with pytest.raises(InvalidInputError, match="TFSpeechT5HifiGan"):
        tfhf.pipeline("text-to-speech", model=bare, tokenizer=tts, vocoder=object())
