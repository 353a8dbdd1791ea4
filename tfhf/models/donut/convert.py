"""DonutSwin: HF weight names -> tfhf variables (relative to the Swin main layer)."""

_BLOCK = [
    ("layernorm_before.weight", "layernorm_before.weight"),
    ("layernorm_before.bias", "layernorm_before.bias"),
    ("attention.self.relative_position_bias_table", "attention.relative_position_bias_table"),
    ("attention.self.query.weight", "attention.query.kernel"),
    ("attention.self.query.bias", "attention.query.bias"),
    ("attention.self.key.weight", "attention.key.kernel"),
    ("attention.self.key.bias", "attention.key.bias"),
    ("attention.self.value.weight", "attention.value.kernel"),
    ("attention.self.value.bias", "attention.value.bias"),
    ("attention.output.dense.weight", "attention.out.kernel"),
    ("attention.output.dense.bias", "attention.out.bias"),
    ("layernorm_after.weight", "layernorm_after.weight"),
    ("layernorm_after.bias", "layernorm_after.bias"),
    ("intermediate.dense.weight", "intermediate.kernel"),
    ("intermediate.dense.bias", "intermediate.bias"),
    ("output.dense.weight", "output_dense.kernel"),
    ("output.dense.bias", "output_dense.bias"),
]
# a buffer PyTorch saves (and recomputes): derived from the window size, never loaded
RELATIVE_INDEX = "attention.self.relative_position_index"


def swin_weights(config):
    t = {
        "embeddings.patch_embeddings.projection.weight": "embeddings.weight",
        "embeddings.patch_embeddings.projection.bias": "embeddings.bias",
        "embeddings.norm.weight": "embeddings.norm.weight",
        "embeddings.norm.bias": "embeddings.norm.bias",
    }
    n = len(config.depths)
    for i, depth in enumerate(config.depths):
        hf, tf = f"encoder.layers.{i}", f"stages.{i}"
        for j in range(depth):
            for a, b in _BLOCK:
                t[f"{hf}.blocks.{j}.{a}"] = f"{tf}.blocks.{j}.{b}"
        if i < n - 1:
            t[f"{hf}.downsample.reduction.weight"] = f"{tf}.downsample.reduction.kernel"
            t[f"{hf}.downsample.norm.weight"] = f"{tf}.downsample.norm.weight"
            t[f"{hf}.downsample.norm.bias"] = f"{tf}.downsample.norm.bias"
    return t


def relative_index_keys(config, prefix=""):
    """HF names of the relative-position-index buffers -> window size."""
    return {f"{prefix}encoder.layers.{i}.blocks.{j}.{RELATIVE_INDEX}": config.window_size
            for i, depth in enumerate(config.depths) for j in range(depth)}


def base_weights(config, with_pooler=True):
    return swin_weights(config)


def head_weights(task, config):
    return {}
