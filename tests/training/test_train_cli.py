"""``tfhf train``: fine-tune a text classifier on the user's CSV / JSONL / Parquet file."""

import json
import os
import shutil

import pytest
from _train_helpers import run_python, toy_rows

from tfhf.cli import main as cli_main
from tfhf.errors import TfhfError

LABELS = {0: "neg", 1: "pos"}


def write_rows(path, rows):
    """rows -> CSV / JSONL / Parquet by the file's extension."""
    import pandas as pd

    df = pd.DataFrame(rows)
    ext = os.path.splitext(str(path))[1]
    if ext == ".csv":
        df.to_csv(path, index=False)
    elif ext == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    elif ext == ".parquet":
        df.to_parquet(path)
    else:
        raise AssertionError(ext)
    return str(path)


def rows(n, seed=0):
    return [{"text": r["text"], "label": LABELS[r["label"]]} for r in toy_rows(n, seed)]


def train_args(model, train_file, output, *extra):
    return ["train", "--model", model, "--train-file", train_file, "--output", str(output),
            "--epochs", "1", "--batch-size", "8", "--max-length", "32", "--quiet", *extra]


def run_cli(args, capsys):
    rc = cli_main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def leftovers(folder):
    return sorted(p for p in os.listdir(folder) if p.startswith(".tfhf-train-"))


# ----------------------------------------------------------------------------- success
@pytest.mark.parametrize("ext", [".csv", ".parquet"])  # .jsonl: the console-script test
def test_train_writes_a_reloadable_classifier(tiny_bert, tmp_path, capsys, ext):
    train = write_rows(tmp_path / f"train{ext}", rows(48))
    valid = write_rows(tmp_path / f"valid{ext}", rows(16, seed=1))
    out = tmp_path / "clf"
    rc, stdout, err = run_cli(train_args(tiny_bert, train, out, "--validation-file", valid),
                              capsys)
    assert rc == 0, err
    # --quiet: no progress bars; only warnings (48 rows are too few steps to learn)
    assert all(line.startswith("tfhf: warning: ") for line in err.splitlines()), err
    assert "training steps" in err
    assert "validation accuracy" in stdout and str(out) in stdout
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(out))
    assert leftovers(tmp_path) == []
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert config["label2id"] == {"neg": 0, "pos": 1}
    # it reloads as a classifier (tfhf and PyTorch transformers) and predicts a known label
    from tfhf.apps.train import classify

    preds = classify(str(out), ["a superb film", "an awful film"])
    assert [set(p) for p in preds] == [{"label", "score"}] * 2
    assert all(p["label"] in ("neg", "pos") and 0.5 <= p["score"] <= 1 for p in preds)
    if ext == ".csv":
        import transformers

        pt = transformers.AutoModelForSequenceClassification.from_pretrained(out)
        assert pt.config.id2label == {0: "neg", 1: "pos"}


def test_train_console_script_end_to_end(tiny_bert, tmp_path):
    """The installed `tfhf` command in a fresh process, on JSONL with other column names;
    the validation split comes from the training file."""
    import subprocess

    train = write_rows(tmp_path / "reviews.jsonl",
                       [{"review": r["text"], "sentiment": r["label"]} for r in rows(40)])
    out = tmp_path / "model"
    exe = shutil.which("tfhf")
    cmd = train_args(tiny_bert, train, out, "--text-column", "review", "--label-column",
                     "sentiment")
    if exe is None:  # not on PATH: the same entry point through the module
        p = run_python(["-m", "tfhf.cli", *cmd], timeout=240)
    else:
        p = subprocess.run([exe, *cmd], capture_output=True, text=True, timeout=240,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert p.returncode == 0, p.stderr[-4000:]
    assert "validation accuracy" in p.stdout
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(out))
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "neg",
                                                                          "1": "pos"}
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- errors
@pytest.fixture
def csv_file(tmp_path):
    return write_rows(tmp_path / "train.csv", rows(24))


def expect_error(args, capsys, *needles):
    rc, _, err = run_cli(args, capsys)
    assert rc == 1, err
    assert err.startswith("tfhf: error: ") and err.count("\n") == 1, err  # one clear line
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_missing_column(tiny_bert, csv_file, tmp_path, capsys):
    expect_error(train_args(tiny_bert, csv_file, tmp_path / "o", "--text-column", "review"),
                 capsys, "no column 'review'", "text, label", "--text-column")
    expect_error(train_args(tiny_bert, csv_file, tmp_path / "o", "--label-column", "stars"),
                 capsys, "no column 'stars'")
    assert not (tmp_path / "o").exists()


def test_empty_files(tiny_bert, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    expect_error(train_args(tiny_bert, str(empty), tmp_path / "o"), capsys, "empty.csv",
                 "is empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label\n")
    expect_error(train_args(tiny_bert, str(header_only), tmp_path / "o"), capsys,
                 "header.csv", "no rows")
    missing = tmp_path / "nope.jsonl"
    expect_error(train_args(tiny_bert, str(missing), tmp_path / "o"), capsys, "nope.jsonl",
                 "does not exist")


def test_label_outside_the_label_set(tiny_bert, csv_file, tmp_path, capsys):
    valid = write_rows(tmp_path / "valid.csv",
                       rows(6, seed=3) + [{"text": "so so", "label": "neutral"}])
    expect_error(train_args(tiny_bert, csv_file, tmp_path / "o", "--validation-file", valid),
                 capsys, "valid.csv", "'neutral'", "not in the training labels")
    assert not (tmp_path / "o").exists()


def test_single_label_value_is_an_error(tiny_bert, tmp_path, capsys):
    same = write_rows(tmp_path / "same.csv", [{"text": f"t {i}", "label": "pos"}
                                              for i in range(12)])
    expect_error(train_args(tiny_bert, same, tmp_path / "o"), capsys, "single label")


def test_non_utf8_text(tiny_bert, tmp_path, capsys):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("text,label\ngood film,pos\ncaf\u00e9 cr\u00e8me,neg\n".encode("latin-1"))
    expect_error(train_args(tiny_bert, str(bad), tmp_path / "o"), capsys, "latin1.csv",
                 "not UTF-8", "line 3")


def test_unknown_format(tiny_bert, tmp_path, capsys):
    f = tmp_path / "data.xlsx"
    f.write_text("x")
    expect_error(train_args(tiny_bert, str(f), tmp_path / "o"), capsys, "'.xlsx'", ".csv")


def test_model_folder_without_config(tmp_path, csv_file, capsys):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    expect_error(train_args(str(folder), csv_file, tmp_path / "o"), capsys, "not-a-model")
    expect_error(train_args(str(tmp_path / "missing"), csv_file, tmp_path / "o"), capsys,
                 "missing")


@pytest.mark.parametrize("model_type,hint", [("whisper", "cannot be trained as a text classifier"),
                                             ("my-own-net", "bert")])
def test_model_folder_of_an_unsupported_type(tiny_bert, tmp_path, csv_file, capsys,
                                             model_type, hint):
    """A checkpoint transformers knows but tfhf cannot train as a classifier (Whisper: T5 has
    a sequence-classification head since issue 18), and a model_type nobody knows."""
    folder = tmp_path / f"{model_type}-model"
    shutil.copytree(tiny_bert, folder)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    expect_error(train_args(str(folder), csv_file, tmp_path / "o"), capsys,
                 f"{model_type}-model", f"'{model_type}'", hint)


def test_seq2seq_checkpoint_whose_tokenizer_adds_no_eos(tiny_bert, tmp_path, csv_file, capsys,
                                                        monkeypatch):
    """A T5 classifier pools at each text's last </s>: a tokenizer that ends texts with [SEP]
    instead is a clear error before training starts, not a graph assertion inside fit."""
    import torch
    import transformers

    folder = tmp_path / "t5-with-bert-tokenizer"
    shutil.copytree(tiny_bert, folder)
    (folder / "model.safetensors").unlink()
    torch.manual_seed(0)
    transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=transformers.AutoTokenizer.from_pretrained(tiny_bert).vocab_size, d_model=8,
        d_kv=4, d_ff=8, num_layers=1, num_heads=2)).save_pretrained(folder)
    capsys.readouterr()  # the save's progress bar
    from tfhf.models.t5.modeling import TFT5ForSequenceClassification

    def no_fit(*args, **kwargs):
        raise AssertionError("fit ran")

    monkeypatch.setattr(TFT5ForSequenceClassification, "fit", no_fit)
    expect_error(train_args(str(folder), csv_file, tmp_path / "o"), capsys,
                 "Each example must contain at least one <eos> token", "id 1",
                 "TFT5ForSequenceClassification", "add_special_tokens=True")
    assert not (tmp_path / "o").exists() and not leftovers(tmp_path)


def test_output_path_that_is_a_file(tiny_bert, csv_file, tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("do not overwrite")
    expect_error(train_args(tiny_bert, csv_file, f), capsys, "is a file")
    assert f.read_text() == "do not overwrite"


def test_non_empty_output_needs_overwrite(tiny_bert, csv_file, tmp_path, capsys):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    expect_error(train_args(tiny_bert, csv_file, out), capsys, "--overwrite")
    assert (out / "keep.txt").read_text() == "mine"


def test_errors_are_tfhf_errors_from_python(tiny_bert, csv_file, tmp_path):
    from tfhf.apps.train import train_text_classifier

    with pytest.raises(TfhfError, match="no column"):
        train_text_classifier(tiny_bert, csv_file, str(tmp_path / "o"), text_column="nope")
    with pytest.raises(ValueError):  # tfhf errors are also ValueErrors / OSErrors
        train_text_classifier(tiny_bert, csv_file, str(tmp_path / "o"), epochs=0)


# ----------------------------------------------------------------------------- interruption
@pytest.mark.parametrize("where", ["fit", "save"])
def test_interrupted_run_leaves_nothing_half_written(tiny_bert, csv_file, tmp_path,
                                                     monkeypatch, where):
    """Ctrl-C during training or while writing: no output folder, no .tfhf-train-* temp
    folder, an existing output (with --overwrite) untouched, the dtype policy restored."""
    from tfhf._keras import keras
    from tfhf.models.base import TFPreTrainedModel
    from tfhf.apps.train import train_text_classifier

    if where == "fit":
        def fit(self, *args, **kwargs):
            class Interrupt(keras.callbacks.Callback):
                def on_train_batch_end(self, batch, logs=None):
                    if batch == 1:
                        raise KeyboardInterrupt

            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), Interrupt()]
            return keras.Model.fit(self, *args, **kwargs)

        monkeypatch.setattr(TFPreTrainedModel, "fit", fit, raising=False)
    else:
        real_save = TFPreTrainedModel.save_pretrained

        def save_pretrained(self, folder, *args, **kwargs):
            real_save(self, folder, *args, **kwargs)  # the weights land, then Ctrl-C
            assert os.path.isfile(os.path.join(folder, "model.safetensors"))
            raise KeyboardInterrupt

        monkeypatch.setattr(TFPreTrainedModel, "save_pretrained", save_pretrained)

    if where == "fit":  # a fresh output folder, under a mixed policy that must be undone
        out, overwrite, policy = tmp_path / "fresh", False, "mixed_bfloat16"
    else:  # replacing an existing model with --overwrite: the old one must survive
        out, overwrite, policy = tmp_path / "existing", True, None
        out.mkdir()
        (out / "config.json").write_text("{}")
    with pytest.raises(KeyboardInterrupt):
        train_text_classifier(tiny_bert, csv_file, str(out), batch_size=8, max_length=32,
                              verbose=0, overwrite=overwrite, mixed_precision=policy)
    assert keras.mixed_precision.global_policy().name == "float32"
    if where == "fit":
        assert not out.exists()
    else:
        assert os.listdir(out) == ["config.json"] and (out / "config.json").read_text() == "{}"
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- label names
def test_labels_option_names_integer_labels(tiny_bert, tmp_path, capsys):
    """Integer labels 0/1 (as the quickstart's data) keep names given with --labels."""
    data = write_rows(tmp_path / "ints.csv", toy_rows(32))
    out = tmp_path / "named"
    rc, stdout, err = run_cli(train_args(tiny_bert, data, out, "--labels", "negative,positive"),
                              capsys)
    assert rc == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert "labels: negative, positive" in stdout
    from tfhf.apps.train import classify

    assert {p["label"] for p in classify(str(out), ["superb", "awful"])} <= {"negative",
                                                                            "positive"}


def test_labels_option_orders_text_labels(tiny_bert, tmp_path, capsys):
    data = write_rows(tmp_path / "text.csv", rows(32))  # neg / pos
    out = tmp_path / "ordered"
    rc, _, err = run_cli(train_args(tiny_bert, data, out, "--labels", "pos,neg"), capsys)
    assert rc == 0, err
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "pos", "1": "neg"}


def test_labels_option_that_does_not_fit_the_data(tiny_bert, tmp_path, capsys):
    ints = write_rows(tmp_path / "ints.csv", toy_rows(24))
    expect_error(train_args(tiny_bert, ints, tmp_path / "o", "--labels", "only"), capsys,
                 "at least two")
    three = write_rows(tmp_path / "three.csv", [{"text": f"t {i}", "label": i % 3}
                                                for i in range(24)])
    expect_error(train_args(tiny_bert, three, tmp_path / "o", "--labels", "a,b"), capsys,
                 "integer labels [0, 1, 2]", "one name per class")
    text = write_rows(tmp_path / "text.csv", rows(24))
    expect_error(train_args(tiny_bert, text, tmp_path / "o", "--labels", "neg,positive"), capsys,
                 "['pos']", "does not name")
    assert not (tmp_path / "o").exists()


def test_train_output_to_a_file_is_one_line_per_epoch_and_no_noise(tiny_bert, tmp_path):
    """`tfhf train ... > log` (no --quiet): Keras reports one line per epoch instead of a
    progress bar of control codes; nothing from TensorFlow's start-up, transformers, datasets'
    progress bars, Keras' shuffle warning or tfhf's "newly initialized" notice."""
    import subprocess
    import sys

    train = write_rows(tmp_path / "train.csv", rows(48))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    cmd = [a for a in train_args(tiny_bert, train, tmp_path / "m", "--epochs", "2")
           if a != "--quiet"]
    cmd[cmd.index("--epochs") + 1] = "2"
    p = subprocess.run([sys.executable, "-m", "tfhf.cli", *cmd], capture_output=True,
                       text=True, timeout=600, env={**env, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0, p.stderr[-4000:]
    for control in ("\x1b[", "\r", "\x08"):
        assert control not in p.stdout
    assert max(len(line) for line in p.stdout.splitlines()) < 200, p.stdout
    assert sum("val_accuracy" in line for line in p.stdout.splitlines()) == 2  # one per epoch
    for noise in ("shuffle=True", "newly initialized", "TRAIN this model", "Map", "oneDNN",
                  "cuInit", "absl", "PyTorch was not found", "Generating train split"):
        assert noise not in p.stdout + p.stderr, noise
    assert all(line.startswith("tfhf: warning: ") for line in p.stderr.splitlines()), p.stderr


def test_train_help_describes_options_with_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0
    for expected in ("--seed SEED", "(default: 42)", "--labels NAME,NAME,...",
                     "--learning-rate", "(default: 5e-05)", "--overwrite"):
        assert expected in out, expected
    # required options show no meaningless "(default: None)"
    assert ("--model MODEL model folder (an encoder such as BERT, or a causal LM, which gets a "
            "classification head), a .gguf file (dequantized) or asset:NAME --train-file") in out
    assert "folder the trained model is saved to --epochs" in out


def test_train_with_lora_saves_merged_model_and_peft_adapter(tiny_bert, tmp_path, capsys):
    train = write_rows(tmp_path / "train.csv", rows(32))
    out = tmp_path / "clf"
    rc, stdout, err = run_cli(train_args(tiny_bert, train, out, "--lora-rank", "2",
                                         "--no-tensorboard"), capsys)
    assert rc == 0, err
    line = next(s for s in stdout.splitlines() if s.startswith("trained "))
    trained, total = (int(n.replace(",", "")) for n in line.split()[1:4:2])
    assert 0 < trained < total / 4, line  # adapters + head, not the whole model
    assert {"config.json", "model.safetensors", "adapter"} <= set(os.listdir(out))
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert (adapter["peft_type"], adapter["r"], adapter["task_type"]) == ("LORA", 2, "SEQ_CLS")
    from tfhf import TFAutoModelForSequenceClassification
    from tfhf.apps.train import classify

    assert all(p["label"] in ("neg", "pos") for p in classify(str(out), ["a superb film"]))
    base = TFAutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2)
    merged = TFAutoModelForSequenceClassification.from_pretrained(str(out))
    import numpy as np

    ids = {"input_ids": np.array([[2, 5, 6, 3]], np.int32)}
    base.load_adapter(out / "adapter")  # the adapters on the untrained model = the saved one
    np.testing.assert_allclose(base(ids).logits.numpy(), merged(ids).logits.numpy(),
                               atol=1e-5)
