"""Helpers for the checkpoint I/O tests: tiny BERT models in PyTorch (hidden 32, 2 layers,
vocab 99) and ways to compare them with tfhf."""

import os

VOCAB = 99
MAX_POS = 64


def tiny_bert_config(**overrides):
    from transformers import BertConfig

    kwargs = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=37, max_position_embeddings=MAX_POS, type_vocab_size=2,
                  num_labels=3, hidden_act="gelu")
    kwargs.update(overrides)
    return BertConfig(**kwargs)


def make_pt(cls_name="BertForSequenceClassification", seed=0, **overrides):
    import torch
    import transformers

    torch.manual_seed(seed)
    model = getattr(transformers, cls_name)(tiny_bert_config(**overrides)).eval()
    with torch.no_grad():  # make biases and LayerNorm parameters non-trivial
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def pt_logits(model, ids, mask=None):
    import torch

    with torch.no_grad():
        kwargs = {} if mask is None else {"attention_mask": torch.tensor(mask)}
        return model(torch.tensor(ids, dtype=torch.long), **kwargs).logits.numpy()


def tf_logits(model, ids, mask=None):
    import tensorflow as tf

    kwargs = {} if mask is None else {"attention_mask": tf.constant(mask)}
    return model(tf.constant(ids, tf.int32), **kwargs).logits.numpy()


def pt_state(model):
    """PyTorch state dict as numpy, without tied or non-persistent entries."""
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()
            if not k.startswith("cls.predictions.decoder.") and not k.endswith("position_ids")}


def listing(folder):
    return sorted(os.listdir(folder))
