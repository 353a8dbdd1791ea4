"""The one place that chooses Keras 3 or tf_keras.

TensorFlow 2.16+ ships Keras 3 as ``tf.keras``. Users of the old Keras 2 API set
``TF_USE_LEGACY_KERAS=1`` (and install ``tf-keras``); tfhf then builds every layer and
model on ``tf_keras``. Nothing else in tfhf imports ``keras`` or ``tf_keras`` directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import os

LEGACY = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes")

if LEGACY:
    try:
        import tf_keras as keras  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        from .errors import TfhfError

        raise TfhfError(
            "TF_USE_LEGACY_KERAS=1 is set but the 'tf-keras' package is not installed. "
            "Install it with `pip install tfhf[legacy]` or unset TF_USE_LEGACY_KERAS."
        ) from e
else:
    import keras  # noqa: F401

IS_KERAS_3 = not LEGACY and int(keras.__version__.split(".")[0]) >= 3
KERAS_NAME = "tf_keras" if LEGACY else "keras"


_DEFERRED = contextvars.ContextVar("tfhf_deferred_init", default=None)


@contextlib.contextmanager
def deferred_init():
    """Create variables as zeros and remember their real initializers.

    ``from_pretrained`` builds under this context because the checkpoint overwrites almost
    every variable (random initialization of a large model costs more than loading it);
    :func:`initialize_pending` then initializes the ones the checkpoint did not provide.
    """
    pending = {}
    token = _DEFERRED.set(pending)
    try:
        yield pending
    finally:
        _DEFERRED.reset(token)


def initialize_pending(pending, variables):
    """Give ``variables`` (created under :func:`deferred_init`) their real initial values."""
    for v in variables:
        entry = pending.get(id(v))
        if entry is not None:
            var, init = entry
            value = keras.initializers.get(init)(tuple(var.shape), dtype=var.dtype)
            var.assign(value)


def add_weight(layer, name, shape, initializer="zeros", dtype=None, trainable=True, autocast=True):
    """``layer.add_weight`` with the same keywords under Keras 3 and tf_keras.

    ``autocast=False`` keeps the variable in its storage dtype when read inside ``call``
    under a mixed policy (used for embedding tables, which are gathered then cast).
    """
    pending = _DEFERRED.get()
    real_init = initializer
    if pending is not None and initializer not in ("zeros", "ones"):
        initializer = "zeros"
    kwargs = dict(name=name, shape=tuple(int(d) for d in shape), initializer=initializer,
                  dtype=dtype, trainable=trainable)
    if IS_KERAS_3:
        kwargs["autocast"] = autocast
    else:
        kwargs["experimental_autocast"] = autocast
    var = layer.add_weight(**kwargs)
    if pending is not None and initializer != real_init:
        pending[id(var)] = (var, real_init)
    return var


def global_policy_name() -> str:
    return keras.mixed_precision.global_policy().name


@contextlib.contextmanager
def policy_scope(name):
    """Temporarily set the global dtype policy (layers capture it when constructed)."""
    if name is None:
        yield
        return
    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(old)


def register_serializable(package="tfhf"):
    """Decorator registering a class for Keras (de)serialization under both Keras flavours."""
    return keras.utils.register_keras_serializable(package=package)


def variable_value(v):
    """A variable's stored value as a numpy array (no autocast)."""
    return v.numpy()


def assign(v, value):
    v.assign(value)


def track_layers(owner, prefix, layers):
    """Hold ``layers`` in a list *and* as attributes ``<prefix>_<i>`` of ``owner``.

    Keras 3 keeps lists of layers in its own tracked list, which ``tf.train.Checkpoint``
    (and everything built on it) does not see; attributes are seen by both Keras flavours
    and by TensorFlow's checkpointing. Returns the list.
    """
    layers = list(layers)
    for i, layer in enumerate(layers):
        setattr(owner, f"{prefix}_{i}", layer)
    return layers
