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
