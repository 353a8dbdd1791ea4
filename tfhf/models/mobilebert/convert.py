"""MobileBERT: HF weight names -> tfhf attribute paths.

Embeddings and heads are named as BERT's (plus ``embedding_transformation`` and the masked-LM
head's extra output rows ``cls.predictions.dense``); each layer has its own bottleneck and
stacked feed-forward names. Modules a config leaves out (bottlenecks, the pooler's dense
without ``classifier_activation``) have no entries.
"""

from ..bert.convert import head_weights as bert_head_weights
from ..bert.convert import tied_keys  # noqa: F401  (BERT's MLM head names)


def _pair(t, hf, path, kernel=True):
    t[f"{hf}.weight"] = f"{path}.kernel" if kernel else f"{path}.weight"
    t[f"{hf}.bias"] = f"{path}.bias"


def _layer(t, config, i):
    hf, tf = f"encoder.layer.{i}.", f"encoder.blocks.{i}."
    for name in ("query", "key", "value"):
        _pair(t, f"{hf}attention.self.{name}", f"{tf}attention.{name}")
    _pair(t, f"{hf}attention.output.dense", f"{tf}attention.out")
    _pair(t, f"{hf}attention.output.LayerNorm", f"{tf}attention.norm", kernel=False)
    for j in range(config.num_feedforward_networks - 1):
        _pair(t, f"{hf}ffn.{j}.intermediate.dense", f"{tf}ffns.{j}.ffn.up")
        _pair(t, f"{hf}ffn.{j}.output.dense", f"{tf}ffns.{j}.ffn.down")
        _pair(t, f"{hf}ffn.{j}.output.LayerNorm", f"{tf}ffns.{j}.norm", kernel=False)
    _pair(t, f"{hf}intermediate.dense", f"{tf}ffn.up")
    _pair(t, f"{hf}output.dense", f"{tf}ffn.down")
    _pair(t, f"{hf}output.LayerNorm", f"{tf}output_norm", kernel=False)
    bottlenecks = [("output.bottleneck", "output_bottleneck")] if config.use_bottleneck else []
    if config.use_bottleneck:
        bottlenecks.append(("bottleneck.input", "input_bottleneck"))
        if config.key_query_shared_bottleneck:
            bottlenecks.append(("bottleneck.attention", "shared_bottleneck"))
    for name, path in bottlenecks:
        _pair(t, f"{hf}{name}.dense", f"{tf}{path}.dense")
        _pair(t, f"{hf}{name}.LayerNorm", f"{tf}{path}.norm", kernel=False)


def base_weights(config, with_pooler=True):
    t = {f"embeddings.{n}.weight": f"embeddings.{n}.embeddings"
         for n in ("word_embeddings", "position_embeddings", "token_type_embeddings")}
    _pair(t, "embeddings.embedding_transformation", "embeddings.transform")
    _pair(t, "embeddings.LayerNorm", "embeddings.norm", kernel=False)
    for i in range(config.num_hidden_layers):
        _layer(t, config, i)
    if with_pooler and config.classifier_activation:
        _pair(t, "pooler.dense", "pooler.dense")
    return t


def head_weights(task, config):
    t = bert_head_weights(task, config)
    if task == "masked_lm":
        t["cls.predictions.dense.weight"] = "mlm.extra.kernel"
    return t
