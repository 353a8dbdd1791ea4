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


def register_serializable(package="tfhf", if_free=False):
    """Decorator registering a class for Keras (de)serialization under both Keras flavours
    (registered name ``"tfhf>ClassName"``).

    A layer class that does not define ``get_config`` itself gets one built from the
    arguments its ``__init__`` was called with (dataclass arguments as dicts), so that
    ``type(layer).from_config(layer.get_config())`` rebuilds it under Keras 3 and tf_keras.
    ``if_free=True`` skips classes whose registered name is already taken (subclasses
    registered automatically, e.g. by ``TFPreTrainedModel.__init_subclass__``).
    """

    def decorate(cls):
        name = f"{package}>{cls.__name__}"
        if if_free and keras.utils.get_registered_object(name) is not None:
            return cls
        if "get_config" not in cls.__dict__ and issubclass(cls, keras.layers.Layer) and \
                not issubclass(cls, keras.Model):
            _add_init_config(cls)
        return keras.utils.register_keras_serializable(package=package)(cls)

    return decorate


_LAYER_BASE_KEYS = ("name", "trainable", "dtype")


def _add_init_config(cls):
    """Record ``__init__`` arguments; ``get_config`` returns them (pure data)."""
    import dataclasses
    import functools
    import inspect
    import json

    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        record = "_tfhf_init_args" not in self.__dict__
        if record:
            bound = signature.bind(self, *args, **kwargs)
            values = {}
            for pname, value in list(bound.arguments.items())[1:]:
                kind = signature.parameters[pname].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    values.update(value)
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    if value:
                        raise TypeError(f"{cls.__name__}: positional *args cannot be recorded")
                else:
                    values[pname] = value
            object.__setattr__(self, "_tfhf_init_args", values)
        init(self, *args, **kwargs)

    def get_config(self):
        config = {}
        for key, value in self._tfhf_init_args.items():
            if key in _LAYER_BASE_KEYS:
                continue
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = {"__dataclass__": type(value).__name__, **dataclasses.asdict(value)}
            config[key] = value
        base = {"name": self.name, "trainable": self.trainable,
                "dtype": keras.utils.serialize_keras_object(self.dtype_policy)}
        try:  # pure JSON data: tuples become lists, anything else is an error here
            return json.loads(json.dumps({**base, **config}))
        except TypeError as e:
            raise TypeError(f"{cls.__name__}.get_config: an __init__ argument is not JSON "
                            f"data ({e}); define get_config/from_config.") from None

    @classmethod
    def from_config(klass, config):
        config = dict(config)
        for key, value in list(config.items()):
            if isinstance(value, dict) and "__dataclass__" in value:
                dc = _dataclass_type(klass, key, value["__dataclass__"])
                config[key] = dc(**{k: v for k, v in value.items() if k != "__dataclass__"})
        return klass(**config)

    __init__.__signature__ = signature  # what Keras 3's auto-config inspects
    cls.__init__ = __init__
    cls.get_config = get_config
    cls.from_config = from_config


def _dataclass_type(klass, key, name):
    import dataclasses
    import sys

    # only a dataclass visible in the layer's own module (never an arbitrary import)
    candidate = getattr(sys.modules.get(klass.__module__), name, None)
    if not (isinstance(candidate, type) and dataclasses.is_dataclass(candidate)):
        raise TypeError(f"{klass.__name__}.from_config: unknown config type {name!r} for {key!r}")
    return candidate


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
