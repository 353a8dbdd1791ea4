"""Parity of the Whisper family with PyTorch transformers on a tiny random WhisperConfig.

The PyTorch model is saved with ``save_pretrained`` and loaded into tfhf. On random log-mel
features and a decoder batch whose mask pads one row, logits agree within 1e-4 in float32,
eagerly and under XLA; the encoder's output and hidden states agree; the loss from labels
agrees; the cache methods (``encode`` / ``cross_cache`` / ``init_cache`` /
``decoder_forward_with_cache``) reproduce the full forward; tfhf's ``save_pretrained`` loads
back into PyTorch with the same logits; a fresh tfhf model starts from PyTorch's sinusoidal
encoder positions; ``generate`` (greedy and beam search, compiled) gives PyTorch's tokens
after a forced decoder prefix.
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
from tiny_configs import decode_with_cache, widen_weights  # noqa: E402

ATOL = 1e-4
VOCAB, D, MELS, SRC = 64, 16, 8, 6  # encoder length SRC, features 2 * SRC frames
TGT, PREFILL, CACHE_LEN = 7, 3, 9
PAD, EOS, START = 1, 2, 3


def hf_config(**overrides):
    kwargs = dict(vocab_size=VOCAB, num_mel_bins=MELS, d_model=D, encoder_layers=2,
                  decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=2,
                  encoder_ffn_dim=24, decoder_ffn_dim=20, max_source_positions=SRC,
                  max_target_positions=16, pad_token_id=PAD, bos_token_id=EOS,
                  eos_token_id=EOS, decoder_start_token_id=START, suppress_tokens=[],
                  begin_suppress_tokens=[], init_std=0.2, attn_implementation="eager")
    kwargs.update(overrides)
    return transformers.WhisperConfig(**kwargs)


@functools.lru_cache(maxsize=None)
def checkpoint(tmp_root, tied=True):
    """(PyTorch WhisperForConditionalGeneration, folder of its save_pretrained)."""
    torch.manual_seed(0)
    pt = transformers.WhisperForConditionalGeneration(
        hf_config(tie_word_embeddings=tied)).eval()
    if not tied:
        pt.proj_out.weight = torch.nn.Parameter(torch.randn(VOCAB, D))
    folder = f"{tmp_root}/whisper_{'tied' if tied else 'untied'}"
    pt.save_pretrained(folder)
    return pt, folder


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("whisper"))


def make_inputs(seed=0):
    rs = np.random.RandomState(seed)
    feats = rs.randn(2, MELS, 2 * SRC).astype(np.float32)
    dec = rs.randint(4, VOCAB, size=(2, TGT)).astype(np.int32)
    dec[:, 0] = START
    dmask = np.ones_like(dec)
    dmask[0, 5:] = 0
    dec[0, 5:] = PAD
    return feats, dec, dmask


def pt_logits(pt, feats, dec, dmask=None):
    with torch.no_grad():
        return pt(input_features=torch.tensor(feats), decoder_input_ids=torch.tensor(
            dec, dtype=torch.long), decoder_attention_mask=None if dmask is None else
            torch.tensor(dmask, dtype=torch.long)).logits.numpy()


def real(logits, dmask):
    return logits[dmask.astype(bool)]


@pytest.mark.parametrize("tied", [True, False])
def test_logits_match_pytorch_eager_and_xla(root, tied):
    pt, folder = checkpoint(root, tied)
    model = tfhf.TFAutoModelForSpeechSeq2Seq.from_pretrained(folder)
    assert type(model).__name__ == "TFWhisperForConditionalGeneration"
    assert model.main_input_name == "input_features"
    feats, dec, dmask = make_inputs()
    ref = pt_logits(pt, feats, dec, dmask)
    out = model(feats, decoder_input_ids=dec, decoder_attention_mask=dmask)
    assert out.logits.dtype == tf.float32
    np.testing.assert_allclose(real(out.logits.numpy(), dmask), real(ref, dmask), atol=ATOL)
    by_name = model({"input_features": feats, "decoder_input_ids": dec,
                     "decoder_attention_mask": dmask}).logits
    np.testing.assert_allclose(by_name.numpy(), out.logits.numpy(), atol=1e-6)
    fn = tf.function(lambda f, d, m: model(input_features=f, decoder_input_ids=d,
                                           decoder_attention_mask=m).logits, jit_compile=True)
    xla = fn(tf.constant(feats), tf.constant(dec), tf.constant(dmask))
    np.testing.assert_allclose(real(xla.numpy(), dmask), real(ref, dmask), atol=ATOL)


def test_encoder_and_base_model_match_pytorch(root):
    pt, folder = checkpoint(root)
    model = tfhf.TFWhisperModel.from_pretrained(folder)
    base = transformers.WhisperModel.from_pretrained(folder).eval()
    feats, dec, _ = make_inputs()
    with torch.no_grad():
        ref = base(input_features=torch.tensor(feats),
                   decoder_input_ids=torch.tensor(dec, dtype=torch.long),
                   output_hidden_states=True)
    out = model(input_features=feats, decoder_input_ids=dec, output_hidden_states=True)
    np.testing.assert_allclose(out.last_hidden_state.numpy(), ref.last_hidden_state.numpy(),
                               atol=ATOL)
    np.testing.assert_allclose(out.encoder_last_hidden_state.numpy(),
                               ref.encoder_last_hidden_state.numpy(), atol=ATOL)
    assert len(out.encoder_hidden_states) == len(ref.encoder_hidden_states)
    for a, b in zip(out.encoder_hidden_states, ref.encoder_hidden_states):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=ATOL)
    lm = tfhf.TFWhisperForConditionalGeneration.from_pretrained(folder)
    enc = lm.encode(feats)
    assert tuple(enc.shape) == (2, SRC, D)
    np.testing.assert_allclose(enc.numpy(), ref.encoder_last_hidden_state.numpy(), atol=ATOL)
    # precomputed encoder states; a features-length mask is ignored as in transformers
    full = lm(feats, decoder_input_ids=dec).logits.numpy()
    given = lm(None, encoder_outputs=(enc,), decoder_input_ids=dec,
               attention_mask=np.ones((2, 2 * SRC), np.int32)).logits.numpy()
    np.testing.assert_allclose(given, full, atol=1e-5)


def test_loss_from_labels_matches_pytorch(root):
    pt, folder = checkpoint(root)
    model = tfhf.TFWhisperForConditionalGeneration.from_pretrained(folder)
    feats, labels, _ = make_inputs(seed=1)
    labels[0, 4:] = -100
    with torch.no_grad():
        ref = pt(input_features=torch.tensor(feats),
                 labels=torch.tensor(labels, dtype=torch.long))
    out = model(input_features=feats, labels=labels)
    np.testing.assert_allclose(out.loss.numpy(), ref.loss.item(), atol=ATOL)
    np.testing.assert_allclose(out.logits.numpy(), ref.logits.numpy(), atol=ATOL)


def run_with_cache(model, feats, dec, encoder_mask):
    """Prefill PREFILL decoder tokens, then one per step; logits of every decoder position."""
    return decode_with_cache(model, model.encode(feats), dec, encoder_mask, PREFILL, CACHE_LEN)


def test_cache_methods_match_full_forward(root):
    _, folder = checkpoint(root)
    model = tfhf.TFWhisperForConditionalGeneration.from_pretrained(folder)
    feats, dec, _ = make_inputs()
    full = model(feats, decoder_input_ids=dec).logits.numpy()
    enc_mask = model.encoder_output_mask(None, model.encode(feats))
    np.testing.assert_array_equal(enc_mask.numpy(), np.ones((2, SRC)))
    # Whisper never masks the audio, whatever mask the caller passes
    zeros = tf.zeros([2, SRC], tf.int32)
    np.testing.assert_allclose(run_with_cache(model, feats, dec, zeros).numpy(), full,
                               atol=ATOL)
    # (under XLA these methods run inside generate's compiled loop, tested below)


@pytest.mark.parametrize("tied", [True, False])
def test_save_pretrained_round_trips_with_pytorch(root, tmp_path, tied):
    pt, folder = checkpoint(root, tied)
    model = tfhf.TFWhisperForConditionalGeneration.from_pretrained(folder)
    model.save_pretrained(tmp_path / "tf")
    back, info = transformers.WhisperForConditionalGeneration.from_pretrained(
        tmp_path / "tf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    feats, dec, dmask = make_inputs()
    np.testing.assert_allclose(real(pt_logits(back.eval(), feats, dec, dmask), dmask),
                               real(pt_logits(pt, feats, dec, dmask), dmask), atol=ATOL)
    again = tfhf.TFWhisperForConditionalGeneration.from_pretrained(tmp_path / "tf")
    theirs = again.hf_state_dict()
    for k, v in model.hf_state_dict().items():
        np.testing.assert_array_equal(theirs[k], v)
    assert ("proj_out.weight" in theirs) is (not tied)


def test_fresh_model_has_pytorch_sinusoidal_positions():
    torch.manual_seed(0)
    pt = transformers.WhisperForConditionalGeneration(hf_config())
    model = tfhf.TFWhisperForConditionalGeneration.from_config(hf_config())
    ours = model.hf_state_dict()["model.encoder.embed_positions.weight"]
    np.testing.assert_allclose(ours, pt.model.encoder.embed_positions.weight.detach().numpy(),
                               atol=1e-6)
    table = model.model.encoder.embed_positions.embeddings
    assert all(v is not table for v in model.trainable_weights)  # frozen, as in PyTorch


def test_input_errors(root):
    _, folder = checkpoint(root)
    model = tfhf.TFWhisperForConditionalGeneration.from_pretrained(folder)
    feats, dec, _ = make_inputs()
    with pytest.raises(InvalidInputError, match=f"length {2 * SRC}"):
        model(feats[:, :, :-2], decoder_input_ids=dec)
    with pytest.raises(InvalidInputError, match="mel bins"):
        model(feats[:, :-1], decoder_input_ids=dec)
    with pytest.raises(InvalidInputError, match="floats"):
        model(dec, decoder_input_ids=dec)
    with pytest.raises(InvalidInputError, match="decoder_input_ids"):
        model(feats)
    with pytest.raises(InvalidInputError, match="outside the vocabulary"):
        model(feats, decoder_input_ids=dec + VOCAB)


@functools.lru_cache(maxsize=None)
def generation_pair(tmp_root):
    """A checkpoint with larger weights (less degenerate outputs), PyTorch and tfhf."""
    torch.manual_seed(1)
    pt = widen_weights(transformers.WhisperForConditionalGeneration(hf_config()).eval())
    folder = f"{tmp_root}/whisper_generate"
    pt.save_pretrained(folder)
    return pt, tfhf.TFWhisperForConditionalGeneration.from_pretrained(folder)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_matches_pytorch_with_forced_prefix(root, num_beams):
    pt, model = generation_pair(root)
    feats, _, _ = make_inputs(seed=2)
    prefix = np.array([[START, 5, 6], [START, 7, 8]], np.int64)
    new = 8
    with torch.no_grad():
        ref = pt.generate(torch.tensor(feats), decoder_input_ids=torch.tensor(prefix),
                          max_new_tokens=new, num_beams=num_beams, do_sample=False).numpy()
    out = model.generate(feats, decoder_input_ids=prefix, max_new_tokens=new,
                         num_beams=num_beams).numpy()
    np.testing.assert_array_equal(out[:, :prefix.shape[1]], prefix)
    # transformers' Whisper returns the new tokens only (the prompt is cut off)
    ours = out[:, prefix.shape[1]:]
    width = max(ours.shape[1], ref.shape[1])
    pad = lambda a: np.pad(a, [(0, 0), (0, width - a.shape[1])], constant_values=EOS)
    np.testing.assert_array_equal(pad(ours), pad(ref))
    assert len(set(ours.ravel().tolist())) > 2  # not a degenerate repetition
