"""Token classification and question answering on the decoder LMs (Llama, Mistral, Qwen2,
GPT-2) against PyTorch transformers' ``<Family>ForTokenClassification`` /
``<Family>ForQuestionAnswering`` (Gemma 3 has neither in transformers).

Each case is a tiny random config from tests/parity/test_decoders.py, saved by PyTorch and
loaded through the TFAutoModel class. On a batch with left- and right-padded rows the
per-token logits agree within 1e-4 in float32 on the real tokens, eagerly and (one head per
family) under XLA, and so does the loss with labels (-100 and out-of-range span positions
ignored as transformers does); tfhf's files load in PyTorch with no missing or unexpected
weight, with transformers' names (``transformer.`` + ``qa_outputs`` for Llama and Qwen2's QA,
``score`` with or without bias, GPT-2's ``classifier``). ``fit`` with the model's own loss
trains both heads, a causal-LM checkpoint starts either head with its backbone, and the
token-classification and question-answering pipelines run on them.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402

from parity.test_decoder_classification import (FAMILIES, batch, hf_config,  # noqa: E402
                                                pt_logits, pytorch_reload)
from parity.test_decoders import as_np, assert_real_close, positions  # noqa: E402
from parity.test_encoder_families import case_cache  # noqa: E402

ATOL = 1e-4
TC, QA = "ForTokenClassification", "ForQuestionAnswering"
HEADS = {TC: "TFAutoModelForTokenClassification", QA: "TFAutoModelForQuestionAnswering"}
# config overrides per case: a score head without bias, a classifier dropout from the config
OVERRIDES = {("mistral", TC): {"token_classification_bias": False},
             ("qwen2", TC): {"classifier_dropout": 0.25}}
CASES = [(f, h) for f in FAMILIES if f != "gemma3" for h in HEADS]
XLA = [("llama", TC), ("mistral", QA), ("qwen2", QA), ("gpt2", TC)]


def labels_for(head, ids, mask):
    if head == TC:  # padding and some real tokens left out of the loss
        rs = np.random.RandomState(5)
        labels = rs.randint(0, 3, size=ids.shape)
        labels[(mask == 0) | (rs.rand(*ids.shape) < 0.3)] = -100
        return {"labels": labels.astype(np.int32)}
    # row 2's end is past the input (ignored); a negative start clamps to 0
    return {"start_positions": np.array([3, -1, 8], np.int32),
            "end_positions": np.array([9, 4, 40], np.int32)}


class Case:
    def __init__(self, family, head, folder):
        torch.manual_seed(CASES.index((family, head)))
        self.family, self.head, self.folder = family, head, str(folder)
        self.pt_cls = getattr(transformers, FAMILIES[family] + head)
        config = hf_config(family, **OVERRIDES.get((family, head), {}))
        self.pt = self.pt_cls(config).eval()
        self.pt.save_pretrained(self.folder)
        with _keras.policy_scope("float32"):
            self.tf = getattr(tfhf, HEADS[head]).from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return case_cache(tmp_path_factory, Case)


def assert_outputs_close(got, ref, mask, what=""):
    for key in ("logits", "start_logits", "end_logits"):
        if key in ref:
            assert got[key].dtype == tf.float32
            assert_real_close(got[key], ref[key], mask, what=what + key)


@pytest.mark.parametrize("family,head", CASES)
def test_logits_and_loss_match_pytorch(cases, family, head):
    c = cases(family, head)
    assert type(c.tf).__name__ == f"TF{FAMILIES[family]}{head}"
    ids, mask = batch()
    labels = labels_for(head, ids, mask)
    ref = pt_logits(c.pt, ids, mask, **{k: torch.tensor(v).long() for k, v in labels.items()})
    out = c.tf(ids, attention_mask=mask, position_ids=positions(mask), **labels)
    assert_outputs_close(out, ref, mask)
    assert out.loss.shape.rank == 0
    np.testing.assert_allclose(float(out.loss), float(ref.loss), atol=ATOL, rtol=0)


@pytest.mark.parametrize("family,head", XLA)
def test_logits_match_pytorch_under_xla(cases, family, head):
    c = cases(family, head)
    ids, mask = batch()
    fn = tf.function(lambda i, m, p: dict(c.tf(i, attention_mask=m, position_ids=p)),
                     jit_compile=True)
    got = fn(tf.constant(ids), tf.constant(mask), tf.constant(positions(mask)))
    assert_outputs_close(got, pt_logits(c.pt, ids, mask), mask, what="xla ")


@pytest.mark.parametrize("family,head", CASES)
def test_tfhf_save_pytorch_load(cases, family, head, tmp_path):
    c = cases(family, head)
    pt = pytorch_reload(c.tf, c.pt_cls, tmp_path)
    ids, mask = batch()
    got, ref = pt_logits(pt, ids, mask), pt_logits(c.pt, ids, mask)
    for key in ("logits", "start_logits", "end_logits"):
        if key in ref:
            np.testing.assert_allclose(as_np(got[key]), as_np(ref[key]), atol=1e-6, rtol=0)


def test_head_options_follow_the_config(cases):
    """``token_classification_bias=False``: no bias; dropout: ``classifier_dropout``, else
    ``hidden_dropout``, else 0.1 (transformers' rule); GPT-2's head is ``classifier``."""
    assert cases("mistral", TC).tf.score.out.bias is None
    assert cases("qwen2", TC).tf.score.dropout.rate == 0.25
    assert cases("llama", TC).tf.score.dropout.rate == 0.1
    assert cases("gpt2", TC).tf.classifier.out.bias is not None
    model = tfhf.TFLlamaForTokenClassification.from_config(hf_config("llama", hidden_dropout=0.3))
    assert model.score.dropout.rate == 0.3
    assert set(cases("llama", QA).tf.weight_table()) >= {"transformer.embed_tokens.weight",
                                                         "qa_outputs.weight", "qa_outputs.bias"}


@pytest.mark.parametrize("family,head", [("llama", QA), ("gpt2", TC)])
def test_fit_trains_with_the_models_loss(cases, family, head):
    c = cases(family, head)
    ids, mask = batch()
    data = tf.data.Dataset.from_tensor_slices(
        {"input_ids": ids, "attention_mask": mask, **labels_for(head, ids, mask)}).batch(3)
    model = type(c.tf).from_pretrained(c.folder)
    model.compile(optimizer=tfhf.create_optimizer(1e-3, 4, 0)[0])  # no loss: the model's own
    head = (model.qa_outputs if head == QA else model.classifier).out.kernel
    before = head.numpy().copy()
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))
    assert not np.allclose(head.numpy(), before)


@pytest.mark.parametrize("head", [TC, QA])
def test_causal_lm_checkpoint_starts_the_head(head, tmp_path):
    """The fine-tuning start: a Llama LM's backbone loads under the head (also under the QA
    model's ``transformer.`` prefix, where transformers leaves it random), the head is new."""
    torch.manual_seed(3)
    lm = transformers.LlamaForCausalLM(hf_config("llama"))
    lm.save_pretrained(tmp_path)
    model, info = getattr(tfhf, HEADS[head]).from_pretrained(str(tmp_path),
                                                             output_loading_info=True)
    head_name = "score" if head == TC else "qa_outputs"
    assert sorted(info["missing_keys"]) == [f"{head_name}.bias", f"{head_name}.weight"]
    assert info["unexpected_keys"] == ["lm_head.weight"]
    np.testing.assert_array_equal(np.asarray(model.main_layer.embed_tokens.embeddings),
                                  as_np(lm.model.embed_tokens.weight))


def test_pipelines_run_on_the_heads(cases, tmp_path):
    """``pipeline("token-classification")`` / ``("question-answering")`` on GPT-2's heads with
    a byte-level BPE tokenizer: one entry per token with its character offsets, and an answer
    that is the context's span."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokenizer = transformers.GPT2Tokenizer(
        vocab={t: i for i, t in enumerate(["<|endoftext|>", "\u0120", *letters])}, merges=[])
    for head in HEADS:
        folder = tmp_path / head
        cases("gpt2", head).tf.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    text = "hello world"
    tagged = tfhf.pipeline("token-classification", model=str(tmp_path / TC),
                           ignore_labels=[])(text)
    assert [(t["start"], t["end"]) for t in tagged] == [(i, i + 1) for i in range(len(text))]
    assert all(0 < t["score"] <= 1 and t["entity"].startswith("LABEL_") for t in tagged)
    context = "hello world abc"
    answer = tfhf.pipeline("question-answering", model=str(tmp_path / QA))(
        question="who", context=context)
    assert answer["answer"] == context[answer["start"]:answer["end"]] and answer["answer"]
