"""The curated audio tools (see :mod:`tfhf.agents.registry`).

==============  ===============  ===============================================================
task            tool name        how
==============  ===============  ===============================================================
speech-to-text  ``transcriber``  ``tfhf.pipeline("automatic-speech-recognition")`` on a Whisper
                                 checkpoint (default openai/whisper-base, as transformers'
                                 original tool); greedy decoding, as that tool did
text-to-speech  ``text_reader``  ``tfhf.pipeline("text-to-speech")``: SpeechT5 (default
                                 microsoft/speecht5_tts) + its HiFi-GAN vocoder (``post_processor``,
                                 default microsoft/speecht5_hifigan); returns 16 kHz AgentAudio
==============  ===============  ===============================================================

The tool loads from a folder or Hub repo id (``model_repo_id`` / ``model=``), a CTranslate2
Whisper folder, or an offline asset (``"asset:whisper-tiny-en"``). Its ``audio`` input is an
:class:`~tfhf.agents.AgentAudio` (its sample rate is used), a path to an audio file, file bytes, a
1-D array of 16 kHz samples, or ``{"raw": samples, "sampling_rate": rate}``; the transcript
is returned without the leading space Whisper's tokens carry.

The reader's voice is ``speaker_embeddings=`` (512 floats, a ``.npy`` path) or
``speaker_embeddings.npy`` beside the checkpoint (transformers' original tool downloaded an
x-vector data set from the Hub instead); without one it raises an error saying so. Text longer
than the model's positions is refused (the error says to split it), not cut.
"""

from __future__ import annotations

import os

from ..errors import InvalidInputError
from .agent_types import AgentAudio, AgentText
from .tools import PipelineTool

__all__ = ["SpeechToTextTool", "TextToSpeechTool"]


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


class TextToSpeechTool(PipelineTool):
    name = "text_reader"
    description = ("This is a tool that reads an English text out loud. It takes an input named "
                   "`text` which should contain the text to read (in English) and returns a "
                   "waveform object containing the sound.")
    example = "speech = text_reader(text=summary)"
    inputs = {"text": {"type": "text", "description": "The text to read out loud (in English)"}}
    output_type = "audio"
    model_class = "TFAutoModelForTextToSpectrogram"
    default_checkpoint = "microsoft/speecht5_tts"
    default_vocoder = "microsoft/speecht5_hifigan"
    pipeline_task = "text-to-speech"

    def __init__(self, model=None, pre_processor=None, post_processor=None, device=None,
                 model_kwargs=None, token=None, speaker_embeddings=None, **hub_kwargs):
        super().__init__(model, pre_processor, post_processor, device, model_kwargs, token,
                         **hub_kwargs)
        self.speaker_embeddings = speaker_embeddings

    def setup(self):
        from ..pipelines import pipeline
        from .tools.pipeline import resolve_model_spec

        model = self.model
        if isinstance(model, (str, os.PathLike)):
            model, _ = resolve_model_spec(model)
        vocoder = self.post_processor if self.post_processor is not None else \
            self.default_vocoder
        if isinstance(vocoder, (str, os.PathLike)):
            vocoder, _ = resolve_model_spec(vocoder)
        # pre_processor: the tokenizer (a folder / repo id or an object; default the model's)
        self.pipeline = pipeline("text-to-speech", model=model, tokenizer=self.pre_processor,
                                 vocoder=vocoder, speaker_embeddings=self.speaker_embeddings,
                                 token=self.hub_kwargs.get("token"),
                                 model_kwargs=dict(self.model_kwargs) or None,
                                 device=self.device)
        self.is_initialized = True

    def __call__(self, text):
        if not isinstance(text, str):
            raise InvalidInputError(f"'text' must be a str (the text to read); got "
                                    f"{type(text).__name__}.")
        result = self.run_pipeline(text)
        return AgentAudio(result["audio"], samplerate=result["sampling_rate"])
