"""The speech-to-text tool ("transcriber"): in an agent run with a scripted LLM on a tiny local
Whisper checkpoint, its transcript equals transformers' PyTorch Whisper (greedy ``generate`` +
``batch_decode``, what transformers' original tool did) on the same audio; registry entry, bad
inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ScriptedLLM, code_reply

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parents[1] / "audio"))
from tiny_whisper import make_tiny_whisper  # noqa: E402

from tfhf.agents import Agent, AgentAudio, load_tool  # noqa: E402
from tfhf.agents.audio_tools import SpeechToTextTool  # noqa: E402
from tfhf.agents.registry import TOOL_REGISTRY, default_toolbox  # noqa: E402
from tfhf.audio import resample  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402


@pytest.fixture(scope="module")
def whisper_folder(tmp_path_factory):
    return make_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"), multilingual=False)


def speech(rate, seconds=2.0):
    t = np.arange(int(rate * seconds)) / rate
    rs = np.random.RandomState(1)
    return (0.4 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)
            + 0.02 * rs.randn(len(t))).astype(np.float32)


def reference_transcript(folder, samples_16k):
    import torch
    import transformers

    processor = transformers.WhisperProcessor.from_pretrained(folder)
    model = transformers.WhisperForConditionalGeneration.from_pretrained(folder).eval()
    features = processor(samples_16k, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        ids = model.generate(features, num_beams=1, max_new_tokens=20)
    return processor.batch_decode(ids, skip_special_tokens=True)[0].strip()


def test_agent_transcribes_with_the_tool(whisper_folder):
    tool = SpeechToTextTool(model=whisper_folder, generate_kwargs={"max_new_tokens": 20})
    llm = ScriptedLLM(code_reply("text = transcriber(audio=audio)\nprint(text)\ntext"))
    logs = []
    agent = Agent(llm=llm, additional_tools=[tool], default_tools=False, log=logs.append)
    audio = AgentAudio(speech(22050), samplerate=22050)
    result = agent.run("Transcribe the `audio`.", audio=audio)
    expected = reference_transcript(whisper_folder, resample(speech(22050), 22050, 16000))
    assert expected  # the tiny model says something
    assert result == expected
    assert "- transcriber" in llm.prompts[0] and tool.description in llm.prompts[0]
    assert "Inputs: audio (audio): The audio to transcribe" in llm.prompts[0]
    # the same audio as a WAV file on disk, and as a dict with its rate
    path = audio.to_string()
    assert tool(AgentAudio(path)) == expected
    assert tool({"raw": speech(22050), "sampling_rate": 22050}) == expected


def test_registry_and_load_tool(whisper_folder):
    spec = TOOL_REGISTRY["speech-to-text"]
    assert spec.available and spec.default_checkpoint == "openai/whisper-base"
    assert "transcriber" in default_toolbox()
    for name in ("speech-to-text", "transcriber"):
        tool = load_tool(name, model_repo_id=whisper_folder)
        assert isinstance(tool, SpeechToTextTool) and tool.model == whisper_folder
    assert SpeechToTextTool().model == "openai/whisper-base"  # nothing loads before a call


def test_bad_audio_is_explained(whisper_folder, tmp_path):
    tool = SpeechToTextTool(model=whisper_folder)
    with pytest.raises(InvalidInputError, match="'audio' must be audio"):
        tool(12)
    bad = tmp_path / "notes.txt"
    bad.write_text("not audio")
    with pytest.raises(InvalidInputError, match=r"notes\.txt.*not an audio file"):
        tool(str(bad))
    with pytest.raises(InvalidInputError, match="empty"):
        tool(AgentAudio(np.zeros(0, np.float32)))
