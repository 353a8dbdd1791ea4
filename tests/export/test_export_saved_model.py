"""SavedModel export for TF Serving: layout, signatures, outputs in a process without tfhf.

Tiny random BERT checkpoints (PyTorch transformers, MiniLM vocabulary) for classification,
token classification and sentence embeddings, a tiny Llama for generation, and the real
MiniLM (all-MiniLM-L6-v2) once. Every exported SavedModel is run in a fresh Python process
that never imports tfhf (only tensorflow + tensorflow_text) and must give the tfhf model's
outputs within 1e-5 on a padded batch.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from _export_sentences import as_text, sentences
from conftest import CLF_LABELS, NER_LABELS, minilm_folder

HERE = os.path.dirname(os.path.abspath(__file__))
ATOL = 1e-5
TEXTS = ["a great film", "", "An utterly dull, lifeless movie... I want my money back!",
         "Émigré café naïve façade — 東京 😀", "[SEP] is special", "x " * 300]


def _env():
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("PYTHONPATH", None)
    return env


def _b64(items):
    return {"text_b64": [base64.b64encode(t if isinstance(t, bytes) else t.encode()).decode()
                         for t in items]}


def _ids(value):
    return {"dtype": "int32", "value": np.asarray(value).tolist()}


def _batch(tok, texts, max_length):
    enc = tok(list(texts), padding=True, truncation=True, max_length=max_length,
              return_tensors="np")
    return {k: enc[k].astype(np.int32) for k in ("input_ids", "attention_mask",
                                                 "token_type_ids")}


# ---------------------------------------------------------------- the fresh process
@pytest.fixture(scope="module")
def fresh(exported, loaded, tmp_path_factory):
    """Run every exported model once in a fresh process; return (outputs, inputs)."""
    _, tok = loaded("clf")
    clf_ids = _batch(tok, TEXTS, 128)
    prompts = np.array([[5, 17, 33, 9, 60, 61, 2 + 10], [0, 0, 0, 40, 41, 42, 43],
                        [70, 71, 72, 0, 0, 0, 0]], np.int32)  # left, and right padding
    prompt_mask = np.array([[1] * 7, [0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0]], np.int32)
    minilm_texts = ["A man is eating food.", "A man is eating a piece of bread.",
                    "The new movie is awesome", "Ünïcödé naïve café — 東京 😀", ""]
    inputs = {"clf_ids": clf_ids, "prompts": prompts, "prompt_mask": prompt_mask,
              "sentences": sentences(), "minilm_texts": minilm_texts}
    jobs = [
        {"name": "clf", "path": exported("clf"), "signature": "serving_default",
         "inputs": {"text": _b64(TEXTS)}},
        {"name": "clf_ids", "path": exported("clf"), "signature": "predict_ids",
         "inputs": {k: _ids(v) for k, v in clf_ids.items()}},
        {"name": "ner", "path": exported("ner"), "signature": "serving_default",
         "inputs": {"text": _b64(TEXTS)}},
        {"name": "ner_1000", "path": exported("ner"), "signature": "serving_default",
         "inputs": {"text": _b64(inputs["sentences"])}},
        {"name": "st", "path": exported("st"), "signature": "serving_default",
         "inputs": {"text": _b64(TEXTS)}},
        {"name": "gen", "path": exported("llama"), "signature": "generate",
         "inputs": {"input_ids": _ids(prompts), "attention_mask": _ids(prompt_mask),
                    "max_new_tokens": {"dtype": "int32", "value": 12},
                    "temperature": {"dtype": "float32", "value": 0.0},
                    "top_p": {"dtype": "float32", "value": 1.0},
                    "seed": {"dtype": "int64", "value": 0}}},
        {"name": "gen_sample", "path": exported("llama"), "signature": "generate",
         "inputs": {"input_ids": _ids(prompts), "attention_mask": _ids(prompt_mask),
                    "max_new_tokens": {"dtype": "int32", "value": 10},
                    "temperature": {"dtype": "float32", "value": 0.8},
                    "top_p": {"dtype": "float32", "value": 0.9},
                    "seed": {"dtype": "int64", "value": 7}}},
        {"name": "gen_default", "path": exported("llama"), "signature": "serving_default",
         "inputs": {"input_ids": _ids(prompts), "attention_mask": _ids(prompt_mask)}},
        {"name": "minilm", "path": exported_minilm(tmp_path_factory),
         "signature": "serving_default", "inputs": {"text": _b64(minilm_texts)}},
    ]
    work = tmp_path_factory.mktemp("fresh")
    request, out = work / "request.json", work / "out.npz"
    request.write_text(json.dumps({"jobs": jobs}))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "_export_fresh_load.py"),
                           str(request), str(out)], cwd=str(work), env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip().endswith("TFHF_NOT_IMPORTED")
    with np.load(out) as data:
        return {k: data[k] for k in data.files}, inputs


_MINILM = {}


def exported_minilm(tmp_path_factory):
    if "path" not in _MINILM:
        import tfhf
        from tfhf.export import export_saved_model

        folder = minilm_folder()
        model = tfhf.TFAutoModel.from_pretrained(folder)
        tok = tfhf.AutoTokenizer.from_pretrained(folder)
        base = tmp_path_factory.mktemp("export-minilm") / "minilm"
        _MINILM.update(path=export_saved_model(model, str(base), tokenizer=tok,
                                               task="feature-extraction"),
                       model=model, tok=tok, folder=folder)
    return _MINILM["path"]


# ---------------------------------------------------------------- layout
def test_layout_version_folder_and_assets(exported, loaded):
    path = exported("clf")
    base = os.path.dirname(path)
    assert os.path.basename(path) == "1" and sorted(os.listdir(base)) == ["1"]
    for item in ("saved_model.pb", "variables/variables.index", "assets/vocab.txt",
                 "assets.extra/tfhf_export.json"):
        assert os.path.isfile(os.path.join(path, item)), item
    _, tok = loaded("clf")
    with open(os.path.join(path, "assets", "vocab.txt"), encoding="utf-8") as fh:
        lines = fh.read().split("\n")[:-1]
    vocab = tok.get_vocab()
    assert len(lines) == len(vocab) and all(vocab[t] == i for i, t in enumerate(lines))
    with open(os.path.join(path, "assets.extra", "tfhf_export.json")) as fh:
        meta = json.load(fh)
    assert meta["task"] == "text-classification" and meta["labels"] == list(CLF_LABELS.values())
    assert meta["max_length"] == 128 and meta["signatures"] == ["predict_ids", "serving_default"]


# ---------------------------------------------------------------- saved_model_cli
def _parse_show(text):
    """``saved_model_cli show --all`` -> {signature: {"inputs"|"outputs": {name: (dtype,
    shape)}}} and the op set."""
    sigs = {}
    for block in re.split(r"\nsignature_def\['", text)[1:]:
        name = block.split("'", 1)[0]
        entry = {"inputs": {}, "outputs": {}}
        section = None
        for line in block.splitlines():
            if "contains the following input(s)" in line:
                section = "inputs"
            elif "contains the following output(s)" in line:
                section = "outputs"
            m = re.match(r"\s+(inputs|outputs)\['(\w+)'\] tensor_info:", line)
            if m:
                current = m.group(2)
            m = re.match(r"\s+dtype: (\w+)", line)
            if m and section:
                dtype = m.group(1)
            m = re.match(r"\s+shape: (.*)", line)
            if m and section:
                entry[section][current] = (dtype, m.group(1).strip())
        sigs[name] = entry
    ops = re.search(r"contains the following ops: \{(.*?)\}", text, re.S)
    op_set = {o.strip().strip("'") for o in ops.group(1).split(",")} if ops else set()
    return sigs, op_set


_SHOWN = {}


def _show(path):
    if path not in _SHOWN:
        proc = subprocess.run(["saved_model_cli", "show", "--dir", path, "--all"], env=_env(),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        _SHOWN[path] = _parse_show(proc.stdout)
    return _SHOWN[path]


def test_saved_model_cli_show_signatures_dtypes_shapes(exported):
    from tfhf.export.tokenization import TF_TEXT_OPS

    sigs, ops = _show(exported("clf"))
    outputs = {"label": ("DT_STRING", "(-1)"), "logits": ("DT_FLOAT", "(-1, 3)"),
               "probabilities": ("DT_FLOAT", "(-1, 3)"), "score": ("DT_FLOAT", "(-1)")}
    assert sigs["serving_default"] == {"inputs": {"text": ("DT_STRING", "(-1)")},
                                       "outputs": outputs}
    ids = ("DT_INT32", "(-1, -1)")
    assert sigs["predict_ids"] == {
        "inputs": {"input_ids": ids, "attention_mask": ids, "token_type_ids": ids},
        "outputs": outputs}
    # tensorflow-text ops: only BertTokenizer's, which TF Serving registers
    found = {op for op in ops if op in TF_TEXT_OPS or "Fast" in op or "Sentencepiece" in op}
    assert found == set(TF_TEXT_OPS)


@pytest.fixture(scope="module")
def cli_run(exported):
    """One process: list the graph's ops TensorFlow alone does not register, then register
    tensorflow-text's and run ``saved_model_cli run`` (the TF1 session loader TF Serving
    uses) on serving_default."""
    _, ops = _show(exported("clf"))
    code = ("import os, sys, tensorflow as tf\n"
            "from tensorflow.python.framework import op_def_registry\n"
            "ops = os.environ['TFHF_TEST_OPS'].split(',')\n"
            "print('UNREGISTERED', sorted(o for o in ops if op_def_registry.get(o) is None))\n"
            "import tensorflow_text\n"
            "from tensorflow.python.tools.saved_model_cli import main\n"
            "sys.argv[0] = 'saved_model_cli'\nsys.exit(main())")
    env = dict(_env(), TFHF_TEST_OPS=",".join(sorted(ops)))
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "--dir", exported("clf"), "--tag_set", "serve",
         "--signature_def", "serving_default", "--input_exprs", 'text=["a great film"]'],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_saved_model_ops_are_core_tensorflow_or_bert_tokenizer_ops(cli_run):
    """Every op in the graph is registered by TensorFlow itself or is one of the three
    BertTokenizer ops (checked in a process before it imports tensorflow_text)."""
    from tfhf.export.tokenization import TF_TEXT_OPS

    line = next(x for x in cli_run.splitlines() if x.startswith("UNREGISTERED "))
    assert line == f"UNREGISTERED {sorted(TF_TEXT_OPS)}"


def test_saved_model_cli_run_prints_label(cli_run):
    """``saved_model_cli run`` with the tensorflow-text ops registered first (see
    docs/serving.md) prints one of the model's labels."""
    m = re.search(r"Result for output key label:\s*\n\[b'(\w+)'\]", cli_run)
    assert m and m.group(1) in CLF_LABELS.values(), cli_run


# ---------------------------------------------------------------- outputs without tfhf
def test_classification_matches_tfhf_model_and_pipeline(fresh, loaded):
    import tfhf

    out, inputs = fresh
    model, tok = loaded("clf")
    ids = inputs["clf_ids"]
    assert ids["attention_mask"].min() == 0  # a padded batch
    ref = model(dict(ids)).logits.numpy()
    np.testing.assert_allclose(out["clf/logits"], ref, atol=ATOL)
    np.testing.assert_allclose(out["clf_ids/logits"], ref, atol=ATOL)
    probs = tf.nn.softmax(ref).numpy()
    np.testing.assert_allclose(out["clf/probabilities"], probs, atol=ATOL)
    pipe = tfhf.pipeline("text-classification", model=model, tokenizer=tok)
    expected = [pipe(t, truncation=True, max_length=128) for t in TEXTS]
    expected = [e[0] if isinstance(e, list) else e for e in expected]
    assert list(out["clf/label"]) == [e["label"] for e in expected]
    assert list(out["clf_ids/label"]) == [e["label"] for e in expected]
    np.testing.assert_allclose(out["clf/score"], [e["score"] for e in expected], atol=ATOL)


def test_token_classification_matches_tfhf_model(fresh, loaded):
    out, _ = fresh
    model, tok = loaded("ner")
    ids = _batch(tok, TEXTS, 128)
    np.testing.assert_array_equal(out["ner/input_ids"], ids["input_ids"])
    np.testing.assert_array_equal(out["ner/attention_mask"], ids["attention_mask"])
    ref = model(dict(ids)).logits.numpy()
    np.testing.assert_allclose(out["ner/logits"], ref, atol=ATOL)
    names = np.array(list(NER_LABELS.values()))
    np.testing.assert_array_equal(out["ner/label"], names[ref.argmax(-1)])
    np.testing.assert_allclose(out["ner/score"], tf.nn.softmax(ref).numpy().max(-1), atol=ATOL)
    for row, mask, tokens in zip(ids["input_ids"], ids["attention_mask"], out["ner/tokens"]):
        n = int(mask.sum())
        assert list(tokens[:n]) == tok.convert_ids_to_tokens(row[:n].tolist())
    special = np.isin(ids["input_ids"], tok.all_special_ids) | (ids["attention_mask"] == 0)
    np.testing.assert_array_equal(out["ner/special_tokens_mask"], special.astype(np.int32))


def test_in_graph_tokenizer_in_fresh_process_matches_hf_on_1000_sentences(fresh, loaded):
    """The exported graph (loaded without tfhf) gives the HF fast tokenizer's ids, truncated
    to the exported max_length, for 1,000 awkward inputs (invalid UTF-8 as U+FFFD)."""
    out, inputs = fresh
    _, tok = loaded("ner")
    texts = [as_text(b) for b in inputs["sentences"]]
    ref = tok(texts, truncation=True, max_length=128)["input_ids"]
    got, mask = out["ner_1000/input_ids"], out["ner_1000/attention_mask"]
    bad = [i for i in range(len(texts)) if got[i][mask[i] == 1].tolist() != ref[i]]
    assert not bad, [texts[i] for i in bad[:5]]


def test_sentence_embeddings_mean_pooled_and_normalized(fresh, loaded):
    out, _ = fresh
    model, tok = loaded("st")
    ids = _batch(tok, TEXTS, 64)  # sentence_bert_config.json: max_seq_length 64
    hidden = model(dict(ids)).last_hidden_state.numpy()
    m = ids["attention_mask"][..., None].astype(np.float32)
    emb = (hidden * m).sum(1) / m.sum(1)
    emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
    np.testing.assert_allclose(out["st/embedding"], emb, atol=ATOL)
    assert "st/last_hidden_state" not in out  # a sentence-transformers export: embeddings


def test_minilm_real_weights_embeddings(fresh):
    """all-MiniLM-L6-v2: the SavedModel's embeddings equal tfhf's and PyTorch's
    (sentence-transformers' mean pooling + normalization)."""
    import torch
    import transformers

    out, inputs = fresh
    texts = inputs["minilm_texts"]
    model, tok = _MINILM["model"], _MINILM["tok"]
    ids = _batch(tok, texts, 256)
    hidden = model(dict(ids)).last_hidden_state.numpy()
    m = ids["attention_mask"][..., None].astype(np.float32)
    emb = (hidden * m).sum(1) / m.sum(1)
    emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
    np.testing.assert_allclose(out["minilm/embedding"], emb, atol=ATOL)
    pt = transformers.AutoModel.from_pretrained(_MINILM["folder"]).eval()
    with torch.no_grad():
        h = pt(**{k: torch.tensor(v, dtype=torch.long) for k, v in ids.items()})[0].numpy()
    ref = (h * m).sum(1) / m.sum(1)
    ref /= np.linalg.norm(ref, axis=-1, keepdims=True)
    np.testing.assert_allclose(out["minilm/embedding"], ref, atol=1e-4)
    sims = out["minilm/embedding"] @ out["minilm/embedding"].T
    assert sims[0, 1] > sims[0, 2]  # eating food ~ eating bread, not ~ movie


def test_generation_signature_matches_generate(fresh, loaded):
    out, inputs = fresh
    model, _ = loaded("llama")
    ids, mask = inputs["prompts"], inputs["prompt_mask"]
    # the signature left-aligns right-padded rows, as a client should have done
    order = np.argsort(mask, axis=1, kind="stable")
    left_ids, left_mask = np.take_along_axis(ids, order, 1), np.take_along_axis(mask, order, 1)
    greedy = model.generate(tf.constant(left_ids), attention_mask=tf.constant(left_mask),
                            max_new_tokens=12, do_sample=False).numpy()
    np.testing.assert_array_equal(out["gen/sequences"], greedy)
    sample = model.generate(tf.constant(left_ids), attention_mask=tf.constant(left_mask),
                            max_new_tokens=10, do_sample=True, temperature=0.8, top_p=0.9,
                            top_k=None, seed=7).numpy()
    np.testing.assert_array_equal(out["gen_sample/sequences"], sample)
    default = model.generate(tf.constant(left_ids), attention_mask=tf.constant(left_mask),
                             max_new_tokens=20, do_sample=False).numpy()
    np.testing.assert_array_equal(out["gen_default/sequences"], default)
    new = out["gen/sequences"][:, ids.shape[1]:]
    for row, n in zip(new, out["gen/num_new_tokens"]):
        eos = np.flatnonzero(row == 2)
        assert n == (eos[0] + 1 if eos.size else len(row))


# ---------------------------------------------------------------- bad input, nothing written
def test_errors_leave_nothing_written(tmp_path, loaded, exported):
    from tfhf.errors import InvalidInputError, TfhfError, UnsupportedModelError
    from tfhf.export import export_saved_model

    model, tok = loaded("clf")
    target = str(tmp_path / "a")
    with pytest.raises(UnsupportedModelError, match="token_classification"):
        export_saved_model(model, target, tokenizer=tok, task="token-classification")
    with pytest.raises(UnsupportedModelError, match="causal_lm"):
        export_saved_model(model, target, task="text-generation")
    with pytest.raises(InvalidInputError, match="Unknown export task"):
        export_saved_model(model, target, task="summarization")
    with pytest.raises(InvalidInputError, match="max_length"):
        export_saved_model(model, target, tokenizer=tok, max_length=4096)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="is a file"):
        export_saved_model(model, str(tmp_path / "file"), tokenizer=tok)
    assert sorted(os.listdir(tmp_path)) == ["file"]
    assert (tmp_path / "file").read_text() == "x"
    base = os.path.dirname(exported("clf"))
    with pytest.raises(InvalidInputError, match="already exists"):
        export_saved_model(model, base, tokenizer=tok, version=1)
    assert sorted(os.listdir(base)) == ["1"]
    assert issubclass(InvalidInputError, TfhfError) and issubclass(InvalidInputError, ValueError)


def test_failed_export_removes_staging_and_keeps_old_version(tmp_path, loaded, monkeypatch):
    from tfhf.export import saved_model as SM
    from tfhf.export import export_saved_model

    model, tok = loaded("clf")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(SM, "_save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(model, str(tmp_path / "new"), tokenizer=tok)
    assert not os.path.exists(tmp_path / "new")  # the base folder it created is gone too
    (tmp_path / "old" / "3").mkdir(parents=True)
    (tmp_path / "old" / "3" / "keep.txt").write_text("v3")
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(model, str(tmp_path / "old"), tokenizer=tok, version=3,
                           overwrite=True)
    assert sorted(os.listdir(tmp_path / "old")) == ["3"]
    assert (tmp_path / "old" / "3" / "keep.txt").read_text() == "v3"


def test_cli_export_next_version_and_errors(tmp_path, tiny, exported, capsys):
    import shutil

    from tfhf.cli import main

    base = tmp_path / "clf"
    shutil.copytree(os.path.dirname(exported("clf")), base)  # holds version 1
    folder = tiny("clf")
    rc = main(["export", "--model", folder, "--task", "text-classification", "--output",
               str(base), "--no-tokenizer", "--quiet"])
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(base / "2")
    assert sorted(os.listdir(base)) == ["1", "2"]
    with open(base / "2" / "assets.extra" / "tfhf_export.json") as fh:
        assert json.load(fh)["in_graph_tokenizer"] is None
    assert not os.path.exists(base / "2" / "assets" / "vocab.txt")
    sig = tf.saved_model.load(str(base / "2")).signatures["serving_default"]
    assert sorted(sig.structured_input_signature[1]) == ["attention_mask", "input_ids",
                                                         "token_type_ids"]
    rc = main(["export", "--model", folder, "--task", "sentiment-analysis", "--output",
               str(base), "--version", "2"])
    assert rc == 1 and "already exists" in capsys.readouterr().err
    rc = main(["export", "--model", folder, "--task", "text-generation", "--output",
               str(tmp_path / "gen")])
    err = capsys.readouterr().err
    assert rc == 1 and "tfhf: error:" in err and "causal" in err.lower()
    assert not (tmp_path / "gen").exists()
    (tmp_path / "f").write_text("")
    rc = main(["export", "--model", folder, "--task", "text-classification", "--output",
               str(tmp_path / "f")])
    assert rc == 1 and "is a file" in capsys.readouterr().err


def test_generation_limits(exported, loaded, tmp_path):
    from tfhf.errors import InvalidInputError
    from tfhf.export import export_saved_model

    model, _ = loaded("llama")
    with pytest.raises(InvalidInputError, match="context"):
        export_saved_model(model, str(tmp_path / "g"), max_length=250, max_new_tokens=20)
    with pytest.raises(InvalidInputError, match="max_new_tokens"):
        export_saved_model(model, str(tmp_path / "g"), max_new_tokens=0)
    assert not (tmp_path / "g").exists()
    sig = tf.saved_model.load(exported("llama")).signatures["generate"]
    args = dict(max_new_tokens=tf.constant(4), temperature=tf.constant(0.0),
                top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64))
    too_long = tf.ones([1, 41], tf.int32)  # exported with max_length=40
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than the exported"):
        sig(input_ids=too_long, attention_mask=too_long, **args)
    ids = tf.constant([[5, 6, 7]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_new_tokens"):
        sig(input_ids=ids, attention_mask=tf.ones_like(ids),
            **{**args, "max_new_tokens": tf.constant(33)})


def test_cli_export_creates_missing_parents_like_mkdir_p(tmp_path, tiny, capsys):
    """`tfhf export ... --output serving/clf` (the README's command) in a folder without
    `serving/`; and the string-in export says how to load it in Python."""
    from tfhf.cli import main

    folder = tiny("clf")
    base = tmp_path / "serving" / "deeper" / "clf"
    rc = main(["export", "--model", folder, "--task", "text-classification", "--output",
               str(base)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert sorted(os.listdir(base)) == ["1"]
    assert (base / "1" / "saved_model.pb").is_file()
    assert "import tensorflow_text" in out and "tf.saved_model.load" in out
    with open(base / "1" / "assets.extra" / "tfhf_export.json") as fh:
        meta = json.load(fh)
    assert meta["tensorflow_text_ops"] == ["NormalizeUTF8", "RegexSplitWithOffsets",
                                           "WordpieceTokenizeWithOffsets"]
    assert "import tensorflow_text" in meta["python_load"]


def test_failed_export_removes_the_parents_it_created(tmp_path, loaded, monkeypatch):
    from tfhf.export import saved_model as SM
    from tfhf.export import export_saved_model
    from tfhf.errors import InvalidInputError

    model, tok = loaded("clf")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(SM, "_save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(model, str(tmp_path / "a" / "b" / "clf"), tokenizer=tok)
    assert os.listdir(tmp_path) == []  # nothing half-written, no empty folders left
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidInputError, match="is a file"):
        export_saved_model(model, str(tmp_path / "f" / "sub" / "clf"), tokenizer=tok)
    assert os.listdir(tmp_path) == ["f"]
