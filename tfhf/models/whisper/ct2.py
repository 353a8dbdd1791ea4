"""CTranslate2 Whisper (faster-whisper's format) -> Hugging Face Whisper.

A CTranslate2 Whisper folder holds ``model.bin`` (a ``WhisperSpec``, read by
:mod:`tfhf.hub.ctranslate2`), a ``config.json`` of CTranslate2's own keys (``suppress_ids``,
``suppress_ids_begin``, ``lang_ids``, ``alignment_heads``) and usually ``tokenizer.json`` and
``vocabulary.txt``/``.json``. This module

* maps CTranslate2 variables to transformers' ``WhisperForConditionalGeneration`` weight
  names (:func:`weight_plan`; docs/whisper-ct2.md has the table), splitting the fused
  projections: self-attention ``linear_0`` is q|k|v, cross-attention ``linear_0`` is q and
  ``linear_1`` is k|v. transformers' k projections have no bias; CTranslate2 stores zeros
  there, and any value would be harmless (``q . (k + b)`` shifts every score of a query by
  the same amount, which softmax ignores), so it is dropped;
* infers the ``WhisperConfig`` from the shapes and the ``GenerationConfig`` (suppress tokens,
  alignment heads, special token ids, languages) from ``config.json`` and the tokenizer;
* writes an HF folder (:func:`convert_ct2_to_hf`) or feeds tfhf's ``from_pretrained``
  directly (:func:`open_ct2_state`).
"""

from __future__ import annotations

import contextvars
import json
import os
import re

import numpy as np

from ...errors import CheckpointError, ConfigError, InvalidInputError, UnsupportedModelError
from ...hub.ctranslate2 import CT2Model, read_spec_name
from ...hub.state import WeightState

CT2_CONFIG_KEYS = ("suppress_ids", "suppress_ids_begin", "lang_ids", "alignment_heads",
                   "decoder_start_token", "bos_token", "eos_token", "unk_token")
GELU = 3  # CTranslate2's Activation enum: RELU 0, GELUTanh 1, SWISH 2, GELU 3, ...
# scalars of the spec that carry no weights; each must hold the value Whisper has (or None)
_SCALARS = {"decoder/activation": GELU, "decoder/alibi": 0, "decoder/pre_norm": 1,
            "decoder/scale_embeddings": 0, "decoder/start_from_zero_embedding": 0,
            "decoder/alignment_heads": None, "decoder/alignment_layer": None,
            "decoder/num_heads": None, "encoder/num_heads": None}


# ---------------------------------------------------------------------------- detection
def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RecursionError) as e:
        raise ConfigError(f"Cannot read {what} '{path}': {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} '{path}' is not a JSON object.")
    return data


def is_ct2_folder(path: str) -> bool:
    """A folder with ``model.bin`` (a CTranslate2 header) and a ``config.json`` that has
    CTranslate2 keys and no ``model_type``."""
    model_bin, cfg = os.path.join(path, "model.bin"), os.path.join(path, "config.json")
    if not (os.path.isdir(path) and os.path.isfile(model_bin) and os.path.isfile(cfg)):
        return False
    try:
        with open(cfg, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(data, dict) or "model_type" in data:
        return False
    return any(k in data for k in CT2_CONFIG_KEYS) and read_spec_name(model_bin) is not None


def _open_whisper(folder):
    path = os.path.join(folder, "model.bin")
    if not os.path.isfile(path):
        raise InvalidInputError(f"'{folder}' has no model.bin: it is not a CTranslate2 model "
                                "folder.")
    model = CT2Model(path)
    if model.spec != "WhisperSpec":
        model.close()
        raise UnsupportedModelError(f"'{path}' is a CTranslate2 {model.spec}; tfhf converts "
                                    "only WhisperSpec models.")
    return model


# ---------------------------------------------------------------------------- names
def _layers(model, stack):
    found = set()
    for name in model.names():
        m = re.match(rf"{stack}/layer_(\d+)/", name)
        if m:
            found.add(int(m.group(1)))
    n = len(found)
    if found != set(range(n)):
        raise CheckpointError(f"CTranslate2 model '{model.path}': {stack} layers "
                              f"{sorted(found)} are not numbered 0..{n - 1}.")
    return n


def _linear(plan, ct2, hf, parts=1):
    """``ct2/{weight,bias}`` -> ``hf`` names (a list of ``parts`` names when fused along the
    output axis; ``None`` drops that part's bias)."""
    hf = hf if isinstance(hf, list) else [hf]
    plan.append((f"{ct2}/weight", [f"{h}.weight" for h in hf]))
    plan.append((f"{ct2}/bias", [None if h.endswith("k_proj") else f"{h}.bias" for h in hf]))


def _norm(plan, ct2, hf):
    plan.append((f"{ct2}/gamma", [f"{hf}.weight"]))
    plan.append((f"{ct2}/beta", [f"{hf}.bias"]))


def weight_plan(encoder_layers, decoder_layers, tied=True):
    """``[(ct2 name, [hf name or None, ...])]``: several HF names split the CTranslate2
    tensor into equal parts along axis 0 (``None``: a part that is dropped)."""
    plan, E, D = [], "model.encoder", "model.decoder"
    for conv in ("conv1", "conv2"):
        plan.append((f"encoder/{conv}/weight", [f"{E}.{conv}.weight"]))
        plan.append((f"encoder/{conv}/bias", [f"{E}.{conv}.bias"]))
    plan.append(("encoder/position_encodings/encodings", [f"{E}.embed_positions.weight"]))
    plan.append(("decoder/embeddings/weight", [f"{D}.embed_tokens.weight"]))
    plan.append(("decoder/position_encodings/encodings", [f"{D}.embed_positions.weight"]))
    for stack, hf_stack, n in (("encoder", E, encoder_layers), ("decoder", D, decoder_layers)):
        _norm(plan, f"{stack}/layer_norm", f"{hf_stack}.layer_norm")
        for i in range(n):
            c, h = f"{stack}/layer_{i}", f"{hf_stack}.layers.{i}"
            _norm(plan, f"{c}/self_attention/layer_norm", f"{h}.self_attn_layer_norm")
            _linear(plan, f"{c}/self_attention/linear_0",
                    [f"{h}.self_attn.{p}_proj" for p in "qkv"])
            _linear(plan, f"{c}/self_attention/linear_1", f"{h}.self_attn.out_proj")
            if stack == "decoder":
                _norm(plan, f"{c}/attention/layer_norm", f"{h}.encoder_attn_layer_norm")
                _linear(plan, f"{c}/attention/linear_0", f"{h}.encoder_attn.q_proj")
                _linear(plan, f"{c}/attention/linear_1",
                        [f"{h}.encoder_attn.{p}_proj" for p in "kv"])
                _linear(plan, f"{c}/attention/linear_2", f"{h}.encoder_attn.out_proj")
            _norm(plan, f"{c}/ffn/layer_norm", f"{h}.final_layer_norm")
            _linear(plan, f"{c}/ffn/linear_0", f"{h}.fc1")
            _linear(plan, f"{c}/ffn/linear_1", f"{h}.fc2")
    if not tied:
        plan.append(("decoder/projection/weight", ["proj_out.weight"]))
    return plan


# ---------------------------------------------------------------------------- config
def _token_ids(folder):
    """Special token text -> id, from tokenizer.json's added tokens or the vocabulary file."""
    ids = {}
    tok = os.path.join(folder, "tokenizer.json")
    if os.path.isfile(tok):
        data = _read_json(tok, "tokenizer")
        for t in data.get("added_tokens") or []:
            if isinstance(t, dict) and isinstance(t.get("content"), str) \
                    and isinstance(t.get("id"), int):
                ids[t["content"]] = t["id"]
        if ids:
            return ids
    for name in ("vocabulary.json", "vocabulary.txt"):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                tokens = json.load(fh) if name.endswith(".json") else fh.read().split("\n")
        except (OSError, ValueError, RecursionError) as e:
            raise ConfigError(f"Cannot read the vocabulary '{path}': {e}") from None
        if isinstance(tokens, list):
            return {t: i for i, t in enumerate(tokens)
                    if isinstance(t, str) and t.startswith("<|") and t.endswith("|>")}
    return ids


def _int_list(data, key, limit, path):
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < limit for v in value):
        raise ConfigError(f"'{path}': '{key}' must be a list of token ids in [0, {limit}).")
    return list(value)


def _check_scalars(model):
    for name, want in _SCALARS.items():
        value = model.scalar(name)
        if want is not None and value is not None and int(value) != want:
            raise UnsupportedModelError(
                f"CTranslate2 model '{model.path}': {name} = {value}, but Whisper (and "
                f"transformers' WhisperForConditionalGeneration) has {want}; tfhf cannot "
                "convert this model.")


def _alignment_heads(ct2_cfg, cfg_path, n_dec, heads_dec):
    """The config's ``alignment_heads`` (None when absent), checked against the decoder."""
    align = ct2_cfg.get("alignment_heads")
    if align is not None:
        ok = isinstance(align, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, int) for v in p)
            and 0 <= p[0] < n_dec and 0 <= p[1] < heads_dec for p in align)
        if not ok:
            raise ConfigError(f"'{cfg_path}': alignment_heads must be [layer, head] pairs "
                              f"within {n_dec} decoder layers and {heads_dec} heads.")
    return align


def _generation_kwargs(ids, *, sot, eos, max_length, suppress, begin, multilingual, lang_ids,
                       align):
    """The GenerationConfig fields of a CTranslate2 Whisper model (special ids by token)."""
    gen = dict(decoder_start_token_id=sot, bos_token_id=eos, eos_token_id=eos,
               pad_token_id=eos, max_length=max_length,
               suppress_tokens=suppress, begin_suppress_tokens=begin,
               is_multilingual=multilingual, return_timestamps=False)
    if align is not None:
        gen["alignment_heads"] = align
    for key, token in (("no_timestamps_token_id", "<|notimestamps|>"),
                       ("prev_sot_token_id", "<|startofprev|>")):
        if token in ids:
            gen[key] = ids[token]
    if "<|notimestamps|>" in ids:
        gen["max_initial_timestamp_index"] = 50
    if multilingual:
        by_id = {v: k for k, v in ids.items()}
        langs = {by_id[i]: i for i in lang_ids if i in by_id}
        if langs:
            gen["lang_to_id"] = langs
        tasks = {t: ids[f"<|{t}|>"] for t in ("transcribe", "translate") if f"<|{t}|>" in ids}
        if tasks:
            gen["task_to_id"] = tasks
    return gen


def infer_config(model, folder):
    """(WhisperConfig, GenerationConfig, tied) of a CTranslate2 Whisper model."""
    from transformers import GenerationConfig, WhisperConfig

    _check_scalars(model)
    need = ["encoder/conv1/weight", "encoder/conv2/weight", "decoder/embeddings/weight",
            "encoder/position_encodings/encodings", "decoder/position_encodings/encodings"]
    missing = [n for n in need if n not in model]
    if missing:
        raise CheckpointError(f"CTranslate2 model '{model.path}' lacks {missing}: not a "
                              "complete Whisper model.")
    conv1 = model.shape("encoder/conv1/weight")
    if len(conv1) != 3 or conv1[2] != 3:
        raise CheckpointError(f"CTranslate2 model '{model.path}': encoder/conv1/weight has "
                              f"shape {conv1}, expected (d_model, num_mel_bins, 3).")
    d_model, n_mels = conv1[0], conv1[1]
    vocab = model.shape("decoder/embeddings/weight")[0]
    n_enc, n_dec = _layers(model, "encoder"), _layers(model, "decoder")
    if not n_enc or not n_dec:
        raise CheckpointError(f"CTranslate2 model '{model.path}' has {n_enc} encoder and "
                              f"{n_dec} decoder layers.")

    def heads(stack):
        n = int(model.scalar(f"{stack}/num_heads", d_model // 64))  # Whisper: head_dim 64
        if n <= 0 or d_model % n:
            raise CheckpointError(f"CTranslate2 model '{model.path}': {stack} has {n} heads "
                                  f"for d_model {d_model}.")
        return n

    def ffn(stack):
        return model.shape(f"{stack}/layer_0/ffn/linear_0/weight")[0]

    tied = ("decoder/projection/weight" not in model
            or model.aliases.get("decoder/projection/weight") == "decoder/embeddings/weight")
    if "decoder/projection/bias" in model and np.any(model.float_array("decoder/projection/bias")):
        raise UnsupportedModelError(f"CTranslate2 model '{model.path}' has an output bias "
                                    "(decoder/projection/bias); Whisper's proj_out has none.")
    cfg_path = os.path.join(folder, "config.json")
    ct2_cfg = _read_json(cfg_path, "CTranslate2 config") if os.path.isfile(cfg_path) else {}
    ids = _token_ids(folder)
    multilingual = vocab >= 51865
    eos = ids.get("<|endoftext|>", 50257 if multilingual else 50256)
    sot = ids.get("<|startoftranscript|>", eos + 1)
    for name, value in (("<|endoftext|>", eos), ("<|startoftranscript|>", sot)):
        if not 0 <= value < vocab:
            raise ConfigError(f"{name} has id {value}, outside the vocabulary of {vocab}.")
    suppress = _int_list(ct2_cfg, "suppress_ids", vocab, cfg_path)
    begin = _int_list(ct2_cfg, "suppress_ids_begin", vocab, cfg_path)
    lang_ids = _int_list(ct2_cfg, "lang_ids", vocab, cfg_path) or []
    heads_dec = heads("decoder")
    align = _alignment_heads(ct2_cfg, cfg_path, n_dec, heads_dec)
    config = WhisperConfig(
        vocab_size=vocab, num_mel_bins=n_mels, d_model=d_model,
        encoder_layers=n_enc, decoder_layers=n_dec, encoder_attention_heads=heads("encoder"),
        decoder_attention_heads=heads_dec, encoder_ffn_dim=ffn("encoder"),
        decoder_ffn_dim=ffn("decoder"), activation_function="gelu",
        max_source_positions=model.shape("encoder/position_encodings/encodings")[0],
        max_target_positions=model.shape("decoder/position_encodings/encodings")[0],
        decoder_start_token_id=sot, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
        suppress_tokens=suppress, begin_suppress_tokens=begin, tie_word_embeddings=tied,
        architectures=["WhisperForConditionalGeneration"])
    gen = _generation_kwargs(ids, sot=sot, eos=eos, max_length=config.max_target_positions,
                             suppress=suppress, begin=begin, multilingual=multilingual,
                             lang_ids=lang_ids, align=align)
    return config, GenerationConfig(**{k: v for k, v in gen.items() if v is not None}), tied


# ---------------------------------------------------------------------------- weights
class CT2WhisperState(WeightState):
    """The HF-named state (``keys``/``get``/``close``) of a CTranslate2 Whisper model;
    fused tensors are split on demand."""

    def __init__(self, folder, model=None):
        self.model = model or _open_whisper(folder)
        try:
            m = self.model
            _, _, tied = infer_config(m, folder)
            plan = weight_plan(_layers(m, "encoder"), _layers(m, "decoder"), tied)
            self._where = {}
            used = set()
            for ct2, hf_names in plan:
                used.add(ct2)
                if ct2 not in m:
                    if ct2.endswith("/bias"):  # CTranslate2's OPTIONAL bias: zeros
                        for part, hf in enumerate(hf_names):
                            if hf is not None:
                                self._where[hf] = (ct2, part, len(hf_names))
                        continue
                    raise CheckpointError(f"CTranslate2 model '{m.path}' lacks '{ct2}'.")
                rows = m.shape(ct2)[0] if m.shape(ct2) else 0
                if rows % len(hf_names):
                    raise CheckpointError(f"CTranslate2 model '{m.path}': '{ct2}' has {rows} "
                                          f"rows, not {len(hf_names)} equal parts.")
                for part, hf in enumerate(hf_names):
                    if hf is not None:
                        self._where[hf] = (ct2, part, len(hf_names))
            used |= {f"{n}_scale" for n in used} | set(_SCALARS) | {"decoder/projection/weight",
                                                                   "decoder/projection/bias"}
            unknown = sorted(n for n in m.names() if n not in used)
            if unknown:
                raise UnsupportedModelError(
                    f"CTranslate2 model '{m.path}' has variables tfhf does not map to "
                    f"transformers' Whisper: {unknown[:5]}{' ...' if len(unknown) > 5 else ''} "
                    "(a Whisper variant such as lite-whisper's low-rank layers?).")
        except BaseException:
            self.model.close()
            raise

    def keys(self):
        return list(self._where)

    def __contains__(self, name):
        return name in self._where

    def get(self, name) -> np.ndarray:
        ct2, part, parts = self._where[name]
        m = self.model
        if ct2 not in m:  # an omitted bias
            weight = ct2[: -len("bias")] + "weight"
            return np.zeros(m.shape(weight)[0] // parts, np.float32)
        arr = m.float_array(ct2)
        if parts > 1:
            arr = np.split(arr, parts, axis=0)[part]
        return np.array(arr)  # a copy: the file's map may be closed afterwards

    def close(self):
        self.model.close()


def open_ct2_state(folder) -> CT2WhisperState:
    return CT2WhisperState(folder)


# ---------------------------------------------------------------------------- HF folder
def _tokenizer_files(folder):
    """tokenizer.json (copied), vocab.json + merges.txt (from its BPE model),
    tokenizer_config.json and special_tokens_map.json; {} without a tokenizer.json."""
    path = os.path.join(folder, "tokenizer.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    data = json.loads(text)
    files = {"tokenizer.json": text}
    bpe = data.get("model") if isinstance(data.get("model"), dict) else {}
    if bpe.get("type") == "BPE" and isinstance(bpe.get("vocab"), dict):
        files["vocab.json"] = json.dumps(bpe["vocab"], ensure_ascii=False)
        merges = [m if isinstance(m, str) else " ".join(m) for m in bpe.get("merges") or []]
        files["merges.txt"] = "#version: 0.2\n" + "\n".join(merges) + "\n"
    special = "<|endoftext|>"
    tok_config = {"tokenizer_class": "WhisperTokenizer", "model_max_length": 1024,
                  "errors": "replace", "add_prefix_space": False, "bos_token": special,
                  "eos_token": special, "unk_token": special, "pad_token": special,
                  "clean_up_tokenization_spaces": False}
    files["tokenizer_config.json"] = json.dumps(tok_config, indent=2) + "\n"
    files["special_tokens_map.json"] = json.dumps(
        {k: special for k in ("bos_token", "eos_token", "unk_token", "pad_token")},
        indent=2) + "\n"
    return files


def _preprocessor_config(n_mels):
    config = {"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": n_mels,
              "sampling_rate": 16000, "hop_length": 160, "chunk_length": 30, "n_fft": 400,
              "n_samples": 480000, "nb_max_frames": 3000, "padding_side": "right",
              "padding_value": 0.0, "return_attention_mask": False, "dither": 0.0,
              "processor_class": "WhisperProcessor"}
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def convert_ct2_to_hf(ct2_dir, out_dir, dtype="float32", max_shard_size="5GB"):
    """Convert a CTranslate2 Whisper folder into a Hugging Face one.

    Writes ``model.safetensors`` (``dtype``: ``"float32"`` (default; transformers' Whisper
    checkpoints are float32), ``"float16"`` or ``"bfloat16"``), ``config.json``,
    ``generation_config.json``, ``preprocessor_config.json`` and, when the CTranslate2
    folder has a ``tokenizer.json``, the tokenizer files: all in one all-or-nothing step.
    PyTorch ``WhisperForConditionalGeneration.from_pretrained(out_dir)`` and tfhf load the
    result. Returns ``out_dir``.
    """
    from ...hub.safetensors_io import save_sharded

    ct2_dir, out_dir = os.fspath(ct2_dir), os.fspath(out_dir)
    if dtype not in ("float32", "float16", "bfloat16"):
        raise InvalidInputError(f"dtype={dtype!r}: use 'float32', 'float16' or 'bfloat16'.")
    if os.path.isfile(out_dir):
        raise InvalidInputError(f"'{out_dir}' is a file; pass a folder to write into.")
    if os.path.abspath(out_dir) == os.path.abspath(ct2_dir):
        raise InvalidInputError("Write the converted model to another folder than the "
                                "CTranslate2 one (both have a config.json).")
    with CT2WhisperState(ct2_dir) as state:
        config, gen, _ = infer_config(state.model, ct2_dir)
        tensors = {}
        for name in state.keys():
            arr = state.get(name).astype(np.float32)
            if dtype == "bfloat16":
                import ml_dtypes

                arr = arr.astype(ml_dtypes.bfloat16)
            elif dtype == "float16":
                arr = arr.astype(np.float16)
            tensors[name] = arr
    config.dtype = dtype
    extra = {"config.json": config.to_json_string(use_diff=True),
             "generation_config.json": gen.to_json_string(use_diff=True),
             "preprocessor_config.json": _preprocessor_config(config.num_mel_bins)}
    extra.update(_tokenizer_files(ct2_dir))
    save_sharded(tensors, out_dir, max_shard_size, metadata={"format": "pt"}, extra_files=extra)
    return out_dir


# the CTranslate2 folder whose weights the current from_pretrained call reads
LOADING = contextvars.ContextVar("tfhf_ct2_whisper_loading", default=None)


def inferred_configs(folder):
    """(WhisperConfig, GenerationConfig) of a CTranslate2 Whisper folder."""
    with _open_whisper(folder) as model:
        config, gen, _ = infer_config(model, folder)
    return config, gen


def folder_config(path: str):
    """The registry's folder hook: the inferred ``WhisperConfig`` of a CTranslate2 Whisper
    folder, ``None`` for any other folder."""
    return inferred_configs(path)[0] if is_ct2_folder(path) else None
