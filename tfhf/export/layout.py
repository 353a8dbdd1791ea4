"""TF Serving's folder layout: ``BASE/<version>/{saved_model.pb, variables/, assets/}``.

TF Serving watches ``BASE`` and serves the highest integer-named subfolder. A version is
built in a hidden staging folder next to it (``BASE/.tfhf-staging-*``, which the server
ignores because the name is not an integer) and renamed into place only when complete, so
the server never sees a half-written version and a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..errors import InvalidInputError

STAGING_PREFIX = ".tfhf-staging-"


def existing_versions(base: str) -> list[int]:
    if not os.path.isdir(base):
        return []
    return sorted(int(n) for n in os.listdir(base)
                  if n.isdigit() and os.path.isdir(os.path.join(base, n)))


def check_target(base, version=None, overwrite=False) -> int:
    """Validate ``base`` / ``version`` before any work; returns the version to write."""
    base = os.fspath(base)
    if not base:
        raise InvalidInputError("The export folder (--output) is empty.")
    if os.path.exists(base) and not os.path.isdir(base):
        raise InvalidInputError(
            f"Export folder '{base}' is a file. Pass a folder path: the SavedModel is "
            "written to <folder>/<version>/ (TF Serving's layout).")
    # missing parent folders are created (like mkdir -p); a file in the way is an error
    parent = os.path.dirname(os.path.abspath(base))
    while not os.path.isdir(parent):
        if os.path.lexists(parent):
            raise InvalidInputError(f"Cannot create export folder '{base}': '{parent}' is a "
                                    "file, not a folder.")
        parent = os.path.dirname(parent)
    if version is None:
        have = existing_versions(base)
        return (have[-1] + 1) if have else 1
    if isinstance(version, bool) or not isinstance(version, int) and not (
            isinstance(version, str) and version.isdigit()):
        raise InvalidInputError(f"version must be a positive integer, got {version!r}.")
    version = int(version)
    if version < 1:
        raise InvalidInputError(f"version must be a positive integer, got {version}.")
    target = os.path.join(base, str(version))
    if os.path.lexists(target) and not os.path.isdir(target):
        raise InvalidInputError(f"'{target}' exists and is a file; remove it or pick another "
                                "version.")
    if os.path.exists(target) and not overwrite:
        raise InvalidInputError(
            f"Version folder '{target}' already exists. Pass overwrite=True (CLI: --overwrite) "
            "to replace it, or choose another version (default: the next free number, "
            f"{(existing_versions(base) or [0])[-1] + 1}).")
    return version


class StagedVersion:
    """``with StagedVersion(base, version, overwrite) as tmp: <write into tmp>`` then
    :meth:`commit`. Leaving the block without committing removes everything it created."""

    def __init__(self, base, version, overwrite=False):
        self.base = os.path.abspath(os.fspath(base))
        self.version = int(version)
        self.overwrite = overwrite
        self.final = os.path.join(self.base, str(self.version))
        self._created = []  # folders this export created (base and missing parents), top first
        self.path = None

    def __enter__(self):
        folder = self.base
        while not os.path.isdir(folder):
            self._created.insert(0, folder)
            folder = os.path.dirname(folder)
        os.makedirs(self.base, exist_ok=True)
        self.path = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{self.version}-", dir=self.base)
        return self

    def commit(self):
        old = None
        if os.path.exists(self.final):
            if not self.overwrite:  # appeared while we were exporting
                raise InvalidInputError(f"Version folder '{self.final}' appeared during the "
                                        "export; pass overwrite=True to replace it.")
            old = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}old-", dir=self.base)
            os.rmdir(old)
            os.replace(self.final, old)
        try:
            os.replace(self.path, self.final)
        except BaseException:
            if old is not None:
                os.replace(old, self.final)
            raise
        self.path = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def __exit__(self, exc_type, exc, tb):
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        for folder in reversed(self._created):  # a failed export leaves no empty folders
            if os.path.isdir(folder) and not os.listdir(folder):
                os.rmdir(folder)
        return False
