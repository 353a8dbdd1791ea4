"""tfhf.audio.load_audio: WAV / FLAC / OGG files, bytes, arrays and dicts -> mono float32 at
16 kHz; clear errors for what it cannot use (empty audio, files that are not audio, ambiguous
channel layouts, bad rates)."""

from __future__ import annotations

import numpy as np
import pytest

from tfhf.audio import load_audio, resample
from tfhf.errors import InvalidInputError

soundfile = pytest.importorskip("soundfile")

SR = 16000


def tone(rate, seconds=1.0, freq=440.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples))
    return np.argmax(spectrum) * rate / len(samples)


@pytest.mark.parametrize("fmt,subtype,tol", [("WAV", "PCM_16", 1e-3), ("WAV", "FLOAT", 1e-6),
                                             ("FLAC", "PCM_16", 1e-3),
                                             ("OGG", "VORBIS", 0.1)])
def test_files_of_each_format_read_and_resampled(tmp_path, fmt, subtype, tol):
    audio = tone(22050)
    path = tmp_path / f"a.{fmt.lower()}"
    soundfile.write(str(path), audio, 22050, format=fmt, subtype=subtype)
    out = load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - SR) <= 1
    assert abs(peak_hz(out, SR) - 440) <= 1.5
    # same samples as resampling what soundfile reads (the Vorbis codec is lossy)
    expect = resample(soundfile.read(str(path), dtype="float32")[0], 22050, SR)
    np.testing.assert_allclose(out, expect, atol=1e-6)
    np.testing.assert_allclose(out[200:-200], resample(audio, 22050, SR)[200:-200], atol=tol)
    # the same file given as bytes, and as a str path
    np.testing.assert_array_equal(load_audio(path.read_bytes()), out)
    np.testing.assert_array_equal(load_audio(str(path)), out)


def test_stereo_file_is_averaged_to_mono(tmp_path):
    left, right = tone(SR, freq=440), tone(SR, freq=1000, amp=0.25)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([left, right], axis=1), SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), (left + right) / 2, atol=1e-6)


def test_arrays_and_dicts():
    a = tone(SR)
    np.testing.assert_array_equal(load_audio(a), a)  # a bare array is taken to be at 16 kHz
    at_44k = tone(44100)
    for given in ({"raw": at_44k, "sampling_rate": 44100},
                  {"array": at_44k, "sampling_rate": 44100, "path": "x.wav"}):
        out = load_audio(given)
        assert abs(len(out) - SR) <= 1 and abs(peak_hz(out, SR) - 440) <= 1.5
    np.testing.assert_array_equal(load_audio(at_44k, input_rate=44100),
                                  load_audio({"raw": at_44k, "sampling_rate": 44100}))
    # (channels, samples) with 2 channels is averaged; int16 PCM is scaled
    np.testing.assert_allclose(load_audio(np.stack([a, 0 * a])), a / 2, atol=1e-7)
    pcm = (a * 32767).astype(np.int16)
    np.testing.assert_allclose(load_audio(pcm), a, atol=1e-4)
    np.testing.assert_array_equal(load_audio(list(a[:100])), a[:100])
    tf = pytest.importorskip("tensorflow")
    np.testing.assert_array_equal(load_audio(tf.constant(a)), a)


def test_silence_is_valid_audio():
    out = load_audio(np.zeros(SR, np.float32))
    assert out.shape == (SR,) and not out.any()


@pytest.mark.parametrize("bad,match", [
    (np.zeros(0, np.float32), "empty"),
    ({"raw": np.zeros(0), "sampling_rate": SR}, "empty"),
    (np.zeros((SR, 2), np.float32), r"transpose it"),
    (np.zeros((3, SR), np.float32), r"\(channels, samples\)"),
    (np.zeros((1, 2, SR), np.float32), "3 dimensions"),
    (np.array([0.1, np.nan]), "NaN"),
    (np.array(["a", "b"]), "dtype"),
    ({"raw": np.zeros(10)}, "sampling_rate"),
    ({"sampling_rate": SR}, "'raw'"),
    ({"raw": np.zeros(10), "sampling_rate": 0}, "positive"),
    ({"raw": np.zeros(10), "sampling_rate": "16k"}, "positive"),
    ({"raw": np.zeros(10), "sampling_rate": SR, "stride": (1, 1)}, "stride"),
    ({"raw": "file.wav", "sampling_rate": SR}, "array of samples"),
])
def test_bad_arrays_and_dicts(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        load_audio(bad)


def test_bad_rates():
    with pytest.raises(InvalidInputError, match="input_rate"):
        load_audio(np.zeros(10), input_rate=-5)
    with pytest.raises(InvalidInputError, match="sampling_rate"):
        load_audio(np.zeros(10), sampling_rate=0)


def test_files_that_are_not_audio_name_the_file(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all\n" * 10)
    with pytest.raises(InvalidInputError, match=r"notes\.wav.*not an audio file"):
        load_audio(text)
    with pytest.raises(InvalidInputError, match="the audio bytes: not an audio file"):
        load_audio(b"\x00\x01garbage" * 50)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_audio(tmp_path / "missing.flac")
    with pytest.raises(InvalidInputError, match="is a folder"):
        load_audio(tmp_path)
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, np.float32), SR)
    with pytest.raises(InvalidInputError, match=r"empty\.wav.*empty"):
        load_audio(empty)


def test_feature_extractor_rate_is_checked(caplog):
    pytest.importorskip("tensorflow")
    from tfhf.audio import WhisperFeatures

    fe = WhisperFeatures()
    with pytest.raises(InvalidInputError, match="44100 Hz.*expects 16000 Hz"):
        fe(tone(44100), sampling_rate=44100)
    with caplog.at_level("WARNING", logger="tfhf"):
        fe(tone(SR, 0.1))
        fe(tone(SR, 0.1))
    warnings = [r for r in caplog.records if "without sampling_rate" in r.getMessage()]
    assert len(warnings) == 1  # once per extractor
