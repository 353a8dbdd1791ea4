"""The text-to-speech tool ("text_reader"): ``load_tool("text-to-speech")`` on a tiny SpeechT5
checkpoint + vocoder returns an AgentAudio that saves as a 16 kHz WAV of the expected length;
an agent with a scripted LLM chains a text tool -> text_reader -> transcriber across
``agent.chat`` turns, the transcriber being the real Whisper tiny.en (offline asset) hearing an
espeak-ng recording of the same sentence (tiny random SpeechT5 weights cannot speak). Without
those assets (a fresh CI machine) the same chain runs on a tiny random Whisper."""

from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import ScriptedLLM, code_reply

pytest.importorskip("torch")
pytest.importorskip("sentencepiece")
sys.path.insert(0, str(Path(__file__).parents[1] / "audio"))
from tiny_speecht5 import expected_samples, make_tiny_speecht5  # noqa: E402
from tiny_whisper import make_tiny_whisper  # noqa: E402

from tfhf import assets  # noqa: E402
from tfhf.agents import Agent, AgentAudio, load_tool, tool  # noqa: E402
from tfhf.agents.audio_tools import SpeechToTextTool, TextToSpeechTool  # noqa: E402
from tfhf.agents.registry import TOOL_REGISTRY  # noqa: E402
from tfhf.audio import word_error_rate  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

SENTENCE = "This is a text to speech tool"
# tiny.en hears espeak-ng say this one right ("text to speech tool" comes back as "speak to all")
SPOKEN = "Read the summary out loud."


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_tiny_speecht5(tmp_path_factory.mktemp("tts"))


@pytest.fixture(scope="module")
def reader(folders):
    tts, voc = folders
    voice = str(Path(tts) / "speaker_embeddings.npy")  # also the default; given here as a path
    return load_tool("text-to-speech", model_repo_id=tts, pre_processor=tts, post_processor=voc,
                     speaker_embeddings=voice)


def test_load_tool_reads_text_into_a_wav(reader, tmp_path):
    spec = TOOL_REGISTRY["text-to-speech"]
    assert spec.available and spec.default_checkpoint == "microsoft/speecht5_tts"
    for alias in ("text_reader", "text_to_speech"):
        t = load_tool(alias)
        assert isinstance(t, TextToSpeechTool) and not t.is_initialized
    fresh = TextToSpeechTool()  # nothing loads before a call
    assert fresh.name == "text_reader" and fresh.model == "microsoft/speecht5_tts"
    assert fresh.default_vocoder == "microsoft/speecht5_hifigan"
    assert fresh.description.startswith("This is a tool that reads an English text out loud.")
    assert isinstance(reader, TextToSpeechTool)
    audio = reader("This is a text to speech tool")
    assert reader.pipeline.speaker_embeddings.endswith("speaker_embeddings.npy")
    assert isinstance(audio, AgentAudio) and audio.samplerate == 16000
    n = len(reader.pipeline.tokenizer(SENTENCE)["input_ids"])
    with wave.open(audio.to_string(), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() == expected_samples(n)  # ~10 s: the tiny model runs to maxlen
    assert audio.save(tmp_path / "read.flac").endswith("read.flac")
    assert audio._repr_html_().startswith("<audio controls src=\"data:audio/wav;base64,")
    with pytest.raises(InvalidInputError, match="empty"):
        reader("")
    with pytest.raises(InvalidInputError, match="max_text_positions"):
        reader("read it out loud please " * 4)


@tool
def make_sentence(topic: str) -> str:
    """Writes one sentence about a topic.

    Args:
        topic: what the sentence is about
    """
    return f"Read the {topic} out loud."


def test_agent_chains_text_reader_and_transcriber(reader, tmp_path):
    if not assets.is_installed("whisper-tiny-en"):
        pytest.skip("offline asset 'whisper-tiny-en' is not installed: run "
                    "`tfhf assets install whisper-tiny-en`")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    recording = tmp_path / "espeak.wav"
    subprocess.run(["espeak-ng", "-w", str(recording), SPOKEN], check=True,
                   capture_output=True)
    transcriber = SpeechToTextTool(model="asset:whisper-tiny-en",
                                   generate_kwargs={"max_new_tokens": 30})
    llm = ScriptedLLM(
        "I write the sentence and read it.\n```py\n"
        "sentence = make_sentence(topic='summary')\nspeech = text_reader(text=sentence)\n"
        "speech\n```",
        "I transcribe both recordings.\n```py\nheard_reader = transcriber(audio=speech)\n"
        "heard = transcriber(audio=recording)\nheard\n```")
    agent = Agent(llm=llm, additional_tools=[make_sentence, reader, transcriber],
                  default_tools=False, log=lambda *a: None)
    speech = agent.chat("Ask to read the summary, out loud.")
    assert isinstance(speech, AgentAudio) and speech.samplerate == 16000
    assert agent.chat_state["sentence"] == SPOKEN
    n = len(reader.pipeline.tokenizer(SPOKEN)["input_ids"])
    with wave.open(speech.to_string(), "rb") as w:  # a valid 16 kHz WAV of the expected length
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == \
            (16000, 1, expected_samples(n))
    assert "- text_reader" in llm.prompts[0] and reader.description in llm.prompts[0]
    heard = agent.chat("Transcribe it and the `recording`.", recording=AgentAudio(recording))
    assert word_error_rate([SPOKEN], [str(heard)]) <= 0.2, heard
    # the reader's audio went through the chat state into the transcriber
    assert isinstance(agent.chat_state["heard_reader"], str)
    assert np.asarray(agent.chat_state["speech"].to_raw()).shape[0] == expected_samples(n)


def test_agent_chain_with_a_tiny_transcriber(reader, tmp_path):
    """text tool -> text_reader -> transcriber in one run, on no offline asset: the transcriber
    gets the reader's 16 kHz AgentAudio unchanged (its transcript equals the tool's own on that
    audio)."""
    whisper = make_tiny_whisper(tmp_path / "tiny-whisper", multilingual=False)
    transcriber = SpeechToTextTool(model=whisper, generate_kwargs={"max_new_tokens": 8})
    llm = ScriptedLLM(code_reply(
        "sentence = make_sentence(topic='summary')\nspeech = text_reader(text=sentence)\n"
        "heard = transcriber(audio=speech)\nheard"))
    agent = Agent(llm=llm, additional_tools=[make_sentence, reader, transcriber],
                  default_tools=False, log=lambda *a: None)
    heard = agent.run("Read the summary out loud and transcribe it.")
    speech = agent.last_state["speech"]
    assert isinstance(speech, AgentAudio) and speech.samplerate == 16000
    n = len(reader.pipeline.tokenizer(SPOKEN)["input_ids"])
    assert np.asarray(speech.to_raw()).shape == (expected_samples(n),)
    assert isinstance(heard, str) and heard == transcriber(speech)
