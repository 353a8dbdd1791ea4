"""Turn a model name or path into local files, through huggingface_hub's cache.

A local folder is used as it is. Anything else is a Hub repo id: files are fetched with
``huggingface_hub.hf_hub_download`` (which honours ``HF_HUB_OFFLINE=1``, ``HF_HOME``,
``cache_dir``, ``revision`` and ``token``), so a repo already in the cache loads without a
network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import ModelNotFoundError, WeightsNotFoundError

# Weight files in the order they are preferred.
SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
TF_WEIGHTS = "tf_model.h5"
TF_INDEX = "tf_model.h5.index.json"
PT_WEIGHTS = "pytorch_model.bin"
PT_INDEX = "pytorch_model.bin.index.json"
WEIGHT_FILES = (SAFE_WEIGHTS, SAFE_INDEX, TF_WEIGHTS, TF_INDEX, PT_WEIGHTS, PT_INDEX)


def split_gguf_path(path, gguf_file=None) -> tuple[str, str | None]:
    """``(folder, gguf_file)``: a path to a ``.gguf`` file (by name or by its ``GGUF`` magic)
    becomes its folder and file name, so that ``from_pretrained("model.gguf")`` loads like
    ``from_pretrained(folder, gguf_file="model.gguf")``. Anything else is returned as given."""
    path = os.fspath(path)
    if gguf_file is not None or not os.path.isfile(os.path.expanduser(path)):
        return path, gguf_file
    full = os.path.abspath(os.path.expanduser(path))
    with open(full, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        return path, gguf_file
    return os.path.dirname(full), os.path.basename(full)


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


# --------------------------------------------------------------- is the Hub there at all?
PROBE_TIMEOUT = 3.0
_PROBED: dict = {}  # (host, port) -> None (reachable) or the reason it is not


def _probe_target():
    """``(what, host, port)``: the Hub endpoint (``HF_ENDPOINT``), or the proxy in front of it."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    https = url.scheme == "https"
    for var in (("HTTPS_PROXY", "https_proxy") if https else ("HTTP_PROXY", "http_proxy")) + \
            ("ALL_PROXY", "all_proxy"):
        proxy = os.environ.get(var)
        if proxy:
            p = urlparse(proxy if "://" in proxy else "http://" + proxy)
            return f"the proxy {p.hostname}:{p.port or 80}", p.hostname, p.port or 80
    return f"the Hub ({constants.ENDPOINT})", url.hostname, url.port or (443 if https else 80)


def hub_unreachable(timeout: float = PROBE_TIMEOUT) -> str | None:
    """``None`` when the Hub endpoint accepts a connection (or the Hub is switched off with
    ``HF_HUB_OFFLINE=1``: nothing is asked then), else why not, e.g. ``"the Hub
    (https://huggingface.co) cannot be reached (Connection refused)"``.

    One TCP connection with a short timeout, made once per process and endpoint, before the
    first download: without it an unreachable Hub costs a minute of huggingface_hub retries.
    """
    import socket

    if hub_offline():
        return None
    what, host, port = _probe_target()
    key = (host, port)
    if key not in _PROBED:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            _PROBED[key] = None
        except OSError as e:
            _PROBED[key] = f"{what} cannot be reached ({e.strerror or e})"
    return _PROBED[key]


def forget_hub_probe():
    """Probe the Hub again on the next download (after the network came back)."""
    _PROBED.clear()


def repo_in_cache(repo_id: str, cache_dir=None, repo_type: str = "model") -> bool:
    """Whether huggingface_hub's cache holds anything of ``repo_id``."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    try:
        folder = repo_folder_name(repo_id=repo_id, repo_type=repo_type)
    except Exception:  # noqa: BLE001 - not a valid repo id: the download explains it
        return False
    return os.path.isdir(os.path.join(cache_dir or constants.HF_HUB_CACHE, folder,
                                      "snapshots"))


def unreachable_message(repo_id: str, reason: str) -> str:
    """The error for a repo that is not cached while the Hub cannot be reached."""
    close = []
    if "/" not in repo_id and not os.path.exists(repo_id):
        from ..assets import close_names  # a mistyped asset name, like `--model smolm2`

        close = close_names(repo_id)
    hint = f" Did you mean the asset '{close[0]}'?" if close else ""
    return (f"'{repo_id}' is not a local folder and, as a Hub repo id, it is not in the local "
            f"cache, and {reason}.{hint} Check your network, or pass a local model folder "
            "(or .gguf file) or an installed asset (`tfhf assets list`); set HF_HUB_OFFLINE=1 "
            "to use only the cache without trying the Hub.")


def hub_cache_only(repo_id: str, cache_dir=None, local_files_only: bool = False,
                   repo_type: str = "model") -> bool:
    """Call before downloading from ``repo_id``: ``True`` when files must come from the cache
    alone (``local_files_only``, ``HF_HUB_OFFLINE=1``, or the Hub cannot be reached but the
    repo is cached), ``False`` when the Hub can be asked. Raises :class:`ModelNotFoundError`
    at once when the Hub cannot be reached and the repo is not cached."""
    if local_files_only or hub_offline():
        return True
    reason = hub_unreachable()
    if reason is None:
        return False
    if repo_in_cache(repo_id, cache_dir, repo_type):
        return True
    raise ModelNotFoundError(unreachable_message(repo_id, reason))


@dataclass
class ModelSource:
    """Where a model's files come from: a local folder or a Hub repo."""

    name_or_path: str
    revision: str | None = None
    cache_dir: str | None = None
    local_files_only: bool = False
    token: str | bool | None = None
    subfolder: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def is_local(self) -> bool:
        return os.path.isdir(self.name_or_path)

    def describe(self) -> str:
        if self.is_local:
            path = os.path.join(self.name_or_path, self.subfolder) if self.subfolder else \
                self.name_or_path
            return f"folder '{path}'"
        rev = f" (revision '{self.revision}')" if self.revision else ""
        sub = f" (subfolder '{self.subfolder}')" if self.subfolder else ""
        return f"Hub repo '{self.name_or_path}'{rev}{sub}"

    def get(self, filename: str, required: bool = True) -> str | None:
        """Local path of ``filename``; ``None`` when it is absent and not required."""
        if filename in self._cache:
            path = self._cache[filename]
        elif self.is_local:
            path = os.path.join(self.name_or_path, self.subfolder, filename)
            path = path if os.path.isfile(path) else None
            self._cache[filename] = path
        else:
            path = self._download(filename)
            self._cache[filename] = path
        if path is None and required:
            raise ModelNotFoundError(
                f"{self.describe()} has no file '{filename}'. "
                "Check the name, or pass the folder that holds the model's files."
            )
        return path

    def _download(self, filename: str) -> str | None:
        import huggingface_hub
        from huggingface_hub import errors as hub_errors

        # './missing' and the like are no repo ids: no probe, require_config names the path
        cache_only = self.local_files_only if _looks_like_path(self.name_or_path) else \
            hub_cache_only(self.name_or_path, self.cache_dir, self.local_files_only)
        try:
            return huggingface_hub.hf_hub_download(
                self.name_or_path,
                filename,
                subfolder=self.subfolder or None,
                revision=self.revision,
                cache_dir=self.cache_dir,
                local_files_only=cache_only,
                token=self.token,
            )
        except hub_errors.HFValidationError as e:
            raise ModelNotFoundError(
                f"'{self.name_or_path}' is neither an existing local folder nor a valid Hub "
                f"repo id ({e}). Pass a folder path or an id like 'org/name'."
            ) from None
        except hub_errors.RepositoryNotFoundError:
            raise ModelNotFoundError(
                f"{self.describe()} does not exist on the Hub (or is private: pass token=...)."
                " For a local model, pass the path of an existing folder."
            ) from None
        except hub_errors.RevisionNotFoundError:
            raise ModelNotFoundError(
                f"{self.describe()}: revision '{self.revision}' does not exist."
            ) from None
        except hub_errors.EntryNotFoundError:
            return None
        except hub_errors.LocalEntryNotFoundError:
            # Either offline (HF_HUB_OFFLINE=1 / local_files_only) or the Hub is unreachable,
            # and the file is not in the cache. Absent files are only an error for the caller
            # when nothing usable is cached at all (see ``require_any``).
            return None

    def offline_hint(self) -> str:
        if self.is_local:
            return ""
        if hub_offline() or self.local_files_only:
            return (" The Hub is switched off (HF_HUB_OFFLINE=1 or local_files_only=True) and "
                    "these files are not in the cache"
                    f"{' at ' + self.cache_dir if self.cache_dir else ''}: download them once "
                    "with network access, or pass a local folder.")
        reason = hub_unreachable()
        if reason is not None:
            return (f" The files are not in the local cache, and {reason}: check your network, "
                    "or pass a local folder (`tfhf assets list` shows the installed assets).")
        return (" The files are not in the local cache and the Hub could not be reached: "
                "check your network, or pass a local folder.")

    def require_config(self) -> str:
        path = self.get("config.json", required=False)
        if path is None:
            if not self.is_local and not os.path.exists(self.name_or_path) and (
                self.name_or_path.startswith((".", "/", "~")) or os.sep + os.sep in self.name_or_path
            ):
                raise ModelNotFoundError(f"No folder at '{self.name_or_path}'.")
            also = ""
            if not self.is_local and "/" not in self.name_or_path:
                also = f" There is no local folder '{self.name_or_path}' either."
            raise ModelNotFoundError(
                f"Could not find config.json in {self.describe()}.{also}{self.offline_hint()}"
            )
        return path

    def find_weights(self, use_safetensors: bool | None = None) -> tuple[str, list[str]]:
        """Return ``(kind, files)`` for the preferred weight format present.

        kind is one of "safetensors", "h5", "pytorch".
        """
        from .safetensors_io import shard_files_from_index

        candidates = []
        if use_safetensors is not False:
            candidates += [("safetensors", SAFE_WEIGHTS), ("safetensors-index", SAFE_INDEX)]
        if not use_safetensors:
            candidates += [("h5", TF_WEIGHTS), ("h5-index", TF_INDEX), ("pytorch", PT_WEIGHTS),
                           ("pytorch-index", PT_INDEX)]
        for kind, name in candidates:
            path = self.get(name, required=False)
            if path is None:
                continue
            if kind.endswith("-index"):
                files = []
                for shard in shard_files_from_index(path):
                    shard_path = self.get(shard, required=False)
                    if shard_path is None:
                        raise WeightsNotFoundError(
                            f"{self.describe()}: the index '{name}' names the shard '{shard}', "
                            f"which is missing.{self.offline_hint()} Download or save the "
                            "model again.")
                    files.append(shard_path)
                return kind[: -len("-index")], files
            return kind, [path]
        names = ", ".join(n for _, n in candidates)
        raise WeightsNotFoundError(
            f"{self.describe()} holds no weights tfhf can read (looked for {names})."
            f"{self.offline_hint()}"
        )


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep + os.sep in name or name.count("/") > 1
