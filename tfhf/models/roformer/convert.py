"""RoFormer: HF weight names -> tfhf attribute paths.

The backbone is named as BERT's without the position table and the pooler, plus the frozen
sinusoid table ``encoder.embed_positions`` (saved in RoFormer's checkpoints) and
``embeddings_project`` when the embeddings are narrower than the hidden states. The heads are
BERT's, except the sequence classifier, named as RoBERTa's (dense -> activation -> out_proj
on the first token); the multiple-choice summary has no weights.
"""

from ..bert.convert import base_weights as bert_base_weights
from ..bert.convert import head_weights as bert_head_weights
from ..bert.convert import tied_keys  # noqa: F401  (BERT's MLM head names)
from ..roberta.convert import HEADS as ROBERTA_HEADS


def base_weights(config, with_pooler=False):
    t = bert_base_weights(config, with_pooler=False)  # RoFormer has no pooler
    del t["embeddings.position_embeddings.weight"]
    t["encoder.embed_positions.weight"] = "rotary.embeddings"
    if config.embedding_size != config.hidden_size:
        t["embeddings_project.weight"] = "embeddings_project.kernel"
        t["embeddings_project.bias"] = "embeddings_project.bias"
    return t


def head_weights(task, config):
    if task == "sequence_classification":
        return dict(ROBERTA_HEADS[task])
    return bert_head_weights(task, config)
