"""tfhf.images.load_image: every accepted form, and a clear error for each bad input
(not an image, empty, truncated, too many pixels, unsupported mode) with nothing written."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from tfhf.errors import InvalidInputError
from tfhf.images import load_image


def _png(array=None, mode=None):
    a = np.arange(12 * 16 * 3, dtype=np.uint8).reshape(12, 16, 3) if array is None else array
    buf = io.BytesIO()
    Image.fromarray(a, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def picture():
    return np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)


def test_every_form_gives_the_same_rgb_image(tmp_path, picture):
    data = _png(picture)
    path = tmp_path / "p.png"
    path.write_bytes(data)
    pil = Image.fromarray(picture)
    for value in (str(path), path, data, bytearray(data), pil, picture, picture.tolist(),
                  np.transpose(picture, (2, 0, 1)), picture.astype(np.float32) / 255.0):
        image = load_image(value)
        assert image.mode == "RGB" and image.size == (16, 12)
        np.testing.assert_array_equal(np.asarray(image), picture)


def test_modes_are_converted_like_transformers_load_image():
    gray = np.full((5, 7), 9, np.uint8)
    assert np.asarray(load_image(gray)).shape == (5, 7, 3)
    rgba = np.zeros((5, 7, 4), np.uint8)
    assert load_image(_png(rgba)).mode == "RGB"
    palette = Image.fromarray(gray).convert("P")
    assert load_image(palette).mode == "RGB"


def test_not_an_image(tmp_path):
    page = tmp_path / "page.png"
    page.write_bytes(b"<!doctype html><html>404</html>")
    with pytest.raises(InvalidInputError, match="not an image file"):
        load_image(str(page))
    with pytest.raises(InvalidInputError, match="not an image file"):
        load_image(b"plain text, no pixels")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_image(str(tmp_path / "missing.png"))
    with pytest.raises(InvalidInputError, match="folder"):
        load_image(str(tmp_path))
    with pytest.raises(InvalidInputError, match="Cannot read an image from a dict"):
        load_image({"a": 1})
    with pytest.raises(InvalidInputError, match="numeric"):
        load_image(np.array(["a", "b"]))


def test_empty_and_truncated_files(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="empty"):
        load_image(str(empty))
    with pytest.raises(InvalidInputError, match="empty"):
        load_image(b"")
    with pytest.raises(InvalidInputError, match="empty"):
        load_image(np.zeros((0, 4, 3), np.uint8))
    big = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        Image.fromarray(big).save(buf, format=fmt)
        data = buf.getvalue()
        with pytest.raises(InvalidInputError, match="truncated"):
            load_image(data[: len(data) // 2])


def test_too_many_pixels_is_refused_from_the_header_before_decoding(tmp_path, monkeypatch):
    data = _png(np.zeros((300, 400, 3), np.uint8))
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    before = set(os.listdir(tmp_path))
    with pytest.raises(InvalidInputError, match="400x300 = 120,000 pixels.*before decoding"):
        load_image(data, max_pixels=100_000)
    assert decoded == [] and set(os.listdir(tmp_path)) == before
    monkeypatch.undo()
    assert load_image(data, max_pixels=120_000).size == (400, 300)
    with pytest.raises(InvalidInputError, match="pixels"):
        load_image(np.zeros((300, 400), np.uint8), max_pixels=1000)


def test_pillows_decompression_bomb_error_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses above 2x this
    with pytest.raises(InvalidInputError, match="refused before decoding"):
        load_image(_png(np.zeros((60, 60, 3), np.uint8)), max_pixels=None)


def test_unsupported_modes_and_values():
    with pytest.raises(InvalidInputError, match="mode 'F'"):
        load_image(Image.fromarray(np.zeros((4, 4), np.float32)))
    sixteen = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(sixteen, format="PNG")
    with pytest.raises(InvalidInputError, match="mode 'I"):
        load_image(sixteen.getvalue())
    with pytest.raises(InvalidInputError, match=r"floats in \[2, 2\]; .* must be in \[0, 1\]"):
        load_image(np.full((4, 4, 3), 2.0, np.float32))
    with pytest.raises(InvalidInputError, match="shape"):
        load_image(np.zeros((6, 6, 5), np.uint8))
    with pytest.raises(InvalidInputError, match="data: URLs"):
        load_image("data:image/png;base64,AAAA")


def test_urls_go_through_the_downloader_rules(picture):
    data = _png(picture)
    fetched = []

    def download(url):
        fetched.append(url)
        return data if url.endswith(".png") else b"<!doctype html><html>login</html>"

    image = load_image("https://example.com/cat.png", download=download)
    np.testing.assert_array_equal(np.asarray(image), picture)
    with pytest.raises(InvalidInputError, match="https://example.com/page.*not an image file"):
        load_image("https://example.com/page", download=download)
    with pytest.raises(InvalidInputError, match="empty"):
        load_image("https://example.com/x.png", download=lambda url: b"")
    with pytest.raises(InvalidInputError, match="pixels"):
        load_image("https://example.com/cat.png", download=download, max_pixels=100)
    assert fetched == ["https://example.com/cat.png", "https://example.com/page",
                       "https://example.com/cat.png"]
    # the default downloader (the agents' rules) refuses loopback and private addresses
    # before connecting
    for url in ("http://127.0.0.1:9/cat.png", "http://10.0.0.1/cat.png"):
        with pytest.raises(InvalidInputError, match="private"):
            load_image(url)
