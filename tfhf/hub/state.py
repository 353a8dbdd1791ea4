"""Open a checkpoint's weight files as one lazy ``name -> numpy array`` state.

Every state maps HF (PyTorch) weight names to arrays in PyTorch layout, whatever the file
format: safetensors (PyTorch- or TF-format), ``pytorch_model.bin`` (only through torch's
``weights_only`` loader) and legacy ``tf_model.h5``.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import CheckpointError, MissingDependencyError
from .safetensors_io import SafetensorsFile

logger = logging.getLogger("tfhf")


class WeightState:
    """Base of the lazy ``HF name -> numpy array`` states: a subclass gives ``keys``, ``get``
    and ``close``; indexing, membership and the context manager come from here."""

    def keys(self):  # pragma: no cover - every state defines it
        raise NotImplementedError

    def get(self, name):  # pragma: no cover - every state defines it
        raise NotImplementedError

    def close(self):
        pass

    def __contains__(self, name):
        return name in self.keys()

    def __getitem__(self, name):
        return self.get(name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SafetensorsState(WeightState):
    """Several safetensors shards seen as one mapping; arrays are memory-mapped views."""

    def __init__(self, files):
        self._files = []
        self._where = {}
        try:
            for path in files:
                f = SafetensorsFile(path)
                self._files.append(f)
                for k in f.keys():
                    if k in self._where:
                        raise CheckpointError(f"Weight '{k}' appears in two shards "
                                              f"('{self._where[k].path}' and '{path}').")
                    self._where[k] = f
        except BaseException:
            self.close()
            raise

    @property
    def metadata(self):
        return self._files[0].metadata if self._files else {}

    def keys(self):
        return list(self._where)

    def __contains__(self, k):
        return k in self._where

    def get(self, k):
        return self._where[k].get(k)

    def close(self):
        for f in self._files:
            f.close()


class RenamedState(WeightState):
    """A state whose keys are TF weight names (TF-format safetensors), seen under HF names."""

    def __init__(self, inner, source):
        from .h5_legacy import tf_name_to_hf

        self._inner = inner
        self._names = {}
        for key in inner.keys():
            if "/" in key or key.endswith(":0"):
                hf, transpose = tf_name_to_hf(key, has_model_level=False)
            else:
                hf, transpose = key, False
            if hf in self._names:
                raise CheckpointError(f"'{source}': weights '{self._names[hf][0]}' and '{key}' "
                                      f"both map to '{hf}'.")
            self._names[hf] = (key, transpose)

    def keys(self):
        return list(self._names)

    def __contains__(self, k):
        return k in self._names

    def get(self, k):
        from .h5_legacy import kernel_to_pt

        key, transpose = self._names[k]
        arr = self._inner.get(key)
        return kernel_to_pt(arr) if transpose else arr

    def close(self):
        self._inner.close()


class PrefixedState(WeightState):
    """``inner`` with its names that start with ``old`` seen as starting with ``new``."""

    def __init__(self, inner, old, new):
        self._inner = inner
        self._names = {(new + k[len(old):] if k.startswith(old) else k): k for k in inner.keys()}

    def keys(self):
        return list(self._names)

    def __contains__(self, k):
        return k in self._names

    def get(self, k):
        return self._inner.get(self._names[k])

    def close(self):
        self._inner.close()


class DictState(dict):
    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _merge(state, path, items):
    for k, v in items:
        if k in state:
            raise CheckpointError(f"Weight '{k}' appears twice (again in '{path}').")
        state[k] = v


def load_pytorch_bin(files):
    """``pytorch_model.bin`` shards, read with ``torch.load(weights_only=True)`` only."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            f"'{files[0]}' is a PyTorch pickle checkpoint; reading it needs torch "
            "(`pip install torch`). tfhf never unpickles without torch's weights_only loader. "
            "Alternatively convert the checkpoint to safetensors."
        ) from None
    state = DictState()
    for path in files:
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for bad pickles
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"Cannot read PyTorch checkpoint '{path}' safely (torch.load with "
                f"weights_only=True refused it: {first[:300]}). tfhf never runs arbitrary "
                "pickle code; if you trust the file, convert it to safetensors with PyTorch."
            ) from None
        if not isinstance(state_dict, dict):
            raise CheckpointError(f"'{path}' holds a {type(state_dict).__name__}, not a state dict "
                                  "(a mapping from weight names to tensors).")
        items, skipped = [], []
        for k, v in state_dict.items():
            if not isinstance(k, str):
                raise CheckpointError(f"'{path}' has a weight name {k!r} that is not a string.")
            if not isinstance(v, torch.Tensor):
                skipped.append(k)
                continue
            items.append((k, _tensor_to_numpy(v, k, path, torch)))
        if skipped:
            logger.warning("Entries of %s that are not tensors were ignored: %s", path, skipped)
        _merge(state, path, items)
    return state


def _tensor_to_numpy(v, name, path, torch):
    try:
        v = v.detach().cpu()
        if v.dtype == torch.bfloat16:
            return v.float().numpy()
        try:
            return v.numpy()
        except TypeError:  # dtypes numpy lacks (float8, ...)
            return v.float().numpy()
    except Exception as e:
        raise CheckpointError(f"'{path}': weight '{name}' cannot be converted to an array "
                              f"({e}).") from None


def open_state(kind, files, model_type=None):
    if kind == "safetensors":
        state = SafetensorsState(files)
        if state.metadata.get("format") == "tf":
            try:
                return RenamedState(state, files[0])
            except BaseException:
                state.close()
                raise
        return state
    if kind == "pytorch":
        return load_pytorch_bin(files)
    if kind == "h5":
        from .h5_legacy import load_tf_h5

        state = DictState()
        for path in files:
            _merge(state, path, load_tf_h5(path).items())
        return state
    raise CheckpointError(f"Unknown weight format {kind!r}.")


def as_numpy(x):
    return np.asarray(x)
