"""The GGUF reader against hostile, truncated and corrupted files: every one is a
CheckpointError naming the file (builders in _gguf_builders.py)."""

import struct

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from _gguf_builders import (  # noqa: E402
    corrupt_header,
    gguf_string,
    header_end,
    raw_gguf,
    tiny_llama_file,
    write_blob,
    write_tensors,
)

from tfhf.errors import CheckpointError, UnsupportedModelError  # noqa: E402
from tfhf.hub.gguf import GGUFFile  # noqa: E402
from tfhf.models.gguf import load_gguf  # noqa: E402


# ----------------------------------------------------------------------------- hostile files
def test_raw_builder_makes_a_valid_file(tmp_path):
    path = write_blob(tmp_path, raw_gguf())
    with GGUFFile(path) as gf:
        assert gf.architecture == "llama" and gf.tensors["t"].shape == (2, 4)
        np.testing.assert_array_equal(gf.dequantize("t"), np.arange(8).reshape(2, 4))


HOSTILE = {
    "not gguf": (b"PK\x03\x04" + b"\0" * 60, "magic"),
    "version 1": (raw_gguf(version=1), "version 1"),
    "big-endian": (raw_gguf(version=3 << 24), "big-endian"),
    "tensor count past end": (raw_gguf(n_tensors=2**62), "tensors"),
    "tensor count a little past end": (raw_gguf(n_tensors=40), "tensor"),
    "kv count past end": (raw_gguf(n_kv=2**40), "metadata entries"),
    "key length past end": (raw_gguf(kvs=[("general.architecture", 8, struct.pack("<Q", 2**60))]),
                            "bytes"),
    "string array past end": (raw_gguf(kvs=[("general.architecture", 8, gguf_string("llama")),
                                            ("tokenizer.ggml.tokens", 9,
                                             struct.pack("<IQ", 8, 2**50))]), "strings"),
    "int array past end": (raw_gguf(kvs=[("general.architecture", 8, gguf_string("llama")),
                                         ("x", 9, struct.pack("<IQ", 5, 2**61))]), "values"),
    "nested array": (raw_gguf(kvs=[("general.architecture", 8, gguf_string("llama")),
                                   ("x", 9, struct.pack("<IQ", 9, 1))]), "array of arrays"),
    "unknown value type": (raw_gguf(kvs=[("general.architecture", 99, b"")]), "value type 99"),
    "invalid utf-8 key": (raw_gguf(kvs=[("general.architecture", 8, gguf_string("llama"))])
                          .replace(b"general.architecture", b"general.architectur\xff"), "UTF-8"),
    "duplicate key": (raw_gguf(kvs=[("a", 4, struct.pack("<I", 1))] * 2), "twice"),
    "absurd dims": (raw_gguf(tensors=[("t", [2**40, 2**40], 0, 0)]), "needs"),
    "dims overflow 64 bits": (raw_gguf(tensors=[("t", [2**63, 2**63, 2**63, 4], 0, 0)]), "needs"),
    "too many dims": (raw_gguf(tensors=[("t", [1, 1, 1, 1, 2], 0, 0)]), "5 dimensions"),
    "dims count past end": (raw_gguf(tensors=[("t", [4] * 4, 0, 0)])[:-60], "bytes"),
    "unknown tensor type": (raw_gguf(tensors=[("t", [4, 2], 9999, 0)]), "unknown ggml type"),
    "type without dequantizer": (raw_gguf(tensors=[("t", [256], 15, 0)]), "Q8_K"),
    "row not a block multiple": (raw_gguf(tensors=[("t", [33], 8, 0)]), "block size"),
    "data past end": (raw_gguf(tensors=[("t", [16, 2], 0, 0)]), "data section"),
    "offset past end": (raw_gguf(tensors=[("t", [4, 2], 0, 2**63)]), "data section"),
    "misaligned offset": (raw_gguf(tensors=[("t", [2], 0, 4)]), "alignment"),
    "overlap": (raw_gguf(tensors=[("a", [4], 0, 0), ("b", [4], 0, 0)]), "overlap"),
    "duplicate tensor": (raw_gguf(tensors=[("a", [4], 0, 0), ("a", [4], 0, 32)],
                                  data=b"\0" * 64), "twice"),
    "bad alignment": (raw_gguf(kvs=[("general.architecture", 8, gguf_string("llama")),
                                    ("general.alignment", 4, struct.pack("<I", 3))]), "alignment"),
    "empty file": (b"", "magic"),
    # an empty tensor whose shape numpy cannot describe (counted with each 0 as 1)
    "empty tensor of huge dims": (raw_gguf(tensors=[("t", [2**64 - 1, 0, 2**64 - 1], 0, 0)]),
                                  "needs"),
    "empty tensor of 2**40 columns": (raw_gguf(tensors=[("t", [2**40, 0], 0, 0)]), "needs"),
    "kv count over the limit": (raw_gguf(n_kv=2**16 + 1), "metadata entries"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_raise_checkpoint_error(tmp_path, case):
    blob, match = HOSTILE[case]
    path = write_blob(tmp_path, blob)
    with pytest.raises(CheckpointError, match=match) as err:
        GGUFFile(path)
    assert path in str(err.value)


def test_every_truncation_is_a_checkpoint_error(tmp_path):
    good = tiny_llama_file(tmp_path / "good.gguf", np.random.RandomState(0), qtype="Q8_0")
    blob = open(good, "rb").read()
    end = header_end(good)
    cuts = sorted(set(range(0, end, max(1, end // 400))) | {
        end - 1, end + 1, len(blob) // 2, len(blob) - 1})
    p = tmp_path / "cut.gguf"
    for n in cuts:
        p.write_bytes(blob[:n])
        with pytest.raises(CheckpointError):
            GGUFFile(p).close()


def test_random_header_corruption_never_escapes(tmp_path):
    """Flipping header bytes gives a valid file or a CheckpointError, never anything else."""
    rng = np.random.RandomState(3)
    good = tiny_llama_file(tmp_path / "good.gguf", rng)
    blob, end = open(good, "rb").read(), header_end(good)
    p = tmp_path / "bad.gguf"
    for _ in range(300):
        p.write_bytes(corrupt_header(blob, end, rng))
        try:
            config, st = load_gguf(p)
        except (CheckpointError, UnsupportedModelError):
            continue
        with st:
            for k in st.keys():
                st.get(k)


def test_random_tokenizer_corruption_never_escapes(tmp_path):
    from tfhf.hub.gguf_tokenizer import tokenizer_from_gguf

    rng = np.random.RandomState(5)
    good = tiny_llama_file(tmp_path / "good.gguf", rng)
    blob, end = open(good, "rb").read(), header_end(good)
    p = tmp_path / "bad.gguf"
    built = 0
    for _ in range(100):
        p.write_bytes(corrupt_header(blob, end, rng))
        try:
            tok = tokenizer_from_gguf(p)
        except (CheckpointError, UnsupportedModelError):
            continue
        tok("the tea")
        built += 1
    assert built > 0


def test_missing_required_metadata(tmp_path, rng):
    path = write_tensors(tmp_path / "nometa.gguf", "llama", [("add_embedding_length", 64)],
                         {"token_embd.weight": np.zeros((8, 64), np.float32)})
    with pytest.raises(CheckpointError, match="llama.attention.head_count.*missing"):
        load_gguf(path)
