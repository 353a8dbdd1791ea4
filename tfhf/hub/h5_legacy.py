"""Read ``tf_model.h5`` files written by transformers 4.x TensorFlow models.

transformers 4.x saved TF models with Keras 2's ``save_weights`` in HDF5: the root attribute
``layer_names`` lists the top-level layers (``bert``, ``classifier``, ...), each layer group
has a ``weight_names`` attribute, and each weight is a dataset at ``<layer>/<weight name>``
with names such as ``tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/
self/query/kernel:0``. This module turns such a file into PyTorch-layout arrays under HF
names, with the same renaming rules transformers 4.x used:

* ``:0`` dropped, ``_._`` becomes a level separator (``layer_._0`` -> ``layer.0``);
* a level ``xxx___yyy`` stands for ``yyy`` (``mlm___cls`` -> ``cls``);
* the first level (the Keras model's own name) is dropped;
* ``kernel`` -> ``weight`` (transposed), ``embeddings``/``gamma`` -> ``weight``, ``beta`` -> ``bias``.

Supported: single-file ``tf_model.h5`` (sharded TF h5 checkpoints are not).
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import CheckpointError


def tf_name_to_hf(tf_name: str):
    """Return ``(hf_name, transpose)`` for a transformers 4.x TF weight name."""
    name = tf_name.replace(":0", "")
    name = re.sub(r"/[^/]*___([^/]*)/", r"/\1/", name)
    name = name.replace("_._", "/")
    name = re.sub(r"//+", "/", name)
    parts = name.split("/")
    if len(parts) > 1:
        parts = parts[1:]
    transpose = parts[-1] == "kernel"
    if parts[-1] in ("kernel", "embeddings", "gamma"):
        parts[-1] = "weight"
    elif parts[-1] == "beta":
        parts[-1] = "bias"
    return ".".join(parts), transpose


def _decode(names):
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def load_tf_h5(path: str) -> dict[str, np.ndarray]:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        from ..errors import MissingDependencyError

        raise MissingDependencyError("Reading tf_model.h5 needs h5py (`pip install h5py`).") from None
    state = {}
    try:
        with h5py.File(path, "r") as f:
            if "layer_names" not in f.attrs:
                raise CheckpointError(
                    f"'{path}' is an HDF5 file but not a Keras weights file (no 'layer_names' "
                    "attribute). tfhf reads tf_model.h5 as transformers 4.x saved it.")
            for layer in _decode(f.attrs["layer_names"]):
                group = f[layer]
                for wname in _decode(group.attrs.get("weight_names", [])):
                    arr = np.asarray(group[wname])
                    hf, transpose = tf_name_to_hf(wname)
                    state[hf] = arr.T if transpose else arr
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"Cannot read legacy TF weights '{path}': {e}") from None
    return state
