"""A tiny causal LM implementing the generation contract (docs/generation-design.md).

Embedding + learned positions, one multi-head attention layer with a static KV cache written
in place (XLA dynamic-update-slice), a tanh MLP and an LM head. Its ``forward_with_cache``
computes exactly what its plain ``call`` computes (tested in test_toy_lm.py), so the loop is
tested against an honest model until the real decoder families land.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla
from transformers import LlamaConfig

from tfhf._keras import keras
from tfhf.generation import GenerationMixin

MASK_VALUE = -1e9


def toy_config(**kwargs):
    values = dict(vocab_size=64, hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
                  num_hidden_layers=1, intermediate_size=64, max_position_embeddings=128,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(kwargs)
    return LlamaConfig(**values)


class ToyCausalLM(GenerationMixin, keras.Model):
    def __init__(self, config, seed=0, **kwargs):
        super().__init__(name=kwargs.pop("name", "toy_lm"), **kwargs)
        self.config = config
        V, D = config.vocab_size, config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = D // self.num_heads
        r = np.random.RandomState(seed)

        def w(*shape, std):
            return tf.Variable(r.normal(0.0, std, shape).astype(np.float32), trainable=False)

        self.tok_emb = w(V, D, std=1.0)
        self.pos_emb = w(config.max_position_embeddings, D, std=0.5)
        self.wq, self.wk, self.wv, self.wo = (w(D, D, std=1.0 / math.sqrt(D)) for _ in range(4))
        self.w1 = w(D, config.intermediate_size, std=1.0 / math.sqrt(D))
        self.w2 = w(config.intermediate_size, D, std=1.0 / math.sqrt(config.intermediate_size))
        self.lm_head = w(D, V, std=2.0 / math.sqrt(D))

    # ------------------------------------------------------------------ shared math
    def _embed(self, ids, positions):
        return tf.gather(self.tok_emb, ids) + tf.gather(self.pos_emb, positions)

    def _heads(self, x, w):
        b, t = tf.shape(x)[0], tf.shape(x)[1]
        y = tf.reshape(tf.matmul(x, w), [b, t, self.num_heads, self.head_dim])
        return tf.transpose(y, [0, 2, 1, 3])

    def _finish(self, x, q, k, v, allowed):
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_dim)
        scores = tf.where(allowed[:, None], scores, MASK_VALUE)
        ctx = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
        b, t = tf.shape(x)[0], tf.shape(x)[1]
        ctx = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, t, -1])
        h = x + tf.matmul(ctx, self.wo)
        h = h + tf.matmul(tf.tanh(tf.matmul(h, self.w1)), self.w2)
        return tf.matmul(h, self.lm_head)

    # ------------------------------------------------------------------ plain forward
    def call(self, input_ids, attention_mask=None, position_ids=None):
        ids = tf.cast(input_ids, tf.int32)
        t = tf.shape(ids)[1]
        if attention_mask is None:
            attention_mask = tf.ones_like(ids)
        if position_ids is None:
            position_ids = tf.broadcast_to(tf.range(t)[None], tf.shape(ids))
        x = self._embed(ids, tf.cast(position_ids, tf.int32))
        causal = tf.range(t)[None, :] <= tf.range(t)[:, None]  # (q, k)
        allowed = causal[None] & (tf.cast(attention_mask, tf.int32) == 1)[:, None, :]
        logits = self._finish(x, self._heads(x, self.wq), self._heads(x, self.wk),
                              self._heads(x, self.wv), allowed)
        return {"logits": logits}

    # ------------------------------------------------------------------ cache contract
    def init_cache(self, batch_size, max_length):
        return tf.zeros([1, 2, batch_size, self.num_heads, max_length, self.head_dim], tf.float32)

    def forward_with_cache(self, input_ids, position_ids, attention_mask, cache, cache_index):
        ids = tf.cast(input_ids, tf.int32)
        x = self._embed(ids, tf.cast(position_ids, tf.int32))
        k_new = self._heads(x, self.wk)[None, None]
        v_new = self._heads(x, self.wv)[None, None]
        zero = tf.constant(0, tf.int32)
        index = tf.cast(cache_index, tf.int32)
        start = tf.stack([zero, zero, zero, zero, index, zero])
        cache = xla.dynamic_update_slice(cache, k_new, start)
        start_v = tf.stack([zero, tf.constant(1, tf.int32), zero, zero, index, zero])
        cache = xla.dynamic_update_slice(cache, v_new, start_v)
        k, v = cache[0, 0], cache[0, 1]
        t = tf.shape(ids)[1]
        slots = tf.range(tf.shape(cache)[4])
        q_slot = index + tf.range(t)
        allowed = (slots[None, :] <= q_slot[:, None])[None] & (
            tf.cast(attention_mask, tf.int32) == 1)[:, None, :]
        logits = self._finish(x, self._heads(x, self.wq), k, v, allowed)
        return tf.cast(logits, tf.float32), cache
