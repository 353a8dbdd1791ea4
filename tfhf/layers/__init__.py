"""Building blocks shared by model families: TF ops inside Keras layers."""

from .activations import get_activation
from .attention import SelfAttention, attention_bias_from_mask
from .core import Dense, Embedding, LayerNorm, RMSNorm
from .encoder import EncoderBlock, EncoderStack, FeedForward, Pooler, TextEmbeddings

__all__ = [
    "Dense", "Embedding", "LayerNorm", "RMSNorm", "SelfAttention", "attention_bias_from_mask",
    "EncoderBlock", "EncoderStack", "FeedForward", "Pooler", "TextEmbeddings", "get_activation",
]
