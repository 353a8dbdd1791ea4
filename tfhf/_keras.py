"""The one place that chooses Keras 3 or tf_keras.

TensorFlow 2.16+ ships Keras 3 as ``tf.keras``. Users of the old Keras 2 API set
``TF_USE_LEGACY_KERAS=1`` (and install ``tf-keras``); tfhf then builds every layer and
model on ``tf_keras``. Nothing else in tfhf imports ``keras`` or ``tf_keras`` directly.
"""

from __future__ import annotations

import contextlib
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


def add_weight(layer, name, shape, initializer="zeros", dtype=None, trainable=True, autocast=True):
    """``layer.add_weight`` with the same keywords under Keras 3 and tf_keras.

    ``autocast=False`` keeps the variable in its storage dtype when read inside ``call``
    under a mixed policy (used for embedding tables, which are gathered then cast).
    """
    kwargs = dict(name=name, shape=tuple(int(d) for d in shape), initializer=initializer,
                  dtype=dtype, trainable=trainable)
    if IS_KERAS_3:
        kwargs["autocast"] = autocast
    else:
        kwargs["experimental_autocast"] = autocast
    return layer.add_weight(**kwargs)


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
