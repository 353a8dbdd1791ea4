"""BART: HF weight names -> tfhf attribute paths (relative to the main layer / the model).

M2M100 (and NLLB) checkpoints use the same layer names, with a final ``layer_norm`` per
stack instead of ``layernorm_embedding`` and sinusoidal (unsaved) positions.
"""

from ..seq2seq_classification import HEADS as TASK_HEADS

_LAYER = [
    ("self_attn.q_proj", "self_attn.q_proj"), ("self_attn.k_proj", "self_attn.k_proj"),
    ("self_attn.v_proj", "self_attn.v_proj"), ("self_attn.out_proj", "self_attn.o_proj"),
    ("fc1", "ffn.fc1"), ("fc2", "ffn.fc2"),
]
_CROSS = [("encoder_attn.q_proj", "cross_attn.q_proj"), ("encoder_attn.k_proj", "cross_attn.k_proj"),
          ("encoder_attn.v_proj", "cross_attn.v_proj"),
          ("encoder_attn.out_proj", "cross_attn.o_proj")]
_NORMS = [("self_attn_layer_norm", "self_attn_norm"), ("final_layer_norm", "ffn_norm")]
_CROSS_NORMS = [("encoder_attn_layer_norm", "cross_attn_norm")]


def _norm(t, hf, tf):
    t[f"{hf}.weight"] = f"{tf}.weight"
    t[f"{hf}.bias"] = f"{tf}.bias"


def stack_weights(config, with_decoder=True, learned_positions=True, embedding_norm=True,
                  final_norm=False):
    t = {"shared.weight": "shared.embeddings"}
    stacks = [("encoder", config.encoder_layers, False)]
    if with_decoder:
        stacks.append(("decoder", config.decoder_layers, True))
    for stack, n, decoder in stacks:
        if learned_positions:
            t[f"{stack}.embed_positions.weight"] = f"{stack}.embed_positions.embeddings"
        if embedding_norm:
            _norm(t, f"{stack}.layernorm_embedding", f"{stack}.embedding_norm")
        if final_norm:
            _norm(t, f"{stack}.layer_norm", f"{stack}.final_norm")
        for i in range(n):
            hf, tf = f"{stack}.layers.{i}", f"{stack}.blocks.{i}"
            for a, b in _LAYER + (_CROSS if decoder else []):
                t[f"{hf}.{a}.weight"] = f"{tf}.{b}.kernel"
                t[f"{hf}.{a}.bias"] = f"{tf}.{b}.bias"
            for a, b in _NORMS + (_CROSS_NORMS if decoder else []):
                _norm(t, f"{hf}.{a}", f"{tf}.{b}")
    return t


def base_weights(config, with_decoder=True):
    return stack_weights(config, with_decoder)


HEADS = {
    "seq2seq_lm": {"final_logits_bias": "logits_bias"},
    **TASK_HEADS,  # sequence / token classification, question answering
}


def head_weights(task, config):
    return dict(HEADS.get(task, {}))


def tied_keys(config):
    """Names PyTorch may save that are the shared embeddings (tied), skipped on load."""
    return {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}
