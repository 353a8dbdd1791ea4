"""``tfhf train`` leaves TensorBoard logs (OUTPUT/logs) and training curves
(OUTPUT/training.png) beside the model and says where they are; ``--no-tensorboard`` turns
the logs off; without matplotlib one line says how to get the picture; a failed run leaves
no temporary logs behind."""

import os
import struct

import pytest
from _train_helpers import toy_rows
from test_tensorboard_logs import read_events

from tfhf.cli import main as cli_main


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def write_csv(path, n, seed=0):
    import pandas as pd

    names = {0: "neg", 1: "pos"}
    pd.DataFrame([{"text": r["text"], "label": names[r["label"]]}
                  for r in toy_rows(n, seed)]).to_csv(path, index=False)
    return str(path)


def train(tiny_bert, tmp_path, capsys, *extra, out="clf"):
    args = ["train", "--model", tiny_bert, "--train-file", write_csv(tmp_path / "t.csv", 48),
            "--validation-file", write_csv(tmp_path / "v.csv", 16, seed=1),
            "--output", str(tmp_path / out), "--epochs", "2", "--batch-size", "8",
            "--max-length", "32", "--quiet", *extra]
    rc = cli_main(args)
    stdout, err = capsys.readouterr()
    return rc, stdout, err, tmp_path / out


def leftovers(folder):
    return sorted(p for p in os.listdir(folder) if p.startswith(".tfhf-"))


def test_train_writes_tensorboard_logs_and_the_training_picture(tiny_bert, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason='training.png needs pip install "tfhf[plot]"')
    rc, stdout, err, out = train(tiny_bert, tmp_path, capsys)
    assert rc == 0, err
    assert {"config.json", "model.safetensors", "logs", "training.png"} <= set(os.listdir(out))
    assert leftovers(tmp_path) == []
    # the event files hold loss, accuracy and the learning rate per step and per epoch
    logged = read_events(out / "logs" / "train")
    for tag in ("batch_loss", "batch_accuracy", "batch_learning_rate", "epoch_loss",
                "epoch_accuracy", "epoch_learning_rate"):
        assert tag in logged, (tag, sorted(logged))
    assert sorted(logged["batch_learning_rate"]) == list(range(1, 13))  # 2 epochs x 6 steps
    rates = [logged["batch_learning_rate"][s] for s in range(1, 13)]
    assert rates[1] > rates[0] and rates[-1] < max(rates)  # create_optimizer: warm-up, decay
    assert sorted(logged["epoch_loss"]) == [0, 1]
    assert {"epoch_loss", "epoch_accuracy"} <= set(read_events(out / "logs" / "validation"))
    # a real picture of a sane size, and the lines that say where everything is
    w, h = png_size(out / "training.png")
    assert 500 <= w <= 2000 and 300 <= h <= 1500
    assert 10_000 < (out / "training.png").stat().st_size < 300_000
    assert f"training curves: {out / 'training.png'}" in stdout
    assert f"tensorboard --logdir {out / 'logs'}" in stdout


def test_no_tensorboard_and_no_matplotlib(tiny_bert, tmp_path, capsys, monkeypatch):
    from tfhf.training import plots

    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    rc, stdout, err, out = train(tiny_bert, tmp_path, capsys, "--no-tensorboard")
    assert rc == 0, err
    assert "logs" not in os.listdir(out) and "training.png" not in os.listdir(out)
    assert "TensorBoard logs" not in stdout and "--logdir" not in stdout
    lines = [ln for ln in stdout.splitlines() if "training curves" in ln]
    assert lines == ['training curves: not drawn, matplotlib is not installed '
                     '(pip install "tfhf[plot]")']
    assert leftovers(tmp_path) == []


def test_a_failed_save_leaves_no_temporary_logs(tiny_bert, tmp_path, capsys, monkeypatch):
    from tfhf.models.base import TFPreTrainedModel

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(TFPreTrainedModel, "save_pretrained", broken)
    with pytest.raises(OSError, match="disk full"):
        train(tiny_bert, tmp_path, capsys, out="never")
    assert leftovers(tmp_path) == [] and not (tmp_path / "never").exists()
