"""Whisper: TFWhisperModel, TFWhisperForConditionalGeneration, and the CTranslate2
(faster-whisper) converter :func:`convert_ct2_to_hf`."""


def convert_ct2_to_hf(ct2_dir, out_dir, dtype="float32", max_shard_size="5GB"):
    from .ct2 import convert_ct2_to_hf as convert

    return convert(ct2_dir, out_dir, dtype=dtype, max_shard_size=max_shard_size)


convert_ct2_to_hf.__doc__ = """Convert a CTranslate2 Whisper folder (model.bin + config.json
+ tokenizer.json) into a Hugging Face folder; see tfhf.models.whisper.ct2.convert_ct2_to_hf."""


def __getattr__(name):
    if name in ("TFWhisperModel", "TFWhisperForConditionalGeneration",
                "TFWhisperPreTrainedModel"):
        from . import modeling

        return getattr(modeling, name)
    raise AttributeError(f"module 'tfhf.models.whisper' has no attribute '{name}'")
