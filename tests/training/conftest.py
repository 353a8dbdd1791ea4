"""Fixtures for the training tests: a tiny random BERT classifier checkpoint saved by
PyTorch transformers with the MiniLM tokenizer (see _train_helpers.py)."""

import pytest
from _train_helpers import build_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """Folder of a tiny random BertForSequenceClassification (2 labels) + MiniLM tokenizer."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tokenizer(tiny_bert):
    from tfhf import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bert)
