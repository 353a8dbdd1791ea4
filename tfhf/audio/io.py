"""Audio input for speech models: files, bytes and arrays -> a mono float32 waveform at the
rate the model expects.

:func:`load_audio` accepts

* a path (``str`` / ``os.PathLike``) to a WAV, FLAC, OGG/Vorbis, AIFF... file, read with
  ``soundfile`` (libsndfile; without it only PCM WAV files are read, with the standard library);
* ``bytes`` holding such a file;
* a numpy array (or a list, a ``tf.Tensor``, a torch tensor) of samples, taken to be at
  ``input_rate`` when given, else already at ``sampling_rate`` (as transformers' pipeline takes a
  bare array: "raw audio at the correct sampling rate");
* a dict ``{"raw": array, "sampling_rate": int}`` (``"array"`` instead of ``"raw"`` too, as
  ``datasets`` writes it; a ``"path"`` key is ignored), like transformers' ASR pipeline.

Channels: a file with several channels is averaged to mono. A 2-D array is read as
``(channels, samples)`` with 1 or 2 channels and averaged, like transformers' ASR pipeline; any
other layout (e.g. ``soundfile.read``'s ``(samples, channels)``) is an error asking to transpose or
downmix, because the shape alone cannot tell two channels from two samples.

Samples: floats are used as they are (expected in [-1, 1]); integer PCM is scaled (int16 by
2**15, int32 by 2**31, uint8 around 128). Empty audio, NaN / infinite samples and non-positive
rates are errors. Resampling is scipy's polyphase filter (:func:`resample`).

:func:`save_audio` writes a waveform (speech synthesis output) as WAV or FLAC with
``soundfile``, 16-bit PCM, the format chosen by the file's extension.
"""

from __future__ import annotations

import io
import os

import numpy as np

from ..errors import InvalidInputError, MissingDependencyError

__all__ = ["load_audio", "audio_from_file", "to_mono", "check_rate", "resample", "save_audio"]


def check_rate(rate, what="sampling_rate"):
    """``rate`` as a positive int, or InvalidInputError."""
    ok = isinstance(rate, (int, np.integer, float, np.floating)) and not isinstance(rate, bool)
    if not ok or not np.isfinite(rate) or rate <= 0 or float(rate) != int(rate):
        raise InvalidInputError(f"{what} must be a positive whole number of Hz, got {rate!r}.")
    return int(rate)


def _as_array(value):
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.detach().cpu().numpy() if hasattr(value, "detach") else value.numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"audio samples must be a numeric array, got "
                                f"{type(value).__name__} ({e}).") from None


def _to_float(array, what):
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float32)
    if kind == "i":
        scale = {1: 2.0 ** 7, 2: 2.0 ** 15, 4: 2.0 ** 31, 8: 2.0 ** 63}[array.dtype.itemsize]
        return (array.astype(np.float64) / scale).astype(np.float32)
    if kind == "u" and array.dtype.itemsize == 1:
        return ((array.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    raise InvalidInputError(f"{what}: audio samples must be floats in [-1, 1] or integer PCM, "
                            f"got dtype {array.dtype}.")


def to_mono(array, what="audio"):
    """A 1-D waveform from ``(samples,)`` or ``(channels, samples)`` with 1 or 2 channels."""
    if array.ndim == 1:
        return array
    if array.ndim == 2 and array.shape[0] in (1, 2):
        return array.mean(axis=0)
    if array.ndim == 2:
        raise InvalidInputError(
            f"{what} has shape {tuple(array.shape)}: tfhf reads a 2-D array as (channels, "
            "samples) with 1 or 2 channels. If it is (samples, channels), as soundfile.read, "
            "librosa.load(mono=False) and scipy.io.wavfile.read return, transpose it (array.T); "
            "with more than 2 channels, downmix it to mono yourself.")
    raise InvalidInputError(f"{what} must be mono (samples,) or (channels, samples); got "
                            f"{array.ndim} dimensions, shape {tuple(array.shape)}.")


def _check_samples(array, what):
    if array.size == 0:
        raise InvalidInputError(f"{what} is empty (0 samples): there is nothing to transcribe.")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{what} contains NaN or infinite samples.")
    return array


def audio_from_file(source, name=None):
    """(samples (frames,) or (frames, channels) float32, rate) from a path or file bytes."""
    name = name or (os.fspath(source) if not isinstance(source, (bytes, bytearray, memoryview))
                    else "the audio bytes")
    if not isinstance(source, (bytes, bytearray, memoryview)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise InvalidInputError(f"audio file '{path}' does not exist.")
        if os.path.isdir(path):
            raise InvalidInputError(f"'{path}' is a folder, not an audio file.")
    try:
        import soundfile
    except ImportError:  # pragma: no cover - soundfile is a dependency
        soundfile = None
    if soundfile is None:  # pragma: no cover
        from .features import read_wav

        if isinstance(source, (bytes, bytearray, memoryview)):
            source = io.BytesIO(bytes(source))
        try:
            return read_wav(source)
        except InvalidInputError:
            raise MissingDependencyError(
                f"reading {name} needs the soundfile package (pip install soundfile); without "
                "it tfhf reads PCM WAV files only.") from None
    data = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) \
        else os.fspath(source)
    try:
        samples, rate = soundfile.read(data, dtype="float32", always_2d=False)
    except (RuntimeError, TypeError, ValueError, EOFError) as e:
        raise InvalidInputError(
            f"{name}: not an audio file tfhf can read ({str(e).strip() or type(e).__name__}). "
            "Readable formats: WAV, FLAC, OGG/Vorbis, AIFF and the other libsndfile formats "
            "(soundfile.available_formats()); convert other files first, e.g. "
            "`ffmpeg -i in.mp3 out.wav`.") from None
    return samples, int(rate)


def load_audio(audio, sampling_rate=16000, *, input_rate=None):
    """``audio`` (see the module docstring) -> mono float32 samples at ``sampling_rate``."""
    sampling_rate = check_rate(sampling_rate)
    what = "audio"
    if isinstance(audio, dict):
        keys = set(audio)
        raw_key = "raw" if "raw" in audio else "array" if "array" in audio else None
        if raw_key is None or "sampling_rate" not in audio:
            raise InvalidInputError(
                f"an audio dict needs a 'raw' (or 'array') key with the samples and a "
                f"'sampling_rate' key; got keys {sorted(map(str, keys))}.")
        unknown = keys - {"raw", "array", "sampling_rate", "path"}
        if unknown:
            raise InvalidInputError(f"an audio dict has unknown keys {sorted(map(str, unknown))}"
                                    " (expected 'raw' or 'array', 'sampling_rate'; 'stride' is "
                                    "not supported for Whisper).")
        input_rate = check_rate(audio["sampling_rate"], "the audio dict's sampling_rate")
        audio = audio[raw_key]
        what = f"audio['{raw_key}']"
        if isinstance(audio, (str, os.PathLike, bytes, bytearray, memoryview, dict)):
            raise InvalidInputError(f"{what} must be an array of samples, got "
                                    f"{type(audio).__name__}.")
    if isinstance(audio, (str, os.PathLike, bytes, bytearray, memoryview)):
        if input_rate is not None:
            raise InvalidInputError("input_rate applies to arrays of samples; an audio file "
                                    "states its own rate.")
        name = f"audio file '{os.fspath(audio)}'" if isinstance(audio, (str, os.PathLike)) \
            else "the audio bytes"
        samples, rate = audio_from_file(audio, name)
        if samples.ndim == 2:  # (frames, channels): average the channels
            samples = samples.mean(axis=1)
        _check_samples(samples, name)
        return resample(samples, rate, sampling_rate)
    array = _as_array(audio)
    if array.dtype == object:
        raise InvalidInputError(f"{what} must be a numeric array of samples, a file path, file "
                                f"bytes or a dict; got {type(audio).__name__}.")
    array = _to_float(to_mono(array, what), what)
    _check_samples(array, what)
    rate = sampling_rate if input_rate is None else check_rate(input_rate, "input_rate")
    return resample(array, rate, sampling_rate)


def resample(audio, orig_rate, target_rate=16000):
    """Polyphase resampling (``scipy.signal.resample_poly``) of a 1-D waveform -> float32."""
    orig_rate, target_rate = check_rate(orig_rate, "orig_rate"), check_rate(target_rate,
                                                                           "target_rate")
    if orig_rate == target_rate:
        return np.asarray(audio, np.float32)
    import math

    from scipy.signal import resample_poly

    g = math.gcd(orig_rate, target_rate)
    return resample_poly(np.asarray(audio, np.float64), target_rate // g,
                         orig_rate // g).astype(np.float32)


_SAVE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


def save_audio(path, audio, sampling_rate=16000):
    """Write mono ``audio`` (floats in [-1, 1], e.g. a text-to-speech waveform) to ``path``
    as 16-bit PCM WAV or FLAC (by extension), atomically; returns the path."""
    path = os.fspath(path)
    fmt = _SAVE_FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise InvalidInputError(f"save_audio writes .wav or .flac files; '{path}' has another "
                                "extension.")
    rate = check_rate(sampling_rate)
    samples = _to_float(_as_array(audio), "audio")
    if samples.ndim != 1:
        raise InvalidInputError(f"save_audio writes mono audio: a 1-D array of samples; got "
                                f"shape {samples.shape}.")
    _check_samples(samples, "audio")
    try:
        import soundfile
    except ImportError:
        raise MissingDependencyError("Writing audio files needs soundfile: pip install "
                                     "soundfile.") from None
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp")
    soundfile.write(tmp, np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16", format=fmt)
    os.replace(tmp, path)
    return path
