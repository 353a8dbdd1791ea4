"""Parity of BLIP captioning (TFBlipForConditionalGeneration) with PyTorch transformers.

A tiny random BLIP (ViT encoder with a fused qkv, BERT decoder with cross-attention over
image states of another width) is saved by PyTorch and loaded into tfhf: caption logits on
two padded captions agree within 1e-4 in float32, eagerly and under XLA, with the image
states and the label-smoothed loss; greedy and 3-beam ``generate`` (the image encoded once in
the compiled loop) return PyTorch's tokens, with and without a text prompt; tfhf's
``save_pretrained`` loads back into PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402
from vision_configs import blip_config, pixels, text_batch, torch_model, widen  # noqa: E402

ATOL = 1e-4
BOS, SEP, PAD = 97, 98, 0


@pytest.fixture(scope="module")
def blip(tmp_path_factory):
    """(PyTorch BlipForConditionalGeneration, its folder, the tfhf model loaded from it)."""
    folder = str(tmp_path_factory.mktemp("blip"))
    pt = widen(torch_model("BlipForConditionalGeneration", blip_config()), std=0.2)
    pt.save_pretrained(folder)
    return pt, folder, tfhf.TFAutoModelForVision2Seq.from_pretrained(folder)


def captions(seed=0):
    ids, mask = text_batch(seed, eos=SEP, pad=PAD, low=3, high=BOS)
    ids[:, 0] = BOS
    return ids, mask


def pt_forward(pt, px, ids, mask, **kw):
    with torch.no_grad():
        return pt(pixel_values=torch.tensor(px), input_ids=torch.tensor(ids, dtype=torch.long),
                  attention_mask=torch.tensor(mask, dtype=torch.long), **kw)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL)


def test_logits_and_loss_match_pytorch_eager_and_xla(blip):
    pt, _, model = blip
    assert type(model).__name__ == "TFBlipForConditionalGeneration"
    px, (ids, mask) = pixels(2), captions()
    labels = np.where(mask == 1, ids, -100)
    ref = pt_forward(pt, px, ids, mask, labels=torch.tensor(labels, dtype=torch.long))
    out = model(pixel_values=px, input_ids=ids, attention_mask=mask, labels=labels)
    real = mask.astype(bool)
    close(out.logits.numpy()[real], ref.logits.numpy()[real])
    close(out.image_embeds, ref.image_embeds.numpy())
    close(out.loss, ref.loss.item())
    as_dict = model({"pixel_values": px, "input_ids": ids, "attention_mask": mask})
    close(as_dict.logits.numpy()[real], ref.logits.numpy()[real])  # a processor's output
    fn = tf.function(lambda p, i, m: model(pixel_values=p, input_ids=i,
                                           attention_mask=m).logits, jit_compile=True)
    close(fn(tf.constant(px), tf.constant(ids), tf.constant(mask)).numpy()[real],
          ref.logits.numpy()[real])


@pytest.mark.parametrize("beams", [1, 3])
def test_generate_matches_pytorch(blip, beams):
    pt, _, model = blip
    px = pixels(2, seed=1)
    kw = dict(max_new_tokens=6, num_beams=beams, do_sample=False)
    with torch.no_grad():
        ref = pt.generate(pixel_values=torch.tensor(px), **kw).numpy()
    out = model.generate(px, **kw).numpy()
    np.testing.assert_array_equal(out, ref)
    assert (out[:, 0] == BOS).all()
    if beams == 1:  # a text prompt the caption continues ([SEP] last, as the tokenizer ends)
        prompt = np.array([[5, 11, 12, SEP], [5, 13, 14, SEP]])
        with torch.no_grad():
            ref = pt.generate(pixel_values=torch.tensor(px),
                              input_ids=torch.tensor(prompt), **kw).numpy()
        np.testing.assert_array_equal(model.generate(px, input_ids=prompt, **kw).numpy(), ref)


def test_save_pretrained_round_trips_with_pytorch(blip, tmp_path):
    pt, _, model = blip
    model.save_pretrained(tmp_path / "tf")
    back, info = transformers.BlipForConditionalGeneration.from_pretrained(
        tmp_path / "tf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    px, (ids, mask) = pixels(2, seed=2), captions(seed=2)
    close(pt_forward(back.eval(), px, ids, mask).logits.numpy(),
          pt_forward(pt, px, ids, mask).logits.numpy())
    again = tfhf.TFBlipForConditionalGeneration.from_pretrained(tmp_path / "tf")
    for k, v in model.hf_state_dict().items():
        np.testing.assert_array_equal(again.hf_state_dict()[k], v)


def test_bad_inputs_are_clear_errors(blip):
    _, _, model = blip
    with pytest.raises(InvalidInputError, match="image_size"):
        model.generate(pixels(1, size=36), max_new_tokens=2)
    with pytest.raises(InvalidInputError, match="pixel_values"):
        model.generate(max_new_tokens=2)
    with pytest.raises(InvalidInputError, match="input_ids"):
        model(pixel_values=pixels(1))
