"""Audio front ends in TensorFlow (Whisper's log-mel features) and WAV reading."""

from .features import WhisperFeatures, log_mel_spectrogram, read_wav, resample

__all__ = ["WhisperFeatures", "log_mel_spectrogram", "read_wav", "resample"]
