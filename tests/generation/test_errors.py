"""Bad generate() input -> tfhf.errors.InvalidInputError (a ValueError) naming the argument;
warnings transformers gives."""

from __future__ import annotations

import logging

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfhf.errors import InvalidInputError, TfhfError  # noqa: E402
from toy_lm import ToyCausalLM, toy_config  # noqa: E402

IDS = np.array([[5, 6, 7]])


@pytest.fixture(scope="module")
def toy():
    return ToyCausalLM(toy_config())


@pytest.mark.parametrize("kwargs,name", [
    (dict(input_ids=np.ones((1, 129), np.int64)), "max_position_embeddings"),
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(max_new_tokens=-3), "max_new_tokens"),
    (dict(do_sample=True, top_p=0.0), "top_p"),
    (dict(do_sample=True, top_p=1.5), "top_p"),
    (dict(do_sample=True, temperature=0.0), "temperature"),
    (dict(do_sample=True, temperature=-1.0), "temperature"),
    (dict(num_beams=0), "num_beams"),
    (dict(num_beams=2, num_return_sequences=3), "num_return_sequences"),
    (dict(num_return_sequences=2), "num_return_sequences"),
    (dict(input_ids=np.zeros((1, 0), np.int64)), "input_ids"),
    (dict(input_ids=np.zeros((0, 4), np.int64)), "input_ids"),
    (dict(input_ids=np.array([5, 6, 7])), "input_ids"),
    (dict(input_ids=np.array([[5, 64]])), "input_ids"),
    (dict(input_ids=np.array([[0.5, 1.0]])), "input_ids"),
    (dict(attention_mask=np.ones((1, 4), np.int64)), "attention_mask"),
    (dict(max_length=3, max_new_tokens=None), "max_length"),
    (dict(bad_words_ids=[5]), "bad_words_ids"),
    (dict(repetition_penalty=0.0), "repetition_penalty"),
    (dict(sequence_bias={(3,): 1.0}), "sequence_bias"),
    (dict(suppress_tokens=[64]), "suppress_tokens"),
    (dict(logits_processor=[lambda ids, s: s]), "logits_processor"),
    (dict(not_an_option=1), "not_an_option"),
    (dict(num_beams=2, streamer=object()), "streamer"),
    (dict(stream_chunk_size=0, streamer=object()), "stream_chunk_size"),
    (dict(seed=[1, 2, 3], do_sample=True), "seed"),
])
def test_bad_input_names_the_argument(toy, kwargs, name):
    kwargs = dict(kwargs)
    ids = kwargs.pop("input_ids", IDS)
    kwargs.setdefault("max_new_tokens", 2)
    with pytest.raises(InvalidInputError, match=name) as info:
        toy.generate(ids, use_xla=False, **kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TfhfError)


def test_warnings(toy, caplog):
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        toy.generate(np.array([[5, 6, 0], [7, 8, 9]]),
                     attention_mask=np.array([[1, 1, 0], [1, 1, 1]]), max_new_tokens=1,
                     use_xla=False)
    assert "right-padding was detected" in caplog.text
    caplog.clear()
    no_pad = ToyCausalLM(toy_config(pad_token_id=None))
    with caplog.at_level(logging.WARNING, logger="tfhf"):
        out = no_pad.generate(np.array([[5, 6], [7, 8]]), max_new_tokens=1, use_xla=False)
    assert "Setting `pad_token_id` to `eos_token_id`:2" in caplog.text
    assert "attention mask and the pad token id were not set" in caplog.text
    assert out.shape == (2, 3)


def test_no_input_starts_from_bos(toy):
    out = toy.generate(max_new_tokens=2, use_xla=False).numpy()
    assert out.shape == (1, 3) and out[0, 0] == 1
