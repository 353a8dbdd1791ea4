"""Mistral checkpoints use Llama's weight names."""

from ..llama.convert import base_weights, head_weights

__all__ = ["base_weights", "head_weights"]
