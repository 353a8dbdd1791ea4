"""Parity of ViLT (TFViltForQuestionAnswering, TFViltModel) with PyTorch transformers.

A tiny random ViLT is saved by PyTorch and loaded into tfhf. Two questions (one padded) and
two images padded to a 6 x 7 patch grid (the model's position table is 5 x 5, so positions
are resized; the second image is smaller and masked by ``pixel_mask``): the VQA logits, the
pooled output, the text positions' hidden states and the image tokens (transformers shuffles
the tokens of the largest image, so those are compared as a set) agree within 1e-4 in
float32, eagerly and under XLA; the loss too; tfhf's ``save_pretrained`` loads in PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402
from vision_configs import text_batch, torch_model, vilt_config, vilt_images, widen  # noqa: E402

ATOL = 1e-4


@pytest.fixture(scope="module")
def vilt(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("vilt"))
    pt = widen(torch_model("ViltForQuestionAnswering", vilt_config()))
    pt.save_pretrained(folder)
    return pt, folder, tfhf.TFAutoModelForVisualQuestionAnswering.from_pretrained(folder)


def inputs(seed=0):
    ids, mask = text_batch(seed, eos=3, pad=0, low=5, high=90)
    px, pmask = vilt_images(seed)
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=np.zeros_like(ids),
                pixel_values=px, pixel_mask=pmask)


def pt_run(pt, feed, **kw):
    with torch.no_grad():
        return pt(**{k: torch.tensor(v) for k, v in feed.items()}, **kw)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL)


def test_logits_and_states_match_pytorch_eager_and_xla(vilt):
    pt, _, model = vilt
    assert type(model).__name__ == "TFViltForQuestionAnswering"
    feed = inputs()
    labels = np.random.RandomState(0).rand(2, 5).astype(np.float32)
    ref = pt_run(pt, feed, labels=torch.tensor(labels), output_hidden_states=True)
    out = model(**feed, labels=labels, output_hidden_states=True)
    close(out.logits, ref.logits.numpy())
    close(out.loss, ref.loss.item())
    t = feed["input_ids"].shape[1]
    real = feed["attention_mask"].astype(bool)
    for a, b in zip(out.hidden_states, ref.hidden_states):
        a, b = a.numpy(), b.numpy()
        close(a[:, :t][real], b[:, :t][real])
        close(a[:, t], b[:, t])  # the image class token
        # the full image: every patch, in another order
        close(np.sort(a[0, t + 1:], axis=0), np.sort(b[0, t + 1:], axis=0))
        # the smaller image: its 5 x 6 valid patches in grid order come first in transformers
        valid = a[1, t + 1:].reshape(6, 7, -1)[:5, :6].reshape(30, -1)
        close(valid, b[1, t + 1:t + 31])
    fn = tf.function(lambda f: model(f).logits, jit_compile=True)
    close(fn({k: tf.constant(v) for k, v in feed.items()}), ref.logits.numpy())


def test_base_model_and_save_pretrained_round_trip(vilt, tmp_path):
    pt, folder, model = vilt
    feed = inputs(seed=1)
    base = tfhf.TFAutoModel.from_pretrained(folder)
    assert type(base).__name__ == "TFViltModel"
    with torch.no_grad():
        ref = pt.vilt(**{k: torch.tensor(v) for k, v in feed.items()})
    close(base(**feed).pooler_output, ref.pooler_output.numpy())
    model.save_pretrained(tmp_path / "tf")
    back, info = transformers.ViltForQuestionAnswering.from_pretrained(
        tmp_path / "tf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    close(pt_run(back.eval(), feed).logits.numpy(), pt_run(pt, feed).logits.numpy())


def test_bad_inputs_are_clear_errors(vilt):
    _, _, model = vilt
    feed = inputs()
    with pytest.raises(InvalidInputError, match="pixel_values"):
        model(input_ids=feed["input_ids"])
    with pytest.raises(InvalidInputError, match="pixel_values must be floats"):
        model(input_ids=feed["input_ids"], pixel_values=feed["pixel_values"][:, :2])
