"""tfhf's exceptions.

Every user mistake raises a subclass of :class:`TfhfError`. The subclasses also inherit the
builtin type that transformers raised in the same situation (``OSError`` for missing files,
``ValueError`` for bad values), so ``except OSError`` in existing scripts keeps working.
"""


class TfhfError(Exception):
    """Base class of every tfhf error."""


class ModelNotFoundError(TfhfError, OSError):
    """A path or Hub repo id that does not exist or cannot be reached."""


class WeightsNotFoundError(TfhfError, OSError):
    """A model folder or repo without any weight file tfhf can read."""


class CheckpointError(TfhfError, ValueError):
    """A weight file that is truncated, corrupt or hostile."""


class UnsupportedModelError(TfhfError, ValueError):
    """A ``model_type`` (or head) tfhf does not implement."""


class WeightShapeError(TfhfError, ValueError):
    """Config and checkpoint disagree on a weight's shape."""


class InvalidInputError(TfhfError, ValueError):
    """Bad input to a model call, a tokenizer or a generation argument."""


class ConfigError(TfhfError, ValueError):
    """A configuration value that cannot work."""


class MissingDependencyError(TfhfError, ImportError):
    """An optional package is needed for this operation."""
