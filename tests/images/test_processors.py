"""transformers' Pillow image processors through tfhf: return_tensors="tf" like the
tokenizers, images read by load_image (so bad files get tfhf's errors)."""

import numpy as np
import pytest
import tensorflow as tf
import transformers
from PIL import Image

from tfhf.errors import InvalidInputError, ModelNotFoundError
from tfhf.images import AutoImageProcessor, AutoProcessor, TFImageProcessor

PROCESSORS = ["BlipImageProcessor", "ViltImageProcessor", "CLIPImageProcessor",
              "DonutImageProcessor"]


@pytest.fixture(scope="module")
def picture():
    return np.random.default_rng(0).integers(0, 256, (40, 52, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", PROCESSORS)
def test_return_tensors_tf_equals_numpy(name, picture, tmp_path):
    kwargs = {"size": {"height": 64, "width": 48}} if name == "DonutImageProcessor" else {}
    hf = getattr(transformers, name)(**kwargs)
    ref = hf(Image.fromarray(picture), return_tensors="np")
    proc = TFImageProcessor(hf)
    path = tmp_path / "x.png"
    Image.fromarray(picture).save(path)
    for image in (picture, str(path), path.read_bytes(), Image.fromarray(picture)):
        out = proc(image, return_tensors="tf")
        assert set(out.keys()) == set(ref.keys())
        for key in ref:
            assert isinstance(out[key], tf.Tensor)
            np.testing.assert_allclose(out[key].numpy(), ref[key], atol=1e-6)
    batch = proc(images=[picture, picture], return_tensors="tf")
    assert batch["pixel_values"].shape[0] == 2
    if "pixel_mask" in ref:
        assert batch["pixel_mask"].dtype == tf.int32


def test_bad_images_get_tfhfs_errors(tmp_path):
    proc = TFImageProcessor(transformers.CLIPImageProcessor())
    page = tmp_path / "page.jpg"
    page.write_text("<html>not found</html>")
    with pytest.raises(InvalidInputError, match="not an image file"):
        proc(str(page), return_tensors="tf")
    with pytest.raises(InvalidInputError, match="before decoding"):
        TFImageProcessor(transformers.CLIPImageProcessor(), max_pixels=10)(
            np.zeros((8, 8, 3), np.uint8))


def test_auto_classes_load_saved_processors(tmp_path, picture):
    transformers.BlipImageProcessor().save_pretrained(tmp_path / "blip")
    proc = AutoImageProcessor.from_pretrained(tmp_path / "blip")
    assert isinstance(proc, TFImageProcessor)
    assert proc(picture, return_tensors="tf")["pixel_values"].shape == (1, 3, 384, 384)
    with pytest.raises(ModelNotFoundError, match="no image processor"):
        AutoImageProcessor.from_pretrained(tmp_path)
    with pytest.raises(ModelNotFoundError, match="is a file"):
        AutoProcessor.from_pretrained(tmp_path / "blip" / "preprocessor_config.json")
