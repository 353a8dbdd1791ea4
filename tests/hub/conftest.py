"""Fixtures for the checkpoint I/O tests (helpers live in _hub_helpers.py)."""

import numpy as np
import pytest
from _hub_helpers import VOCAB, make_pt


@pytest.fixture(scope="session")
def ids():
    rs = np.random.RandomState(1)
    return rs.randint(0, VOCAB, size=(2, 9)).astype(np.int32)


@pytest.fixture(scope="session")
def mask():
    m = np.ones((2, 9), np.int32)
    m[1, 6:] = 0
    return m


@pytest.fixture(scope="session")
def pt_seq():
    return make_pt("BertForSequenceClassification")


@pytest.fixture(scope="session")
def pt_mlm():
    return make_pt("BertForMaskedLM", seed=1)


@pytest.fixture(scope="session")
def seq_dir(tmp_path_factory, pt_seq):
    """A PyTorch-saved BertForSequenceClassification folder (config.json + model.safetensors).
    Tests must not modify it (copy it first)."""
    path = tmp_path_factory.mktemp("pt_seq")
    pt_seq.save_pretrained(path)
    return str(path)
