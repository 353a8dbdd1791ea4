"""Building blocks shared by model families: TF ops inside Keras layers.

``specs`` (what a family is made of), ``core`` (dense, embedding, norms, build helpers),
``attention`` (attention maths, masks, the KV-cache write), then one module per backbone
kind: ``encoder``, ``decoder``, ``seq2seq``.
"""

from .activations import get_activation
from .attention import attention_bias_from_mask
from .core import Dense, Embedding, LayerNorm, RMSNorm
from .encoder import EncoderBlock, EncoderStack, FeedForward, Pooler, SelfAttention, TextEmbeddings

__all__ = [
    "Dense", "Embedding", "LayerNorm", "RMSNorm", "SelfAttention", "attention_bias_from_mask",
    "EncoderBlock", "EncoderStack", "FeedForward", "Pooler", "TextEmbeddings", "get_activation",
]
