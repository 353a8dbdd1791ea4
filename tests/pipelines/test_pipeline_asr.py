"""automatic-speech-recognition: tfhf's pipeline on a tiny random Whisper gives the text of
transformers' PyTorch ASR pipeline on the same audio (greedy; language detection, language /
task prompts, 30 s windows with overlap merging, batching, forced_decoder_ids of real
checkpoints), and clear errors for bad inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parents[1] / "audio"))
from tiny_whisper import make_tiny_whisper  # noqa: E402

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

SR = 16000
GREEDY = {"num_beams": 1, "max_new_tokens": 10}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return {"multi": make_tiny_whisper(tmp_path_factory.mktemp("whisper-multi")),
            "en": make_tiny_whisper(tmp_path_factory.mktemp("whisper-en"), multilingual=False,
                                    seed=1)}


@pytest.fixture(scope="module")
def pipes(folders):
    return {k: tfhf.pipeline("automatic-speech-recognition", model=v) for k, v in folders.items()}


@pytest.fixture(scope="module")
def references(folders):
    import transformers

    return {k: transformers.pipeline("automatic-speech-recognition", model=v)
            for k, v in folders.items()}


def sound(seconds, seed=0, freq=300.0):
    rs = np.random.RandomState(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t) * (1 + np.sin(2 * np.pi * 0.7 * t))
            + 0.05 * rs.randn(len(t))).astype(np.float32)


@pytest.mark.parametrize("kind,kwargs", [
    ("multi", {}),                                       # language detected, as transformers
    ("multi", {"language": "fr"}),                       # + transcribe
    ("multi", {"language": "german", "task": "transcribe"}),
    ("en", {}),
])
def test_short_audio_equals_transformers(pipes, references, kind, kwargs):
    audio = sound(3.0)
    gen = {**GREEDY, **kwargs}
    expected = references[kind](audio.copy(), generate_kwargs=gen)
    got = pipes[kind](audio, generate_kwargs=gen)
    assert got == expected and expected["text"]
    # generation options as plain keywords too
    assert pipes[kind](audio, **gen) == expected


def test_long_audio_in_windows_equals_transformers(pipes, references):
    audio = np.concatenate([sound(25, seed=1), sound(25, seed=2, freq=500),
                            sound(20, seed=3, freq=800)])  # 70 s -> 3 windows of 30 s
    expected = references["en"](audio.copy(), chunk_length_s=30, ignore_warning=True,
                                generate_kwargs=GREEDY)
    got = pipes["en"](audio, chunk_length_s=30, generate_kwargs=GREEDY, batch_size=2)
    assert got == expected and expected["text"]
    # without chunk_length_s, long audio is windowed the same way (and a warning says so)
    assert pipes["en"](audio, generate_kwargs=GREEDY) == expected


def test_inputs_of_every_kind_and_batches(pipes, tmp_path):
    import soundfile

    pipe = pipes["en"]
    audio = sound(2.0, seed=4)
    at_44k = tfhf.audio.resample(audio, SR, 44100)
    path = tmp_path / "a.flac"
    soundfile.write(str(path), at_44k, 44100, subtype="PCM_24")
    expected = pipe({"raw": at_44k, "sampling_rate": 44100}, generate_kwargs=GREEDY)
    for given in (path, str(path), path.read_bytes(), {"array": at_44k, "sampling_rate": 44100}):
        assert pipe(given, generate_kwargs=GREEDY) == expected
    # a list gives a list; batching does not change the results
    inputs = [sound(1.0, seed=s) for s in range(3)]
    one_by_one = [pipe(x, generate_kwargs=GREEDY) for x in inputs]
    assert pipe(inputs, batch_size=2, generate_kwargs=GREEDY) == one_by_one
    # silence transcribes to whatever the model says, without error
    assert isinstance(pipe(np.zeros(SR, np.float32), generate_kwargs=GREEDY)["text"], str)


def test_default_generation_options_are_transformers(pipes, monkeypatch):
    """Options neither the call nor the generation config sets get transformers' ASR defaults
    (max_new_tokens=256, num_beams=5); the call's options win; the prompt comes from the
    generation config and the checkpoint's forced_decoder_ids are not applied twice."""
    pipe = pipes["multi"]
    calls = []

    def fake_generate(**kwargs):
        calls.append(kwargs)
        return np.concatenate([kwargs["decoder_input_ids"], [[50, 60, 0]]], axis=1)

    monkeypatch.setattr(pipe.model, "generate", fake_generate)
    audio = sound(1.0)
    pipe(audio, language="de")
    pipe(audio, generate_kwargs={"num_beams": 2, "max_length": 20, "language": "fr"})
    ids = pipe.hf_tokenizer.convert_tokens_to_ids(["<|startoftranscript|>", "<|de|>", "<|fr|>",
                                     "<|transcribe|>", "<|notimestamps|>"])
    first, second = calls
    # the generation config's max_length (64; Whisper checkpoints have 448) keeps
    # max_new_tokens=256 out, as in transformers
    assert first["num_beams"] == 5 and "max_new_tokens" not in first
    assert first["decoder_input_ids"].tolist() == [[ids[0], ids[1], ids[3], ids[4]]]
    assert first["forced_decoder_ids"] == []
    assert second["num_beams"] == 2 and second["max_length"] == 20
    pipe.model.generation_config.max_length = None
    try:
        pipe(audio)
    finally:
        pipe.model.generation_config.max_length = 64
    assert calls[-1]["max_new_tokens"] == 256 and calls[-1]["num_beams"] == 5
    assert second["decoder_input_ids"].tolist() == [[ids[0], ids[2], ids[3], ids[4]]]


@pytest.mark.parametrize("audio,kwargs,match", [
    (np.zeros(0, np.float32), {}, "empty"),
    (np.zeros((SR, 2), np.float32), {}, "transpose"),
    (b"definitely not audio", {}, "the audio bytes: not an audio file"),
    ({"raw": np.zeros(SR)}, {}, "sampling_rate"),
    (np.zeros(SR, np.float32), {"language": "xx-klingon"}, "Unknown language"),
    (np.zeros(SR, np.float32), {"language": "frnch"}, "did you mean 'french'"),
    (np.zeros(SR, np.float32), {"task": "summarize"}, "transcribe"),
    (np.zeros(SR, np.float32), {"return_timestamps": True}, "return_timestamps"),
    (np.zeros(SR, np.float32), {"chunk_length_s": 5, "stride_length_s": 3},
     "longer than the two strides"),
    (np.zeros(SR, np.float32), {"decoder_input_ids": [[1]]}, "language="),
    (np.zeros(SR, np.float32), {"num_return_sequences": 2}, "one text per audio"),
])
def test_bad_inputs(pipes, audio, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        pipes["multi"](audio, **kwargs)


def test_english_only_model_refuses_other_languages(pipes, tmp_path):
    pipe = pipes["en"]
    audio = sound(1.0)
    base = pipe(audio, generate_kwargs=GREEDY)
    assert pipe(audio, generate_kwargs={**GREEDY, "language": "en", "task": "transcribe"}) == base
    with pytest.raises(InvalidInputError, match="English-only"):
        pipe(audio, generate_kwargs={**GREEDY, "language": "fr"})
    with pytest.raises(InvalidInputError, match="English-only"):
        pipe(audio, generate_kwargs={**GREEDY, "task": "translate"})
    bad = tmp_path / "speech.mp4"
    bad.write_text("<html>not audio</html>")
    with pytest.raises(InvalidInputError, match=r"speech\.mp4.*not an audio file"):
        pipe(bad)


def test_feature_extractor_refuses_another_rate(pipes):
    fe = pipes["en"].feature_extractor
    with pytest.raises(InvalidInputError, match="44100 Hz"):
        fe(np.zeros(SR, np.float32), sampling_rate=44100)


def test_non_whisper_model_is_refused(checkpoint):
    folder = checkpoint("bert", "text-classification")
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(folder)
    with pytest.raises(InvalidInputError, match="speech_seq2seq"):
        tfhf.pipeline("automatic-speech-recognition", model=model, tokenizer=folder)
