"""Donut (TFVisionEncoderDecoderModel: DonutSwin encoder + MBart decoder) against PyTorch
transformers on a tiny random config: logits eagerly and under XLA on a batch of two
non-square images (the second stage pads its grid to whole windows) and on right-padded
task prompts with their decoder_attention_mask, greedy and beam-3
``generate`` from a task prompt, the bare DonutSwin encoder, and save/load both ways."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

from donut_fixtures import IMAGE_H, IMAGE_W, torch_donut  # noqa: E402

ATOL = 1e-4


@pytest.fixture(scope="module")
def donut(tmp_path_factory):
    """(PyTorch model, tfhf model loaded from its save_pretrained, pixels)."""
    folder = str(tmp_path_factory.mktemp("donut"))
    pt = torch_donut()
    pt.save_pretrained(folder)
    model = tfhf.TFAutoModelForVision2Seq.from_pretrained(folder)
    pixels = np.random.RandomState(0).randn(2, 3, IMAGE_H, IMAGE_W).astype(np.float32)
    return pt, model, pixels


def _torch_logits(pt, pixels, ids):
    with torch.no_grad():
        return pt(pixel_values=torch.tensor(pixels),
                  decoder_input_ids=torch.tensor(ids, dtype=torch.long)).logits.numpy()


def test_logits_match_pytorch_eager_and_xla(donut):
    pt, model, pixels = donut
    assert type(model).__name__ == "TFVisionEncoderDecoderModel"
    ids = np.array([[4, 5, 9, 10, 6, 7], [4, 5, 11, 12, 6, 7]], np.int32)
    ref = _torch_logits(pt, pixels, ids)
    out = model(tf.constant(pixels), decoder_input_ids=tf.constant(ids)).logits.numpy()
    np.testing.assert_allclose(out, ref, atol=ATOL)
    xla = tf.function(lambda p, d: model(p, decoder_input_ids=d).logits, jit_compile=True)
    np.testing.assert_allclose(xla(tf.constant(pixels), tf.constant(ids)).numpy(), ref,
                               atol=ATOL)
    # the image matters: another image changes the logits
    other = _torch_logits(pt, pixels[::-1].copy(), ids)
    assert np.abs(other - ref).max() > 1e-2


def test_padded_decoder_inputs_match_pytorch_eager_and_xla(donut):
    """Two task prompts of different lengths, the shorter right-padded with its
    decoder_attention_mask: the logits of the real tokens equal PyTorch's."""
    pt, model, pixels = donut
    ids = np.array([[4, 5, 9, 10, 11, 6, 7], [4, 5, 12, 6, 7, 1, 1]], np.int32)
    mask = np.array([[1] * 7, [1] * 5 + [0] * 2], np.int32)
    with torch.no_grad():
        ref = pt(pixel_values=torch.tensor(pixels),
                 decoder_input_ids=torch.tensor(ids, dtype=torch.long),
                 decoder_attention_mask=torch.tensor(mask, dtype=torch.long)).logits.numpy()
    real = mask.astype(bool)
    out = model(pixels, decoder_input_ids=ids, decoder_attention_mask=mask).logits.numpy()
    np.testing.assert_allclose(out[real], ref[real], atol=ATOL)
    xla = tf.function(lambda p, d, m: model(p, decoder_input_ids=d,
                                            decoder_attention_mask=m).logits, jit_compile=True)
    out = xla(tf.constant(pixels), tf.constant(ids), tf.constant(mask)).numpy()
    np.testing.assert_allclose(out[real], ref[real], atol=ATOL)


def test_encoder_matches_pytorch_donut_swin(donut, tmp_path):
    pt, model, pixels = donut
    pt.encoder.save_pretrained(tmp_path)
    swin = tfhf.TFAutoModel.from_pretrained(tmp_path)
    assert type(swin).__name__ == "TFDonutSwinModel"
    with torch.no_grad():
        ref = pt.encoder(pixel_values=torch.tensor(pixels))
    out = swin(tf.constant(pixels))
    np.testing.assert_allclose(out.last_hidden_state.numpy(), ref.last_hidden_state.numpy(),
                               atol=ATOL)
    np.testing.assert_allclose(out.pooler_output.numpy(), ref.pooler_output.numpy(), atol=ATOL)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_from_a_task_prompt_equals_pytorch(donut, num_beams):
    pt, model, pixels = donut
    prompt = np.array([[4, 5, 9, 10, 6, 7], [4, 5, 11, 12, 6, 7]])  # <s_docvqa><s_question>..
    with torch.no_grad():
        ref = pt.generate(pixel_values=torch.tensor(pixels), decoder_input_ids=torch.tensor(prompt),
                          max_new_tokens=8, do_sample=False, num_beams=num_beams).numpy()
    out = model.generate(tf.constant(pixels), decoder_input_ids=prompt, max_new_tokens=8,
                         num_beams=num_beams).numpy()
    np.testing.assert_array_equal(out, ref)
    assert (out[:, :6] == prompt).all()  # the prompt is kept as given (no start token added)


def test_save_pretrained_loads_in_pytorch_and_back(donut, tmp_path):
    pt, model, pixels = donut
    model.save_pretrained(tmp_path)
    back = transformers.VisionEncoderDecoderModel.from_pretrained(tmp_path).eval()
    ids = np.array([[0, 4, 5, 9]] * 2, np.int32)
    np.testing.assert_allclose(_torch_logits(back, pixels, ids), _torch_logits(pt, pixels, ids),
                               atol=1e-6)
    again = tfhf.TFVisionEncoderDecoderModel.from_pretrained(tmp_path)
    np.testing.assert_allclose(again(tf.constant(pixels), decoder_input_ids=ids).logits.numpy(),
                               _torch_logits(pt, pixels, ids), atol=ATOL)


def test_bad_pixel_values_are_named(donut):
    _, model, pixels = donut
    with pytest.raises(InvalidInputError, match="pixel_values must have shape"):
        model(tf.constant(pixels[:, :2]), decoder_input_ids=tf.constant([[0, 4]] * 2))
    with pytest.raises(InvalidInputError, match="must be floats"):
        model(tf.constant(pixels.astype(np.int32)), decoder_input_ids=tf.constant([[0]] * 2))
