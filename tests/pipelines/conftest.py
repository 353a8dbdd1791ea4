"""Fixtures for the pipeline tests: tiny random checkpoints built once per session."""

import pytest
from _pipeline_helpers import make_checkpoint


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """``checkpoint(family, head, **config)`` -> folder of a saved tiny PyTorch model + tokenizer
    (built once per argument set). Tests must not modify the folder."""
    built = {}

    def get(family, head, **config):
        key = (family, head, repr(sorted(config.items())))
        if key not in built:
            folder = tmp_path_factory.mktemp(f"{family}-{head}")
            built[key] = make_checkpoint(folder, family, head, **config)
        return built[key]

    return get
