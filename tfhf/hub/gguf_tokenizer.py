"""A transformers fast tokenizer built from a GGUF file's vocabulary, without PyTorch.

A GGUF carries its tokenizer as metadata: ``tokenizer.ggml.model`` (``gpt2`` byte-level BPE
with merges, ``llama`` SentencePiece with scores), the tokens, their types (3 = control,
4 = user-defined), the special token ids, ``add_bos_token`` and the chat template.
transformers 5 turns that into a ``tokenizers`` object (``convert_gguf_tokenizer``), but it
reads the file through a PyTorch-only module; here tfhf's own reader supplies the metadata
and transformers' builders do the rest. One addition: the ``smollm``-style pre-tokenizers
(llama.cpp splits every digit before the GPT-2 regex), which transformers leaves out.
"""

from __future__ import annotations

import numpy as np

from ..errors import CheckpointError, MissingDependencyError
from .gguf import GGUFFile

# llama.cpp pre-tokenizers that split single digits first, then apply the GPT-2 regex
# (llama-vocab.cpp: "\\p{N}" followed by the GPT-2 expression).
_DIGITS_THEN_GPT2 = ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone",
                     "minerva")

_SPECIAL = {"bos_token": "bos_token_id", "eos_token": "eos_token_id",
            "unk_token": "unknown_token_id", "pad_token": "padding_token_id"}


def _transformers_builders():
    try:  # transformers >= 5.x (integrations/gguf package)
        from transformers.integrations.gguf.gguf_tokenizer_mapping import (
            GGUF_TOKENIZER_MAPPING,
            convert_gguf_tokenizer,
        )
    except ImportError:  # pragma: no cover - older 5.x layout
        try:
            from transformers.integrations.ggml import convert_gguf_tokenizer
            from transformers.integrations.gguf import GGUF_TOKENIZER_MAPPING
        except ImportError:
            raise MissingDependencyError(
                "Building a tokenizer from a GGUF file needs transformers' GGUF tokenizer "
                "converters (transformers>=5); upgrade transformers.") from None
    return GGUF_TOKENIZER_MAPPING, convert_gguf_tokenizer


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def gguf_tokenizer_parts(gguf_file: GGUFFile) -> tuple[str, dict, dict]:
    """``(architecture, tokenizer_dict, tokenizer_kwargs)`` as transformers' converters expect."""
    mapping, _ = _transformers_builders()
    metadata = gguf_file.metadata
    tokens = metadata.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, list) or not tokens:
        raise CheckpointError(f"'{gguf_file.path}' carries no vocabulary "
                              "(tokenizer.ggml.tokens); load the tokenizer from the original "
                              "model instead.")
    n_tokens = len(tokens)
    vocab = {name: _plain(metadata[f"tokenizer.{key}"])
             for key, name in mapping["tokenizer"].items() if f"tokenizer.{key}" in metadata}
    config = {name: _plain(metadata[f"tokenizer.{key}"])
              for key, name in mapping["tokenizer_config"].items()
              if f"tokenizer.{key}" in metadata}
    kind = vocab.get("tokenizer_type")
    if not isinstance(kind, str):
        raise CheckpointError(f"'{gguf_file.path}': tokenizer.ggml.model is missing or not a "
                              "string.")
    for key in ("scores", "token_type"):
        if key in vocab and (not isinstance(vocab[key], list) or len(vocab[key]) != n_tokens):
            raise CheckpointError(f"'{gguf_file.path}': tokenizer.ggml.{key} has "
                                  f"{len(vocab[key]) if isinstance(vocab[key], list) else '?'} "
                                  f"entries for {n_tokens} tokens.")
    merges = vocab.get("merges")
    if merges is not None:
        if not isinstance(merges, list) or not all(
                isinstance(m, str) and m.count(" ") == 1 for m in merges):
            raise CheckpointError(f"'{gguf_file.path}': tokenizer.ggml.merges must be strings "
                                  "of two tokens separated by one space.")
    if "precompiled_charsmap" in vocab:
        vocab["precompiled_charsmap"] = bytes(bytearray(vocab["precompiled_charsmap"]))
    for key in ("chat_template",):
        if key in config and not isinstance(config[key], str):
            raise CheckpointError(f"'{gguf_file.path}': tokenizer.{key} is not a string.")
    for key in ("add_bos_token", "add_eos_token"):
        if key in config and not isinstance(config[key], bool):
            raise CheckpointError(f"'{gguf_file.path}': tokenizer.ggml.{key} is not a boolean.")
    # transformers' get_gguf_tokenizer: llama.cpp adds BOS to a SentencePiece vocabulary that
    # does not say otherwise; Gemma 4's template writes <bos> itself.
    if kind == "llama":
        config.setdefault("add_bos_token", True)
    elif kind == "gemma4":
        config["add_bos_token"] = False
    for name, key in _SPECIAL.items():
        token_id = metadata.get(f"tokenizer.ggml.{key}")
        if token_id is None:
            continue
        if (not isinstance(token_id, int) or isinstance(token_id, bool)
                or not 0 <= token_id < n_tokens):
            raise CheckpointError(f"'{gguf_file.path}': tokenizer.ggml.{key} = {token_id!r} is "
                                  f"not a token id of the {n_tokens}-token vocabulary.")
        config[name] = tokens[token_id]
    return gguf_file.architecture, vocab, config


def _digits_then_gpt2(backend):
    from tokenizers import pre_tokenizers

    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])


def tokenizer_from_gguf(path_or_file, **kwargs):
    """A ``transformers.PreTrainedTokenizerFast`` built from a GGUF file's metadata.

    ``kwargs`` are passed to the tokenizer (``padding_side="left"``, ``model_max_length``...).
    """
    from transformers import PreTrainedTokenizerFast

    gguf_file = path_or_file if isinstance(path_or_file, GGUFFile) else GGUFFile(path_or_file)
    try:
        arch, vocab, config = gguf_tokenizer_parts(gguf_file)
    finally:
        if gguf_file is not path_or_file:
            gguf_file.close()
    _, convert_gguf_tokenizer = _transformers_builders()
    try:
        backend, extra = convert_gguf_tokenizer(arch, vocab)
    except Exception as e:  # noqa: BLE001 - file data only; tokenizers raises bare Exception
        raise CheckpointError(f"Cannot build a tokenizer from '{gguf_file.path}' "
                              f"(tokenizer.ggml.model = {vocab.get('tokenizer_type')!r}): "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if (vocab.get("tokenizer_type") == "gpt2"
            and vocab.get("pre_tokenizer_type") in _DIGITS_THEN_GPT2):
        _digits_then_gpt2(backend)
    config.update(extra or {})
    config.update(kwargs)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **config)
    tokenizer.name_or_path = gguf_file.path
    return tokenizer
