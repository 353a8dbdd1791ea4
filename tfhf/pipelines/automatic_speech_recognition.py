"""``automatic-speech-recognition``: Whisper (tfhf's ``TFAutoModelForSpeechSeq2Seq``) on audio
files, bytes, arrays and dicts, as transformers' ASR pipeline does for Whisper.

* Inputs: a path, file bytes, a 1-D array at the feature extractor's rate (16 kHz), a
  ``(channels, samples)`` array with 1-2 channels (averaged), or ``{"raw" | "array": samples,
  "sampling_rate": rate}`` (resampled); see :func:`tfhf.audio.load_audio`. A list of them
  gives a list of results; ``batch_size`` windows go through ``generate`` together.
* Result: ``{"text": ...}``.
* Long audio: ``chunk_length_s=30`` cuts the audio into windows of that length overlapping by
  ``stride_length_s`` (default ``chunk_length_s / 6`` on each side), transcribes each window
  and stitches the token sequences where they overlap (:mod:`tfhf.audio.chunking`; the same
  windows and merge as transformers). Audio longer than one window (30 s) without
  ``chunk_length_s`` is chunked the same way with ``chunk_length_s=30`` (transformers would run
  Whisper's sequential long-form decoding, which tfhf does not implement) and a warning says so.
* Generation: ``generate_kwargs={...}`` or plain keywords (``max_new_tokens``, ``num_beams``,
  ``do_sample``...). Options neither the call nor the model's generation config sets default to
  transformers' ASR defaults ``max_new_tokens=256, num_beams=5``; pass ``num_beams=1`` for
  greedy decoding. ``language`` (a code ``"fr"``, a name ``"french"`` or a token ``"<|fr|>"``)
  and ``task`` (``"transcribe"`` / ``"translate"``) choose Whisper's prompt on multilingual
  models; without ``language`` the language is detected per window, as transformers does. An
  English-only model (``*.en``) accepts only ``language="en"`` and ``task="transcribe"``
  (which change nothing); anything else is an error (transformers raises for both).
* The decoder prompt (``<|startoftranscript|> <|lang|> <|task|> <|notimestamps|>``) is built
  here from the generation config (``lang_to_id``, ``task_to_id``, ``no_timestamps_token_id``,
  or the older ``forced_decoder_ids``) and passed as ``decoder_input_ids``; the generation
  config's ``suppress_tokens`` / ``begin_suppress_tokens`` apply in ``generate``.
* Not supported (an error says so): ``return_timestamps`` and ``return_language``.
"""

from __future__ import annotations

import difflib
import logging
import os

import numpy as np

from ..errors import InvalidInputError
from .base import Pipeline, with_generation_defaults

logger = logging.getLogger("tfhf")

TASKS = ("transcribe", "translate")


def _generation_config(model):
    from ..generation import model_generation_config

    return model_generation_config(model)


def feature_extractor_for(model, feature_extractor=None):
    """A :class:`tfhf.audio.WhisperFeatures` for ``model``: the given one (a WhisperFeatures, a
    transformers WhisperFeatureExtractor or a folder), else the model folder's
    ``preprocessor_config.json``, else Whisper's defaults with the model's ``num_mel_bins``."""
    from ..audio.features import WhisperFeatures

    if isinstance(feature_extractor, WhisperFeatures):
        return feature_extractor
    params = None
    if isinstance(feature_extractor, (str, os.PathLike)):
        params = _read_preprocessor_config(os.fspath(feature_extractor))
        if params is None:
            raise InvalidInputError(f"feature_extractor='{os.fspath(feature_extractor)}' has no "
                                    "readable preprocessor_config.json.")
    elif feature_extractor is not None:
        if not hasattr(feature_extractor, "feature_size"):
            raise InvalidInputError(
                "feature_extractor must be a tfhf.audio.WhisperFeatures, a transformers "
                f"WhisperFeatureExtractor or a folder; got {type(feature_extractor).__name__}.")
        params = {k: getattr(feature_extractor, k) for k in
                  ("feature_size", "sampling_rate", "hop_length", "chunk_length", "n_fft")
                  if hasattr(feature_extractor, k)}
    else:
        folder = getattr(model, "name_or_path", None)
        if isinstance(folder, str) and os.path.isdir(folder):
            params = _read_preprocessor_config(folder)
    if params is None:
        params = {"feature_size": getattr(model.config, "num_mel_bins", 80)}
    return WhisperFeatures(**params)


def _read_preprocessor_config(folder):
    import json

    path = os.path.join(folder, "preprocessor_config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as e:
        raise InvalidInputError(f"Cannot read '{path}': {e}") from None
    return {k: data[k] for k in ("feature_size", "sampling_rate", "hop_length", "chunk_length",
                                 "n_fft") if k in data}


# ---------------------------------------------------------------------- Whisper prompts
def _language_id(gen_config, language):
    """A language code / name / token -> its token id in ``gen_config.lang_to_id``."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES, TO_LANGUAGE_CODE

    lang_to_id = dict(getattr(gen_config, "lang_to_id", None) or {})
    if not isinstance(language, str):
        raise InvalidInputError(f"language must be a string such as 'en', 'french' or "
                                f"'<|fr|>', got {language!r}.")
    key = language.strip().lower()
    if key in lang_to_id:
        token = key
    elif key in TO_LANGUAGE_CODE:
        token = f"<|{TO_LANGUAGE_CODE[key]}|>"
    elif key in LANGUAGES:
        token = f"<|{key}|>"
    else:
        known = sorted(set(LANGUAGES) | set(TO_LANGUAGE_CODE))
        close = difflib.get_close_matches(key, known, n=3)
        raise InvalidInputError(
            f"Unknown language {language!r} for Whisper"
            + (f"; did you mean {', '.join(map(repr, close))}?" if close else ".")
            + " Give a code ('fr'), an English name ('french') or a token ('<|fr|>').")
    if token not in lang_to_id:
        raise InvalidInputError(f"language {language!r} ({token}) is not among this model's "
                                f"{len(lang_to_id)} languages (generation_config.lang_to_id).")
    return int(lang_to_id[token])


def _is_multilingual(gen_config):
    value = getattr(gen_config, "is_multilingual", None)
    if value is not None:
        return bool(value)
    return bool(getattr(gen_config, "lang_to_id", None))


def whisper_prompt_ids(model, gen_config, input_features, language=None, task=None):
    """The decoder prompt rows ``(batch, n)`` for Whisper (see the module docstring)."""
    batch = int(input_features.shape[0])
    start = gen_config.decoder_start_token_id
    if start is None:
        raise InvalidInputError("The model's generation config has no decoder_start_token_id "
                                "(<|startoftranscript|>).")
    multilingual = _is_multilingual(gen_config)
    if not multilingual:
        if language is not None and str(language).strip().lower() not in (
                "en", "english", "<|en|>"):
            raise InvalidInputError(f"language={language!r}: this Whisper model is "
                                    "English-only (is_multilingual is false); use a multilingual"
                                    " checkpoint (e.g. openai/whisper-base) for other languages.")
        if task is not None and task != "transcribe":
            raise InvalidInputError(f"task={task!r}: this Whisper model is English-only and can "
                                    "only transcribe; use a multilingual checkpoint to translate.")
        language = task = None
    if task is not None and task not in TASKS:
        raise InvalidInputError(f"task={task!r}: Whisper's tasks are 'transcribe' and "
                                "'translate'.")

    prompt = [int(start)]
    if language is None and task is None:  # the checkpoint's (older) forced_decoder_ids
        forced = getattr(gen_config, "forced_decoder_ids", None) or \
            getattr(model.config, "forced_decoder_ids", None) or []
        for position, token in sorted((int(p), t) for p, t in forced):
            if position != len(prompt):
                break
            prompt.append(None if token is None else int(token))
    rows = [list(prompt) for _ in range(batch)]

    lang_ids = None
    if language is not None:
        lang_ids = [_language_id(gen_config, language)] * batch
    elif multilingual and getattr(gen_config, "lang_to_id", None) and \
            (len(prompt) < 2 or prompt[1] is None):
        lang_ids = detect_language(model, gen_config, input_features)
    if lang_ids is not None:
        for row, lang in zip(rows, lang_ids):
            if len(row) > 1:
                row[1] = lang
            else:
                row.append(lang)

    task_to_id = dict(getattr(gen_config, "task_to_id", None) or {})
    no_ts = getattr(gen_config, "no_timestamps_token_id", None)
    for row in rows:
        if task is not None:
            if task not in task_to_id:
                raise InvalidInputError(f"task={task!r}: the generation config has no "
                                        "task_to_id entry for it.")
            task_ids = set(task_to_id.values())
            if any(t in task_ids for t in row):
                row[:] = [task_to_id[task] if t in task_ids else t for t in row]
            else:
                row.append(task_to_id[task])
        elif language is not None and task_to_id and "transcribe" in task_to_id and \
                not any(t in task_to_id.values() for t in row):
            row.append(task_to_id["transcribe"])
        if no_ts is not None and row[-1] != no_ts:
            row.append(int(no_ts))
        row[:] = [t for t in row if t is not None]
    return np.asarray(rows, np.int64)


def detect_language(model, gen_config, input_features):
    """The most likely language token per row: the decoder's first step after
    ``<|startoftranscript|>``, restricted to ``gen_config.lang_to_id`` (as transformers)."""
    import tensorflow as tf

    batch = int(input_features.shape[0])
    start = np.full((batch, 1), gen_config.decoder_start_token_id, np.int32)
    out = model({"input_features": tf.convert_to_tensor(input_features),
                 "decoder_input_ids": tf.convert_to_tensor(start)}, training=False)
    logits = np.asarray(out.logits)[:, -1].astype(np.float64)
    lang = np.asarray(sorted(set(int(i) for i in gen_config.lang_to_id.values())))
    return [int(lang[i]) for i in np.argmax(logits[:, lang], axis=-1)]


# ---------------------------------------------------------------------------- pipeline
class AutomaticSpeechRecognitionPipeline(Pipeline):
    task = "automatic-speech-recognition"
    model_task = "speech_seq2seq"
    chunked = True
    # transformers' ASR defaults for options neither the call nor the generation config sets
    default_generation = {"max_new_tokens": 256, "num_beams": 5}

    def __init__(self, model, tokenizer=None, batch_size=None, task="", device=None,
                 feature_extractor=None, **kwargs):
        if getattr(model.config, "model_type", None) != "whisper":
            raise InvalidInputError(
                f"The automatic-speech-recognition pipeline runs Whisper models; got model_type "
                f"{getattr(model.config, 'model_type', None)!r}.")
        self.feature_extractor = feature_extractor_for(model, feature_extractor)
        super().__init__(model, tokenizer=tokenizer, batch_size=batch_size, task=task,
                         device=device, **kwargs)
        if self.tokenizer is None:
            raise InvalidInputError("The automatic-speech-recognition pipeline needs a "
                                    "tokenizer (to turn tokens into text).")

    # ------------------------------------------------------------------ options
    def _sanitize_parameters(self, chunk_length_s=None, stride_length_s=None,
                             generate_kwargs=None, return_timestamps=None, return_language=None,
                             ignore_warning=None, **kwargs):
        from ..audio.chunking import window_sizes

        pre, fwd, post = {}, {}, {}
        if return_timestamps:
            raise InvalidInputError("return_timestamps is not supported by tfhf's "
                                    "automatic-speech-recognition pipeline yet (text only).")
        if return_language:
            raise InvalidInputError("return_language is not supported by tfhf's "
                                    "automatic-speech-recognition pipeline yet.")
        rate = self.feature_extractor.sampling_rate
        if chunk_length_s is not None:
            if chunk_length_s:
                window_sizes(chunk_length_s, stride_length_s, rate)  # checks the values now
            pre["chunk_length_s"] = chunk_length_s
        if stride_length_s is not None:
            pre["stride_length_s"] = stride_length_s
        if generate_kwargs is not None:
            if not isinstance(generate_kwargs, dict):
                raise InvalidInputError(f"generate_kwargs must be a dict, got "
                                        f"{type(generate_kwargs).__name__}.")
            fwd.update(generate_kwargs)
        fwd.update(kwargs)
        return pre, fwd, post

    # ------------------------------------------------------------------ inputs
    def __call__(self, inputs, *args, **kwargs):
        """Transcribe ``inputs`` (one audio or a list of them); see the module docstring."""
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def preprocess(self, audio, chunk_length_s=None, stride_length_s=None):
        from ..audio.chunking import chunk_windows, window_sizes
        from ..audio.io import load_audio

        fe = self.feature_extractor
        samples = load_audio(audio, fe.sampling_rate)
        if not chunk_length_s and len(samples) > fe.n_samples:
            logger.warning(
                "The audio is %.1f s long, longer than Whisper's %d s window: it is transcribed "
                "in %d s windows (chunk_length_s=%d) whose texts are merged. Pass chunk_length_s"
                " to choose the windows.", len(samples) / fe.sampling_rate, fe.chunk_length,
                fe.chunk_length, fe.chunk_length)
            chunk_length_s = fe.chunk_length
        if chunk_length_s:
            sizes = window_sizes(chunk_length_s, stride_length_s, fe.sampling_rate)
            windows = [(w, stride) for w, stride, _ in chunk_windows(samples, *sizes)]
        else:
            windows = [(samples, None)]
        n = fe.n_samples
        stacked = np.zeros((len(windows), min(n, max(len(w) for w, _ in windows))), np.float32)
        for i, (w, _) in enumerate(windows):
            stacked[i, :min(len(w), n)] = w[:n]
        features = np.asarray(fe(stacked, sampling_rate=fe.sampling_rate)["input_features"])
        return [{"input_features": features[i:i + 1], "stride": stride}
                for i, (_, stride) in enumerate(windows)]

    def model_inputs_of(self, batch):
        return {"input_features": batch["input_features"]}

    # ------------------------------------------------------------------ model
    def _generate_kwargs(self, call_kwargs):
        return with_generation_defaults(self.model, call_kwargs, self.default_generation)

    def _forward(self, model_inputs, **generate_kwargs):
        features = np.asarray(model_inputs["input_features"], np.float32)
        kwargs = self._generate_kwargs(generate_kwargs)
        language, task = kwargs.pop("language", None), kwargs.pop("task", None)
        for key in ("decoder_input_ids", "forced_decoder_ids"):
            if key in kwargs:
                raise InvalidInputError(f"{key} is set by the pipeline from language/task; pass "
                                        "language= and task= instead.")
        if (kwargs.get("num_return_sequences") or 1) > 1:
            raise InvalidInputError("num_return_sequences > 1 is not supported by the "
                                    "automatic-speech-recognition pipeline (one text per audio).")
        gen_config = _generation_config(self.model)
        prompt = whisper_prompt_ids(self.model, gen_config, features, language, task)
        out = self.model.generate(input_features=features, decoder_input_ids=prompt,
                                  forced_decoder_ids=[], **kwargs)
        return {"tokens": np.asarray(getattr(out, "sequences", out))}

    # ------------------------------------------------------------------ outputs
    def _special_ids(self):
        """The tokenizer's special ids, and its added tokens marked special (a tokenizer.json
        alone, as in CTranslate2 folders, marks Whisper's <|...|> tokens only that way)."""
        if getattr(self, "_specials", None) is None:
            tok = self.hf_tokenizer
            ids = set(int(i) for i in tok.all_special_ids)
            for i, added in getattr(tok, "added_tokens_decoder", {}).items():
                if getattr(added, "special", False):
                    ids.add(int(i))
            self._specials = ids
        return self._specials

    def text_tokens(self, tokens):
        """The text tokens of one generated row: no special tokens, no timestamps."""
        specials = self._special_ids()
        no_ts = getattr(_generation_config(self.model), "no_timestamps_token_id", None)
        first_timestamp = no_ts + 1 if no_ts is not None else None
        return [int(t) for t in tokens if int(t) not in specials
                and (first_timestamp is None or int(t) < first_timestamp)]

    def postprocess(self, outputs):
        from ..audio.chunking import merge_overlapping

        pieces = [self.text_tokens(np.asarray(o["tokens"])[0]) for o in outputs]
        tokens = merge_overlapping([p for p in pieces if p])
        text = self.hf_tokenizer.decode(tokens, clean_up_tokenization_spaces=False)
        return {"text": text}
