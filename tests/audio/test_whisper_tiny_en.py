"""Real weights: Whisper tiny.en (the offline asset ``whisper-tiny-en``, CTranslate2 format,
converted to HF names by tfhf) transcribes English sentences synthesized with espeak-ng at a word
error rate <= 20% through tfhf's automatic-speech-recognition pipeline (the same texts as
transformers' PyTorch pipeline on the converted checkpoint, greedy), from WAV, FLAC and OGG files;
the feature extractor equals transformers' on that speech.

The three sentences are the first three of scripts/eval_whisper_wer.py (greedy WER 7/36 here;
over all 20 sentences tiny.en's greedy WER is about 25%, the same in PyTorch: espeak-ng's voice is
hard for the smallest English Whisper)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from tfhf import assets
from tfhf.audio import WhisperFeatures, load_audio, word_error_rate

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "I would like a cup of coffee with milk and two sugars.",
]


@pytest.fixture(scope="module")
def espeak():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng) to synthesize speech")
    return shutil.which("espeak-ng")


@pytest.fixture(scope="module")
def recordings(espeak, tmp_path_factory):
    folder = tmp_path_factory.mktemp("espeak")
    paths = []
    for i, text in enumerate(SENTENCES):
        path = folder / f"s{i}.wav"
        subprocess.run([espeak, "-w", str(path), text], check=True, capture_output=True)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def tiny_en(tmp_path_factory):
    if not assets.is_installed("whisper-tiny-en"):
        pytest.skip("offline asset 'whisper-tiny-en' is not installed: run "
                    "`tfhf assets install whisper-tiny-en`")
    from tfhf.models.whisper import convert_ct2_to_hf

    out = tmp_path_factory.mktemp("whisper-tiny-en-hf")
    convert_ct2_to_hf(assets.path("whisper-tiny-en"), str(out))
    return str(out)


def test_features_of_espeak_speech_equal_transformers(recordings):
    transformers = pytest.importorskip("transformers")
    speech = load_audio(recordings[1])
    ref = transformers.WhisperFeatureExtractor()(speech, sampling_rate=16000,
                                                 return_tensors="np")["input_features"]
    ours = WhisperFeatures()(speech, sampling_rate=16000)["input_features"].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_tiny_en_transcribes_espeak_sentences(tiny_en, recordings, tmp_path):
    import soundfile

    import tfhf

    pipe = tfhf.pipeline("automatic-speech-recognition", model=tiny_en)
    texts = [r["text"] for r in pipe([str(p) for p in recordings],
                                     generate_kwargs={"num_beams": 1})]
    wer = word_error_rate(SENTENCES, texts)
    assert wer <= 0.20, (wer, texts)
    # the same texts as transformers' PyTorch pipeline on the same checkpoint
    import transformers

    reference = transformers.pipeline("automatic-speech-recognition", model=tiny_en)
    assert texts == [reference(load_audio(p), generate_kwargs={"num_beams": 1})["text"]
                     for p in recordings]
    # the same speech as FLAC and OGG/Vorbis files gives the same words back
    data, rate = soundfile.read(str(recordings[0]))
    for fmt, sub in (("flac", "PCM_16"), ("ogg", "VORBIS")):
        path = tmp_path / f"s0.{fmt}"
        soundfile.write(str(path), data, rate, subtype=sub)
        text = pipe(path, generate_kwargs={"num_beams": 1})["text"]
        assert word_error_rate(SENTENCES[0], text) <= 0.2, (fmt, text)
    # silence: no crash, (almost) nothing said
    silent = pipe(np.zeros(16000 * 2, np.float32), generate_kwargs={"num_beams": 1})["text"]
    assert len(silent.split()) <= 3, silent
