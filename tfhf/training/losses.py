"""The losses transformers' heads compute from ``labels`` (PyTorch reductions: a mean)."""

from __future__ import annotations

import tensorflow as tf


def masked_sparse_ce(labels, logits, ignore_index=-100):
    """Mean cross entropy over positions whose label is not ``ignore_index``."""
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    logits = tf.reshape(tf.cast(logits, tf.float32), [-1, tf.shape(logits)[-1]])
    valid = tf.not_equal(labels, ignore_index)
    safe = tf.where(valid, labels, tf.zeros_like(labels))
    per = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    per = tf.where(valid, per, tf.zeros_like(per))
    return tf.reduce_sum(per) / tf.maximum(tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0)


def sequence_classification_loss(labels, logits, problem_type, num_labels):
    """Loss by ``problem_type``, inferred as transformers does when unset."""
    logits = tf.cast(logits, tf.float32)
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype.is_integer:
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        labels = tf.cast(labels, tf.float32)
        if num_labels == 1:
            return tf.reduce_mean(tf.square(tf.reshape(logits, [-1]) - tf.reshape(labels, [-1])))
        return tf.reduce_mean(tf.square(logits - labels))
    if problem_type == "single_label_classification":
        return masked_sparse_ce(labels, logits)
    if problem_type == "multi_label_classification":
        labels = tf.cast(labels, tf.float32)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    from ..errors import ConfigError

    raise ConfigError(f"Unknown problem_type={problem_type!r}; use 'regression', "
                      "'single_label_classification' or 'multi_label_classification'.")


def question_answering_loss(start_positions, end_positions, start_logits, end_logits):
    n = tf.shape(start_logits)[1]
    sp = tf.clip_by_value(tf.cast(tf.reshape(start_positions, [-1]), tf.int32), 0, n)
    ep = tf.clip_by_value(tf.cast(tf.reshape(end_positions, [-1]), tf.int32), 0, n)
    # positions outside the sequence are ignored, as in transformers (ignore_index = seq len)
    sp = tf.where(sp == n, -100, sp)
    ep = tf.where(ep == n, -100, ep)
    return (masked_sparse_ce(sp, start_logits) + masked_sparse_ce(ep, end_logits)) / 2.0


def causal_lm_loss(labels, logits, ignore_index=-100):
    """Next-token cross entropy: logits at t predict labels at t + 1."""
    return masked_sparse_ce(labels[:, 1:], logits[:, :-1], ignore_index)
