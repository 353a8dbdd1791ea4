"""M2M100 / NLLB: BART's layer names, a final ``layer_norm`` per stack, no saved positions."""

from ..bart.convert import stack_weights, tied_keys  # noqa: F401


def base_weights(config, with_decoder=True):
    return stack_weights(config, with_decoder, learned_positions=False, embedding_norm=False,
                         final_norm=True)


def head_weights(task, config):
    return {}
