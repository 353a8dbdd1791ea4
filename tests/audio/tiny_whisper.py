"""A tiny random Whisper checkpoint (PyTorch transformers, saved in HF format) with a tiny
byte-level tokenizer that has Whisper's special tokens, a feature extractor config and a
Whisper-style generation config (languages, tasks, suppress tokens, forced_decoder_ids)."""

from __future__ import annotations

import json
from pathlib import Path

LANGS = ("en", "fr", "de")
SPECIALS = (["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{c}|>" for c in LANGS]
            + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>",
               "<|nocaptions|>", "<|notimestamps|>"])
TIMESTAMPS = [f"<|{i * 0.02:.2f}|>" for i in range(6)]


def make_tiny_whisper(folder, multilingual=True, seed=0, **config):
    import torch
    import transformers
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # printable ASCII and the byte-level space "Ġ" only, so that any token sequence decodes to
    # visible text (a random model's bytes >= 0x80 would all decode to U+FFFD)
    alphabet = [chr(c) for c in range(33, 127)] + ["\u0120"]
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    specials = SPECIALS if multilingual else [s for s in SPECIALS if s not in (
        "<|fr|>", "<|de|>")]
    for tok in specials + TIMESTAMPS:
        vocab[tok] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    backend.add_tokens([AddedToken(t, special=False, normalized=False) for t in TIMESTAMPS])
    backend.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "WhisperTokenizer", "model_max_length": 1024,
        "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "additional_special_tokens": specials[1:], "clean_up_tokenization_spaces": False}))
    ids = {t: vocab[t] for t in specials}
    eot, sot, no_ts = ids["<|endoftext|>"], ids["<|startoftranscript|>"], \
        ids["<|notimestamps|>"]
    settings = dict(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=2,
                    encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=24,
                    decoder_ffn_dim=24, num_mel_bins=80, max_source_positions=1500,
                    max_target_positions=64, pad_token_id=eot, bos_token_id=eot,
                    eos_token_id=eot, decoder_start_token_id=sot, init_std=0.5)
    settings.update(config)
    torch.manual_seed(seed)
    model = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**settings))
    gen = transformers.GenerationConfig(
        decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        max_length=64, no_timestamps_token_id=no_ts, is_multilingual=multilingual,
        # timestamps are suppressed: a random model emitting <|0.00|> sends transformers'
        # Whisper generate into an endless loop (its seek never advances)
        suppress_tokens=[vocab["!"], vocab["?"], ids["<|startofprev|>"]]
        + [vocab[t] for t in TIMESTAMPS],
        begin_suppress_tokens=[vocab["\u0120"], eot])
    if multilingual:
        gen.lang_to_id = {f"<|{c}|>": ids[f"<|{c}|>"] for c in LANGS}
        gen.task_to_id = {"translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"]}
        gen.forced_decoder_ids = [[1, None], [2, ids["<|transcribe|>"]]]
    else:
        gen.forced_decoder_ids = [[1, no_ts]]
    model.generation_config = gen
    model.save_pretrained(folder)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return str(folder)
