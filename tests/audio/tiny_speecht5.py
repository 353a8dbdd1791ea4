"""A tiny random SpeechT5 text-to-speech checkpoint (PyTorch transformers' ``save_pretrained``,
a character SentencePiece tokenizer trained here, a default ``speaker_embeddings.npy``) and a
tiny HiFi-GAN vocoder whose upsampling is the real one (256 samples per frame at 16 kHz).

The stop head is biased so that the stop probability never reaches 0.5: synthesis runs to
``maxlenratio`` and the length of the speech is known (``expected_samples``).
"""

from __future__ import annotations

import io

import numpy as np

SPK = 8
UPSAMPLE = 256
MAXLENRATIO = 20.0
CORPUS = ["This is a text to speech tool", "hello world the quick brown fox jumps over the lazy dog",
          "read it out loud please", "Transcribe the recording and read the summary"]


def make_tokenizer(folder):
    import sentencepiece as spm
    import transformers

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS), model_writer=model,
                                   model_type="char", vocab_size=36, bos_id=0, pad_id=1,
                                   eos_id=2, unk_id=3, character_coverage=1.0, minloglevel=2)
    path = folder / "spm_char.model"
    path.write_bytes(model.getvalue())
    tok = transformers.SpeechT5Tokenizer(str(path))
    tok.save_pretrained(folder)
    return tok


def make_tiny_speecht5(root, dropout=True):
    """(tts folder, vocoder folder) under ``root`` (a pathlib.Path)."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.SpeechT5Config(
        vocab_size=40, hidden_size=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, speech_decoder_prenet_units=16, speech_decoder_postnet_units=16,
        num_mel_bins=8, speaker_embedding_dim=SPK, max_text_positions=64,
        max_speech_positions=800, encoder_max_relative_position=8)
    model = transformers.SpeechT5ForTextToSpeech(config).eval()
    with torch.no_grad():
        model.speech_decoder_postnet.prob_out.weight.mul_(0.1)
        model.speech_decoder_postnet.prob_out.bias.fill_(-4.0)
    vocoder = transformers.SpeechT5HifiGan(transformers.SpeechT5HifiGanConfig(
        model_in_dim=8, upsample_initial_channel=32, upsample_rates=[4, 4, 4, 4],
        upsample_kernel_sizes=[8, 8, 8, 8], resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]])).eval()
    tts, voc = root / "tiny-speecht5", root / "tiny-hifigan"
    model.save_pretrained(tts)
    vocoder.save_pretrained(voc)
    make_tokenizer(tts)
    np.save(tts / "speaker_embeddings.npy",
            np.random.RandomState(0).randn(SPK).astype(np.float32))
    return str(tts), str(voc)


def expected_samples(n_tokens, maxlenratio=MAXLENRATIO, reduction_factor=2):
    """Samples of a synthesis that runs to maxlenratio (the tiny model never stops early)."""
    steps = int(n_tokens * maxlenratio / reduction_factor)
    return steps * reduction_factor * UPSAMPLE
