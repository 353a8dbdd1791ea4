"""``pipeline("text-to-speech")`` (alias ``"text-to-audio"``): text -> ``{"audio": samples,
"sampling_rate": rate}`` with SpeechT5 and its HiFi-GAN vocoder, as transformers'
``TextToAudioPipeline``.

The vocoder is ``vocoder=`` (a tfhf ``TFSpeechT5HifiGan``, a folder or repo id; default
microsoft/speecht5_hifigan, transformers' default). The voice is
``forward_params={"speaker_embeddings": ...}`` per call, ``speaker_embeddings=`` for every
call, or ``speaker_embeddings.npy`` beside the checkpoint (see
:mod:`tfhf.models.speecht5.speakers`). Other ``forward_params`` / ``generate_kwargs`` go to
``generate_speech`` (``threshold``, ``minlenratio``, ``maxlenratio``, ``prenet_dropout``,
``seed``). Empty text and text longer than the model's ``max_text_positions`` are refused
with an :class:`~tfhf.errors.InvalidInputError` (not cut); a vocoder whose ``model_in_dim``
is not the model's ``num_mel_bins`` is a :class:`~tfhf.errors.ConfigError` when the pipeline
is made.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline

DEFAULT_VOCODER = "microsoft/speecht5_hifigan"
_GENERATE_KEYS = ("threshold", "minlenratio", "maxlenratio", "prenet_dropout", "seed",
                  "speaker_embeddings")


class TextToAudioPipeline(Pipeline):
    task = "text-to-speech"
    model_task = "text_to_spectrogram"

    def __init__(self, model, tokenizer=None, vocoder=None, sampling_rate=None,
                 speaker_embeddings=None, **kwargs):
        super().__init__(model, tokenizer, **kwargs)
        from ..models.speecht5.generate import check_vocoder
        from ..models.speecht5.hifigan import TFSpeechT5HifiGan

        if vocoder is None:
            vocoder = DEFAULT_VOCODER
        if isinstance(vocoder, (str, os.PathLike)):
            vocoder = TFSpeechT5HifiGan.from_pretrained(os.fspath(vocoder))
        check_vocoder(self.model, vocoder)  # a mismatch fails here, not at the first text
        self.vocoder = vocoder
        self.sampling_rate = sampling_rate or vocoder.config.sampling_rate
        self.speaker_embeddings = speaker_embeddings

    def _sanitize_parameters(self, preprocess_params=None, forward_params=None,
                             generate_kwargs=None):
        fwd = {**(forward_params or {}), **(generate_kwargs or {})}
        unknown = sorted(set(fwd) - set(_GENERATE_KEYS))
        if unknown:
            raise InvalidInputError(f"The text-to-speech pipeline got unknown forward_params "
                                    f"{unknown}; it accepts {list(_GENERATE_KEYS)}.")
        return dict(preprocess_params or {}), fwd, {}

    def preprocess(self, text, **params):
        if not isinstance(text, str):
            raise InvalidInputError(f"The text-to-speech pipeline reads text (a str or a list "
                                    f"of str); got {type(text).__name__}.")
        if not text.strip():
            raise InvalidInputError("The text to read is empty: pass some words to say.")
        enc = self.tokenize(text, **params)
        limit = self.model.config.max_text_positions
        if enc["input_ids"].shape[1] > limit:
            raise InvalidInputError(
                f"The text is {enc['input_ids'].shape[1]} tokens long; this SpeechT5 model reads "
                f"at most {limit} (max_text_positions). tfhf refuses rather than cutting the "
                "text: split it into sentences and read them one by one.")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def model_inputs_of(self, batch):
        return {k: batch[k] for k in ("input_ids", "attention_mask")}

    def _forward(self, model_inputs, **params):
        params = dict(params)
        speakers = params.pop("speaker_embeddings", None)
        if speakers is None:
            speakers = self.speaker_embeddings
        wave, lengths = self.model.generate_speech(
            np.asarray(model_inputs["input_ids"], np.int32), speakers,
            attention_mask=model_inputs["attention_mask"], vocoder=self.vocoder,
            return_output_lengths=True, **params)
        return {"audio": np.asarray(wave, np.float32)}

    def postprocess(self, outputs, **params):
        return {"audio": np.asarray(outputs["audio"]).squeeze(), "sampling_rate":
                self.sampling_rate}
