"""Hub repo ids resolved through huggingface_hub's cache with HF_HUB_OFFLINE=1 (no network).

The cache is built in tmp_path with the layout huggingface_hub writes
(``models--org--name/{blobs,refs,snapshots}``, snapshot files symlinked to content-addressed
blobs) and checked with huggingface_hub's own cache scanner before tfhf reads it.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from _hub_helpers import VOCAB, make_pt, pt_logits, tf_logits

import tfhf
from tfhf.errors import ModelNotFoundError, WeightsNotFoundError

REPO = "org/tiny-bert"
COMMIT_1 = "1" * 40
COMMIT_2 = "2" * 40


def _etag(data: bytes, lfs: bool) -> str:
    if lfs:  # LFS files are stored under their sha256
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git blob id


def add_snapshot(cache_dir, repo_id, commit, files, refs=("main",)):
    """Put ``files`` (name -> bytes) into ``cache_dir`` as huggingface_hub caches a download."""
    repo = os.path.join(cache_dir, "models--" + repo_id.replace("/", "--"))
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    for name, data in files.items():
        etag = _etag(data, lfs=name.endswith((".safetensors", ".bin", ".h5")))
        blob = os.path.join(repo, "blobs", etag)
        with open(blob, "wb") as fh:
            fh.write(data)
        link = os.path.join(repo, "snapshots", commit, name)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    for ref in refs:
        os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
        with open(os.path.join(repo, "refs", ref), "w") as fh:
            fh.write(commit)


def folder_files(folder):
    folder = Path(folder)
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def make_tokenizer_files(tmp_path):
    from transformers import BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words += [f"w{i}" for i in range(VOCAB - len(words) - 2)] + ["hello", "world"]
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n")
    tok = BertTokenizer(vocab=str(vocab))  # transformers v5: the tokenizers-backed class
    out = tmp_path / "tok"
    tok.save_pretrained(out)
    return folder_files(out)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A cache holding REPO at two commits: main -> COMMIT_1, branch v2 -> COMMIT_2."""
    root = tmp_path_factory.mktemp("hub")
    cache = str(root / "cache")
    pt1 = make_pt("BertForSequenceClassification", seed=11)
    pt2 = make_pt("BertForSequenceClassification", seed=12)
    tok_files = make_tokenizer_files(root)
    for pt, commit, ref in ((pt1, COMMIT_1, "main"), (pt2, COMMIT_2, "v2")):
        saved = root / commit
        pt.save_pretrained(saved)
        add_snapshot(cache, REPO, commit, {**folder_files(saved), **tok_files}, refs=(ref,))
    # a repo whose config is cached but whose weights never were
    add_snapshot(cache, "org/config-only", COMMIT_1,
                 {"config.json": folder_files(root / COMMIT_1)["config.json"]})
    return {"cache": cache, "pt1": pt1, "pt2": pt2, "root": root}


def test_cache_layout_is_what_huggingface_hub_reads(hub):
    import huggingface_hub as hh
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE, "tests must run with HF_HUB_OFFLINE=1 (tests/conftest.py)"
    info = hh.scan_cache_dir(hub["cache"])
    assert not info.warnings
    repos = {r.repo_id: r for r in info.repos}
    assert set(repos) == {REPO, "org/config-only"}
    revs = {r.commit_hash: r for r in repos[REPO].revisions}
    assert set(revs) == {COMMIT_1, COMMIT_2}
    assert {f.file_name for f in revs[COMMIT_1].files} >= {"config.json", "model.safetensors",
                                                            "tokenizer_config.json"}
    assert revs[COMMIT_2].refs == {"v2"}
    path = hh.try_to_load_from_cache(REPO, "model.safetensors", cache_dir=hub["cache"])
    assert path == os.path.join(hub["cache"], "models--org--tiny-bert", "snapshots", COMMIT_1,
                                "model.safetensors")


def test_from_pretrained_offline_from_cache(hub, ids, mask):
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(REPO,
                                                                       cache_dir=hub["cache"])
    assert type(model).__name__ == "TFBertForSequenceClassification"
    np.testing.assert_allclose(tf_logits(model, ids, mask), pt_logits(hub["pt1"], ids, mask),
                               atol=1e-5)


@pytest.mark.parametrize("revision", [COMMIT_2, "v2"], ids=["commit", "branch"])
def test_revision_selects_the_other_snapshot(hub, ids, revision):
    model = tfhf.TFBertForSequenceClassification.from_pretrained(
        REPO, cache_dir=hub["cache"], revision=revision)
    np.testing.assert_allclose(tf_logits(model, ids), pt_logits(hub["pt2"], ids), atol=1e-5)
    assert not np.allclose(pt_logits(hub["pt1"], ids), pt_logits(hub["pt2"], ids), atol=1e-3)


def test_local_files_only_works_the_same(hub, ids):
    model = tfhf.TFBertModel.from_pretrained(REPO, cache_dir=hub["cache"], local_files_only=True)
    assert model(ids).last_hidden_state.shape == (2, 9, 32)


@pytest.mark.parametrize("repo, revision", [("org/not-cached", None), (REPO, "no-such-branch"),
                                            ("single-name-repo", None)])
def test_uncached_repo_says_offline_and_not_cached(hub, repo, revision):
    with pytest.raises(ModelNotFoundError) as ei:
        tfhf.TFAutoModel.from_pretrained(repo, cache_dir=hub["cache"], revision=revision)
    msg = str(ei.value)
    assert f"Hub repo '{repo}'" in msg
    assert "HF_HUB_OFFLINE=1" in msg and "not in the cache" in msg
    assert hub["cache"] in msg
    if revision:
        assert f"revision '{revision}'" in msg
    assert isinstance(ei.value, OSError)


def test_cached_config_without_weights(hub):
    with pytest.raises(WeightsNotFoundError) as ei:
        tfhf.TFBertModel.from_pretrained("org/config-only", cache_dir=hub["cache"])
    msg = str(ei.value)
    assert "Hub repo 'org/config-only'" in msg and "model.safetensors" in msg
    assert "not in the cache" in msg


def test_auto_tokenizer_from_the_same_cache(hub):
    import tensorflow as tf
    from transformers import AutoTokenizer as HFAutoTokenizer

    tok = tfhf.AutoTokenizer.from_pretrained(REPO, cache_dir=hub["cache"])
    enc = tok(["hello world", "world"], padding=True, return_tensors="tf")
    assert isinstance(enc["input_ids"], tf.Tensor)
    ref = HFAutoTokenizer.from_pretrained(str(hub["root"] / "tok"))(["hello world", "world"],
                                                                    padding=True)
    assert enc["input_ids"].numpy().tolist() == ref["input_ids"]
    assert enc["input_ids"].numpy()[0, 1] == VOCAB - 2  # "hello"
    model = tfhf.TFBertForSequenceClassification.from_pretrained(REPO, cache_dir=hub["cache"])
    assert model(enc).logits.shape == (2, 3)


def test_auto_tokenizer_uncached_repo(hub):
    with pytest.raises(ModelNotFoundError) as ei:
        tfhf.AutoTokenizer.from_pretrained("org/not-cached", cache_dir=hub["cache"])
    assert "org/not-cached" in str(ei.value) and "not in the cache" in str(ei.value)
