"""Read ``tf_model.h5`` files written by transformers 4.x TensorFlow models.

Supported layouts
-----------------
* **Single file** ``tf_model.h5``, as transformers 4.x ``TFPreTrainedModel.save_pretrained``
  wrote it with Keras 2's ``save_weights`` in HDF5: the root attribute ``layer_names`` lists
  the model's top-level layers (``bert``, ``classifier``, ``dropout_37``, ...); each layer is a
  group whose attribute ``weight_names`` lists its weights; each weight is a dataset at
  ``<layer>/<weight name>``, with names such as
  ``tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/self/query/kernel:0``.
  Like Keras, attributes too large for an HDF5 object header are read from the numbered
  chunks ``layer_names0``, ``layer_names1``, ... (``weight_names0``, ...).
* **Sharded** ``tf_model-0000i-of-0000n.h5`` + ``tf_model.h5.index.json`` (transformers 4.x
  ``save_pretrained(max_shard_size=...)``): each shard's ``layer_names`` lists datasets stored
  directly under the weight name without the model-name level
  (``bert/embeddings/word_embeddings/weight:0``).
* TF-format safetensors (``model.safetensors`` whose metadata says ``"format": "tf"``, keys
  like ``bert/embeddings/word_embeddings/weight:0``) are renamed with the same rules (see
  :mod:`tfhf.hub.state`).

Names are turned into PyTorch-layout arrays under HF names with the rules transformers 4.x
used (``convert_tf_weight_name_to_pt_weight_name``):

* ``:0`` dropped; a level ``xxx___yyy`` stands for ``yyy`` (``mlm___cls`` -> ``cls``);
  ``_._`` becomes a level separator (``layer_._0`` -> ``layer.0``);
* the first level (the Keras model's own name, ``tf_bert_for_masked_lm``) is dropped;
* ``kernel`` -> ``weight`` (transposed from Keras' (in, out) to PyTorch's (out, in); a
  ``Conv2D`` kernel from Keras' (height, width, in, out) to PyTorch's (out, in, height, width),
  as transformers 4.x did for its vision models' patch embeddings),
  ``embeddings``/``gamma`` -> ``weight``, ``beta`` -> ``bias``.

Weights a layer shares with another (the MLM head's tied word embeddings) may appear in
several layer groups; identical copies are accepted, different ones are an error.

Not supported: Keras 3 ``.weights.h5`` files and TF checkpoints (``model.ckpt.index``).
The reader refuses datasets that are not numeric, that live in another file (external links,
external storage, virtual datasets) or that claim far more bytes than the file stores, so a
hostile file cannot make it allocate unbounded memory.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import CheckpointError

# A dataset may claim at most this many times the bytes it stores (compression), unless small.
_MAX_EXPANSION = 64
_SMALL = 1 << 20


def tf_name_to_hf(tf_name: str, has_model_level: bool = True):
    """Return ``(hf_name, transpose)`` for a transformers 4.x TF weight name.

    ``has_model_level=False`` for names already stripped of the model's name (sharded h5,
    TF-format safetensors).
    """
    name = tf_name.replace(":0", "")
    name = re.sub(r"/[^/]*___([^/]*)/", r"/\1/", name)
    name = name.replace("_._", "/")
    name = re.sub(r"//+", "/", name)
    parts = name.split("/")
    if has_model_level and len(parts) > 1:
        parts = parts[1:]
    transpose = parts[-1] == "kernel"
    if parts[-1] in ("kernel", "embeddings", "gamma"):
        parts[-1] = "weight"
    elif parts[-1] == "beta":
        parts[-1] = "bias"
    return ".".join(parts), transpose


def kernel_to_pt(array):
    """A Keras kernel in PyTorch's layout: ``Dense`` (in, out) -> (out, in), ``Conv2D``
    (height, width, in, out) -> (out, in, height, width)."""
    return np.transpose(array, (3, 2, 0, 1)) if np.ndim(array) == 4 else array.T


def _decode(names):
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in np.ravel(names)]


def _attr_list(obj, name):
    """Keras 2's ``load_attributes_from_hdf5_group``: ``name`` or its chunks ``name0``, ...;
    ``None`` when neither exists."""
    if name in obj.attrs:
        return _decode(obj.attrs[name])
    values, i = [], 0
    while f"{name}{i}" in obj.attrs:
        values += _decode(obj.attrs[f"{name}{i}"])
        i += 1
    return values if i else None


def _read(path, label, obj, h5py, root):
    if not isinstance(obj, h5py.Dataset):
        raise CheckpointError(f"'{path}': weight '{label}' is missing or is not a dataset. "
                              "The file may be truncated or corrupt; save it again.")
    if obj.dtype.kind not in "fiub":
        raise CheckpointError(f"'{path}': weight '{label}' has dtype {obj.dtype}, not a "
                              "numeric type.")
    if obj.is_virtual or obj.external or obj.file.filename != root.filename:
        raise CheckpointError(f"'{path}': weight '{label}' refers to data outside the file; "
                              "tfhf does not follow external links or storage.")
    claimed = int(np.prod(obj.shape, dtype=object) or 0) * obj.dtype.itemsize
    stored = obj.id.get_storage_size()
    if claimed > _SMALL and claimed > _MAX_EXPANSION * stored:
        raise CheckpointError(f"'{path}': weight '{label}' claims shape {obj.shape} "
                              f"({claimed} bytes) but the file stores only {stored} bytes of it. "
                              "The file is truncated or corrupt.")
    return np.asarray(obj[()])


def _put(state, path, tf_name, arr, has_model_level):
    hf, transpose = tf_name_to_hf(tf_name, has_model_level)
    arr = kernel_to_pt(arr) if transpose else arr
    old = state.get(hf)
    if old is not None and (old.shape != arr.shape or not np.array_equal(old, arr)):
        raise CheckpointError(f"'{path}' holds two different values for weight '{hf}' "
                              f"(the second from '{tf_name}').")
    state[hf] = arr


def load_tf_h5(path: str) -> dict[str, np.ndarray]:
    """HF name -> numpy array (PyTorch layout) for one ``tf_model.h5`` (or shard of one)."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        from ..errors import MissingDependencyError

        raise MissingDependencyError(
            "Reading tf_model.h5 needs h5py (`pip install h5py`).") from None
    state: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            layers = _attr_list(f, "layer_names")
            if layers is None:
                raise CheckpointError(
                    f"'{path}' is an HDF5 file but not a Keras weights file (no 'layer_names' "
                    "attribute). tfhf reads tf_model.h5 as transformers 4.x saved it; Keras 3 "
                    "'.weights.h5' files are not supported.")
            for layer in layers:
                obj = f.get(layer)
                if isinstance(obj, h5py.Dataset):  # sharded layout: one dataset per weight
                    _put(state, path, layer, _read(path, layer, obj, h5py, f), False)
                    continue
                if not isinstance(obj, h5py.Group):
                    raise CheckpointError(f"'{path}' lists layer '{layer}' in 'layer_names' "
                                          "but holds no such group. The file may be truncated "
                                          "or corrupt; save it again.")
                for wname in _attr_list(obj, "weight_names") or []:
                    dset = obj.get(wname)
                    _put(state, path, wname, _read(path, wname, dset, h5py, f), True)
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"Cannot read legacy TF weights '{path}': {e}. The file may be "
                              "truncated or corrupt; download or save it again.") from None
    return state
