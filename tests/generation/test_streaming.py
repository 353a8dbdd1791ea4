"""Streamers fed from the chunked compiled loop, and stop strings."""

from __future__ import annotations

import threading

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402
from toy_lm import ToyCausalLM, toy_config  # noqa: E402

ALPHABET = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,"
assert len(ALPHABET) >= 64


class CharTokenizer:
    """Token i decodes to one character: stop strings and streamers get exact text."""

    def decode(self, ids, skip_special_tokens=False, **kwargs):
        if isinstance(ids, (int, np.integer)):
            ids = [ids]
        return "".join(ALPHABET[int(i)] for i in ids)


class Recorder:
    def __init__(self):
        self.puts, self.ended = [], 0

    def put(self, value):
        assert isinstance(value, np.ndarray)
        self.puts.append(value.copy())

    def end(self):
        self.ended += 1


PROMPT = np.array([[5, 6, 7, 8, 9]])
BATCH = np.array([[5, 6, 7, 8, 9], [0, 0, 20, 21, 22]])
BATCH_MASK = (BATCH != 0).astype(np.int64)
TOK = CharTokenizer()


@pytest.fixture(scope="module")
def toy():
    return ToyCausalLM(toy_config(eos_token_id=None))


@pytest.fixture(scope="module")
def plain(toy):
    return toy.generate(PROMPT, max_new_tokens=11).numpy()


def test_streamer_gets_the_prompt_then_chunks(toy, plain):
    rec = Recorder()
    out = toy.generate(PROMPT, max_new_tokens=11, streamer=rec, stream_chunk_size=3).numpy()
    np.testing.assert_array_equal(out, plain)
    np.testing.assert_array_equal(rec.puts[0], PROMPT)
    assert [p.shape for p in rec.puts[1:]] == [(3,), (3,), (3,), (2,)]
    np.testing.assert_array_equal(np.concatenate(rec.puts[1:]), plain[0, 5:])
    assert rec.ended == 1
    # the chunks reuse one compiled continuation function, whatever the chunk size
    before = tfhf.generation.compile_count()
    toy.generate(PROMPT, max_new_tokens=11, streamer=Recorder(), stream_chunk_size=4)
    assert tfhf.generation.compile_count() == before


def test_text_iterator_streamer(toy, plain):
    streamer = tfhf.TextIteratorStreamer(TOK, skip_prompt=True)
    thread = threading.Thread(target=toy.generate, args=(PROMPT,),
                              kwargs=dict(max_new_tokens=11, streamer=streamer))
    thread.start()
    text = "".join(streamer)
    thread.join()
    assert text == TOK.decode(plain[0, 5:])


def test_text_streamer_prints(toy, plain, capsys):
    toy.generate(PROMPT, max_new_tokens=11, streamer=tfhf.TextStreamer(TOK))
    assert capsys.readouterr().out == TOK.decode(plain[0]) + "\n"
    # put() also takes tf tensors
    s = tfhf.TextStreamer(TOK, skip_prompt=False)
    s.put(tf.constant([1, 2]))
    s.end()
    assert capsys.readouterr().out == TOK.decode([1, 2]) + "\n"


def test_batched_streamer_gets_one_token_per_row_per_step(toy):
    plain = toy.generate(BATCH, attention_mask=BATCH_MASK, max_new_tokens=5, use_xla=False)
    rec = Recorder()
    out = toy.generate(BATCH, attention_mask=BATCH_MASK, max_new_tokens=5, use_xla=False,
                       streamer=rec, stream_chunk_size=2).numpy()
    np.testing.assert_array_equal(out, plain.numpy())
    assert rec.puts[0].shape == (2, 5) and all(p.shape == (2,) for p in rec.puts[1:])
    np.testing.assert_array_equal(np.stack(rec.puts[1:], 1), out[:, 5:])


def test_streaming_stops_at_eos(toy, plain):
    eos = int(plain[0, 5 + 4])
    rec = Recorder()
    out = toy.generate(PROMPT, max_new_tokens=11, eos_token_id=eos, pad_token_id=0,
                       streamer=rec, stream_chunk_size=3, use_xla=False).numpy()
    np.testing.assert_array_equal(out[0], plain[0, :5 + list(plain[0, 5:]).index(eos) + 1])
    np.testing.assert_array_equal(np.concatenate(rec.puts[1:]), out[0, 5:])


# ---------------------------------------------------------------- stop strings
def _expected(prompt_ids, new_ids, stop):
    """Index of the first new token whose decoding completes ``stop`` (brute force)."""
    for i in range(len(new_ids)):
        text = TOK.decode(list(prompt_ids) + list(new_ids[:i + 1]))
        before = TOK.decode(list(prompt_ids) + list(new_ids[:i]))
        if stop in text and text.rfind(stop) + len(stop) > len(before):
            return i
    return None


@pytest.mark.parametrize("chunk", [1, 4])
def test_stop_strings_batch(toy, chunk):
    plain = toy.generate(BATCH, attention_mask=BATCH_MASK, max_new_tokens=10,
                         use_xla=False).numpy()
    stop = TOK.decode(plain[0, 5 + 3:5 + 5])  # new tokens 3 and 4 of row 0
    out = toy.generate(BATCH, attention_mask=BATCH_MASK, max_new_tokens=10, use_xla=False,
                       stop_strings=stop, tokenizer=TOK, pad_token_id=0,
                       stream_chunk_size=chunk).numpy()
    ends = []
    for r in range(2):
        real = BATCH[r][BATCH_MASK[r] == 1]
        hit = _expected(real, plain[r, 5:], stop)
        ends.append(10 if hit is None else hit + 1)
    assert ends[0] <= 5
    assert out.shape == (2, 5 + max(ends))
    for r in range(2):
        np.testing.assert_array_equal(out[r, :5 + ends[r]], plain[r, :5 + ends[r]])
        assert (out[r, 5 + ends[r]:] == 0).all()


def test_stop_string_across_the_prompt_and_only_in_the_prompt(toy, plain):
    across = TOK.decode([PROMPT[0, -1], plain[0, 5]])
    out = toy.generate(PROMPT, max_new_tokens=11, stop_strings=[across, "@@"],
                       tokenizer=TOK).numpy()
    np.testing.assert_array_equal(out, plain[:, :6])
    in_prompt = TOK.decode(PROMPT[0, 1:3])
    if _expected(PROMPT[0], plain[0, 5:], in_prompt) is None:
        out = toy.generate(PROMPT, max_new_tokens=11, stop_strings=in_prompt, tokenizer=TOK)
        np.testing.assert_array_equal(out.numpy(), plain)


def test_stop_strings_under_xla_match_eager(toy, plain):
    stop = TOK.decode(plain[0, 5 + 6:5 + 8])
    kw = dict(max_new_tokens=11, stop_strings=stop, tokenizer=TOK)
    xla = toy.generate(PROMPT, **kw).numpy()
    eager = toy.generate(PROMPT, use_xla=False, **kw).numpy()
    np.testing.assert_array_equal(xla, eager)
    assert xla.shape[1] <= 5 + 8


def test_stop_strings_need_a_tokenizer(toy):
    with pytest.raises(InvalidInputError, match="tokenizer"):
        toy.generate(PROMPT, max_new_tokens=3, stop_strings="ab")
    with pytest.raises(InvalidInputError, match="stop_strings"):
        toy.generate(PROMPT, max_new_tokens=3, stop_strings="ab", tokenizer=TOK, num_beams=2)
