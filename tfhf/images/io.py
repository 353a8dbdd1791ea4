"""Image input for vision models: paths, bytes, URLs, PIL images and arrays -> an RGB PIL image.

:func:`load_image` accepts

* a path (``str`` / ``os.PathLike``) to an image file Pillow reads (PNG, JPEG, GIF, BMP,
  TIFF, WebP, ...);
* ``bytes`` holding such a file;
* an ``http(s)://`` URL, fetched through the agents' downloader rules (http(s) only, also
  after redirects; private and loopback addresses refused unless
  ``allow_private_networks=True``; at most ``max_bytes`` read within ``timeout`` seconds);
* a ``PIL.Image.Image``;
* an array (numpy, ``tf.Tensor``, torch tensor, nested lists) of shape (H, W), (H, W, C) or
  (C, H, W) with 1, 3 or 4 channels: ``uint8`` values, or floats in [0, 1].

The result is an RGB image, EXIF-rotated like transformers' ``load_image``. Bad input raises
:class:`tfhf.errors.InvalidInputError` naming what is wrong: a file that is not an image,
an empty or truncated file, an image mode tfhf does not convert (16/32-bit integer and float
images, ...), or an image larger than ``max_pixels`` (default :data:`MAX_PIXELS`). The size is
read from the file's header and checked *before* the pixels are decoded, so a decompression
bomb costs nothing. Nothing is written to disk.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from ..errors import InvalidInputError, MissingDependencyError

__all__ = ["load_image", "load_images", "MAX_PIXELS", "CONVERTED_MODES", "is_image_like"]

MAX_PIXELS = 50_000_000  # 50 megapixels (~150 MB as RGB); pass max_pixels= to change it
# modes converted to RGB the way transformers' load_image does (Image.convert("RGB"))
CONVERTED_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK",
                   "YCbCr")
_BYTES = (bytes, bytearray, memoryview)


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with transformers' vision extra
        raise MissingDependencyError("Reading images needs Pillow: pip install pillow.") \
            from None
    return Image


def is_image_like(value) -> bool:
    """True for the values :func:`load_image` reads (without reading them)."""
    if isinstance(value, (str, os.PathLike) + _BYTES):
        return True
    if type(value).__module__.startswith("PIL.") or hasattr(value, "shape"):
        return True
    return False


def _check_size(width, height, max_pixels, name):
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"{name} is empty ({width}x{height} pixels).")
    if max_pixels is not None and width * height > max_pixels:
        raise InvalidInputError(
            f"{name} is {width}x{height} = {width * height:,} pixels, more than the limit of "
            f"{int(max_pixels):,} pixels: it is refused before decoding (a decompression bomb "
            "costs as much memory as its pixels). Pass max_pixels= to allow larger images, or "
            "shrink it first.")


def _finish(image, name):
    """EXIF rotation + RGB, as transformers' ``load_image``; unsupported modes refused."""
    Image = _pil()
    from PIL import ImageOps

    if image.mode not in CONVERTED_MODES:
        raise InvalidInputError(
            f"{name} has image mode '{image.mode}', which tfhf does not convert to RGB "
            f"(it converts {', '.join(CONVERTED_MODES)}). Convert it yourself, e.g. scale a "
            "16-bit or float image to 8 bits, then Image.fromarray(array.astype('uint8')).")
    image = ImageOps.exif_transpose(image) or image
    if image.mode != "RGB":
        image = image.convert("RGB")
    assert isinstance(image, Image.Image)
    return image


def _open_file(data, name, max_pixels):
    """Decode one image file (a path or a binary file object) after checking its header."""
    Image = _pil()
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # our own limit is checked below; Pillow's warning would only be noise
            warnings.simplefilter("ignore" if max_pixels is not None else "default",
                                  Image.DecompressionBombWarning)
            image = Image.open(data)  # reads the header only
    except UnidentifiedImageError:
        raise InvalidInputError(
            f"{name} is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP, "
            "...): check that it is an image and not, e.g., an HTML error page.") from None
    except Image.DecompressionBombError as e:
        raise InvalidInputError(f"{name} is refused before decoding: {e}") from None
    except OSError as e:
        raise InvalidInputError(f"{name} cannot be read: {e}") from None
    _check_size(*image.size, max_pixels, name)
    try:
        image.load()  # decode now, so a truncated file fails here and not in a processor
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InvalidInputError(f"{name} is truncated or corrupt ({e}): the file ends before "
                                "its pixels do. Re-download or re-save it.") from None
    except Image.DecompressionBombError as e:  # pragma: no cover - caught at open
        raise InvalidInputError(f"{name} is refused: {e}") from None
    return _finish(image, name)


def _from_path(path, max_pixels):
    name = f"image file '{path}'"
    if not os.path.exists(path):
        raise InvalidInputError(f"{name} does not exist.")
    if os.path.isdir(path):
        raise InvalidInputError(f"'{path}' is a folder, not an image file.")
    if os.path.getsize(path) == 0:
        raise InvalidInputError(f"{name} is empty (0 bytes).")
    with open(path, "rb") as f:
        return _open_file(f, name, max_pixels)


def _from_bytes(data, max_pixels, name="the image bytes"):
    if len(data) == 0:
        raise InvalidInputError(f"{name} are empty (0 bytes): there is no image to read.")
    return _open_file(io.BytesIO(bytes(data)), name, max_pixels)


def _from_url(url, max_pixels, download):
    if download is None:
        from ..agents.downloads import download_bytes as download
    data = download(url)
    return _from_bytes(data, max_pixels, f"the image at {url}")


def _from_array(value, max_pixels, name="the image array"):
    Image = _pil()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.detach().cpu().numpy() if hasattr(value, "detach") else value.numpy()
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"{name} is not a numeric array ({e}).") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise InvalidInputError(f"{name} must be numeric (uint8, or floats in [0, 1]); got "
                                f"dtype {a.dtype}.")
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.transpose(a, (1, 2, 0))  # (C, H, W) -> (H, W, C)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise InvalidInputError(
            f"{name} has shape {tuple(a.shape)}; an image is (H, W), (H, W, C) or (C, H, W) "
            "with 1, 3 or 4 channels (a batch of images goes in a list).")
    _check_size(a.shape[1], a.shape[0], max_pixels, name)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)):
            raise InvalidInputError(f"{name} holds NaN or infinite values.")
        if a.min() < 0.0 or a.max() > 1.0:
            raise InvalidInputError(
                f"{name} holds floats in [{a.min():g}, {a.max():g}]; float images must be in "
                "[0, 1] (or pass uint8 values 0..255).")
        a = np.round(a * 255.0).astype(np.uint8)
    elif a.dtype != np.uint8:
        if a.min() < 0 or a.max() > 255:
            raise InvalidInputError(f"{name} holds integers in [{a.min()}, {a.max()}]; integer "
                                    "images must be 0..255 (uint8).")
        a = a.astype(np.uint8)
    return _finish(Image.fromarray(a), name)


def load_image(image, *, max_pixels=MAX_PIXELS, download=None):
    """``image`` (see the module docstring) -> an RGB ``PIL.Image.Image``.

    ``download(url) -> bytes`` replaces the default URL fetcher (the agents' downloader
    rules); ``max_pixels=None`` lifts the pixel limit (Pillow's own bomb check still applies).
    """
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        return _from_url(image, max_pixels, download)
    if isinstance(image, str) and image.startswith("data:"):
        raise InvalidInputError("data: URLs are not read; pass the decoded bytes instead.")
    if isinstance(image, (str, os.PathLike)):
        return _from_path(os.fspath(image), max_pixels)
    if isinstance(image, _BYTES):
        return _from_bytes(image, max_pixels)
    if type(image).__module__.startswith("PIL."):
        Image = _pil()
        if isinstance(image, Image.Image):
            _check_size(*image.size, max_pixels, "the PIL image")
            return _finish(image, "the PIL image")
    if hasattr(image, "to_raw") and hasattr(image, "to_string"):  # an AgentImage
        return load_image(image.to_raw(), max_pixels=max_pixels, download=download)
    if hasattr(image, "shape") or isinstance(image, (list, tuple)):
        return _from_array(image, max_pixels)
    raise InvalidInputError(
        f"Cannot read an image from a {type(image).__name__}: pass a file path, file bytes, an "
        "http(s) URL, a PIL image or an array (H, W[, C]).")


def load_images(images, **kwargs):
    """One image or a list of them -> (list of RGB PIL images, whether a list was given)."""
    if isinstance(images, (list, tuple)) and images and all(
            is_image_like(x) and not isinstance(x, (int, float)) for x in images) and not (
            isinstance(images[0], (int, float, list, tuple))):
        return [load_image(x, **kwargs) for x in images], True
    return [load_image(images, **kwargs)], False
