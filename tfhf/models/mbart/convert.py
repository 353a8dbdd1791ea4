"""mBART: BART's layer names plus a final ``layer_norm`` per stack (after the layers)."""

from ..bart.convert import head_weights, stack_weights, tied_keys  # noqa: F401


def base_weights(config, with_decoder=True):
    return stack_weights(config, with_decoder, final_norm=True)
