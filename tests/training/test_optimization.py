"""create_optimizer, WarmUp and AdamWeightDecay as transformers 4.x TF had them."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfhf import AdamWeightDecay, WarmUp, create_optimizer
from tfhf._keras import keras
from tfhf.errors import InvalidInputError


def hand_lr(step, init_lr, total, warmup, min_ratio=0.0, power=1.0, warmup_power=1.0):
    """transformers' schedule written out: linear (power) warmup, then polynomial decay."""
    if step < warmup:
        return init_lr * (step / warmup) ** warmup_power
    end = init_lr * min_ratio
    t = min(step - warmup, total - warmup) / max(total - warmup, 1)
    return (init_lr - end) * (1 - t) ** power + end


@pytest.mark.parametrize("warmup,min_ratio,power", [(10, 0.0, 1.0), (10, 0.1, 1.0),
                                                    (0, 0.0, 1.0), (25, 0.05, 2.0)])
def test_schedule_matches_hand_computation(warmup, min_ratio, power):
    init_lr, total = 3e-4, 100
    _, schedule = create_optimizer(init_lr, total, warmup, min_lr_ratio=min_ratio, power=power)
    assert isinstance(schedule, WarmUp) == bool(warmup)
    points = [0, 1, warmup // 2, max(warmup - 1, 0), warmup, warmup + 1, (warmup + total) // 2,
              total - 1, total, total + 50]
    for step in points:
        got = float(schedule(step))
        assert got == pytest.approx(hand_lr(step, init_lr, total, warmup, min_ratio, power),
                                    rel=1e-5, abs=1e-12), step
    # the named points: 0 at step 0 (with warmup), the peak at the end of warmup, the floor
    if warmup:
        assert float(schedule(0)) == 0.0
    assert float(schedule(warmup)) == pytest.approx(init_lr)
    assert float(schedule(total)) == pytest.approx(init_lr * min_ratio, abs=1e-12)


def test_optimizer_steps_follow_the_schedule():
    """With a constant gradient Adam's bias-corrected step is exactly the learning rate, so
    the size of each update shows the rate the optimizer used at that step."""
    opt, _ = create_optimizer(1e-2, 20, 4, adam_epsilon=1e-12)
    v = tf.Variable([0.0])
    steps = []
    for _ in range(8):
        before = float(v.numpy()[0])
        opt.apply_gradients([(tf.constant([1.0]), v)])
        steps.append(before - float(v.numpy()[0]))
    assert steps == pytest.approx([hand_lr(s, 1e-2, 20, 4) for s in range(8)], rel=1e-4,
                                  abs=1e-9)


def test_optimizer_kinds_and_options():
    plain, _ = create_optimizer(1e-3, 10, 1)
    assert isinstance(plain, keras.optimizers.Adam) and not isinstance(plain, AdamWeightDecay)
    assert plain.epsilon == pytest.approx(1e-8) and plain.beta_1 == pytest.approx(0.9)
    decayed, _ = create_optimizer(1e-3, 10, 1, weight_decay_rate=0.01, adam_beta2=0.98,
                                  adam_global_clipnorm=1.0)
    assert isinstance(decayed, AdamWeightDecay)
    assert decayed.weight_decay_rate == 0.01 and decayed.beta_2 == pytest.approx(0.98)
    assert decayed.global_clipnorm == 1.0
    clipped, _ = create_optimizer(1e-3, 10, 1, adam_clipnorm=0.5)
    assert clipped.clipnorm == 0.5


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_train_steps=0, num_warmup_steps=0), "num_train_steps"),
    (dict(num_train_steps=10, num_warmup_steps=11), "num_warmup_steps"),
    (dict(num_train_steps=10, num_warmup_steps=-1), "num_warmup_steps"),
    (dict(num_train_steps=10, num_warmup_steps=1, adam_clipnorm=1.0, adam_global_clipnorm=1.0),
     "not both"),
])
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        create_optimizer(1e-3, **kwargs)


def test_weight_decay_skips_layer_norm_and_biases(tiny_bert):
    """With zero gradients Adam's update is 0, so one step shows the decoupled decay alone:
    decayed weights shrink by (1 - lr * rate), LayerNorm weights and biases stay."""
    from tfhf import TFAutoModelForSequenceClassification
    from tfhf.models import weights as W

    model = TFAutoModelForSequenceClassification.from_pretrained(tiny_bert)
    # HF names identify the variables under both Keras 3 and tf_keras
    variables = {hf: W.resolve(model, path) for hf, path in model.weight_table().items()}
    assert len(variables) == len(model.trainable_variables)
    before = {hf: v.numpy().copy() for hf, v in variables.items()}
    lr, rate = 0.1, 0.5
    opt, _ = create_optimizer(lr, 10, 0, weight_decay_rate=rate)
    opt.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    decayed, kept = [], []
    for hf, v in variables.items():
        if "LayerNorm" in hf or hf.endswith(".bias"):
            np.testing.assert_array_equal(v.numpy(), before[hf], err_msg=hf)
            kept.append(hf)
        else:
            np.testing.assert_allclose(v.numpy(), before[hf] * (1 - lr * rate), rtol=1e-5,
                                       atol=1e-7, err_msg=hf)
            decayed.append(hf)
    # every kind of variable was seen: embeddings, kernels, LayerNorm weight/bias, biases
    assert "bert.embeddings.word_embeddings.weight" in decayed
    assert "bert.encoder.layer.0.attention.self.query.weight" in decayed
    assert {"bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
            "bert.encoder.layer.0.attention.self.query.bias", "classifier.bias"} <= set(kept)


def test_include_in_weight_decay_overrides_the_exclusions():
    opt = AdamWeightDecay(learning_rate=0.1, weight_decay_rate=0.5,
                          exclude_from_weight_decay=["bias"], include_in_weight_decay=["keep_bias"])
    layer_vars = {n: tf.Variable(np.ones(2, np.float32), name=n)
                  for n in ("kernel", "bias", "keep_bias")}
    opt.apply_gradients([(tf.zeros(2), v) for v in layer_vars.values()])
    got = {n: float(v.numpy()[0]) for n, v in layer_vars.items()}
    assert got == pytest.approx({"kernel": 0.95, "bias": 1.0, "keep_bias": 0.95})


@pytest.mark.parametrize("weight_decay_rate", [0.0, 0.1])
def test_repeated_embedding_rows_update_like_a_dense_gradient(weight_decay_rate):
    """A gather's gradient repeats a row per occurrence (and per replica under
    tf.distribute); Adam must see the summed row, as with a dense gradient (PyTorch), or
    frequent tokens take steps up to sqrt(count) times too large."""
    table = np.arange(12, dtype=np.float32).reshape(6, 2) / 10

    def train(densify):
        v = tf.Variable(table)
        opt, _ = create_optimizer(0.1, 100, 0, weight_decay_rate=weight_decay_rate)
        for _ in range(3):
            with tf.GradientTape() as tape:
                rows = tf.gather(v, [0, 0, 0, 1, 3])
                loss = tf.reduce_sum(rows * tf.constant([[1., 2.], [3., 4.], [5., 6.],
                                                         [7., 8.], [9., 1.]]))
            g = tape.gradient(loss, v)
            assert isinstance(g, tf.IndexedSlices)
            opt.apply_gradients([(tf.convert_to_tensor(g) if densify else g, v)])
        return v.numpy()

    np.testing.assert_allclose(train(densify=False), train(densify=True), rtol=1e-6, atol=1e-7)


def test_warmup_serialization_round_trip():
    _, schedule = create_optimizer(2e-4, 50, 5, min_lr_ratio=0.1, power=2.0)
    config = keras.optimizers.schedules.serialize(schedule)
    restored = keras.optimizers.schedules.deserialize(config)
    assert isinstance(restored, WarmUp) and restored.get_config() == schedule.get_config()
    direct = WarmUp.from_config(schedule.get_config())
    for step in (0, 3, 5, 20, 50, 80):
        assert float(restored(step)) == pytest.approx(float(schedule(step)), rel=1e-6)
        assert float(direct(step)) == pytest.approx(float(schedule(step)), rel=1e-6)


def test_adam_weight_decay_serialization_round_trip():
    opt, schedule = create_optimizer(2e-4, 50, 5, weight_decay_rate=0.01,
                                     include_in_weight_decay=["special"])
    config = keras.optimizers.serialize(opt)
    restored = keras.optimizers.deserialize(config)
    assert type(restored) is AdamWeightDecay
    plain, _ = create_optimizer(2e-4, 50, 5)
    assert type(keras.optimizers.deserialize(keras.optimizers.serialize(plain))) is type(plain)
    assert restored.get_config() == opt.get_config()
    assert restored.weight_decay_rate == 0.01
    assert restored._include == ["special"] and "LayerNorm" in restored._exclude
    lr = restored._learning_rate
    assert isinstance(lr, WarmUp) and float(lr(5)) == pytest.approx(2e-4)
    # a model saved with this optimizer in its compile config reloads it
    again = AdamWeightDecay.from_config(opt.get_config())
    assert again.get_config() == opt.get_config()


@pytest.mark.skipif(os.environ.get("TF_USE_LEGACY_KERAS") == "1", reason="runs itself")
def test_optimization_under_tf_keras():
    """This file under TF_USE_LEGACY_KERAS=1 (tf_keras optimizers differ from Keras 3's)."""
    from _train_helpers import run_python

    run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                "-k", "not under_tf_keras"], timeout=240, env={"TF_USE_LEGACY_KERAS": "1"},
               cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
