"""Tiny random vision-language configs and PyTorch models (CLIP, BLIP, ViLT, CLIPSeg) for
the parity tests and for whoever needs a tiny checkpoint of these families (pipelines, tools).

Imported as ``import vision_configs`` (``tests/`` is on ``sys.path``). torch and transformers
are imported inside the builders, so a test module can ``pytest.importorskip`` them first.
"""

from __future__ import annotations

IMAGE, PATCH = 30, 6  # a 5 x 5 patch grid
VOCAB = 99

CLIP_TEXT = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=16, eos_token_id=98,
                 bos_token_id=97, pad_token_id=1)
CLIP_VISION = dict(hidden_size=24, intermediate_size=37, num_hidden_layers=3,
                   num_attention_heads=4, image_size=IMAGE, patch_size=PATCH)


def clip_config(**overrides):
    import transformers

    return transformers.CLIPConfig(text_config=CLIP_TEXT, vision_config=CLIP_VISION,
                                   projection_dim=16, attn_implementation="eager", **overrides)


BLIP_VISION = dict(CLIP_VISION, hidden_act="gelu")
# bos ([DEC]), sep and pad inside the tiny vocabulary; cross-attention reads 24-wide states
BLIP_TEXT = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=32, encoder_hidden_size=24,
                 bos_token_id=97, sep_token_id=98, pad_token_id=0, eos_token_id=2,
                 label_smoothing=0.1)


def blip_config(**overrides):
    import transformers

    return transformers.BlipConfig(text_config=BLIP_TEXT, vision_config=BLIP_VISION,
                                   attn_implementation="eager", **overrides)


def widen(pt, std=0.2, seed=0):
    """Redraw the PyTorch model's matrices from N(0, std): tiny random models with the default
    initialisation generate one token over and over; wider weights give varied tokens."""
    import torch

    torch.manual_seed(seed)
    with torch.no_grad():
        for p in pt.parameters():
            if p.dim() > 1:
                p.normal_(0.0, std)
    return pt


def torch_model(cls_name, config, seed=0):
    """``transformers.<cls_name>(config)`` with random weights from ``seed``, in eval mode."""
    import torch
    import transformers

    torch.manual_seed(seed)
    return getattr(transformers, cls_name)(config).eval()


def text_batch(seed=0, batch=2, length=9, eos=98, pad=1, low=2, high=97):
    """(ids, mask): every row ends with ``eos``; the last row is right-padded after it."""
    import numpy as np

    rs = np.random.RandomState(seed)
    ids = rs.randint(low, high, size=(batch, length)).astype(np.int32)
    mask = np.ones_like(ids)
    ids[:, -1] = eos
    ids[-1, length - 3] = eos
    ids[-1, length - 2:] = pad
    mask[-1, length - 2:] = 0
    return ids, mask


def pixels(batch=2, seed=0, size=IMAGE):
    import numpy as np

    return np.random.RandomState(seed + 100).randn(batch, 3, size, size).astype(np.float32)


VILT = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=40, image_size=IMAGE,
            patch_size=PATCH, num_labels=5, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)


def vilt_config(**overrides):
    import transformers

    return transformers.ViltConfig(**{**VILT, **overrides})


def vilt_images(seed=0):
    """Two images padded to 36 x 42 (a 6 x 7 patch grid around the model's 5 x 5 position
    table): the first fills it, the second is 30 x 36 (``pixel_mask`` marks it)."""
    import numpy as np

    px = np.random.RandomState(seed + 200).randn(2, 3, 36, 42).astype(np.float32)
    mask = np.ones((2, 36, 42), np.int64)
    mask[1, 30:, :] = 0
    mask[1, :, 36:] = 0
    px[1][:, mask[1] == 0] = 0.0
    return px, mask


def clipseg_config(complex_=False, **overrides):
    """A CLIPSeg on the tiny CLIP towers (``complex_``: 8-pixel patches, 32-pixel images and
    the 3 x 3 convolution + two transposed convolutions of CIDAS/clipseg-rd64-refined)."""
    import transformers

    vision = dict(CLIP_VISION, patch_size=8, image_size=32) if complex_ else CLIP_VISION
    kw = dict(projection_dim=16, extract_layers=[0, 2], reduce_dim=16, conditional_layer=1,
              decoder_num_attention_heads=2, decoder_intermediate_size=24,
              use_complex_transposed_convolution=complex_)
    return transformers.CLIPSegConfig(text_config=CLIP_TEXT, vision_config=vision,
                                      attn_implementation="eager", **{**kw, **overrides})
