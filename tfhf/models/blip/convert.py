"""BLIP: HF weight names -> tfhf attribute paths (relative to the model).

The vision encoder's layers are ViT layers with one fused ``qkv`` projection; the text
decoder's layers are BERT layers with cross-attention, mapped onto the post-norm
encoder-decoder block of :mod:`tfhf.layers.seq2seq`.
"""


def _pair(hf, tf, dense=True):
    leaf = "kernel" if dense else "weight"
    return {f"{hf}.weight": f"{tf}.{leaf}", f"{hf}.bias": f"{tf}.bias"}


def vision_weights(num_layers, prefix="vision_model.", target="model.vision_model."):
    t = {f"{prefix}embeddings.class_embedding": f"{target}embeddings.class_embedding",
         f"{prefix}embeddings.position_embedding": f"{target}embeddings.position_embedding",
         **_pair(f"{prefix}embeddings.patch_embedding", f"{target}embeddings.patch_embedding",
                 dense=False),
         **_pair(f"{prefix}post_layernorm", f"{target}post_norm", dense=False)}
    for i in range(num_layers):
        hf, tf = f"{prefix}encoder.layers.{i}.", f"{target}encoder.blocks.{i}."
        for name, path in [("self_attn.qkv", "attention.qkv"),
                           ("self_attn.projection", "attention.out"),
                           ("mlp.fc1", "mlp.up"), ("mlp.fc2", "mlp.down")]:
            t.update(_pair(hf + name, tf + path))
        for name, path in [("layer_norm1", "norm1"), ("layer_norm2", "norm2")]:
            t.update(_pair(hf + name, tf + path, dense=False))
    return t


def text_decoder_weights(num_layers, prefix="text_decoder."):
    bert = f"{prefix}bert."
    t = {f"{bert}embeddings.word_embeddings.weight": "model.shared.embeddings",
         f"{bert}embeddings.position_embeddings.weight":
             "model.decoder.embed_positions.embeddings",
         **_pair(f"{bert}embeddings.LayerNorm", "model.decoder.embedding_norm", dense=False)}
    for i in range(num_layers):
        hf, tf = f"{bert}encoder.layer.{i}.", f"model.decoder.blocks.{i}."
        for part, attn in (("attention", "self_attn"), ("crossattention", "cross_attn")):
            for name, path in [("self.query", "q_proj"), ("self.key", "k_proj"),
                               ("self.value", "v_proj"), ("output.dense", "o_proj")]:
                t.update(_pair(f"{hf}{part}.{name}", f"{tf}{attn}.{path}"))
            t.update(_pair(f"{hf}{part}.output.LayerNorm", f"{tf}{attn}_norm", dense=False))
        t.update(_pair(f"{hf}intermediate.dense", f"{tf}ffn.fc1"))
        t.update(_pair(f"{hf}output.dense", f"{tf}ffn.fc2"))
        t.update(_pair(f"{hf}output.LayerNorm", f"{tf}ffn_norm", dense=False))
    head = f"{prefix}cls.predictions."
    t.update({f"{head}bias": "mlm.bias", **_pair(f"{head}transform.dense", "mlm.dense"),
              **_pair(f"{head}transform.LayerNorm", "mlm.norm", dense=False)})
    return t


def weights(config):
    t = vision_weights(config.vision_config.num_hidden_layers)
    t.update(text_decoder_weights(config.text_config.num_hidden_layers))
    return t


# the LM head's output layer is the word embeddings (and its bias cls.predictions.bias)
TIED_KEYS = ("text_decoder.cls.predictions.decoder.weight",
             "text_decoder.cls.predictions.decoder.bias")
