"""Parity of CLIP (TFCLIPModel, TFCLIPTextModel, TFCLIPVisionModel) with PyTorch transformers.

A tiny random CLIP built with PyTorch transformers is saved and loaded into tfhf: on two
texts (one right-padded) and three images, ``logits_per_image`` / ``logits_per_text``, the
embeddings, both towers' hidden states, the features and the contrastive loss agree within
1e-4 in float32, eagerly and under XLA; tfhf's ``save_pretrained`` loads back into PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402
from vision_configs import clip_config, pixels, text_batch, torch_model  # noqa: E402

ATOL = 1e-4


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(PyTorch CLIPModel, its folder, tfhf model loaded from it)."""
    folder = str(tmp_path_factory.mktemp("clip"))
    pt = torch_model("CLIPModel", clip_config())
    pt.save_pretrained(folder)
    return pt, folder, tfhf.TFAutoModel.from_pretrained(folder)


def pt_outputs(pt, ids, mask, px, **kw):
    with torch.no_grad():
        return pt(input_ids=torch.tensor(ids, dtype=torch.long),
                  attention_mask=torch.tensor(mask, dtype=torch.long),
                  pixel_values=torch.tensor(px), output_hidden_states=True, **kw)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL)


def test_logits_and_hidden_states_match_pytorch_eager_and_xla(clip):
    pt, _, model = clip
    assert type(model).__name__ == "TFCLIPModel"
    ids, mask = text_batch()
    px = pixels(3)
    ref = pt_outputs(pt, ids, mask, px, return_loss=False)
    out = model(input_ids=ids, attention_mask=mask, pixel_values=px, output_hidden_states=True)
    assert out.logits_per_image.shape == (3, 2) and out.logits_per_image.dtype == tf.float32
    for name in ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds"):
        close(out[name], ref[name].numpy())
    real = mask.astype(bool)
    for a, b in zip(out.text_model_output.hidden_states, ref.text_model_output.hidden_states):
        close(a.numpy()[real], b.numpy()[real])
    assert len(out.vision_model_output.hidden_states) == 4
    for a, b in zip(out.vision_model_output.hidden_states,
                    ref.vision_model_output.hidden_states):
        close(a, b.numpy())
    with torch.no_grad():  # (transformers 5 puts the projection in its tower outputs' pooler)
        pooled = pt.vision_model(pixel_values=torch.tensor(px)).pooler_output.numpy()
    close(out.vision_model_output.pooler_output, pooled)
    fn = tf.function(lambda i, m, p: model(input_ids=i, attention_mask=m,
                                           pixel_values=p).logits_per_image, jit_compile=True)
    close(fn(tf.constant(ids), tf.constant(mask), tf.constant(px)), ref.logits_per_image.numpy())


def test_features_and_loss_match_pytorch(clip):
    pt, _, model = clip
    ids, mask = text_batch(seed=1)
    px = pixels(2, seed=1)
    with torch.no_grad():
        text = pt.get_text_features(input_ids=torch.tensor(ids, dtype=torch.long),
                                    attention_mask=torch.tensor(mask, dtype=torch.long))
        image = pt.get_image_features(pixel_values=torch.tensor(px))
    close(model.get_text_features(ids, attention_mask=mask), text.pooler_output.numpy())
    close(model.get_image_features(px), image.pooler_output.numpy())
    ref = pt_outputs(pt, ids, mask, px, return_loss=True)
    out = model({"input_ids": ids, "attention_mask": mask, "pixel_values": px},
                return_loss=True)
    close(out.loss, ref.loss.item())


def test_save_pretrained_round_trips_with_pytorch(clip, tmp_path):
    pt, _, model = clip
    model.save_pretrained(tmp_path / "tf")
    back, info = transformers.CLIPModel.from_pretrained(tmp_path / "tf",
                                                        output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    ids, mask = text_batch(seed=2)
    px = pixels(2, seed=2)
    close(pt_outputs(back.eval(), ids, mask, px).logits_per_image.numpy(),
          pt_outputs(pt, ids, mask, px).logits_per_image.numpy())
    again = tfhf.TFCLIPModel.from_pretrained(tmp_path / "tf")
    for k, v in model.hf_state_dict().items():
        np.testing.assert_array_equal(again.hf_state_dict()[k], v)


def test_text_and_vision_models_match_pytorch(clip, tmp_path):
    pt, _, _ = clip
    ids, mask = text_batch(seed=3)
    px = pixels(2, seed=3)
    config = clip_config()
    text_pt = torch_model("CLIPTextModel", config.text_config, seed=1)
    text_pt.save_pretrained(tmp_path / "text")
    text = tfhf.TFAutoModel.from_pretrained(tmp_path / "text")
    assert type(text).__name__ == "TFCLIPTextModel"
    with torch.no_grad():
        ref = text_pt(input_ids=torch.tensor(ids, dtype=torch.long),
                      attention_mask=torch.tensor(mask, dtype=torch.long))
    out = text(ids, attention_mask=mask)
    close(out.pooler_output, ref.pooler_output.numpy())
    close(out.last_hidden_state.numpy()[mask.astype(bool)],
          ref.last_hidden_state.numpy()[mask.astype(bool)])
    vision_pt = torch_model("CLIPVisionModel", config.vision_config, seed=2)
    vision_pt.save_pretrained(tmp_path / "vision")
    vision = tfhf.TFCLIPVisionModel.from_pretrained(tmp_path / "vision")
    with torch.no_grad():
        ref = vision_pt(pixel_values=torch.tensor(px))
    out = vision(pixel_values=px)
    close(out.last_hidden_state, ref.last_hidden_state.numpy())
    close(out.pooler_output, ref.pooler_output.numpy())
    vision.save_pretrained(tmp_path / "vision_tf")
    back = transformers.CLIPVisionModel.from_pretrained(tmp_path / "vision_tf").eval()
    with torch.no_grad():
        close(back(pixel_values=torch.tensor(px)).pooler_output.numpy(), out.pooler_output)


def test_wrong_image_size_and_missing_inputs_are_clear_errors(clip):
    _, _, model = clip
    ids, mask = text_batch()
    with pytest.raises(InvalidInputError, match="image_size"):
        model(input_ids=ids, attention_mask=mask, pixel_values=pixels(1, size=36))
    with pytest.raises(InvalidInputError, match="pixel_values"):
        model(input_ids=ids, attention_mask=mask)
    with pytest.raises(InvalidInputError, match="unexpected"):
        model(input_ids=ids, pixel_values=pixels(1), token_type_ids=ids)
