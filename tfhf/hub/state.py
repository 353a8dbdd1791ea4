"""Open a checkpoint's weight files as one lazy ``name -> numpy array`` state."""

from __future__ import annotations

import numpy as np

from ..errors import CheckpointError, MissingDependencyError
from .safetensors_io import SafetensorsFile


class SafetensorsState:
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

    def keys(self):
        return list(self._where)

    def __contains__(self, k):
        return k in self._where

    def get(self, k):
        return self._where[k].get(k)

    def __getitem__(self, k):
        return self.get(k)

    def close(self):
        for f in self._files:
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DictState(dict):
    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


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
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for bad pickles
            raise CheckpointError(f"Cannot read PyTorch checkpoint '{path}' safely "
                                  f"(weights_only=True): {e}") from None
        for k, v in sd.items():
            if v.dtype == torch.bfloat16:
                v = v.float()
            state[k] = v.detach().cpu().numpy()
    return state


def open_state(kind, files, model_type=None):
    if kind == "safetensors":
        return SafetensorsState(files)
    if kind == "pytorch":
        return load_pytorch_bin(files)
    if kind == "h5":
        from .h5_legacy import load_tf_h5

        return DictState(load_tf_h5(files[0]))
    raise CheckpointError(f"Unknown weight format {kind!r}.")


def as_numpy(x):
    return np.asarray(x)
