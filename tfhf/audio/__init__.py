"""Audio for speech models: loading (:func:`load_audio`: files, bytes, arrays, dicts), saving
(:func:`save_audio`: WAV / FLAC), Whisper's
log-mel features in TensorFlow (:class:`WhisperFeatures`), resampling, the 30 s windowing and
overlap merging of long audio (:mod:`tfhf.audio.chunking`) and word error rate
(:func:`word_error_rate`). Names load lazily: ``load_audio`` and the WER helpers do not import
TensorFlow."""

import importlib

_LAZY = {
    "WhisperFeatures": "features", "log_mel_spectrogram": "features", "read_wav": "features",
    "resample": "io",
    "load_audio": "io", "to_mono": "io", "audio_from_file": "io", "save_audio": "io",
    "chunk_windows": "chunking", "merge_overlapping": "chunking",
    "normalize_text": "wer", "word_error_rate": "wer", "word_errors": "wer",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tfhf.audio' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
