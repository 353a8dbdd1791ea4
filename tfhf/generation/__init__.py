"""Generation: transformers' GenerationConfig semantics on one XLA-compiled decode loop.

* :func:`generate` / :class:`GenerationMixin` (decoder-only) and :func:`generate_seq2seq` /
  :class:`Seq2SeqGenerationMixin` (encoder-decoder: T5, BART, M2M100, Whisper) — greedy,
  sampling (temperature, top-k, top-p, min-p), beam search, repetition penalty, no-repeat
  n-grams, bad words, min length, stop strings, streaming, ``return_dict_in_generate``;
* :func:`set_seed` — reproducible sampling (stateless RNG, seed carried as a tensor);
* :func:`compile_count` — how many generation functions were compiled (bucketed shapes
  keep it small);
* :class:`TextStreamer`, :class:`TextIteratorStreamer` — transformers' streamers, fed numpy.
"""

from transformers import GenerationConfig

from .logits_process import ProcessorPlan
from .loop import cached_specs, compile_count, reset_compile_count, set_compile_notice
from .rng import set_seed
from .streamers import BaseStreamer, TextIteratorStreamer, TextStreamer
from .seq2seq import Seq2SeqGenerationMixin, generate_seq2seq
from .config import load_generation_config, model_generation_config
from .decoder_only import GenerationMixin, generate
from .run import (GenerateBeamDecoderOnlyOutput, GenerateBeamEncoderDecoderOutput,
                  GenerateDecoderOnlyOutput, GenerateEncoderDecoderOutput)

# transformers 4.x's TF name, which tfhf's causal LM base inherits
TFGenerationMixin = GenerationMixin

__all__ = [
    "GenerationConfig", "GenerationMixin", "TFGenerationMixin", "generate", "set_seed",
    "compile_count", "set_compile_notice",
    "reset_compile_count", "cached_specs", "TextStreamer", "TextIteratorStreamer", "BaseStreamer",
    "GenerateDecoderOnlyOutput", "GenerateBeamDecoderOnlyOutput", "ProcessorPlan",
    "load_generation_config", "model_generation_config", "Seq2SeqGenerationMixin",
    "generate_seq2seq", "GenerateEncoderDecoderOutput", "GenerateBeamEncoderDecoderOutput",
]
