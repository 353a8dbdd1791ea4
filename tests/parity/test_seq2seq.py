"""Parity of the encoder-decoder families (T5 v1.0 and v1.1, BART, M2M100) with PyTorch.

Each case is a tiny random config built with PyTorch transformers, saved with
``save_pretrained`` and loaded into tfhf. On a batch whose encoder input is right-padded and
whose decoder mask pads one row, logits agree within 1e-4 in float32, eagerly and under XLA;
the loss from ``labels`` (shifted right behind ``decoder_start_token_id``, -100 ignored)
matches; tfhf's ``save_pretrained`` loads back into PyTorch with the same logits; and the
cache methods (``encode`` / ``cross_cache`` / ``init_cache`` / ``decoder_forward_with_cache``:
a prefill, then one token per step) reproduce the full forward, eagerly and inside one
``tf.function(jit_compile=True)``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

ATOL = 1e-4
SRC, TGT = 11, 7  # encoder / decoder lengths
PREFILL, CACHE_LEN = 3, 9

from tiny_configs import SEQ2SEQ_CASES as CASES  # noqa: E402
from tiny_configs import SEQ2SEQ_D as D  # noqa: E402
from tiny_configs import SEQ2SEQ_VOCAB as VOCAB  # noqa: E402
from tiny_configs import decode_with_cache, torch_seq2seq_lm  # noqa: E402
from tiny_configs import seq2seq_config as hf_config  # noqa: E402


@functools.lru_cache(maxsize=None)
def checkpoint(name, tmp_root):
    """(PyTorch LM, folder of its save_pretrained)."""
    pt = torch_seq2seq_lm(name, seed=0)
    if name == "t5_v11":  # a Flan-style checkpoint: a head of its own
        pt.lm_head.weight = torch.nn.Parameter(torch.randn(VOCAB, D))
    if name == "bart":  # a non-zero final_logits_bias buffer
        pt.final_logits_bias.copy_(torch.randn(1, VOCAB))
    folder = f"{tmp_root}/{name}"
    pt.save_pretrained(folder)
    return pt, folder


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("seq2seq"))


def make_inputs(name, seed=0):
    pad = hf_config(name).pad_token_id
    rs = np.random.RandomState(seed)
    ids = rs.randint(3, VOCAB, size=(2, SRC)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    ids[1, 7:] = pad
    dec = rs.randint(3, VOCAB, size=(2, TGT)).astype(np.int32)
    dmask = np.ones_like(dec)
    dmask[0, 5:] = 0
    dec[0, 5:] = pad
    return ids, mask, dec, dmask


def pt_logits(pt, ids, mask, dec, dmask):
    with torch.no_grad():
        return pt(input_ids=torch.tensor(ids, dtype=torch.long),
                  attention_mask=torch.tensor(mask, dtype=torch.long),
                  decoder_input_ids=torch.tensor(dec, dtype=torch.long),
                  decoder_attention_mask=torch.tensor(dmask, dtype=torch.long)).logits.numpy()


def real(logits, dmask):
    return logits[dmask.astype(bool)]


@pytest.mark.parametrize("name", list(CASES))
def test_logits_match_pytorch_eager_and_xla(name, root):
    pt, folder = checkpoint(name, root)
    model = tfhf.TFAutoModelForSeq2SeqLM.from_pretrained(folder)
    assert type(model).__name__ == f"TF{CASES[name][0]}ForConditionalGeneration"
    ids, mask, dec, dmask = make_inputs(name)
    ref = pt_logits(pt, ids, mask, dec, dmask)
    out = model(ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dmask)
    assert out.logits.dtype == tf.float32
    np.testing.assert_allclose(real(out.logits.numpy(), dmask), real(ref, dmask), atol=ATOL)
    fn = tf.function(lambda a, b, c, d: model(a, attention_mask=b, decoder_input_ids=c,
                                              decoder_attention_mask=d).logits,
                     jit_compile=True)
    xla = fn(tf.constant(ids), tf.constant(mask), tf.constant(dec), tf.constant(dmask))
    np.testing.assert_allclose(real(xla.numpy(), dmask), real(ref, dmask), atol=ATOL)


@pytest.mark.parametrize("name", list(CASES))
def test_loss_from_labels_matches_pytorch(name, root):
    pt, folder = checkpoint(name, root)
    model = tfhf.TFAutoModelForSeq2SeqLM.from_pretrained(folder)
    ids, mask, labels, _ = make_inputs(name, seed=1)
    labels[0, 4:] = -100
    with torch.no_grad():
        ref = pt(input_ids=torch.tensor(ids, dtype=torch.long),
                 attention_mask=torch.tensor(mask, dtype=torch.long),
                 labels=torch.tensor(labels, dtype=torch.long))
    out = model({"input_ids": ids, "attention_mask": mask, "labels": labels})
    np.testing.assert_allclose(out.loss.numpy(), ref.loss.item(), atol=ATOL)
    np.testing.assert_allclose(out.logits.numpy(), ref.logits.numpy(), atol=ATOL)


@pytest.mark.parametrize("name", ["t5_v11", "bart", "m2m100"])
def test_save_pretrained_loads_in_pytorch(name, root, tmp_path):
    pt, folder = checkpoint(name, root)
    model = tfhf.TFAutoModelForSeq2SeqLM.from_pretrained(folder)
    model.save_pretrained(tmp_path / "tf")
    cls = getattr(transformers, f"{CASES[name][0]}ForConditionalGeneration")
    back, info = cls.from_pretrained(tmp_path / "tf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    ids, mask, dec, dmask = make_inputs(name)
    np.testing.assert_allclose(pt_logits(back.eval(), ids, mask, dec, dmask),
                               pt_logits(pt, ids, mask, dec, dmask), atol=ATOL)
    again = tfhf.TFAutoModelForSeq2SeqLM.from_pretrained(tmp_path / "tf")
    for k, v in model.hf_state_dict().items():
        np.testing.assert_array_equal(again.hf_state_dict()[k], v)


def run_with_cache(model, ids, mask, dec):
    """Prefill PREFILL decoder tokens, then one per step; logits of every decoder position."""
    return decode_with_cache(model, model.encode(ids, mask), dec, mask, PREFILL, CACHE_LEN)


@pytest.mark.parametrize("name", list(CASES))
def test_cache_methods_match_full_forward(name, root):
    _, folder = checkpoint(name, root)
    model = tfhf.TFAutoModelForSeq2SeqLM.from_pretrained(folder)
    ids, mask, dec, _ = make_inputs(name)
    dec[dec == hf_config(name).pad_token_id] = 5  # M2M100 puts pads on a zero position row
    full = model(ids, attention_mask=mask, decoder_input_ids=dec).logits.numpy()
    s = model.seq2seq_spec
    cache = model.init_cache(2, CACHE_LEN)  # one (keys, values) pair per decoder layer
    assert len(cache) == s.decoder_layers and all(
        tuple(buf.shape) == (2, s.heads(True), CACHE_LEN, s.dim_per_head(True))
        for pair in cache for buf in pair)
    np.testing.assert_allclose(run_with_cache(model, ids, mask, dec).numpy(), full, atol=ATOL)
    if name == "t5":  # relative position buckets from the traced cache index, under XLA
        xla = tf.function(lambda a, b, c: run_with_cache(model, a, b, c), jit_compile=True)
        np.testing.assert_allclose(xla(tf.constant(ids), tf.constant(mask),
                                       tf.constant(dec)).numpy(), full, atol=ATOL)


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_base_model_matches_pytorch(name, root):
    pt, folder = checkpoint(name, root)
    prefix = CASES[name][0]
    model = getattr(tfhf, f"TF{prefix}Model").from_pretrained(folder)
    base = getattr(transformers, f"{prefix}Model").from_pretrained(folder).eval()
    ids, mask, dec, dmask = make_inputs(name)
    with torch.no_grad():
        ref = base(input_ids=torch.tensor(ids, dtype=torch.long),
                   attention_mask=torch.tensor(mask, dtype=torch.long),
                   decoder_input_ids=torch.tensor(dec, dtype=torch.long),
                   output_hidden_states=True)
    out = model(ids, attention_mask=mask, decoder_input_ids=dec, output_hidden_states=True)
    np.testing.assert_allclose(out.last_hidden_state.numpy(), ref.last_hidden_state.numpy(),
                               atol=ATOL)
    np.testing.assert_allclose(out.encoder_last_hidden_state.numpy(),
                               ref.encoder_last_hidden_state.numpy(), atol=ATOL)
    assert len(out.decoder_hidden_states) == len(ref.decoder_hidden_states)
    for a, b in zip(out.encoder_hidden_states, ref.encoder_hidden_states):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=ATOL)
    if name == "t5":
        enc = tfhf.TFT5EncoderModel.from_pretrained(folder)
        np.testing.assert_allclose(enc(ids, attention_mask=mask).last_hidden_state.numpy(),
                                   ref.encoder_last_hidden_state.numpy(), atol=ATOL)
    else:  # BartModel decodes input_ids shifted right when no decoder inputs are given
        with torch.no_grad():
            ref2 = base(input_ids=torch.tensor(ids, dtype=torch.long)).last_hidden_state
        np.testing.assert_allclose(model(ids).last_hidden_state.numpy(), ref2.numpy(),
                                   atol=ATOL)


def test_bart_sequence_classification_matches_pytorch(tmp_path):
    config = hf_config("bart")
    config.num_labels = 3
    torch.manual_seed(1)
    pt = transformers.BartForSequenceClassification(config).eval()
    pt.save_pretrained(tmp_path)
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(model).__name__ == "TFBartForSequenceClassification"
    eos = config.eos_token_id
    ids, mask, _, _ = make_inputs("bart")
    ids[ids == eos] = 5
    # two eos per row (PyTorch needs equal counts); the last one ends row 0 and sits
    # before the padding in row 1
    ids[0, 2] = ids[0, -1] = eos
    ids[1, 3] = ids[1, 6] = eos
    labels = np.array([2, 0])
    with torch.no_grad():
        ref = pt(input_ids=torch.tensor(ids, dtype=torch.long),
                 attention_mask=torch.tensor(mask, dtype=torch.long),
                 labels=torch.tensor(labels))
    out = model(ids, attention_mask=mask, labels=labels)
    np.testing.assert_allclose(out.logits.numpy(), ref.logits.numpy(), atol=ATOL)
    np.testing.assert_allclose(out.loss.numpy(), ref.loss.item(), atol=ATOL)
    ids[0][ids[0] == eos] = 5
    with pytest.raises(InvalidInputError, match="eos"):
        model(ids, attention_mask=mask)


def test_input_errors(root):
    _, folder = checkpoint("t5", root)
    model = tfhf.TFT5ForConditionalGeneration.from_pretrained(folder)
    ids, mask, dec, _ = make_inputs("t5")
    with pytest.raises(InvalidInputError, match="decoder_input_ids"):
        model(ids, attention_mask=mask)
    with pytest.raises(InvalidInputError, match="outside the vocabulary"):
        model(ids, decoder_input_ids=dec + VOCAB)
    with pytest.raises(InvalidInputError, match="unexpected inputs"):
        model(ids, decoder_input_ids=dec, position_ids=dec)
    # encoder_outputs skip the encoder
    enc = model.encode(ids, mask)
    a = model(ids, attention_mask=mask, decoder_input_ids=dec).logits
    b = model(None, attention_mask=mask, decoder_input_ids=dec, encoder_outputs=(enc,)).logits
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
