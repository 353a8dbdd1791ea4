"""CTranslate2 Whisper folders (faster-whisper's format) in tfhf.

* Synthetic: a tiny random PyTorch Whisper is written by the test as a CTranslate2
  ``model.bin`` (fused q|k|v and k|v projections, zero k biases, CTranslate2's scalars,
  float32 / float16 / bfloat16 / int8 / int16 weights) and loaded with
  ``TFWhisperForConditionalGeneration.from_pretrained(ct2_dir)``: its logits equal PyTorch's
  on the same (dequantized) weights; ``convert_ct2_to_hf`` writes a folder PyTorch loads.
* Hostile ``model.bin`` files (truncated, huge dims, bad counts, unknown dtypes, ...) give
  a clear :class:`tfhf.errors.CheckpointError` before any large allocation.
* Real weights (the ``whisper-tiny-en`` asset, Whisper tiny.en in float16): the converted
  folder loads into PyTorch and into tfhf with the same logits (within 1e-3; float16-origin
  weights in float32 compute, measured ~3e-5), and its tokenizer, feature extractor and
  generation config are usable.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import assets  # noqa: E402
from tfhf.errors import CheckpointError, ConfigError, UnsupportedModelError  # noqa: E402
from tfhf.hub.ctranslate2 import CT2Model  # noqa: E402
from tfhf.models.whisper import convert_ct2_to_hf  # noqa: E402
from tfhf.models.whisper.ct2 import is_ct2_folder  # noqa: E402

VOCAB, D, MELS, SRC, TGT = 64, 16, 8, 6, 16
EOS, START = 2, 3
CODES = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}


# --------------------------------------------------------------------------- writing
def _string(s):
    raw = s.encode("utf-8") + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_model_bin(path, variables, aliases=(), version=6, spec="WhisperSpec", revision=3):
    """``variables``: (name, array, dtype name) with the array already in that dtype (bfloat16
    as uint16 bit patterns)."""
    out = [struct.pack("<I", version), _string(spec), struct.pack("<II", revision,
                                                                   len(variables))]
    for name, arr, dtype in variables:
        arr = np.ascontiguousarray(arr)
        out.append(_string(name) + struct.pack("<B", arr.ndim))
        out.append(b"".join(struct.pack("<I", d) for d in arr.shape))
        out.append(struct.pack("<BI", CODES[dtype], arr.nbytes) + arr.tobytes())
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases:
        out.append(_string(alias) + _string(target))
    with open(path, "wb") as fh:
        fh.write(b"".join(out))


def _quantize(w, quant):
    """-> (stored variables [(suffix, array, dtype)], the float32 weight they stand for)."""
    w = w.astype(np.float32)
    if quant == "int8":
        amax = np.abs(w).max(axis=1)
        amax[amax == 0] = 127.0
        scale = (127.0 / amax).astype(np.float32)
        q = np.rint(w * scale[:, None]).astype(np.int8)
        return [("", q, "int8"), ("_scale", scale, "float32")], q / scale[:, None]
    if quant == "int16":
        scale = np.float32(2 ** 10 / np.abs(w).max())
        q = np.clip(np.rint(w * scale), -32768, 32767).astype(np.int16)
        return [("", q, "int16"), ("_scale", np.array(scale), "float32")], q / scale
    return _floating(w, quant)


def _floating(w, quant):
    w = w.astype(np.float32)
    if quant == "float16":
        h = w.astype(np.float16)
        return [("", h, "float16")], h.astype(np.float32)
    if quant == "bfloat16":
        bits = (w.view(np.uint32) >> 16).astype(np.uint16)
        return [("", bits, "bfloat16")], (bits.astype(np.uint32) << 16).view(np.float32)
    return [("", w, "float32")], w


def pt_to_ct2(pt, folder, quant="float32", extra_config=None):
    """Write ``pt`` (a WhisperForConditionalGeneration) as a CTranslate2 Whisper folder, the
    way CTranslate2's converter lays it out. Returns the HF state the stored values stand
    for (dequantized), for a PyTorch reference."""
    sd = {k: v.detach().numpy() for k, v in pt.state_dict().items()}
    variables, expected = [], {}

    def put(name, hf_names, linear=False, arrays=None):
        arrays = arrays if arrays is not None else [sd[h] for h in hf_names]
        fused = np.concatenate(arrays, axis=0)
        stored, value = (_quantize(fused, quant) if linear and quant in ("int8", "int16")
                         else _floating(fused, "float32" if quant in ("int8", "int16")
                                        else quant))
        variables.extend((name + suffix, arr, dt) for suffix, arr, dt in stored)
        for h, part in zip(hf_names, np.split(value, len(hf_names), axis=0)):
            if h is not None:
                expected[h] = part

    def linear(ct2, hf_names):
        put(f"{ct2}/weight", [f"{h}.weight" for h in hf_names], linear=True)
        biases = [sd.get(f"{h}.bias", np.zeros(sd[f"{h}.weight"].shape[0], np.float32))
                  for h in hf_names]
        put(f"{ct2}/bias", [f"{h}.bias" if f"{h}.bias" in sd else None for h in hf_names],
            arrays=biases)

    def norm(ct2, hf):
        put(f"{ct2}/gamma", [f"{hf}.weight"])
        put(f"{ct2}/beta", [f"{hf}.bias"])

    E, Dd, cfg = "model.encoder", "model.decoder", pt.config
    for conv in ("conv1", "conv2"):
        put(f"encoder/{conv}/weight", [f"{E}.{conv}.weight"])
        put(f"encoder/{conv}/bias", [f"{E}.{conv}.bias"])
    put("encoder/position_encodings/encodings", [f"{E}.embed_positions.weight"])
    put("decoder/position_encodings/encodings", [f"{Dd}.embed_positions.weight"])
    put("decoder/embeddings/weight", [f"{Dd}.embed_tokens.weight"], linear=True)
    for stack, hf, n in (("encoder", E, cfg.encoder_layers), ("decoder", Dd, cfg.decoder_layers)):
        norm(f"{stack}/layer_norm", f"{hf}.layer_norm")
        for i in range(n):
            c, h = f"{stack}/layer_{i}", f"{hf}.layers.{i}"
            norm(f"{c}/self_attention/layer_norm", f"{h}.self_attn_layer_norm")
            linear(f"{c}/self_attention/linear_0", [f"{h}.self_attn.{p}_proj" for p in "qkv"])
            linear(f"{c}/self_attention/linear_1", [f"{h}.self_attn.out_proj"])
            if stack == "decoder":
                norm(f"{c}/attention/layer_norm", f"{h}.encoder_attn_layer_norm")
                linear(f"{c}/attention/linear_0", [f"{h}.encoder_attn.q_proj"])
                linear(f"{c}/attention/linear_1", [f"{h}.encoder_attn.{p}_proj" for p in "kv"])
                linear(f"{c}/attention/linear_2", [f"{h}.encoder_attn.out_proj"])
            norm(f"{c}/ffn/layer_norm", f"{h}.final_layer_norm")
            linear(f"{c}/ffn/linear_0", [f"{h}.fc1"])
            linear(f"{c}/ffn/linear_1", [f"{h}.fc2"])
    scalars = [("decoder/activation", np.array(3, np.int8), "int8"),
               ("decoder/alibi", np.array(0, np.int8), "int8"),
               ("decoder/pre_norm", np.array(1, np.int8), "int8"),
               ("decoder/scale_embeddings", np.array(0, np.int8), "int8"),
               ("decoder/start_from_zero_embedding", np.array(0, np.int8), "int8"),
               ("decoder/num_heads", np.array(cfg.decoder_attention_heads, np.int16), "int16"),
               ("encoder/num_heads", np.array(cfg.encoder_attention_heads, np.int16), "int16")]
    variables = sorted(variables + scalars, key=lambda v: v[0])
    os.makedirs(folder, exist_ok=True)
    write_model_bin(os.path.join(folder, "model.bin"), variables,
                    aliases=[("decoder/projection/weight", "decoder/embeddings/weight")])
    config = {"suppress_ids": [5, 6], "suppress_ids_begin": [7, EOS],
              "alignment_heads": [[1, 0], [1, 1]], "lang_ids": []}
    config.update(extra_config or {})
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump(config, fh)
    tokens = [f"tok{i}" for i in range(VOCAB)]
    tokens[EOS], tokens[START] = "<|endoftext|>", "<|startoftranscript|>"
    with open(os.path.join(folder, "vocabulary.txt"), "w") as fh:
        fh.write("\n".join(tokens))
    return expected


def tiny_pt():
    torch.manual_seed(0)
    config = transformers.WhisperConfig(
        vocab_size=VOCAB, num_mel_bins=MELS, d_model=D, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=2, encoder_ffn_dim=24,
        decoder_ffn_dim=20, max_source_positions=SRC, max_target_positions=TGT,
        pad_token_id=EOS, bos_token_id=EOS, eos_token_id=EOS, decoder_start_token_id=START,
        suppress_tokens=[], begin_suppress_tokens=[], init_std=0.2,
        attn_implementation="eager")
    pt = transformers.WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():  # non-zero biases everywhere, so a misplaced one shows
        for name, p in pt.named_parameters():
            if name.endswith(".bias"):
                p.copy_(torch.randn_like(p) * 0.1)
    return pt


def inputs(mels=MELS, frames=2 * SRC, seed=0):
    rs = np.random.RandomState(seed)
    feats = rs.randn(2, mels, frames).astype(np.float32)
    dec = rs.randint(4, VOCAB, size=(2, 5)).astype(np.int64)
    dec[:, 0] = START
    return feats, dec


def pt_logits(pt, feats, dec):
    with torch.no_grad():
        return pt(input_features=torch.tensor(feats),
                  decoder_input_ids=torch.tensor(dec)).logits.numpy()


# --------------------------------------------------------------------------- synthetic
@pytest.mark.parametrize("quant", ["float32", "float16", "bfloat16", "int8", "int16"])
def test_from_pretrained_on_ct2_folder_matches_pytorch(tmp_path, quant):
    pt = tiny_pt()
    expected = pt_to_ct2(pt, tmp_path / "ct2", quant)
    assert is_ct2_folder(str(tmp_path / "ct2"))
    ref_model = transformers.WhisperForConditionalGeneration(pt.config).eval()
    missing, unexpected = ref_model.load_state_dict(
        {k: torch.tensor(v) for k, v in expected.items()}, strict=False)
    assert set(missing) <= {"proj_out.weight"} and not unexpected  # k biases: none in HF
    feats, dec = inputs()
    ref = pt_logits(ref_model, feats, dec)
    model = tfhf.TFAutoModelForSpeechSeq2Seq.from_pretrained(tmp_path / "ct2")
    assert type(model).__name__ == "TFWhisperForConditionalGeneration"
    np.testing.assert_allclose(model(feats, decoder_input_ids=dec).logits.numpy(), ref,
                               atol=1e-4)
    c, gc = model.config, model.generation_config
    assert (c.encoder_attention_heads, c.decoder_attention_heads, c.num_mel_bins) == (4, 2, MELS)
    assert (c.decoder_start_token_id, c.eos_token_id, c.tie_word_embeddings) == (START, EOS, True)
    assert gc.suppress_tokens == [5, 6] and gc.begin_suppress_tokens == [7, EOS]
    assert gc.alignment_heads == [[1, 0], [1, 1]]


def test_convert_ct2_to_hf_writes_a_folder_pytorch_loads(tmp_path):
    pt = tiny_pt()
    expected = pt_to_ct2(pt, tmp_path / "ct2", "float16")
    out = tmp_path / "hf"
    convert_ct2_to_hf(tmp_path / "ct2", out)
    files = set(os.listdir(out))
    assert {"model.safetensors", "config.json", "generation_config.json",
            "preprocessor_config.json"} <= files
    assert not [f for f in files if f.startswith(".")]  # no temporary files left
    back, info = transformers.WhisperForConditionalGeneration.from_pretrained(
        out, output_loading_info=True, dtype=torch.float32)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    for k, v in expected.items():
        np.testing.assert_array_equal(back.state_dict()[k].numpy(), v)
    feats, dec = inputs()
    ours = tfhf.TFWhisperForConditionalGeneration.from_pretrained(out)
    np.testing.assert_allclose(ours(feats, decoder_input_ids=dec).logits.numpy(),
                               pt_logits(back.eval(), feats, dec), atol=1e-4)
    assert transformers.AutoFeatureExtractor.from_pretrained(out).feature_size == MELS


def test_ct2_config_and_variables_are_checked(tmp_path):
    pt = tiny_pt()
    pt_to_ct2(pt, tmp_path / "a", extra_config={"suppress_ids": [5, VOCAB + 3]})
    with pytest.raises(ConfigError, match="suppress_ids"):
        tfhf.TFWhisperForConditionalGeneration.from_pretrained(tmp_path / "a")
    pt_to_ct2(pt, tmp_path / "b", extra_config={"alignment_heads": [[9, 0]]})
    with pytest.raises(ConfigError, match="alignment_heads"):
        convert_ct2_to_hf(tmp_path / "b", tmp_path / "b_out")
    assert not os.path.exists(tmp_path / "b_out" / "model.safetensors")
    # an HF folder is not a CTranslate2 one
    pt.save_pretrained(tmp_path / "hf")
    assert not is_ct2_folder(str(tmp_path / "hf"))


def _valid_variables():
    return [("decoder/num_heads", np.array(2, np.int16), "int16"),
            ("encoder/conv1/weight", np.ones((4, 2, 3), np.float16), "float16")]


def _write_raw(path, *chunks):
    with open(path, "wb") as fh:
        fh.write(b"".join(chunks))


def _header(count, version=6, spec="WhisperSpec"):
    return struct.pack("<I", version) + _string(spec) + struct.pack("<II", 3, count)


def _var(name, dims, code, nbytes, data=b""):
    return (_string(name) + struct.pack("<B", len(dims))
            + b"".join(struct.pack("<I", d) for d in dims) + struct.pack("<BI", code, nbytes)
            + data)


HOSTILE = {
    "empty": (lambda p: _write_raw(p), "empty"),
    "truncated": (lambda p: _write_raw(p, _header(1), _var("w", [4, 4], 0, 64, b"\0" * 10)),
                  "truncated"),
    "huge dims": (lambda p: _write_raw(p, _header(1), _var("w", [2 ** 31, 2 ** 31], 0, 8,
                                                            b"\0" * 8)), "declares 8"),
    "huge bytes": (lambda p: _write_raw(p, _header(1), _var("w", [2 ** 30 - 1], 0,
                                                             4 * (2 ** 30 - 1))), "truncated"),
    "bad count": (lambda p: _write_raw(p, _header(2 ** 32 - 1), _var("w", [1], 0, 4, b"\0" * 4)),
                  "variables"),
    "unknown dtype": (lambda p: _write_raw(p, _header(1), _var("w", [1], 9, 4, b"\0" * 4)),
                      "dtype code 9"),
    "rank": (lambda p: _write_raw(p, _header(1), _string("w") + struct.pack("<B", 200),
                                  b"\0" * 32),
             "rank 200"),
    "name length": (lambda p: _write_raw(p, _header(1), struct.pack("<H", 60000), b"\0" * 32),
                    "length 60000"),
    "no NUL": (lambda p: _write_raw(p, _header(1), struct.pack("<H", 2) + b"ab",
                                    b"\0" * 32),
               "NUL"),
    "bad alias": (lambda p: _write_raw(p, _header(1), _var("w", [1], 0, 4, b"\0" * 4),
                                       struct.pack("<I", 1), _string("a"), _string("nope")),
                  "points to"),
    "alias count": (lambda p: _write_raw(p, _header(1), _var("w", [1], 0, 4, b"\0" * 4),
                                         struct.pack("<I", 2 ** 31)), "aliases"),
    "trailing": (lambda p: _write_raw(p, _header(1), _var("w", [1], 0, 4, b"\0" * 4),
                                      struct.pack("<I", 0), b"junk"), "unexpected bytes"),
    "version": (lambda p: _write_raw(p, _header(0, version=99)), "binary version 99"),
    "duplicate": (lambda p: _write_raw(p, _header(2), _var("w", [1], 0, 4, b"\0" * 4),
                                       _var("w", [1], 0, 4, b"\0" * 4)), "twice"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_model_bin_gives_clear_errors(tmp_path, case):
    write, match = HOSTILE[case]
    path = tmp_path / "model.bin"
    write(path)
    with pytest.raises(CheckpointError, match=match) as err:
        CT2Model(str(path))
    assert "model.bin" in str(err.value)


def test_unsupported_ct2_models(tmp_path):
    write_model_bin(tmp_path / "model.bin", _valid_variables(), spec="TransformerSpec")
    with open(tmp_path / "config.json", "w") as fh:
        json.dump({"bos_token": "<s>", "eos_token": "</s>"}, fh)
    with pytest.raises(UnsupportedModelError, match="TransformerSpec"):
        tfhf.TFWhisperForConditionalGeneration.from_pretrained(tmp_path)
    # an int8 weight without its scale cannot be dequantized
    write_model_bin(tmp_path / "q.bin", [("w", np.ones((2, 2), np.int8), "int8")])
    with CT2Model(str(tmp_path / "q.bin")) as m:
        with pytest.raises(CheckpointError, match="w_scale"):
            m.float_array("w")
    # a Whisper variant with variables tfhf does not map
    pt = tiny_pt()
    pt_to_ct2(pt, tmp_path / "x")
    m = CT2Model(str(tmp_path / "x" / "model.bin"))
    variables = [(n, np.array(m.raw(n)), next(k for k, v in CODES.items()
                                              if v == m.variable(n).code))
                 for n in m.names() if n not in m.aliases]
    m.close()
    variables.append(("encoder/layer_0/self_attention/linear_0/low_rank_weight",
                      np.ones((2, 2), np.float32), "float32"))
    write_model_bin(tmp_path / "x" / "model.bin", variables,
                    aliases=[("decoder/projection/weight", "decoder/embeddings/weight")])
    with pytest.raises(UnsupportedModelError, match="low_rank_weight"):
        tfhf.TFWhisperForConditionalGeneration.from_pretrained(tmp_path / "x")


# --------------------------------------------------------------------------- real weights
@pytest.fixture(scope="module")
def tiny_en():
    if not assets.is_installed("whisper-tiny-en"):
        pytest.skip("the Whisper tiny.en asset is not installed: "
                    "`tfhf assets install whisper-tiny-en`")
    return assets.path("whisper-tiny-en")


def test_real_tiny_en_converts_with_pytorch_parity(tiny_en, tmp_path):
    out = tmp_path / "tiny.en"
    convert_ct2_to_hf(tiny_en, out)
    pt = transformers.WhisperForConditionalGeneration.from_pretrained(
        out, dtype=torch.float32).eval()
    c = pt.config
    assert (c.num_mel_bins, c.d_model, c.encoder_layers, c.decoder_layers,
            c.encoder_attention_heads, c.vocab_size) == (80, 384, 4, 4, 6, 51864)
    rs = np.random.RandomState(0)
    feats = (rs.randn(1, 80, 3000) * 0.5).astype(np.float32)
    tok = transformers.AutoTokenizer.from_pretrained(out)
    text = tok(" The quick brown fox").input_ids
    assert text[:2] == [50257, 50362] and text[-1] == 50256  # <|startoftranscript|>...
    assert tok.decode(text, skip_special_tokens=True) == " The quick brown fox"
    dec = np.array([text[:-1]])
    ref = pt_logits(pt, feats, dec)
    model = tfhf.TFWhisperForConditionalGeneration.from_pretrained(tiny_en)  # on the fly
    np.testing.assert_allclose(model(feats, decoder_input_ids=dec).logits.numpy(), ref,
                               atol=1e-3)
    gc = model.generation_config
    with open(os.path.join(tiny_en, "config.json")) as fh:
        ct2_config = json.load(fh)
    assert gc.suppress_tokens == ct2_config["suppress_ids"]
    assert gc.alignment_heads == ct2_config["alignment_heads"]
    assert (gc.no_timestamps_token_id, gc.decoder_start_token_id, gc.is_multilingual) == (
        50362, 50257, False)
