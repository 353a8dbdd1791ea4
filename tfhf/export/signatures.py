"""The ``tf.Module``s whose functions become the SavedModel's signatures (encoder tasks).

Every task has two signatures with the same outputs:

* ``serving_default``: ``text`` (tf.string [batch]) -> outputs, tokenized in the graph by
  :class:`tfhf.export.tokenization.WordPieceEncoder` (present when a tokenizer was given);
* ``predict_ids``: ``input_ids`` / ``attention_mask`` (+ ``token_type_ids`` for models with
  token types), int32 [batch, length] -> outputs. Without a tokenizer this is also
  ``serving_default``.
"""

from __future__ import annotations

import tensorflow as tf

IDS = tf.TensorSpec([None, None], tf.int32)
TEXT = tf.TensorSpec([None], tf.string, name="text")


def function_to_apply(config):
    """transformers' text-classification default: sigmoid / softmax / none."""
    problem = getattr(config, "problem_type", None)
    if problem == "regression":
        return "none"
    if problem == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


def labels_of(config):
    id2label = getattr(config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}")))
            for i in range(config.num_labels)]


def track_model(module, model):
    """Track ``model``'s variables on ``module`` (so the SavedModel holds them) without
    making the Keras model itself a child: saving a Keras object would also trace and save
    its Keras-specific functions (Keras 3's default signature, tf_keras's per-layer call
    functions), which the signatures here do not need."""
    # Keras 3 variables wrap a tf.Variable (``_value``); the TF1-style loader TF Serving and
    # saved_model_cli use restores only variables saved as plain tf.Variables
    module.model_variables = [getattr(v, "_value", v) for v in model.variables]
    object.__setattr__(module, "_model_ref", [model])


class _EncoderServing(tf.Module):
    """Holds the Keras model (its variables) and the optional in-graph tokenizer."""

    def __init__(self, model, encoder=None, token_types=False, max_positions=None):
        super().__init__(name="tfhf_serving")
        track_model(self, model)
        self.encoder = encoder
        self.token_types = bool(token_types)
        self.max_positions = max_positions

    @property
    def model(self):
        return self._model_ref[0]

    # -------------------------------------------------------------- shared
    def _check_ids(self, input_ids, attention_mask, token_type_ids=None):
        checks = [tf.debugging.assert_equal(
            tf.shape(attention_mask), tf.shape(input_ids),
            message="attention_mask must have the shape of input_ids")]
        if token_type_ids is not None:
            checks.append(tf.debugging.assert_equal(
                tf.shape(token_type_ids), tf.shape(input_ids),
                message="token_type_ids must have the shape of input_ids"))
        if self.max_positions is not None:
            checks.append(tf.debugging.assert_less_equal(
                tf.shape(input_ids)[1], self.max_positions,
                message=f"sequences longer than the model's {self.max_positions} positions: "
                        "truncate the input"))
        with tf.control_dependencies(checks):
            return tf.identity(input_ids)

    def _model_inputs(self, input_ids, attention_mask, token_type_ids):
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.token_types:
            inputs["token_type_ids"] = token_type_ids
        return inputs

    def outputs(self, input_ids, attention_mask, token_type_ids):  # pragma: no cover
        raise NotImplementedError

    def _from_text(self, text):
        input_ids, attention_mask, token_type_ids = self.encoder.encode(text)
        return self.outputs(input_ids, attention_mask, token_type_ids)

    def _from_ids(self, input_ids, attention_mask, token_type_ids=None):
        input_ids = self._check_ids(input_ids, attention_mask, token_type_ids)
        if token_type_ids is None:
            token_type_ids = tf.zeros_like(input_ids)
        return self.outputs(input_ids, attention_mask, token_type_ids)

    def signatures(self):
        if self.token_types:
            ids_fn = tf.function(
                lambda input_ids, attention_mask, token_type_ids: self._from_ids(
                    input_ids, attention_mask, token_type_ids),
                input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                                 tf.TensorSpec([None, None], tf.int32, name="attention_mask"),
                                 tf.TensorSpec([None, None], tf.int32, name="token_type_ids")])
        else:
            ids_fn = tf.function(
                lambda input_ids, attention_mask: self._from_ids(input_ids, attention_mask),
                input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                                 tf.TensorSpec([None, None], tf.int32, name="attention_mask")])
        ids_cf = ids_fn.get_concrete_function()
        out = {"predict_ids": ids_cf}
        if self.encoder is not None:
            text_fn = tf.function(lambda text: self._from_text(text), input_signature=[TEXT])
            out["serving_default"] = text_fn.get_concrete_function()
        else:
            out["serving_default"] = ids_cf
        return out


class TextClassificationServing(_EncoderServing):
    def __init__(self, model, encoder=None, token_types=False, max_positions=None):
        super().__init__(model, encoder, token_types, max_positions)
        self.function = function_to_apply(model.config)
        self.labels = tf.constant(labels_of(model.config))

    def outputs(self, input_ids, attention_mask, token_type_ids):
        out = self.model(self._model_inputs(input_ids, attention_mask, token_type_ids),
                         training=False)
        logits = tf.cast(out.logits, tf.float32)
        if self.function == "softmax":
            probs = tf.nn.softmax(logits, axis=-1)
        elif self.function == "sigmoid":
            probs = tf.sigmoid(logits)
        else:
            probs = logits
        best = tf.argmax(probs, axis=-1, output_type=tf.int32)
        return {"logits": logits, "probabilities": probs,
                "label": tf.gather(self.labels, best), "score": tf.reduce_max(probs, axis=-1)}


class TokenClassificationServing(_EncoderServing):
    """Per-token logits, softmax probabilities, label and score, plus the ids, masks and
    (with a tokenizer) the WordPiece strings, so clients can group tokens into entities."""

    def __init__(self, model, encoder=None, token_types=False, max_positions=None,
                 special_ids=(), id_to_token=None):
        super().__init__(model, encoder, token_types, max_positions)
        self.labels = tf.constant(labels_of(model.config))
        self.special_ids = tf.constant(sorted(set(int(i) for i in special_ids)) or [-1],
                                       tf.int32)
        self.id_to_token = id_to_token

    def outputs(self, input_ids, attention_mask, token_type_ids):
        out = self.model(self._model_inputs(input_ids, attention_mask, token_type_ids),
                         training=False)
        logits = tf.cast(out.logits, tf.float32)
        probs = tf.nn.softmax(logits, axis=-1)
        best = tf.argmax(probs, axis=-1, output_type=tf.int32)
        special = tf.reduce_any(input_ids[..., None] == self.special_ids, axis=-1)
        result = {"logits": logits, "probabilities": probs, "label": tf.gather(self.labels, best),
                  "score": tf.reduce_max(probs, axis=-1), "input_ids": input_ids,
                  "attention_mask": attention_mask,
                  "special_tokens_mask": tf.cast(special | (attention_mask == 0), tf.int32)}
        if self.id_to_token is not None:
            result["tokens"] = self.id_to_token.lookup(tf.cast(input_ids, tf.int64))
        return result


class FeatureExtractionServing(_EncoderServing):
    """``embedding`` [batch, hidden]: pooled over the attention mask (``pooling``: mean, cls,
    max, mean_sqrt_len), L2-normalized when ``normalize``. With ``token_outputs`` also the
    token-level ``last_hidden_state`` and ``attention_mask``."""

    def __init__(self, model, encoder=None, token_types=False, max_positions=None,
                 pooling="mean", normalize=False, token_outputs=True):
        super().__init__(model, encoder, token_types, max_positions)
        self.pooling, self.normalize, self.token_outputs = pooling, bool(normalize), token_outputs

    def outputs(self, input_ids, attention_mask, token_type_ids):
        out = self.model(self._model_inputs(input_ids, attention_mask, token_type_ids),
                         training=False)
        hidden = tf.cast(out.last_hidden_state, tf.float32)
        emb = pool(hidden, attention_mask, self.pooling)
        if self.normalize:
            emb = tf.math.l2_normalize(emb, axis=-1, epsilon=1e-24)
        result = {"embedding": emb}
        if self.token_outputs:
            result["last_hidden_state"] = hidden
            result["attention_mask"] = attention_mask
        return result


POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")


def pool(hidden, attention_mask, mode):
    """sentence-transformers' Pooling modes over a (batch, length, hidden) tensor."""
    m = tf.cast(attention_mask, hidden.dtype)[..., None]
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return tf.reduce_max(tf.where(m > 0, hidden, tf.constant(-1e9, hidden.dtype)), axis=1)
    summed = tf.reduce_sum(hidden * m, axis=1)
    count = tf.maximum(tf.reduce_sum(m, axis=1), 1e-9)
    if mode == "mean_sqrt_len":
        return summed / tf.sqrt(count)
    return summed / count
