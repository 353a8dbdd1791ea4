"""VisionEncoderDecoder (Donut): HF weight names -> tfhf variables.

The encoder's names are DonutSwin's under ``encoder.``; the decoder is transformers'
``MBartForCausalLM`` under ``decoder.`` (``decoder.model.decoder.*`` and ``decoder.lm_head``),
whose rows are BART's decoder rows plus the final ``layer_norm``.
"""

from ..bart import convert as bart
from ..donut import convert as donut


def decoder_weights(config):
    """MBartForCausalLM's names (without the ``decoder.`` of the composite) -> paths
    relative to the decoder main layer."""
    rows = bart.stack_weights(config, with_decoder=True, final_norm=True)
    t = {"model.decoder.embed_tokens.weight": "shared.embeddings"}
    for hf, path in rows.items():
        if hf.startswith("decoder."):
            t[f"model.{hf}"] = path
    return t


def base_weights(config, with_decoder=True):
    """Relative to the model's main layer ``model``."""
    t = {f"encoder.{k}": f"encoder.{v}" for k, v in donut.swin_weights(config.encoder).items()}
    t.update({f"decoder.{k}": v for k, v in decoder_weights(config.decoder).items()})
    if config.encoder.hidden_size != config.decoder.d_model:
        t["enc_to_dec_proj.weight"] = "enc_to_dec_proj.kernel"
        t["enc_to_dec_proj.bias"] = "enc_to_dec_proj.bias"
    return t


def head_weights(task, config):
    return {}


def tied_keys(config):
    return {"decoder.lm_head.weight"}
