"""CLIPSeg: HF weight names -> tfhf attribute paths.

The CLIP towers, projections and ``logit_scale`` carry CLIP's names under ``clip.``
(:func:`tfhf.models.clip.convert.base_weights`); the decoder's post-norm layers are
:class:`tfhf.layers.EncoderBlock` s.
"""

from ..clip.convert import LAYER_DENSES, LAYER_NORMS, base_weights  # noqa: F401
from ..weights import encoder_layer_table


def _pair(hf, tf, dense=True):
    return {f"{hf}.weight": f"{tf}.{'kernel' if dense else 'weight'}", f"{hf}.bias": f"{tf}.bias"}


def decoder_weights(config):
    n = len(config.extract_layers)
    t = {**_pair("decoder.film_mul", "decoder.film_mul"),
         **_pair("decoder.film_add", "decoder.film_add")}
    for i in range(n):
        t.update(_pair(f"decoder.reduces.{i}", f"decoder.reduces.{i}"))
    layers = encoder_layer_table("decoder.layers", n, LAYER_DENSES, [
        ("layer_norm1", "attention_norm"), ("layer_norm2", "output_norm")])
    t.update({k: v.replace("encoder.blocks.", "decoder.layers.")
              .replace(".mlp.up", ".ffn.up").replace(".mlp.down", ".ffn.down")
              for k, v in layers.items()})
    conv = "decoder.transposed_convolution"
    if config.use_complex_transposed_convolution:
        for hf, tf in (("0", "conv"), ("2", "up1"), ("4", "up2")):
            t.update(_pair(f"{conv}.{hf}", f"{conv}.{tf}", dense=False))
    else:
        t.update(_pair(conv, f"{conv}.up1", dense=False))
    return t


def head_weights(task, config):
    return decoder_weights(config)
