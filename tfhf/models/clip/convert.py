"""CLIP: HF weight names -> tfhf attribute paths (relative to the model's ``clip`` layer).

CLIPSeg's towers carry the same names under its ``clip.`` prefix, so its table starts from
:func:`base_weights`.
"""

from ..weights import encoder_layer_table

# one CLIP encoder layer: HF module -> ViTLayer attribute
LAYER_DENSES = [("self_attn.q_proj", "attention.query"), ("self_attn.k_proj", "attention.key"),
                ("self_attn.v_proj", "attention.value"), ("self_attn.out_proj", "attention.out"),
                ("mlp.fc1", "mlp.up"), ("mlp.fc2", "mlp.down")]
LAYER_NORMS = [("layer_norm1", "norm1"), ("layer_norm2", "norm2")]


def _norm(hf, tf):
    return {f"{hf}.weight": f"{tf}.weight", f"{hf}.bias": f"{tf}.bias"}


def text_weights(num_layers):
    """The text tower: HF names below ``text_model.`` -> paths below the tower."""
    t = {"embeddings.token_embedding.weight": "token_embedding.embeddings",
         "embeddings.position_embedding.weight": "position_embedding.embeddings",
         **_norm("final_layer_norm", "final_norm")}
    t.update(encoder_layer_table("encoder.layers", num_layers, LAYER_DENSES, LAYER_NORMS))
    return t


def vision_weights(num_layers):
    """The vision tower: HF names below ``vision_model.`` -> paths below the tower."""
    t = {"embeddings.class_embedding": "embeddings.class_embedding",
         "embeddings.patch_embedding.weight": "embeddings.patch_embedding.weight",
         "embeddings.position_embedding.weight": "embeddings.position_embedding",
         **_norm("pre_layrnorm", "pre_norm"), **_norm("post_layernorm", "post_norm")}
    t.update(encoder_layer_table("encoder.layers", num_layers, LAYER_DENSES, LAYER_NORMS))
    return t


def prefixed(table, hf_prefix, tf_prefix):
    return {f"{hf_prefix}{k}": f"{tf_prefix}{v}" for k, v in table.items()}


def base_weights(config, with_pooler=False):
    """``TFCLIPModel``: both towers, the two projections and ``logit_scale``."""
    t = prefixed(text_weights(config.text_config.num_hidden_layers), "text_model.",
                 "text_model.")
    t.update(prefixed(vision_weights(config.vision_config.num_hidden_layers), "vision_model.",
                      "vision_model."))
    t.update({"visual_projection.weight": "visual_projection.kernel",
              "text_projection.weight": "text_projection.kernel",
              "logit_scale": "logit_scale"})
    return t

