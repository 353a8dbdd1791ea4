"""Every consumer of a decoder LM takes a quantized one, and every decoder family quantizes.

Consumers (issue 15 item 2): ``generate`` (tokens equal to float32 in test_quantization.py),
the text-generation pipeline, the ``tfhf generate`` / ``tfhf chat`` ``--quantize`` option and
the generation SavedModel run in a process without tfhf. They share chat_fixtures' tiny Llama
(initializer_range 0.5: peaked logits, so int8's ~1% logit error cannot flip a greedy choice);
the reference is PyTorch float32 greedy decoding of the same checkpoint. One XLA compilation
per consumer.

Families: each decoder family of the registry (Llama, Mistral, Qwen2, Gemma 3, GPT-2) is
quantized int8 and int4 from a tiny random config, eagerly (no compilation). Bounds as in
test_quantization.py: int8 relative L2 error of the logits < 3%, int4 (groups of 32) < 35%;
every Dense (and a tied head's table) holds only the small weights afterwards.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from chat_fixtures import tiny  # noqa: E402,F401  (module fixture)

from tfhf import TFAutoModelForCausalLM, cli, pipeline  # noqa: E402
from tfhf.quantization import quantized_nbytes  # noqa: E402

PROMPT = "tell me about the river"
NEW = 6


def torch_greedy(tiny, prompt=PROMPT, new=NEW):
    """PyTorch float32 greedy: (prompt ids, all ids, the new text without special tokens)."""
    _, pt, tok = tiny
    ids = tok(prompt)["input_ids"]
    with torch.no_grad():
        out = pt.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                                                         dtype=torch.long),
                          max_new_tokens=new, do_sample=False, eos_token_id=[2],
                          pad_token_id=0)
    out = out[0].numpy()
    return ids, out, tok.decode(out[len(ids):], skip_special_tokens=True)


@pytest.fixture(scope="module")
def int8_model(tiny):
    return TFAutoModelForCausalLM.from_pretrained(tiny[0], quantization="int8")


def test_text_generation_pipeline_takes_a_quantized_model(tiny, int8_model):
    from tfhf import AutoTokenizer

    _, _, want = torch_greedy(tiny)
    gen = pipeline("text-generation", model=int8_model,
                   tokenizer=AutoTokenizer.from_pretrained(tiny[0]))
    assert gen.model is int8_model and int8_model.quantization_config["mode"] == "int8"
    out = gen(PROMPT, max_new_tokens=NEW, do_sample=False, return_full_text=False)
    assert out[0]["generated_text"].split() == want.split()


def test_generation_savedmodel_of_a_quantized_model_runs_without_tfhf(tiny, int8_model,
                                                                      tmp_path):
    from tfhf.export import export_saved_model

    ids, want, _ = torch_greedy(tiny)
    path = export_saved_model(int8_model, str(tmp_path / "lm"), task="text-generation",
                              max_new_tokens=8)
    variables = os.path.join(path, "variables")
    size = sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))
    floats = sum(int(np.prod(v.shape)) * 4 for v in int8_model.weights)
    assert size < floats  # the SavedModel holds the int8 weights, not a float copy
    code = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "ids = tf.constant([json.loads(sys.argv[2])], tf.int32)\n"
        "out = m.signatures['generate'](input_ids=ids, attention_mask=tf.ones_like(ids),\n"
        "    max_new_tokens=tf.constant(%d), temperature=tf.constant(0.0),\n"
        "    top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64))\n"
        "assert not any(k == 'tfhf' or k.startswith('tfhf.') for k in sys.modules)\n"
        "print(json.dumps(out['sequences'].numpy().tolist()))\n" % NEW)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    proc = subprocess.run([sys.executable, "-c", code, path, json.dumps(list(ids))], env=env,
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])[0]
    np.testing.assert_array_equal(got[:len(want)], want)


def test_cli_generate_quantize_int4_and_chat_quantize_int8(tiny, capsys, monkeypatch):
    from tfhf import chat

    seen = []
    real = chat.load

    def load(*args, **kwargs):
        seen.append(kwargs.get("quantization"))
        model, tok = real(*args, **kwargs)
        seen.append(model.quantization_config["modules"]["model.embed_tokens"]["bits"])
        return model, tok

    monkeypatch.setattr(chat, "load", load)
    rc = cli.main(["generate", "--model", tiny[0], "--prompt", PROMPT, "--quantize", "int4",
                   "--max-new-tokens", str(NEW)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert seen == ["int4", 4]  # hidden size 32: int4 groups of 32 (64 does not divide it)
    assert out.strip()  # int4 may pick other tokens than float32; it generates
    # chat: the option reaches the loader (the session is not run: stdin is empty)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    rc = cli.main(["chat", "--model", tiny[0], "--quantize", "int8", "--max-new-tokens", "2"])
    capsys.readouterr()
    assert rc == 0 and seen[2:] == ["int8", 8]


def test_cli_rejects_an_unknown_quantize_mode(tiny, capsys):
    rc = cli.main(["generate", "--model", tiny[0], "--prompt", "hi", "--quantize", "int3"])
    assert rc == 2
    assert "argument --quantize: invalid choice: 'int3'" in capsys.readouterr().err


# ------------------------------------------------------------------ every decoder family
_BASE = dict(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
             pad_token_id=0, initializer_range=0.1)
FAMILIES = {
    "llama": ("LlamaConfig", dict(_BASE)),  # untied head
    "mistral": ("MistralConfig", dict(_BASE, sliding_window=4)),
    "qwen2": ("Qwen2Config", dict(_BASE, tie_word_embeddings=True)),  # q/k/v biases, tied
    "gemma3": ("Gemma3TextConfig", dict(
        _BASE, head_dim=16, sliding_window=4, query_pre_attn_scalar=16,
        layer_types=["sliding_attention", "full_attention"], final_logit_softcapping=30.0)),
    "gpt2": ("GPT2Config", dict(vocab_size=96, n_embd=64, n_layer=2, n_head=4, n_positions=64,
                                pad_token_id=0, initializer_range=0.1)),
}
# quantized modules: 7 projections per layer (GPT-2: 4) and the untied head or tied table
MODULES = {"llama": 15, "mistral": 15, "qwen2": 15, "gemma3": 15, "gpt2": 9}
IDS = tf.constant([[3, 5, 7, 9, 11, 13, 4, 5, 20, 31]])


def _family_model(family):
    cls, kwargs = FAMILIES[family]
    tf.keras.utils.set_random_seed(0)
    return TFAutoModelForCausalLM.from_config(getattr(transformers, cls)(**kwargs))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_decoder_family_quantizes(family):
    model = _family_model(family)
    ref = model(IDS).logits.numpy()
    float_bytes = quantized_nbytes(model)
    for mode, bound in (("int8", 0.03), ("int4", 0.35)):
        model = _family_model(family)
        model.quantize(mode, group_size=32 if mode == "int4" else None)
        out = model(IDS).logits.numpy()
        assert np.linalg.norm(out - ref) < bound * np.linalg.norm(ref), mode
        modules = model.quantization_config["modules"]
        assert len(modules) == MODULES[family]  # every projection, and the head
        assert all(d["bits"] == int(mode[3:]) for d in modules.values())
        small = [v for v in model.weights if "int8" in str(v.dtype)]
        assert len(small) == len(modules), mode  # one int8 / packed uint8 array per module
        assert quantized_nbytes(model) < (0.4 if mode == "int8" else 0.3) * float_bytes, mode
