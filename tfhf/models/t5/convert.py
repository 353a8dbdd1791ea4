"""T5: HF weight names -> tfhf attribute paths (relative to the main layer / the model).

T5 checkpoints carry no backbone prefix (``shared.weight``, ``encoder.block.0...``).
"""

from ..seq2seq_classification import HEADS


def _attention(t, hf, tf):
    for name in ("q", "k", "v", "o"):
        t[f"{hf}.{name}.weight"] = f"{tf}.{name}_proj.kernel"


def _ffn(t, hf, tf, gated):
    if gated:
        t[f"{hf}.DenseReluDense.wi_0.weight"] = f"{tf}.ffn.gate.kernel"
        t[f"{hf}.DenseReluDense.wi_1.weight"] = f"{tf}.ffn.fc1.kernel"
    else:
        t[f"{hf}.DenseReluDense.wi.weight"] = f"{tf}.ffn.fc1.kernel"
    t[f"{hf}.DenseReluDense.wo.weight"] = f"{tf}.ffn.fc2.kernel"
    t[f"{hf}.layer_norm.weight"] = f"{tf}.ffn_norm.weight"


def base_weights(config, with_decoder=True):
    gated = config.is_gated_act
    t = {"shared.weight": "shared.embeddings"}
    stacks = [("encoder", config.num_layers, False)]
    if with_decoder:
        stacks.append(("decoder", config.num_decoder_layers, True))
    for stack, n, decoder in stacks:
        t[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = \
            f"{stack}.relative_bias.embedding.embeddings"
        t[f"{stack}.final_layer_norm.weight"] = f"{stack}.final_norm.weight"
        for i in range(n):
            hf, tf = f"{stack}.block.{i}.layer", f"{stack}.blocks.{i}"
            _attention(t, f"{hf}.0.SelfAttention", f"{tf}.self_attn")
            t[f"{hf}.0.layer_norm.weight"] = f"{tf}.self_attn_norm.weight"
            if decoder:
                _attention(t, f"{hf}.1.EncDecAttention", f"{tf}.cross_attn")
                t[f"{hf}.1.layer_norm.weight"] = f"{tf}.cross_attn_norm.weight"
            _ffn(t, f"{hf}.{2 if decoder else 1}", tf, gated)
    return t


def head_weights(task, config):
    if task in HEADS:  # sequence / token classification, question answering
        return dict(HEADS[task])
    if task == "seq2seq_lm" and not _scaled(config):  # v1.1 / Flan: own head
        return {"lm_head.weight": "lm_head.kernel"}
    return {}


def tied_keys(config):
    keys = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
    if _scaled(config):
        keys.add("lm_head.weight")
    return keys


def _scaled(config):
    """T5 v1.0's tied, scaled head (mT5 has no such flag: its own head, unscaled)."""
    return bool(getattr(config, "scale_decoder_outputs", False))
