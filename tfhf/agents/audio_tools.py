"""The curated audio tools (see :mod:`tfhf.agents.registry`).

==============  ===============  ===============================================================
task            tool name        how
==============  ===============  ===============================================================
speech-to-text  ``transcriber``  ``tfhf.pipeline("automatic-speech-recognition")`` on a Whisper
                                 checkpoint (default openai/whisper-base, as transformers'
                                 original tool); greedy decoding, as that tool did
==============  ===============  ===============================================================

The tool loads from a folder or Hub repo id (``model_repo_id`` / ``model=``), a CTranslate2
Whisper folder, or an offline asset (``"asset:whisper-tiny-en"``). Its ``audio`` input is an
:class:`~tfhf.agents.AgentAudio` (its sample rate is used), a path to an audio file, file bytes, a
1-D array of 16 kHz samples, or ``{"raw": samples, "sampling_rate": rate}``; the transcript
is returned without the leading space Whisper's tokens carry.
"""

from __future__ import annotations

import os

from ..errors import InvalidInputError
from .agent_types import AgentAudio, AgentText
from .tools import PipelineTool

__all__ = ["SpeechToTextTool"]


def _audio_input(audio):
    """What the ASR pipeline reads, from an agent's ``audio`` value."""
    if isinstance(audio, AgentAudio):
        if audio._samples is None and audio._path is not None:
            return audio._path
        samples = audio.to_raw()
        if samples.ndim == 2:  # AgentAudio holds (frames, channels)
            samples = samples.T
        return {"raw": samples, "sampling_rate": audio.samplerate}
    if isinstance(audio, (str, os.PathLike, bytes, bytearray, dict)) or hasattr(audio, "shape") \
            or isinstance(audio, (list, tuple)):
        return audio
    raise InvalidInputError(f"'audio' must be audio (an AgentAudio, a file path, file bytes, an "
                            f"array of 16 kHz samples or a dict); got {type(audio).__name__}.")


class SpeechToTextTool(PipelineTool):
    name = "transcriber"
    description = ("This is a tool that transcribes an audio into text. It takes an input named "
                   "`audio` and returns the transcribed text. Use it first on an audio variable; "
                   "the text tools then work on the transcript.")
    example = "transcript = transcriber(audio=recording)"
    inputs = {"audio": {"type": "audio", "description": "The audio to transcribe"}}
    output_type = "text"
    model_class = "TFAutoModelForSpeechSeq2Seq"
    default_checkpoint = "openai/whisper-base"
    pipeline_task = "automatic-speech-recognition"

    def __init__(self, model=None, pre_processor=None, post_processor=None, device=None,
                 model_kwargs=None, token=None, generate_kwargs=None, **hub_kwargs):
        super().__init__(model, pre_processor, post_processor, device, model_kwargs, token,
                         **hub_kwargs)
        self.generate_kwargs = {"num_beams": 1, **(generate_kwargs or {})}

    def __call__(self, audio):
        result = self.run_pipeline(_audio_input(audio),
                                   generate_kwargs=dict(self.generate_kwargs))
        return AgentText(result["text"].strip())
