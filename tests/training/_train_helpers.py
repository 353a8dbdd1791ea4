"""Helpers for the training tests (importable from subprocess scripts too): toy data, tiny
checkpoints, bounded subprocess runs."""

import json
import os
import random
import subprocess
import sys

POS = ["good", "great", "wonderful", "excellent", "superb", "brilliant"]
NEG = ["bad", "awful", "terrible", "boring", "poor", "dreadful"]
FILL = ["the film was", "this movie is", "the acting", "a really", "the plot", "quite", "so",
        "honestly", "overall"]

# tiny BERT: dropout off so runs are deterministic given the seed
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)


def toy_rows(n, seed=0):
    """``n`` rows {"text", "label"}; the label is carried by one sentiment word."""
    r = random.Random(seed)
    rows = []
    for i in range(n):
        lab = i % 2
        words = r.sample(FILL, r.randint(1, 4)) + [r.choice(POS if lab else NEG)]
        r.shuffle(words)
        rows.append({"text": " ".join(words), "label": lab})
    return rows


def minilm_path():
    import tfhf.assets

    try:
        return tfhf.assets.path("minilm")
    except Exception as e:  # noqa: BLE001 - the asset is a CI prerequisite (.ci/run)
        import pytest

        pytest.skip(f"MiniLM asset not installed ({e}); run `tfhf assets install minilm`")


def build_tiny_checkpoint(folder, head="BertForSequenceClassification", **overrides):
    """A tiny random transformers (PyTorch) checkpoint + the MiniLM tokenizer in ``folder``."""
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(minilm_path())
    cfg = transformers.BertConfig(vocab_size=tok.vocab_size, **{**TINY, **overrides})
    torch.manual_seed(0)
    getattr(transformers, head)(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def run_python(args, timeout, env=None, cwd=None):
    """Run ``python args...`` with a hard timeout; fail with its output when it fails."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    try:
        p = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                           timeout=timeout, env=full_env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        import pytest

        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        pytest.fail(f"{args} timed out after {timeout}s:\n{(out or '')[-3000:]}\n"
                    f"{(err or '')[-3000:]}")

    if p.returncode != 0:
        import pytest

        pytest.fail(f"{args} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}")
    return p


def read_json(path):
    with open(path) as fh:
        return json.load(fh)
