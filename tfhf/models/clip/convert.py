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



class LegacyTFNames:
    """A checkpoint seen with transformers 4.x TF CLIP's names made PyTorch's.

    ``TFCLIPModel`` / ``TFCLIPTextModel`` / ``TFCLIPVisionModel`` kept everything under a main
    layer named ``clip`` (``tf_model.h5`` names ``clip/text_model/...``, read as
    ``clip.text_model...``) and stored ``logit_scale`` with shape (1,) where PyTorch's is a
    scalar. PyTorch CLIP checkpoints have neither, so they pass through unchanged.
    """

    def __init__(self, state):
        self._state = state
        self._names = {}
        for key in state.keys():
            name = key[len("clip."):] if key.startswith("clip.") else key
            self._names.setdefault(name, key)

    def keys(self):
        return list(self._names)

    def __contains__(self, name):
        return name in self._names

    def get(self, name):
        key = self._names[name]
        array = self._state[key] if isinstance(self._state, dict) else self._state.get(key)
        if name == "logit_scale" and getattr(array, "shape", None) == (1,):
            array = array.reshape(())
        return array

    __getitem__ = get

    def close(self):
        if hasattr(self._state, "close"):
            self._state.close()
