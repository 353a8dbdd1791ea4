"""``tfhf train`` / ``tfhf quickstart`` on a causal LM with LoRA (the README's decoder-LM
recipe, there on the SmolLM2 GGUF asset; here on tiny random stand-ins).

A ``.gguf`` file trains as a sequence classifier (dequantized, a new ``score`` head), only
the adapters and the head train and the adapters do move; the saved classifier reloads, and
the adapters on the untrained GGUF model give the merged model's logits. A causal LM whose
tokenizer has no pad token pads with its eos token and pools on it (``config.pad_token_id``).
"""

import json
import os
import sys

import numpy as np
import pytest

pytest.importorskip("gguf")
pytest.importorskip("torch")

from _train_helpers import toy_rows  # noqa: E402

from tfhf.cli import main as cli_main  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import readme_fixtures as fx  # noqa: E402


def write_csv(path, n=48):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["text", "label"])
        w.writeheader()
        w.writerows(toy_rows(n))
    return str(path)


def train(model, tmp_path, capsys, *extra):
    out = tmp_path / "clf"
    rc = cli_main(["train", "--model", model, "--train-file", write_csv(tmp_path / "t.csv"),
                   "--output", str(out), "--batch-size", "8", "--max-length", "32",
                   "--max-eval-samples", "8", "--quiet", "--no-tensorboard", *extra])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    return out, stdout


def test_gguf_causal_lm_trains_lora_classifier(tmp_path, capsys):
    from safetensors.numpy import load_file

    from tfhf import TFAutoModelForSequenceClassification
    from tfhf.apps.train import classify

    gguf = fx.tiny_gguf(tmp_path / "tiny.gguf")
    out, stdout = train(gguf, tmp_path, capsys, "--lora-rank", "2", "--learning-rate", "1e-2")
    line = next(s for s in stdout.splitlines() if s.startswith("trained "))
    trained, total = (int(n.replace(",", "")) for n in line.split()[1:4:2])
    assert 0 < trained < total / 10, line
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"]
    assert config["pad_token_id"] == 0  # the GGUF's pad token, which the collator pads with
    b = {k: v for k, v in load_file(str(out / "adapter" / "adapter_model.safetensors")).items()
         if k.endswith("lora_B.weight")}
    assert b and all(np.abs(v).max() > 0 for v in b.values())  # the adapters trained
    assert classify(str(out), ["a superb film"])[0]["label"] in ("0", "1")
    base = TFAutoModelForSequenceClassification.from_pretrained(gguf, num_labels=2,
                                                                pad_token_id=0)
    base.load_adapter(out / "adapter")
    merged = TFAutoModelForSequenceClassification.from_pretrained(str(out))
    ids = np.array([[40, 50, 60, 0], [41, 51, 61, 71]], np.int32)
    np.testing.assert_allclose(base(ids).logits.numpy(), merged(ids).logits.numpy(), atol=1e-5)


def test_tokenizer_without_pad_token_pads_with_eos(tmp_path, capsys):
    import transformers

    folder = fx.tiny_llama_folder(tmp_path / "llama")
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    tok.pad_token = None
    tok.save_pretrained(folder)
    cfg = json.loads(open(os.path.join(folder, "config.json")).read())
    cfg["pad_token_id"] = None
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    out, _ = train(folder, tmp_path, capsys, "--lora-rank", "2")
    assert json.loads((out / "config.json").read_text())["pad_token_id"] == 2  # <|im_end|>
    assert transformers.AutoTokenizer.from_pretrained(str(out)).pad_token == "<|im_end|>"


def test_model_that_is_neither_folder_nor_gguf(tmp_path, capsys):
    rc = cli_main(["train", "--model", str(tmp_path / "missing.gguf"), "--train-file",
                   write_csv(tmp_path / "t.csv"), "--output", str(tmp_path / "o")])
    assert rc != 0
    assert "not a folder, a .gguf file or asset:NAME" in capsys.readouterr().err
