"""ViLT (Kim et al., 2021): text tokens and image patches in one pre-LayerNorm transformer.

The text side is BERT's embeddings (word, position, token type, LayerNorm); the image side is
ViT's patches with a class token, whose learned position grid is resized (bilinear,
``align_corners=True``) to each image's valid patch area and zero elsewhere; a modality
embedding (0 text, 1 image) is added to both. ``pixel_mask`` marks each image's valid pixels
(the processor pads a batch of images to one size); it is taken to the patch grid by nearest
sampling, as transformers does. The layers are :class:`tfhf.layers.vision.ViTLayer` s, then a
LayerNorm and BERT's tanh pooler over the first (text ``[CLS]``) token.

transformers gathers the valid patches of each image, in a random order for the images that
fill the largest area, and pads with randomly chosen masked patches; tfhf keeps every patch in
place with its mask. Attention ignores masked tokens and does not depend on the order, so the
logits, the pooled output and the text positions' states are the same; only the image
positions of ``last_hidden_state`` come in grid order. ``config.max_image_length`` > 0 (a
random subset of the patches in transformers) is not applied: every valid patch is kept.
"""

from __future__ import annotations

import tensorflow as tf
from transformers import ViltConfig

from ..._keras import keras, register_serializable
from ...errors import InvalidInputError
from ...layers import Dense, Embedding, LayerNorm, Pooler, TextEmbeddings, get_activation
from ...layers.attention import attention_bias_from_mask
from ...layers.core import build_sublayers
from ...layers.specs import ViTSpec
from ...layers.vision import ViTEmbeddings, vit_encoder
from ... import outputs
from ..base import TFPreTrainedModel
from ..inputs import check_token_ids, check_token_type_ids
from . import convert


def vilt_spec(config) -> ViTSpec:
    return ViTSpec(hidden_size=config.hidden_size, num_layers=config.num_hidden_layers,
                   num_heads=config.num_attention_heads,
                   intermediate_size=config.intermediate_size, image_size=config.image_size,
                   patch_size=config.patch_size, num_channels=config.num_channels,
                   activation=config.hidden_act, layer_norm_eps=config.layer_norm_eps,
                   patch_bias=True, param_rank=3, init_std=config.initializer_range,
                   attention_dropout=config.attention_probs_dropout_prob,
                   hidden_dropout=config.hidden_dropout_prob)


def nearest_indices(out_len, in_len):
    """PyTorch's ``interpolate(mode="nearest")`` source index of each output index."""
    scale = tf.cast(in_len, tf.float32) / tf.cast(out_len, tf.float32)
    src = tf.cast(tf.floor(tf.cast(tf.range(out_len), tf.float32) * scale), tf.int32)
    return tf.minimum(src, in_len - 1)


def bilinear_weights(valid, out_len, in_len):
    """(batch, out_len, in_len) matrices resizing ``in_len`` positions onto the first
    ``valid[b]`` of ``out_len`` (bilinear, ``align_corners=True``), zero rows after them."""
    n = tf.cast(valid, tf.float32)[:, None]
    i = tf.cast(tf.range(out_len), tf.float32)[None, :]
    scale = tf.where(n > 1, (in_len - 1) / tf.maximum(n - 1, 1.0), 0.0)
    src = i * scale
    lo = tf.minimum(tf.cast(tf.floor(src), tf.int32), in_len - 1)
    hi = tf.minimum(lo + 1, in_len - 1)
    frac = (src - tf.cast(lo, tf.float32))[..., None]
    w = tf.one_hot(lo, in_len) * (1.0 - frac) + tf.one_hot(hi, in_len) * frac
    return w * tf.cast(i < n, tf.float32)[..., None]


@register_serializable()
class ViltMainLayer(keras.layers.Layer):
    """Text embeddings + image patches -> ViT layers -> LayerNorm [-> pooler]."""

    def __init__(self, config, with_pooler=True, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        spec = self.spec = vilt_spec(config)
        d, std = config.hidden_size, config.initializer_range
        self.text_embeddings = TextEmbeddings(
            config.vocab_size, d, config.max_position_embeddings, config.type_vocab_size,
            config.layer_norm_eps, config.hidden_dropout_prob, std, name="text_embeddings")
        self.patches = ViTEmbeddings(spec, name="patches")
        self.modality_embeddings = Embedding(config.modality_type_vocab_size, d, std,
                                             name="modality_embeddings")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)
        self.encoder = vit_encoder(spec)
        self.final_norm = LayerNorm(d, config.layer_norm_eps, name="final_norm")
        self.pooler = Pooler(d, std, name="pooler") if with_pooler else None

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict(),
                "with_pooler": self.pooler is not None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(ViltConfig.from_dict(config.pop("config")), **config)

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def visual_embed(self, pixel_values, pixel_mask, training=False):
        """-> (batch, 1 + patches, hidden) image tokens and their (batch, 1 + patches) mask."""
        grid = self.patches.patch_embedding.grid(pixel_values)  # (b, gh, gw, d)
        gh, gw, d = grid.shape[1], grid.shape[2], self.spec.hidden_size
        size = tf.shape(pixel_mask)
        mask = tf.gather(tf.gather(pixel_mask, nearest_indices(gh, size[1]), axis=1),
                         nearest_indices(gw, size[2]), axis=2)
        rows = tf.reduce_sum(mask[:, :, 0], axis=1)
        cols = tf.reduce_sum(mask[:, 0, :], axis=1)
        table = tf.cast(self.patches.positions(), tf.float32)
        side = self.spec.grid
        spatial = tf.reshape(table[1:], [side, side, d])
        pos = tf.einsum("bip,pqd,bjq->bijd", bilinear_weights(rows, gh, side), spatial,
                        bilinear_weights(cols, gw, side))
        x = grid + tf.cast(pos, grid.dtype)
        x = tf.reshape(x, [tf.shape(x)[0], gh * gw, d])
        cls = tf.cast(tf.reshape(self.patches.class_embedding, [1, 1, d]) + table[0], x.dtype)
        x = tf.concat([tf.tile(cls, [tf.shape(x)[0], 1, 1]), x], axis=1)
        mask = tf.concat([tf.ones_like(mask[:, :1, 0]), tf.reshape(mask, [-1, gh * gw])], axis=1)
        return self.dropout(x, training=training), mask

    def call(self, input_ids, attention_mask, token_type_ids, pixel_values, pixel_mask,
             output_hidden_states=False, output_attentions=False, training=False):
        text = self.text_embeddings(input_ids, token_type_ids=token_type_ids, training=training)
        text = text + self.modality_embeddings(tf.zeros_like(attention_mask))
        image, image_mask = self.visual_embed(pixel_values, pixel_mask, training)
        image = image + self.modality_embeddings(tf.ones_like(image_mask))
        x = tf.concat([text, tf.cast(image, text.dtype)], axis=1)
        bias = attention_bias_from_mask(tf.concat([attention_mask, image_mask], axis=1))
        x, hidden, attns = self.encoder(x, bias=bias, output_hidden_states=output_hidden_states,
                                        output_attentions=output_attentions, training=training)
        x = self.final_norm(x)
        pooled = self.pooler(x) if self.pooler is not None else None
        return x, pooled, hidden, attns


@register_serializable()
class ViltVQAHead(keras.layers.Layer):
    """dense (hidden -> 2 * hidden) -> LayerNorm -> GELU -> dense (-> num_labels)."""

    def __init__(self, hidden_size, num_labels, init_std=0.02, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(hidden_size, 2 * hidden_size, init_std=init_std, name="dense")
        self.norm = LayerNorm(2 * hidden_size, 1e-5, name="norm")
        self.act = get_activation("gelu")
        self.out = Dense(2 * hidden_size, num_labels, init_std=init_std, name="out")

    def build(self, input_shape=None):
        build_sublayers(self)
        self.built = True

    def call(self, pooled):
        return self.out(self.act(self.norm(self.dense(pooled))))


class TFViltPreTrainedModel(TFPreTrainedModel):
    config_class = ViltConfig
    base_model_prefix = "vilt"
    converter = convert
    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "pixel_values",
                         "pixel_mask")

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.vilt = ViltMainLayer(config, with_pooler=True, name="vilt")

    def _uses_pooler(self):
        return True

    def get_input_embeddings(self):
        return self.vilt.text_embeddings.word_embeddings

    def _run(self, input_ids, kwargs, output_hidden_states, output_attentions, training):
        input_ids, kw = self._unpack(input_ids, kwargs)
        labels = kw.pop("labels", None)
        unknown = sorted(k for k, v in kw.items()
                         if v is not None and k not in self.model_input_names)
        if unknown:
            raise InvalidInputError(f"{type(self).__name__} got unexpected inputs {unknown}; it "
                                    f"accepts {list(self.model_input_names)} (and labels).")
        if input_ids is None or kw.get("pixel_values") is None:
            raise InvalidInputError(f"{type(self).__name__} needs input_ids and pixel_values "
                                    "(a ViltProcessor's output).")
        c = self.config
        ids = tf.cast(check_token_ids(input_ids, c.vocab_size, max_length=c.max_position_embeddings,
                                      length_note=". Truncate the question."), tf.int32)
        mask = kw.get("attention_mask")
        mask = tf.ones_like(ids) if mask is None else tf.cast(mask, tf.int32)
        types = kw.get("token_type_ids")
        if types is not None:
            types = check_token_type_ids(types, c.type_vocab_size)
        px = tf.convert_to_tensor(kw["pixel_values"])
        if px.shape.rank != 4 or px.shape[1] != c.num_channels or not px.dtype.is_floating:
            raise InvalidInputError(f"pixel_values must be floats of shape (batch, "
                                    f"{c.num_channels}, height, width); got {px.dtype.name} "
                                    f"{tuple(px.shape)}.")
        pmask = kw.get("pixel_mask")
        if pmask is None:
            shape = tf.shape(px)
            pmask = tf.ones([shape[0], shape[2], shape[3]], tf.int32)
        pmask = tf.cast(pmask, tf.int32)
        hs = c.output_hidden_states if output_hidden_states is None else output_hidden_states
        att = c.output_attentions if output_attentions is None else output_attentions
        return (*self.vilt(ids, mask, types, px, pmask, output_hidden_states=bool(hs),
                           output_attentions=bool(att), training=training), labels)


class TFViltModel(TFViltPreTrainedModel):
    hf_architecture = "ViltModel"

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, pixel_values=None,
             pixel_mask=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False):
        x, pooled, hidden, attns, _ = self._run(
            input_ids, dict(attention_mask=attention_mask, token_type_ids=token_type_ids,
                            pixel_values=pixel_values, pixel_mask=pixel_mask),
            output_hidden_states, output_attentions, training)
        return self._finish(outputs.TFBaseModelOutputWithPooling(
            last_hidden_state=x, pooler_output=pooled, hidden_states=hidden, attentions=attns),
            return_dict)


class TFViltForQuestionAnswering(TFViltPreTrainedModel):
    """VQA as multi-label classification over ``config.id2label`` answers; ``labels`` are
    soft scores (batch, num_labels) and the loss is transformers' BCE x num_labels."""

    hf_architecture = "ViltForQuestionAnswering"
    task = "visual_question_answering"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.classifier = ViltVQAHead(config.hidden_size, config.num_labels,
                                      config.initializer_range, name="classifier")

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, pixel_values=None,
             pixel_mask=None, labels=None, output_hidden_states=None, output_attentions=None,
             return_dict=None, training=False):
        _, pooled, hidden, attns, labels = self._run(
            input_ids, dict(attention_mask=attention_mask, token_type_ids=token_type_ids,
                            pixel_values=pixel_values, pixel_mask=pixel_mask, labels=labels),
            output_hidden_states, output_attentions, training)
        logits = tf.cast(self.classifier(pooled), tf.float32)
        loss = None
        if labels is not None:
            labels = tf.cast(labels, tf.float32)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits)) * \
                tf.cast(tf.shape(labels)[1], tf.float32)
        return self._finish(outputs.TFSequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=hidden, attentions=attns), return_dict)
