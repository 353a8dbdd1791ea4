"""Real GGUF checkpoints (SmolLM2-135M-Instruct Q4_1, Qwen2.5-Coder-0.5B-Instruct Q4_K_M)
against PyTorch transformers on the same dequantized weights.

tfhf loads the file itself (``TFAutoModelForCausalLM.from_pretrained(folder,
gguf_file=...)``, tokenizer from the GGUF metadata). The reference is PyTorch transformers'
``LlamaForCausalLM`` / ``Qwen2ForCausalLM`` built from the config tfhf derives from the file,
with the state dict of ``tfhf.models.gguf.load_gguf`` (transformers reads GGUF weights only
through its own PyTorch loader, which needs accelerate). Both run float32.

Five prompts (three through the chat template, two plain completions) are generated greedily,
64 new tokens, as one left-padded batch on each side (transformers' generate derives the
position ids from the attention mask as tfhf does); the tokens and the decoded text must be
identical. The last-position logits of a plain forward on the padded batch (with explicit
position ids on the PyTorch side) agree to a tolerance that float32 rounding over 24-30 layers
allows.

Marked ``real_weights`` (about 1-2 CPU-minutes per model): ``-m "not real_weights"`` leaves
them out; skipped with the install command when an asset is missing.
"""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import tfhf  # noqa: E402
from tfhf import assets  # noqa: E402
from tfhf.models.gguf import load_gguf  # noqa: E402

pytestmark = pytest.mark.real_weights

NEW_TOKENS = 64
PROMPTS = [
    ("chat", "What is the capital of France?"),
    ("chat", "Write a Python function that reverses a string."),
    ("chat", "Give me three tips for learning a new language."),
    ("text", "The history of the printing press"),
    ("text", "def fibonacci(n):\n"),
]
TORCH_CLASSES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}
LOGITS_ATOL = 2e-3  # float32, 24-30 layers, logits of magnitude ~10-40


def _asset(name):
    if not assets.is_installed(name):
        pytest.skip(f"offline asset '{name}' is not installed: run `tfhf assets install {name}`")
    return assets.path(name)


def _prompt_ids(tok):
    rows = []
    for kind, text in PROMPTS:
        if kind == "chat":
            ids = tok.apply_chat_template([{"role": "user", "content": text}],
                                          add_generation_prompt=True,
                                          return_dict=True)["input_ids"]
        else:
            ids = tok(text)["input_ids"]
        rows.append(list(ids))
    return rows


def _left_pad(rows, pad):
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, np.int64)
    mask = np.zeros((len(rows), width), np.int64)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = r
        mask[i, width - len(r):] = 1
    return ids, mask


def _no_init():
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # pragma: no cover - older transformers: initialize, only slower
        import contextlib

        return contextlib.nullcontext()
    return no_init_weights()


@pytest.fixture
def one_torch_thread():
    """PyTorch on one thread: on a shared 2-core machine its OpenMP threads otherwise spin
    against other processes and decode ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _torch_model(path):
    """PyTorch transformers' model of the GGUF's config, weights from tfhf's dequantizer."""
    config, state = load_gguf(path)
    with state:
        sd = {k: torch.from_numpy(np.require(state.get(k), requirements=["C", "W"]))
              for k in state.keys()}
    config.dtype = "float32"
    with _no_init():  # every weight comes from the file: skip the random init (seconds)
        model = getattr(transformers, TORCH_CLASSES[config.model_type])(config)
    # assign: the parameters become the dequantized arrays themselves (no second copy)
    missing, unexpected = model.load_state_dict(sd, strict=False, assign=True)
    del sd
    assert not unexpected, unexpected
    assert set(missing) <= ({"lm_head.weight"} if config.tie_word_embeddings else set()), missing
    if config.tie_word_embeddings:
        model.tie_weights()
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    return config, model.eval()


def _new_tokens(seqs, prompt_width, eos, pad):
    """Per row: the generated ids up to and including the first eos."""
    out = []
    for row in np.asarray(seqs)[:, prompt_width:]:
        toks = []
        for t in row.tolist():
            toks.append(t)
            if t in eos:
                break
        out.append(toks)
    return out


@pytest.mark.parametrize("asset", ["smollm2", "qwen2.5-coder-0.5b"])
def test_greedy_generation_matches_pytorch_on_real_gguf(asset, one_torch_thread):
    path = _asset(asset)
    folder, name = os.path.split(path)
    tok = tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config, pt = _torch_model(path)
    eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    pad = config.pad_token_id if config.pad_token_id is not None else eos[0]
    ids, mask = _left_pad(_prompt_ids(tok), pad)
    width = ids.shape[1]

    with torch.no_grad():
        ref = pt.generate(torch.tensor(ids), attention_mask=torch.tensor(mask),
                          max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=eos,
                          pad_token_id=pad).numpy()
        positions = np.where(mask == 0, 1, np.cumsum(mask, axis=1) - 1)
        ref_logits = pt(torch.tensor(ids), attention_mask=torch.tensor(mask),
                        position_ids=torch.tensor(positions)).logits[:, -1].numpy()
    del pt
    gc.collect()

    model = tfhf.TFAutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    drop = ("dtype", "transformers_version")
    assert ({k: v for k, v in model.config.to_dict().items() if k not in drop}
            == {k: v for k, v in config.to_dict().items() if k not in drop})
    out = model.generate(ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False,
                         eos_token_id=eos, pad_token_id=pad).numpy()
    logits = model(ids, attention_mask=mask).logits.numpy()[:, -1]

    ours, theirs = _new_tokens(out, width, eos, pad), _new_tokens(ref, width, eos, pad)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        text_a = tok.decode(a, skip_special_tokens=True)
        text_b = tok.decode(b, skip_special_tokens=True)
        assert a == b, (f"{asset} prompt {i} ({PROMPTS[i][1]!r}): tokens differ\n"
                        f"tfhf:    {text_a!r}\ntorch:   {text_b!r}")
        assert text_a == text_b and text_a.strip()
    # at least one row runs the full 64 tokens (no early eos everywhere)
    assert max(len(r) for r in ours) == NEW_TOKENS
    np.testing.assert_allclose(logits, ref_logits, atol=LOGITS_ATOL, rtol=0)
    assert (logits.argmax(-1) == ref_logits.argmax(-1)).all()
