"""``create_optimizer``, ``AdamWeightDecay`` and ``WarmUp`` as transformers 4.x TF had them.

AdamW with linear warmup then polynomial decay; decoupled weight decay skips LayerNorm
weights and biases (tfhf names normalization weights ``gamma``/``beta``).
"""

from __future__ import annotations

import re

import tensorflow as tf

from .._keras import IS_KERAS_3, keras, register_serializable
from ..errors import InvalidInputError

DEFAULT_EXCLUDE = ["LayerNorm", "layer_norm", "bias", "gamma", "beta"]


@register_serializable()
class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
    """``init_lr * (step / warmup_steps) ** power`` for ``step < warmup_steps``, then
    ``decay_schedule_fn(step - warmup_steps)``."""

    def __init__(self, initial_learning_rate, decay_schedule_fn, warmup_steps, power=1.0,
                 name=None):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.warmup_steps = warmup_steps
        self.power = power
        self.decay_schedule_fn = decay_schedule_fn
        self.name = name

    def __call__(self, step):
        with tf.name_scope(self.name or "WarmUp"):
            step = tf.cast(step, tf.float32)
            warmup = tf.cast(self.warmup_steps, tf.float32)
            warm_lr = self.initial_learning_rate * tf.pow(step / warmup, self.power)
            return tf.cond(step < warmup, lambda: warm_lr,
                           lambda: tf.cast(self.decay_schedule_fn(step - warmup), tf.float32))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_schedule_fn": keras.optimizers.schedules.serialize(self.decay_schedule_fn),
                "warmup_steps": self.warmup_steps, "power": self.power, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["decay_schedule_fn"] = keras.optimizers.schedules.deserialize(
            config["decay_schedule_fn"])
        return cls(**config)


class _DenseSlicesMixin:
    """Adam on an embedding gradient as if it were dense.

    Gathers give ``tf.IndexedSlices`` gradients that repeat a row once per occurrence (a
    token seen twice in the batch; under ``tf.distribute``, every replica's slices
    concatenated). Keras 3's Adam squares the slices before summing them, so the second
    moment of a repeated row is the sum of squares instead of the square of the sum, and
    the step of frequent tokens (and of position embeddings on N replicas) is off by up to
    sqrt(repeats). Summing the slices into a dense gradient first gives PyTorch's (and
    transformers 4.x TF's) update; Keras' Adam updates every row of ``m``/``v`` anyway.
    """

    def update_step(self, gradient, variable, *args, **kwargs):
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        return super().update_step(gradient, variable, *args, **kwargs)


@register_serializable()
class Adam(_DenseSlicesMixin, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose embedding updates match a dense gradient's."""


@register_serializable()
class AdamWeightDecay(_DenseSlicesMixin, keras.optimizers.AdamW):
    """Adam with decoupled weight decay that skips variables matching
    ``exclude_from_weight_decay`` unless they match ``include_in_weight_decay``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay_rate=0.0, include_in_weight_decay=None,
                 exclude_from_weight_decay=None, name="AdamWeightDecay", **kwargs):
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay_rate,
                         beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         name=name, **kwargs)
        self.weight_decay_rate = weight_decay_rate
        self._include = list(include_in_weight_decay or [])
        self._exclude = list(exclude_from_weight_decay or [])

    def _use_weight_decay(self, variable):
        name = getattr(variable, "path", None) or variable.name
        if any(re.search(p, name) for p in self._include):
            return True
        if any(re.search(p, name) for p in self._exclude):
            return False
        return super()._use_weight_decay(variable)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("weight_decay", None)
        cfg.update(weight_decay_rate=self.weight_decay_rate,
                   include_in_weight_decay=self._include,
                   exclude_from_weight_decay=self._exclude)
        return cfg


def create_optimizer(init_lr, num_train_steps, num_warmup_steps, min_lr_ratio=0.0,
                     adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, adam_clipnorm=None,
                     adam_global_clipnorm=None, weight_decay_rate=0.0, power=1.0,
                     include_in_weight_decay=None):
    """Return ``(optimizer, lr_schedule)``: warmup then polynomial decay to
    ``init_lr * min_lr_ratio`` at ``num_train_steps``."""
    if num_train_steps <= 0:
        raise InvalidInputError(f"num_train_steps must be positive, got {num_train_steps}.")
    if not 0 <= num_warmup_steps <= num_train_steps:
        raise InvalidInputError(f"num_warmup_steps={num_warmup_steps} must be between 0 and "
                                f"num_train_steps={num_train_steps}.")
    if adam_clipnorm is not None and adam_global_clipnorm is not None:
        raise InvalidInputError("Pass adam_clipnorm or adam_global_clipnorm, not both.")
    schedule = keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=init_lr, decay_steps=max(num_train_steps - num_warmup_steps, 1),
        end_learning_rate=init_lr * min_lr_ratio, power=power)
    if num_warmup_steps:
        schedule = WarmUp(init_lr, schedule, num_warmup_steps)
    clip = {}
    if adam_clipnorm is not None:
        clip["clipnorm"] = adam_clipnorm
    if adam_global_clipnorm is not None:
        clip["global_clipnorm"] = adam_global_clipnorm
    if weight_decay_rate > 0.0:
        opt = AdamWeightDecay(learning_rate=schedule, weight_decay_rate=weight_decay_rate,
                              beta_1=adam_beta1, beta_2=adam_beta2, epsilon=adam_epsilon,
                              exclude_from_weight_decay=DEFAULT_EXCLUDE,
                              include_in_weight_decay=include_in_weight_decay, **clip)
    else:
        opt = Adam(learning_rate=schedule, beta_1=adam_beta1, beta_2=adam_beta2,
                   epsilon=adam_epsilon, **clip)
    return opt, schedule


__all__ = ["create_optimizer", "AdamWeightDecay", "WarmUp", "IS_KERAS_3"]
