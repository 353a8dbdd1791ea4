"""``tfhf quickstart`` and the label / seed / output-folder behaviour it shares with
``tfhf train``: label names saved in config.json, reproducible runs, an existing output
refused without --overwrite, a warning when there are too few steps to learn."""

import json
import os
import re

import numpy as np
import pytest
from _train_helpers import build_tiny_checkpoint, toy_rows

from tfhf.apps import quickstart
from tfhf.apps.train import MIN_STEPS, train_text_classifier
from tfhf.errors import InvalidInputError


@pytest.fixture(scope="module")
def dropout_bert(tmp_path_factory):
    """A tiny BERT with dropout on: reproducibility must cover dropout too."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert-dropout"),
                                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


@pytest.fixture
def small_quickstart(dropout_bert, tmp_path, monkeypatch):
    """The quickstart on the tiny BERT and 120 toy sentences labelled 0 / 1 (as its data)."""
    import pandas as pd

    from tfhf import assets

    data = tmp_path / "reviews.csv"
    pd.DataFrame(toy_rows(120)).to_csv(data, index=False)
    real = assets.path
    monkeypatch.setattr(assets, "path", lambda name: dropout_bert if name == "minilm"
                        else real(name))
    monkeypatch.setattr(quickstart, "DATA", str(data))
    return tmp_path


def weights(folder):
    from safetensors.numpy import load_file

    return load_file(os.path.join(folder, "model.safetensors"))


def test_quickstart_saves_label_names_and_refuses_to_overwrite(small_quickstart, capsys):
    out = small_quickstart / "model"
    warnings = []
    quickstart.run(output=str(out), batch_size=16, verbose=0, warn=warnings.append)
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert config["label2id"] == {"negative": 0, "positive": 1}
    printed = capsys.readouterr().out
    predictions = [line.split()[0] for line in printed.splitlines() if line.startswith("  ")]
    assert len(predictions) == len(quickstart.EXAMPLES)
    assert set(predictions) <= {"negative", "positive"}
    # the pipeline answers with the names too
    from tfhf import pipeline

    (pred,) = pipeline("text-classification", model=str(out))(["a superb film"])
    assert pred["label"] in ("negative", "positive")
    # 108 sentences at batch size 16 are 6 or 7 steps: the run says it cannot learn much
    assert any(re.match(r"only [67] training steps \(108 samples / batch size 16 x 1 epochs\)",
                        w) and str(MIN_STEPS) in w for w in warnings), warnings
    # a second run does not silently replace the first
    before = weights(out)
    with pytest.raises(InvalidInputError, match="--overwrite"):
        quickstart.run(output=str(out), batch_size=16, verbose=0, warn=warnings.append)
    np.testing.assert_array_equal(weights(out)["classifier.weight"], before["classifier.weight"])
    quickstart.run(output=str(out), batch_size=16, verbose=0, overwrite=True, seed=7,
                   warn=warnings.append)
    assert not np.array_equal(weights(out)["classifier.weight"], before["classifier.weight"])


def test_the_same_seed_trains_the_same_model(small_quickstart, capsys):
    a, b, c = (small_quickstart / n for n in ("a", "b", "c"))
    quickstart.run(output=str(a), batch_size=16, epochs=2, verbose=0, warn=lambda m: None)
    quickstart.run(output=str(b), batch_size=16, epochs=2, verbose=0, warn=lambda m: None)
    quickstart.run(output=str(c), batch_size=16, epochs=2, verbose=0, seed=1,
                   warn=lambda m: None)
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
    assert any(not np.array_equal(wa[k], wc[k]) for k in wa)


def test_a_run_at_chance_level_says_so(tiny_bert, tmp_path):
    """Labels unrelated to the text: the validation accuracy cannot beat the majority class."""
    import pandas as pd

    rows = [{"text": r["text"], "label": i % 3 == 0} for i, r in enumerate(toy_rows(60))]
    data = tmp_path / "noise.csv"
    pd.DataFrame([{"text": r["text"], "label": "yes" if r["label"] else "no"}
                  for r in rows]).to_csv(data, index=False)
    warnings = []
    res = train_text_classifier(tiny_bert, str(data), str(tmp_path / "o"), batch_size=8,
                                max_length=32, verbose=0, learning_rate=1e-6,
                                warn=warnings.append)
    assert res.val_accuracy is not None
    assert any("no better than always answering the most frequent label" in w
               for w in warnings), warnings
