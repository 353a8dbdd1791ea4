"""A tiny random Donut (DonutSwin encoder + MBart decoder) built with PyTorch transformers,
shared by the parity, pipeline and agent-tool tests.

Weights are drawn larger than transformers' init (std 0.15, norms and the relative position
tables 0.5) so that the image visibly changes what the decoder says. ``save_tiny_donut``
writes the model with a word-level tokenizer that knows Donut's task tokens and a
``DonutProcessor`` (image size 32 x 48), i.e. a folder the document-QA pipeline loads.
"""

from __future__ import annotations

IMAGE_H, IMAGE_W = 32, 48
WORDS = ["what", "is", "the", "total", "?", "receipt", "coffee", "tea", "cake", "$", "1", "2",
         "3", "4", "5", "6", "7", "8", "9", "0", ".", "date", "shop", "name", "price", "sum"]
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<s_docvqa>", "<s_question>", "</s_question>",
           "<s_answer>", "</s_answer>"]


def donut_config():
    from transformers import (DonutSwinConfig, MBartConfig, VisionEncoderDecoderConfig)

    vocab = len(SPECIAL) + len(WORDS)
    enc = DonutSwinConfig(image_size=[IMAGE_H, IMAGE_W], patch_size=4, embed_dim=16,
                          depths=[2, 2], num_heads=[2, 4], window_size=4, drop_path_rate=0.0)
    dec = MBartConfig(vocab_size=vocab, d_model=24, decoder_layers=2, decoder_attention_heads=4,
                      decoder_ffn_dim=48, encoder_layers=2, encoder_attention_heads=4,
                      encoder_ffn_dim=48, max_position_embeddings=64, scale_embedding=True,
                      is_decoder=True, add_cross_attention=True, dropout=0.0,
                      attention_dropout=0.0, activation_dropout=0.0, pad_token_id=1,
                      bos_token_id=0, eos_token_id=2)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    config.pad_token_id, config.eos_token_id, config.decoder_start_token_id = 1, 2, 0
    return config


def torch_donut(seed=0):
    import torch
    from transformers import VisionEncoderDecoderModel

    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(donut_config()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0, 0.5 if ("norm" in name or "relative_position" in name) else 0.15)
    return model


def donut_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    tok.add_special_tokens({"additional_special_tokens": SPECIAL[4:]})
    return tok


def save_tiny_donut(folder, seed=0):
    """Write model + tokenizer + DonutProcessor to ``folder``; return the PyTorch model."""
    from transformers import DonutImageProcessor, DonutProcessor

    model = torch_donut(seed)
    model.save_pretrained(folder)
    image_processor = DonutImageProcessor(size={"height": IMAGE_H, "width": IMAGE_W})
    DonutProcessor(image_processor=image_processor, tokenizer=donut_tokenizer()).save_pretrained(
        folder)
    return model
