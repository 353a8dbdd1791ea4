"""tfhf.audio's Whisper log-mel features equal transformers' WhisperFeatureExtractor
(within 1e-4) on sines, noise, silence, clips longer than 30 s and synthesized speech; WAV
reading and resampling to 16 kHz."""

from __future__ import annotations

import shutil
import subprocess
import wave

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

from tfhf.audio import WhisperFeatures, log_mel_spectrogram, read_wav, resample  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

SR = 16000
ATOL = 1e-4


@pytest.fixture(scope="module")
def reference():
    return transformers.WhisperFeatureExtractor()


def ref_features(fe, audio):
    return fe(audio, sampling_rate=SR, return_tensors="np")["input_features"]


def signals():
    rs = np.random.RandomState(0)
    t = np.arange(3 * SR) / SR
    return {
        "sines": (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)),
        "noise": rs.randn(SR + 123) * 0.1,
        "silence": np.zeros(2 * SR),
        "long_chirp": np.sin(2 * np.pi * (100 + 200 * np.arange(31 * SR) / SR)
                             * np.arange(31 * SR) / SR),
    }


def test_batch_matches_transformers(reference):
    sig = {k: v.astype(np.float32) for k, v in signals().items()}
    ref = ref_features(reference, list(sig.values()))
    ours = WhisperFeatures()(list(sig.values()))["input_features"].numpy()
    assert ours.shape == ref.shape == (4, 80, 3000)
    for i, name in enumerate(sig):
        np.testing.assert_allclose(ours[i], ref[i], atol=ATOL, err_msg=name)


def test_xla_matches_eager():
    audio = signals()["sines"].astype(np.float32)[None]
    eager = log_mel_spectrogram(audio)
    xla = tf.function(log_mel_spectrogram, jit_compile=True)(tf.constant(audio))
    np.testing.assert_allclose(xla.numpy(), eager.numpy(), atol=ATOL)


def test_errors():
    with pytest.raises(InvalidInputError, match="float"):
        log_mel_spectrogram(np.zeros(10, np.int16))
    with pytest.raises(InvalidInputError, match="Resample"):
        WhisperFeatures()(np.zeros(10, np.float32), sampling_rate=8000)


def write_wav(path, audio, rate, width=2):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(width)
        f.setframerate(rate)
        scale = 2 ** (8 * width - 1) - 1
        dtype = {2: np.int16, 4: np.int32}[width]
        f.writeframes((np.clip(audio, -1, 1) * scale).astype(dtype).tobytes())


def test_read_wav_and_resample(tmp_path, reference):
    t = np.arange(22050) / 22050
    audio = 0.5 * np.sin(2 * np.pi * 440 * t)
    write_wav(tmp_path / "a.wav", audio, 22050)
    data, rate = read_wav(tmp_path / "a.wav")
    assert rate == 22050
    np.testing.assert_allclose(data, audio, atol=1e-4)
    y = resample(data, rate, SR)
    assert len(y) == SR
    # a 440 Hz tone stays at 440 Hz
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) - 440) <= 1
    with pytest.raises(InvalidInputError, match="PCM WAV"):
        (tmp_path / "bad.wav").write_bytes(b"not a wav")
        read_wav(tmp_path / "bad.wav")


def test_espeak_speech_matches_transformers(tmp_path, reference):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng) to synthesize "
                    "speech")
    path = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "the quick brown fox jumps over the lazy "
                    "dog"], check=True, capture_output=True)
    data, rate = read_wav(path)
    speech = resample(data, rate, SR)
    ref = ref_features(reference, speech)
    ours = WhisperFeatures()(speech)["input_features"].numpy()
    np.testing.assert_allclose(ours, ref, atol=ATOL)
