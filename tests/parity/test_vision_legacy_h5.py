"""Legacy ``tf_model.h5`` of the vision-language families transformers 4.x had a TF class for
(TFBlipForConditionalGeneration, TFCLIPModel, TFCLIPTextModel, TFCLIPVisionModel).

The files are written the way those classes saved them (Keras 2 ``save_weights`` in HDF5, the
weights named by the TF classes' name scopes: ``layers_._0``, ``gamma``/``beta``, Keras
``Embedding``'s ``embeddings``, ``Dense`` kernels (in, out), ``Conv2D`` patch kernels
(height, width, in, out), CLIP's main layer ``clip`` and its (1,)-shaped ``logit_scale``),
independently of tfhf's reader, from a tiny random PyTorch model; tfhf loads every weight
from them (nothing missing, nothing unexpected) and gives PyTorch's outputs.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")
h5py = pytest.importorskip("h5py")

import tfhf  # noqa: E402
from vision_configs import blip_config, clip_config, pixels, text_batch, torch_model  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "hub"))
from test_hub_formats import save_attributes_to_hdf5_group  # noqa: E402

ATOL = 1e-4
NORMS = {"LayerNorm", "layer_norm1", "layer_norm2", "pre_layrnorm", "post_layernorm",
         "final_layer_norm"}


def tf_weight(pt_name, value):
    """(TF weight name without the model level, value in Keras' layout) of a PyTorch
    BLIP / CLIP parameter, as transformers 4.x's TF classes named and stored it."""
    parts = pt_name.split(".")
    path, i = [], 0
    while i < len(parts) - 1:
        if parts[i] in ("layers", "layer") and parts[i + 1].isdigit():
            path.append(f"{parts[i]}_._{parts[i + 1]}")  # encoder.layers.0 -> layers_._0
            i += 2
        else:
            path.append(parts[i])
            i += 1
    leaf, owner = parts[-1], (parts[-2] if len(parts) > 1 else "")
    if owner in NORMS:  # keras.layers.LayerNormalization
        leaf = {"weight": "gamma", "bias": "beta"}[leaf]
    elif owner in ("word_embeddings", "position_embeddings"):  # keras.layers.Embedding
        leaf = "embeddings"
    elif owner == "token_embedding":  # add_weight(name="weight") in a name scope
        leaf = "weight"
    elif owner == "position_embedding" and leaf == "weight":  # CLIP: name="embeddings"
        leaf = "embeddings"
    elif leaf == "weight" and value.ndim == 4:  # keras.layers.Conv2D
        leaf, value = "kernel", value.transpose(2, 3, 1, 0)
    elif leaf == "weight" and value.ndim == 2:  # keras.layers.Dense
        leaf, value = "kernel", value.T
    if pt_name.endswith("logit_scale"):
        value = value.reshape(1)  # TFCLIPMainLayer: add_weight(shape=(1,))
    return "/".join(path + [leaf]) + ":0", np.ascontiguousarray(value)


def write_legacy_h5(folder, pt, model_name, main_layer=None):
    """``folder/tf_model.h5`` + the PyTorch config. ``main_layer``: the one top-level layer
    holding every weight (CLIP's ``clip``); else each weight's first level is its layer."""
    groups = {}
    for pt_name, value in pt.state_dict().items():
        if pt_name.endswith("position_ids") or pt_name.endswith("predictions.decoder.bias"):
            continue  # buffers; BLIP's TF decoder Dense has no bias (predictions.bias is it)
        name, value = tf_weight(pt_name, value.detach().numpy())
        if main_layer:
            name = f"{main_layer}/{name}"
        layer = name.split("/")[0]
        groups.setdefault(layer, []).append((f"{model_name}/{name}", value))
    os.makedirs(folder, exist_ok=True)
    with h5py.File(os.path.join(folder, "tf_model.h5"), "w") as f:
        save_attributes_to_hdf5_group(f, "layer_names", [n.encode() for n in groups])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for layer, weights in groups.items():
            g = f.create_group(layer)
            save_attributes_to_hdf5_group(g, "weight_names", [n.encode() for n, _ in weights])
            for name, value in weights:
                g.create_dataset(name, data=value)
    pt.config.to_json_file(os.path.join(folder, "config.json"))
    return str(folder)


def load(cls, folder):
    model, info = cls.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert not os.path.exists(os.path.join(folder, "model.safetensors"))
    return model


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL)


def test_blip_for_conditional_generation(tmp_path):
    pt = torch_model("BlipForConditionalGeneration", blip_config())
    folder = write_legacy_h5(tmp_path / "blip", pt, "tf_blip_for_conditional_generation")
    with h5py.File(os.path.join(folder, "tf_model.h5"), "r") as f:
        assert sorted(str(n, "utf8") if isinstance(n, bytes) else n
                      for n in f.attrs["layer_names"]) == ["text_decoder", "vision_model"]
        assert (f"tf_blip_for_conditional_generation/vision_model/embeddings/patch_embedding/"
                f"kernel:0") in f["vision_model"]
    model = load(tfhf.TFAutoModelForVision2Seq, folder)
    ids, mask = text_batch(eos=98, pad=0, low=3, high=97)
    ids[:, 0] = 97
    px = pixels(2)
    with torch.no_grad():
        ref = pt(pixel_values=torch.tensor(px), input_ids=torch.tensor(ids, dtype=torch.long),
                 attention_mask=torch.tensor(mask, dtype=torch.long))
    out = model(pixel_values=px, input_ids=ids, attention_mask=mask)
    close(out.image_embeds, ref.image_embeds.numpy())
    real = mask.astype(bool)
    close(out.logits.numpy()[real], ref.logits.numpy()[real])


def test_clip_model_text_and_vision_towers(tmp_path):
    config = clip_config()
    ids, mask = text_batch()
    px = pixels(2)
    pt = torch_model("CLIPModel", config)
    with torch.no_grad():
        pt.logit_scale.fill_(1.5)  # not the initial value, so loading it is checked
        ref = pt(input_ids=torch.tensor(ids, dtype=torch.long), pixel_values=torch.tensor(px),
                 attention_mask=torch.tensor(mask, dtype=torch.long))
    model = load(tfhf.TFCLIPModel,
                 write_legacy_h5(tmp_path / "clip", pt, "tf_clip_model", main_layer="clip"))
    assert float(model.clip.logit_scale.numpy()) == 1.5
    out = model(input_ids=ids, attention_mask=mask, pixel_values=px)
    for name in ("logits_per_image", "text_embeds", "image_embeds"):
        close(out[name], ref[name].numpy())

    vision_pt = torch_model("CLIPVisionModel", config.vision_config, seed=1)
    vision = load(tfhf.TFAutoModel, write_legacy_h5(tmp_path / "vision", vision_pt,
                                                   "tf_clip_vision_model", main_layer="clip"))
    assert type(vision).__name__ == "TFCLIPVisionModel"
    with torch.no_grad():
        ref = vision_pt(pixel_values=torch.tensor(px))
    close(vision(pixel_values=px).pooler_output, ref.pooler_output.numpy())

    text_pt = torch_model("CLIPTextModel", config.text_config, seed=2)
    text = load(tfhf.TFCLIPTextModel, write_legacy_h5(tmp_path / "text", text_pt,
                                                      "tf_clip_text_model", main_layer="clip"))
    with torch.no_grad():
        ref = text_pt(input_ids=torch.tensor(ids, dtype=torch.long),
                      attention_mask=torch.tensor(mask, dtype=torch.long))
    close(text(input_ids=ids, attention_mask=mask).pooler_output, ref.pooler_output.numpy())
