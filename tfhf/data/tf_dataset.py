"""``datasets.Dataset`` -> ``tf.data.Dataset`` that Keras ``fit`` takes.

Rows stay in Arrow: the pipeline shuffles integer indices (seeded), batches them and fetches
each batch with ``dataset[indices]`` inside a ``tf.py_function``, then collates (pads) it.
Memory is the Arrow table (memory-mapped when loaded from disk) plus one int64 per row for
the shuffle buffer, never the rows as Python objects.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

LABEL_ALIASES = ("label", "labels", "label_ids")


def _signature_from_batch(batch):
    import tensorflow as tf

    return {k: tf.TensorSpec([None] * np.asarray(v).ndim, tf.as_dtype(_tf_friendly(np.asarray(v)).dtype))
            for k, v in batch.items()}


def _tf_friendly(a):
    if a.dtype == np.int64 or a.dtype == np.int32:
        return a
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        return a.astype(np.float32) if a.dtype != np.float32 else a
    raise InvalidInputError(f"Column of dtype {a.dtype} cannot be fed to the model; remove it "
                            "or convert it to numbers first.")


def to_tf_dataset(dataset, feature_cols, label_cols, batch_size, shuffle, collate_fn,
                  collate_fn_args=None, drop_remainder=False, prefetch=True, seed=None):
    import tensorflow as tf

    n = len(dataset)
    if n == 0:
        raise InvalidInputError("prepare_tf_dataset got an empty dataset.")
    if batch_size is None or int(batch_size) < 1:
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    collate_fn_args = collate_fn_args or {}
    columns = list(dataset.column_names)

    def rows(indices):
        data = dataset[[int(i) for i in indices]]
        return [{c: data[c][j] for c in columns} for j in range(len(indices))]

    def collate(indices):
        batch = collate_fn(rows(indices), **collate_fn_args)
        batch = {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in dict(batch).items()}
        return {k: _tf_friendly(v) for k, v in batch.items()}

    probe = collate(np.arange(min(n, batch_size)))
    # the collator may rename ``label`` to ``labels``
    wanted = [c for c in feature_cols if c in probe]
    labels = []
    for c in label_cols:
        if c in probe:
            labels.append(c)
        elif c in ("label", "label_ids") and "labels" in probe:
            labels.append("labels")
    keys = wanted + [c for c in labels if c not in wanted]
    if not wanted:
        raise InvalidInputError(
            f"None of the model's inputs {sorted(feature_cols)} are columns of the collated batch "
            f"(columns: {sorted(probe)}). Tokenize the dataset first (dataset.map(...)).")
    spec = _signature_from_batch({k: probe[k] for k in keys})
    tout = [spec[k].dtype for k in keys]

    def fetch(indices):
        b = collate(indices.numpy())
        return [b[k] for k in keys]

    def fetch_tf(indices):
        out = tf.py_function(fetch, [indices], tout)
        d = {}
        for k, t in zip(keys, out):
            shape = spec[k].shape
            if drop_remainder:  # every batch is full: a static batch dimension (TPU, XLA)
                shape = tf.TensorShape([int(batch_size)]).concatenate(shape[1:])
            t.set_shape(shape)
            d[k] = t
        x = {k: d[k] for k in wanted}
        if not labels:
            return x
        y = d[labels[0]] if len(labels) == 1 else {k: d[k] for k in labels}
        return x, y

    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=bool(drop_remainder))
    ds = ds.map(fetch_tf)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds
