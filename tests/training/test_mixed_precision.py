"""Training under a mixed-precision Keras policy: bfloat16 on CPU, float16's loss scaling.

(The float16 run on a GPU is the lead's device check; here the loss-scaling mechanics are
checked on CPU, where float16 math is slow but correct.)
"""

import numpy as np
import pytest
import tensorflow as tf
from _train_helpers import toy_rows

from tfhf._keras import IS_KERAS_3, keras


def _data(tokenizer, n=64):
    from datasets import Dataset

    return Dataset.from_list(toy_rows(n, seed=6)).map(
        lambda b: tokenizer(b["text"], truncation=True), batched=True)


def _loss_scale_optimizer_cls():
    return (keras.optimizers.LossScaleOptimizer if IS_KERAS_3
            else keras.mixed_precision.LossScaleOptimizer)


def test_mixed_bfloat16_trains_with_float32_logits_and_weights(tiny_bert, tokenizer):
    from tfhf import TFAutoModelForSequenceClassification, create_optimizer

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = TFAutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2)
    ds = model.prepare_tf_dataset(_data(tokenizer), batch_size=16, shuffle=True, seed=0,
                                  tokenizer=tokenizer)
    x, _ = next(iter(ds))
    out = model(x)
    assert out.logits.dtype == tf.float32  # logits stay float32 under a mixed policy
    assert {v.dtype.name if hasattr(v.dtype, "name") else str(v.dtype)
            for v in model.trainable_variables} == {"float32"}  # float32 master weights
    query = model.bert.encoder.blocks[0].attention.query
    assert query.compute_dtype == "bfloat16"  # the math runs in bfloat16
    opt, _ = create_optimizer(5e-3, 40, 4)
    model.compile(optimizer=opt)
    # bfloat16 has float32's range: Keras adds no loss scaling
    assert not isinstance(model.optimizer, _loss_scale_optimizer_cls())
    hist = model.fit(ds, epochs=10, verbose=0).history
    assert all(np.isfinite(hist["loss"]))
    assert hist["loss"][-1] < 0.6 * hist["loss"][0], hist["loss"]
    assert model(x).logits.dtype == tf.float32


def test_mixed_float16_compiles_with_loss_scaling_and_scales_the_internal_loss(
        tiny_bert, tokenizer):
    from tfhf import TFAutoModelForSequenceClassification, create_optimizer

    keras.mixed_precision.set_global_policy("mixed_float16")
    model = TFAutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2)
    ds = model.prepare_tf_dataset(_data(tokenizer, 32), batch_size=16, shuffle=False,
                                  tokenizer=tokenizer)
    opt, _ = create_optimizer(1e-3, 10, 0)
    model.compile(optimizer=opt)  # no loss: the internal loss
    lso = _loss_scale_optimizer_cls()
    assert isinstance(model.optimizer, lso)  # Keras wraps it for mixed_float16
    x, y = next(iter(ds))
    assert model(x).logits.dtype == tf.float32

    def weights():
        return [v.numpy().copy() for v in model.trainable_variables]

    def scale():
        opt_ = model.optimizer
        return float(opt_.dynamic_scale if IS_KERAS_3 else opt_.loss_scale)

    # a normal step: finite loss reported unscaled (~ln 2, not multiplied by the scale)
    w0 = weights()
    logs = model.train_on_batch(x, y, return_dict=True)
    assert 0.3 < logs["loss"] < 1.5, logs
    assert any(not np.array_equal(a, b) for a, b in zip(w0, weights()))
    assert scale() == 2.0 ** 15  # Keras' initial dynamic scale, kept after a finite step

    # a scale so large that float16 gradients overflow: the step is skipped and the scale
    # halves, which only happens if the loss was multiplied by the scale before backprop
    v = model.optimizer.dynamic_scale if IS_KERAS_3 else model.optimizer._loss_scale._current_loss_scale
    v.assign(2.0 ** 60)
    w1 = weights()
    model.train_on_batch(x, y)
    assert scale() == 2.0 ** 59
    assert all(np.array_equal(a, b) for a, b in zip(w1, weights()))


@pytest.mark.parametrize("policy", ["mixed_bfloat16"])
def test_policy_is_restored_for_other_tests(policy):
    """conftest resets the policy; a model built now is float32 again."""
    assert keras.mixed_precision.global_policy().name == "float32"
