"""Parity of CLIPSeg (TFCLIPSegForImageSegmentation) with PyTorch transformers.

A tiny random CLIPSeg (the tiny CLIP towers, a decoder over vision layers 0 and 2, FiLM at
its second step) is saved by PyTorch and loaded into tfhf: the segmentation logits for two
images with two text prompts (one padded) agree within 1e-4 in float32, eagerly and under
XLA, on images of the model's size and of another size (the position grid resized
bicubically, as transformers does), with the conditional embeddings, the pooled output and
the loss; an example image as the prompt; the complex upsampler (3 x 3 convolution + two
transposed convolutions) of the released checkpoint; tfhf's ``save_pretrained`` loads back
into PyTorch and into tfhf.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402
from vision_configs import clipseg_config, pixels, text_batch, torch_model  # noqa: E402

ATOL = 1e-4


def load(tmp_path_factory, name, config):
    folder = str(tmp_path_factory.mktemp(name))
    pt = torch_model("CLIPSegForImageSegmentation", config)
    if config.use_complex_transposed_convolution:
        # the random complex upsampler gives logits of a few hundred, where float32 rounding
        # alone exceeds 1e-4; a smaller last layer keeps them of order 1
        with torch.no_grad():
            pt.decoder.transposed_convolution[4].weight.mul_(0.01)
    pt.save_pretrained(folder)
    return pt, folder, tfhf.TFAutoModelForImageSegmentation.from_pretrained(folder)


@pytest.fixture(scope="module")
def clipseg(tmp_path_factory):
    """(PyTorch CLIPSegForImageSegmentation, its folder, the tfhf model loaded from it)."""
    return load(tmp_path_factory, "clipseg", clipseg_config())


def pt_run(pt, **feed):
    with torch.no_grad():
        return pt(**{k: torch.tensor(v) for k, v in feed.items()})


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL)


@pytest.mark.parametrize("size", [30, 36])
def test_logits_match_pytorch(clipseg, size):
    pt, _, model = clipseg
    assert type(model).__name__ == "TFCLIPSegForImageSegmentation"
    (ids, mask), px = text_batch(), pixels(2, size=size)
    labels = np.random.RandomState(0).rand(2, size, size).astype(np.float32)
    ref = pt_run(pt, input_ids=ids, attention_mask=mask, pixel_values=px, labels=labels)
    out = model(input_ids=ids, attention_mask=mask, pixel_values=px, labels=labels)
    assert out.logits.shape == (2, size, size)
    for name in ("logits", "conditional_embeddings", "pooled_output"):
        close(out[name], ref[name].numpy())
    close(out.loss, ref.loss.item())
    as_dict = model({"input_ids": ids, "attention_mask": mask, "pixel_values": px})
    close(as_dict.logits, ref.logits.numpy())  # a processor's output, as one mapping
    if size == 36:  # another size than the model's: positions interpolated, under XLA too
        fn = tf.function(lambda i, m, p: model(input_ids=i, attention_mask=m,
                                               pixel_values=p).logits, jit_compile=True)
        close(fn(tf.constant(ids), tf.constant(mask), tf.constant(px)), ref.logits.numpy())


def test_example_image_and_embedding_prompts(clipseg):
    pt, _, model = clipseg
    px, example = pixels(2, seed=1), pixels(2, seed=2)
    ref = pt_run(pt, pixel_values=px, conditional_pixel_values=example)
    out = model(pixel_values=px, conditional_pixel_values=example)
    close(out.logits, ref.logits.numpy())
    emb = ref.conditional_embeddings.numpy()
    close(model(pixel_values=px, conditional_embeddings=emb).logits, ref.logits.numpy())


def test_complex_upsampler_matches_pytorch(tmp_path_factory):
    pt, _, model = load(tmp_path_factory, "clipseg_complex", clipseg_config(complex_=True))
    (ids, mask), px = text_batch(seed=3), pixels(2, seed=3, size=40)
    ref = pt_run(pt, input_ids=ids, attention_mask=mask, pixel_values=px)
    out = model(input_ids=ids, attention_mask=mask, pixel_values=px)
    assert out.logits.shape == (2, 20, 20)  # 5 x 5 patches, two 2x transposed convolutions
    close(out.logits, ref.logits.numpy())


def test_save_pretrained_round_trips_with_pytorch(clipseg, tmp_path):
    pt, _, model = clipseg
    model.save_pretrained(tmp_path / "tf")
    back, info = transformers.CLIPSegForImageSegmentation.from_pretrained(
        tmp_path / "tf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    (ids, mask), px = text_batch(seed=4), pixels(2, seed=4)
    close(pt_run(back.eval(), input_ids=ids, attention_mask=mask, pixel_values=px).logits,
          pt_run(pt, input_ids=ids, attention_mask=mask, pixel_values=px).logits.numpy())
    again = tfhf.TFCLIPSegForImageSegmentation.from_pretrained(tmp_path / "tf")
    for k, v in model.hf_state_dict().items():
        np.testing.assert_array_equal(again.hf_state_dict()[k], v)


def test_bad_inputs_are_clear_errors(clipseg):
    _, _, model = clipseg
    (ids, mask), px = text_batch(), pixels(2)
    with pytest.raises(InvalidInputError, match="needs a prompt"):
        model(pixel_values=px)
    with pytest.raises(InvalidInputError, match="as many prompt texts"):
        model(input_ids=ids[:1], attention_mask=mask[:1], pixel_values=px)
    with pytest.raises(InvalidInputError, match="square"):
        model(input_ids=ids, attention_mask=mask,
              pixel_values=np.zeros((2, 3, 30, 36), np.float32))
    with pytest.raises(InvalidInputError, match="projection_dim"):
        model(pixel_values=px, conditional_embeddings=np.zeros((2, 5), np.float32))


def test_base_model_matches_pytorch_and_round_trips(clipseg, tmp_path):
    """TFCLIPSegModel (CLIPSeg's CLIP alone): built from a CLIPSegModel checkpoint, on images
    of another size than the model's, logits, embeddings and features equal PyTorch's, eager
    and under XLA; its save_pretrained loads in PyTorch; the segmentation checkpoint's CLIP
    loads into it too (the decoder's weights reported unexpected, as transformers does)."""
    pt_seg, folder, _ = clipseg
    pt = torch_model("CLIPSegModel", clipseg_config(), seed=3)
    pt.save_pretrained(tmp_path / "pt")
    model = tfhf.TFAutoModel.from_pretrained(tmp_path / "pt")
    assert type(model).__name__ == "TFCLIPSegModel"
    (ids, mask), px = text_batch(seed=5), pixels(3, seed=5, size=36)
    feed = dict(input_ids=ids.astype(np.int64), attention_mask=mask.astype(np.int64),
                pixel_values=px)
    ref = pt_run(pt, **feed)
    out = model(**feed)
    for name in ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds"):
        close(out[name], ref[name].numpy())
    fn = tf.function(lambda i, m, p: model(input_ids=i, attention_mask=m,
                                           pixel_values=p).logits_per_image, jit_compile=True)
    close(fn(tf.constant(ids), tf.constant(mask), tf.constant(px)), ref.logits_per_image)
    with torch.no_grad():
        image = pt.get_image_features(pixel_values=torch.tensor(px)).pooler_output
    close(model.get_image_features(px), image.numpy())
    with pytest.raises(InvalidInputError, match="interpolate_pos_encoding"):
        model(**feed, interpolate_pos_encoding=False)
    model.save_pretrained(tmp_path / "tf")
    back, info = transformers.CLIPSegModel.from_pretrained(tmp_path / "tf",
                                                           output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    close(pt_run(back.eval(), **feed).logits_per_image, ref.logits_per_image.numpy())
    base, info = tfhf.TFCLIPSegModel.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and info["unexpected_keys"]
    assert all(k.startswith("decoder.") for k in info["unexpected_keys"])
    with torch.no_grad():
        text = pt_seg.clip.get_text_features(input_ids=torch.tensor(feed["input_ids"]),
                                             attention_mask=torch.tensor(feed["attention_mask"]))
    close(base.get_text_features(ids, attention_mask=mask), text.pooler_output.numpy())
