"""Agent types: what tools exchange besides plain data.

* :class:`AgentText` — a ``str`` (every str operation works on it);
* :class:`AgentImage` — a PIL image, a ``uint8`` array (H, W[, C]) or an image file;
  ``to_raw()`` gives a PIL image (needs Pillow) and ``to_string()`` the path of a PNG file
  (written with Pillow when installed, else with a small built-in PNG encoder); ``save(path)``
  writes it and a notebook shows it (``_repr_png_``);
* :class:`AgentAudio` — samples (a list, numpy array or tensor, float in [-1, 1] or int16) at
  ``samplerate``, or a WAV file; ``to_raw()`` gives float32 numpy samples and ``to_string()`` the
  path of a 16-bit PCM WAV file written with the stdlib ``wave`` module; ``save(path)`` writes
  WAV or FLAC and a notebook shows a player (``_repr_html_``).

``to_string()`` of media writes the file once, to a fresh temporary folder, and returns its path.
"""

from __future__ import annotations

import os
import struct
import tempfile
import uuid
import wave
import zlib

from ..errors import InvalidInputError, MissingDependencyError

__all__ = ["AgentType", "AgentText", "AgentImage", "AgentAudio", "wrap_output",
           "AGENT_TYPE_MAPPING"]

_TMP = None


def _tmp_dir():
    global _TMP
    if _TMP is None or not os.path.isdir(_TMP):
        _TMP = tempfile.mkdtemp(prefix="tfhf-agent-")
    return _TMP


class AgentType:
    """Base of the agent types: ``to_raw()`` and ``to_string()``."""

    def to_raw(self):
        raise NotImplementedError

    def to_string(self) -> str:
        raise NotImplementedError


class AgentText(str, AgentType):
    """Text returned by a tool: a ``str``."""

    def to_raw(self) -> str:
        return str.__str__(self)

    def to_string(self) -> str:
        return str.__str__(self)

    def __repr__(self):
        return str.__repr__(self)


def _is_pil(value) -> bool:
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(value, Image.Image)


def _as_numpy(value):
    import numpy as np

    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()  # tf.Tensor / torch tensor
    return np.asarray(value)


def _png_bytes(array) -> bytes:
    """A PNG file for a uint8 array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)."""
    import numpy as np

    a = np.asarray(array)
    if a.dtype != np.uint8:
        if a.dtype.kind == "f":
            a = np.clip(a * (255.0 if a.max(initial=0) <= 1.0 else 1.0), 0, 255)
        a = a.astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        color, channels = 0, 1
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        color, channels = (2, 3) if a.shape[2] == 3 else (6, 4)
    else:
        raise InvalidInputError(f"AgentImage: cannot make an image of an array of shape "
                                f"{a.shape}; expected (H, W), (H, W, 3) or (H, W, 4).")
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[i].reshape(-1).tobytes() for i in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    del channels
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


class AgentImage(AgentType):
    """An image returned by (or given to) a tool."""

    def __init__(self, value):
        self._raw = None
        self._path = None
        self._array = None
        if isinstance(value, AgentImage):
            self._raw, self._path, self._array = value._raw, value._path, value._array
        elif isinstance(value, (str, os.PathLike)):
            self._path = os.fspath(value)
        elif _is_pil(value):
            self._raw = value
        else:
            try:
                self._array = _as_numpy(value)
            except Exception as e:  # noqa: BLE001 - any non-array value is a user error here
                raise InvalidInputError(f"AgentImage needs a PIL image, an array or a path, "
                                        f"not {type(value).__name__}") from e

    def to_raw(self):
        """The image as a ``PIL.Image.Image`` (needs Pillow)."""
        if self._raw is not None:
            return self._raw
        try:
            from PIL import Image
        except ImportError:
            raise MissingDependencyError("AgentImage.to_raw() needs Pillow: pip install pillow "
                                         "(to_string() works without it).") from None
        if self._path is not None:
            self._raw = Image.open(self._path)
        else:
            self._raw = Image.fromarray(self._array)
        return self._raw

    def to_string(self) -> str:
        """Path of a PNG file holding the image (written on first use)."""
        if self._path is not None:
            return self._path
        path = os.path.join(_tmp_dir(), f"{uuid.uuid4().hex}.png")
        if self._raw is not None:
            self._raw.save(path, format="PNG")
        else:
            with open(path, "wb") as f:
                f.write(_png_bytes(self._array))
        self._path = path
        return path

    def png_bytes(self) -> bytes:
        """The image as PNG file bytes (Pillow when the image is one, else built in)."""
        if self._raw is None and self._array is None:
            with open(self._path, "rb") as f:
                data = f.read()
            if data.startswith(b"\x89PNG\r\n\x1a\n"):
                return data
            self.to_raw()
        if self._raw is not None:
            import io

            buf = io.BytesIO()
            self._raw.save(buf, format="PNG")
            return buf.getvalue()
        return _png_bytes(self._array)

    def _repr_png_(self):
        """Shown as the image in a notebook (IPython / Jupyter)."""
        return self.png_bytes()

    def save(self, path, format=None):
        """Write the image to ``path`` (format from ``format`` or the extension, with Pillow;
        PNG without it). The file appears whole or not at all (a temporary file, renamed)."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InvalidInputError(f"AgentImage.save: the folder {folder} does not exist.")
        fmt = (format or os.path.splitext(path)[1].lstrip(".") or "png").upper()
        fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(fmt, fmt)
        if fmt != "PNG":
            self.to_raw()  # MissingDependencyError without Pillow
            from PIL import Image

            Image.init()
            if fmt not in Image.SAVE:
                raise InvalidInputError(f"AgentImage.save: Pillow cannot write {fmt!r} images "
                                        f"({path}); use .png, .jpg, .webp, .bmp, .tiff...")
        fd, tmp = tempfile.mkstemp(prefix=".tfhf-image-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                if fmt == "PNG":
                    f.write(self.png_bytes())
                else:
                    image = self.to_raw()
                    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
                        image = image.convert("RGB")
                    image.save(f, format=fmt)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    def __repr__(self):
        return f"AgentImage({self._path!r})" if self._path else "AgentImage(<image>)"


class AgentAudio(AgentType):
    """Audio returned by (or given to) a tool: samples at ``samplerate``, or a WAV file."""

    def __init__(self, value, samplerate: int = 16_000):
        self.samplerate = int(samplerate)
        self._samples = None
        self._path = None
        if isinstance(value, AgentAudio):
            self._samples, self._path, self.samplerate = value._samples, value._path, \
                value.samplerate
        elif isinstance(value, (str, os.PathLike)):
            self._path = os.fspath(value)
        elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int):
            self.samplerate = int(value[0])
            self._samples = value[1]
        else:
            self._samples = value

    def to_raw(self):
        """float32 numpy samples in [-1, 1] (mono, or (frames, channels))."""
        import numpy as np

        if self._samples is None:
            with wave.open(self._path, "rb") as w:
                self.samplerate = w.getframerate()
                width, channels = w.getsampwidth(), w.getnchannels()
                data = w.readframes(w.getnframes())
            if width != 2:
                raise InvalidInputError(f"AgentAudio reads 16-bit WAV files; {self._path} has "
                                        f"{8 * width}-bit samples.")
            a = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
            self._samples = a.reshape(-1, channels) if channels > 1 else a
        a = _as_numpy(self._samples)
        if a.dtype == np.int16:
            a = a.astype(np.float32) / 32768.0
        return a.astype(np.float32)

    def to_string(self) -> str:
        """Path of a 16-bit PCM WAV file (written on first use with the ``wave`` module)."""
        import numpy as np

        if self._path is not None:
            return self._path
        a = self.to_raw()
        channels = 1 if a.ndim == 1 else a.shape[1]
        pcm = (np.clip(a, -1.0, 1.0) * 32767.0).round().astype("<i2")
        path = os.path.join(_tmp_dir(), f"{uuid.uuid4().hex}.wav")
        with wave.open(path, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(self.samplerate)
            w.writeframes(pcm.tobytes())
        self._path = path
        return path

    def save(self, path):
        """Write the audio to ``path``: 16-bit PCM WAV or FLAC (by extension), with soundfile."""
        from ..audio.io import save_audio

        a = self.to_raw()
        return save_audio(path, a.mean(axis=1) if a.ndim == 2 else a, self.samplerate)

    def _repr_html_(self):
        """A player in a notebook: an ``<audio>`` element with the WAV inlined."""
        import base64

        with open(self.to_string(), "rb") as fh:
            data = base64.b64encode(fh.read()).decode("ascii")
        return f'<audio controls src="data:audio/wav;base64,{data}"></audio>'

    def __repr__(self):
        return f"AgentAudio({self._path!r})" if self._path else \
            f"AgentAudio(<{self.samplerate} Hz audio>)"


AGENT_TYPE_MAPPING = {"text": AgentText, "image": AgentImage, "audio": AgentAudio}


def wrap_output(value, output_type):
    """A tool's raw output as the agent type its ``output_type`` names (others unchanged)."""
    if isinstance(value, AgentType) or output_type not in AGENT_TYPE_MAPPING:
        return value
    if output_type == "text":
        return AgentText(value) if isinstance(value, str) else value
    if output_type == "image":
        if _is_pil(value) or isinstance(value, os.PathLike) or hasattr(value, "shape"):
            return AgentImage(value)
        return value
    if output_type == "audio":
        if isinstance(value, os.PathLike) or hasattr(value, "shape") or (
                isinstance(value, tuple) and len(value) == 2):
            return AgentAudio(value)
        return value
    return value  # pragma: no cover


def unwrap_input(value):
    """Agent types as the raw values tools expect (text stays a str)."""
    if isinstance(value, (AgentImage, AgentAudio)):
        return value.to_raw()
    return value
