"""Export tfhf models for serving: SavedModels in TF Serving's layout, and .keras files.

* :func:`export_saved_model` — ``BASE/<version>/`` with ``serving_default`` (strings in,
  tokenized in the graph) and ``predict_ids`` signatures; ``text-generation`` runs the
  compiled decode loop inside the SavedModel. ``tfhf export`` is the command-line form.
* :func:`load_keras_model` — ``keras.models.load_model`` for ``.keras`` files with tfhf's
  classes registered and a config check that refuses files naming arbitrary Python
  callables (``safe_mode``).

See docs/serving.md.
"""

from __future__ import annotations

__all__ = ["export_saved_model", "TASKS", "load_keras_model", "check_keras_file"]


def __getattr__(name):
    if name in ("export_saved_model", "TASKS"):
        from . import saved_model

        return getattr(saved_model, name)
    if name in ("load_keras_model", "check_keras_file"):
        from . import keras_file

        return getattr(keras_file, name)
    raise AttributeError(f"module 'tfhf.export' has no attribute '{name}'")
