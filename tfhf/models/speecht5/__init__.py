"""SpeechT5 text-to-speech (TFSpeechT5ForTextToSpeech) and its HiFi-GAN vocoder
(TFSpeechT5HifiGan)."""


def __getattr__(name):
    if name in ("TFSpeechT5ForTextToSpeech", "TFSpeechT5PreTrainedModel"):
        from . import modeling

        return getattr(modeling, name)
    if name == "TFSpeechT5HifiGan":
        from . import hifigan

        return hifigan.TFSpeechT5HifiGan
    raise AttributeError(f"module 'tfhf.models.speecht5' has no attribute '{name}'")
