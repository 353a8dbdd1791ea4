"""Reader limits: small or sparse hostile GGUF / safetensors files that made the readers hang
or allocate gigabytes (issue 14 item 7), with variations, are refused with CheckpointError
fast and with little memory.

Each file is loaded in a fresh Python process that has already imported the readers; it
measures the load's wall and CPU time and its peak RSS growth (``ru_maxrss``), so neither the
test process nor the other tests' memory blur the numbers. Sparse files (``truncate``) give
multi-GiB files that cost no disk.
"""

import json
import os
import struct
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("gguf")

from _gguf_builders import gguf_string, raw_gguf  # noqa: E402

from tfhf.hub.gguf import MAX_ARRAY_ITEMS, MAX_METADATA_ITEMS  # noqa: E402
from tfhf.hub.safetensors_io import MAX_HEADER_VALUES  # noqa: E402

SECONDS = 2.0
RSS_GROWTH_MB = 300

_DRIVER = textwrap.dedent("""
    import json, resource, sys, time
    import gguf.constants
    from tfhf.hub.gguf import GGUFFile
    from tfhf.hub.safetensors_io import SafetensorsFile
    from tfhf.models.gguf import load_gguf
    import tfhf.models.llama.gguf, tfhf.models.qwen2.gguf, tfhf.models.gemma3.gguf
    load = {"gguf": load_gguf, "gguf_file": GGUFFile, "safetensors": SafetensorsFile}[sys.argv[1]]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        load(sys.argv[2])
        error, message = None, ""
    except Exception as e:
        error, message = type(e).__name__, str(e)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"error": error, "message": message, "wall": wall, "cpu": cpu,
                      "rss_growth_mb": growth / 1024}))
""")


def measure(kind, path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", _DRIVER, kind, str(path)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_refused(kind, path, match):
    r = measure(kind, path)
    assert r["error"] == "CheckpointError", r
    assert str(path) in r["message"] and match in r["message"], r["message"]
    # CPU time is what a hang would burn; wall time also counts this shared machine's load
    assert r["cpu"] < SECONDS and r["wall"] < SECONDS, r
    assert r["rss_growth_mb"] < RSS_GROWTH_MB, r


def sparse(path, blob, size):
    """``blob`` followed by zeros up to ``size`` bytes (a sparse file)."""
    with open(path, "wb") as fh:
        fh.write(blob)
        fh.truncate(size)
    return str(path)


# ----------------------------------------------------------------------------- GGUF
U32, U64, STRING, ARRAY = 4, 10, 8, 9


def u32(value):
    return struct.pack("<I", value)


def u64(value):
    return struct.pack("<Q", value)


def decoder_gguf(arch="gemma3", hidden=8, heads=2, layers=2, ff=16, embd_dims=(8, 4),
                 extra=()):
    """A header-only decoder GGUF: the metadata a config needs and one F32 ``token_embd``."""
    kvs = [("general.architecture", STRING, gguf_string(arch)),
           (f"{arch}.embedding_length", U64, u64(hidden)),
           (f"{arch}.attention.head_count", U32, u32(heads)),
           (f"{arch}.block_count", U64, u64(layers)),
           (f"{arch}.feed_forward_length", U64, u64(ff)), *extra]
    n = 1
    for d in embd_dims:
        n *= d
    return raw_gguf(kvs=kvs, tensors=[("token_embd.weight", list(embd_dims), 0, 0)],
                    data=b"\0" * (4 * n))


def test_small_gemma3_file_with_2_40_blocks(tmp_path):
    """The reproducer: a few hundred bytes that made load_gguf build a 2**40-item list."""
    blob = decoder_gguf("gemma3", layers=2**40)
    assert len(blob) < 512
    assert_refused("gguf", sparse(tmp_path / "g.gguf", blob, len(blob)), "block_count")


@pytest.mark.parametrize("arch,layers", [("llama", 2**40), ("qwen2", 2**63), ("gemma3", 1025),
                                         ("llama", 2**32 + 1)])
def test_block_count_over_the_limit(tmp_path, arch, layers):
    blob = decoder_gguf(arch, layers=layers)
    assert_refused("gguf", sparse(tmp_path / "b.gguf", blob, len(blob)), "block_count")


@pytest.mark.parametrize("arch,hidden,size,match", [
    ("gemma3", 2**40, None, "needs"),  # the empty embedding's shape does not fit in the file
    ("llama", 2**18, 4 * 2**18 + 4096, "embedding_length"),
    ("qwen2", 2**20, 4 * 2**20 + 4096, "embedding_length"),
])
def test_hidden_size_over_the_limit_with_an_empty_embedding(tmp_path, arch, hidden, size, match):
    """An empty ``token_embd`` of width ``hidden``: refused by the reader when the file is too
    small to describe its shape, else by the config limit."""
    blob = decoder_gguf(arch, hidden=hidden, heads=2, embd_dims=(hidden, 0))
    path = sparse(tmp_path / "h.gguf", blob, size or len(blob))
    assert_refused("gguf", path, match)


@pytest.mark.parametrize("arch,layers,hidden,ff", [("llama", 1000, 8192, 28672),
                                                   ("gemma3", 64, 4096, 16384),
                                                   ("qwen2", 1, 1 << 17, 1 << 20)])
def test_config_larger_than_the_file_can_hold(tmp_path, arch, layers, hidden, ff):
    """Sizes within the limits but far more weights than the file holds."""
    blob = decoder_gguf(arch, hidden=hidden, heads=32, layers=layers, ff=ff,
                        embd_dims=(hidden, 4))
    assert_refused("gguf", sparse(tmp_path / "c.gguf", blob, len(blob)), "weights")


def test_block_count_must_match_the_block_tensors(tmp_path):
    blob = raw_gguf(kvs=[("general.architecture", STRING, gguf_string("llama")),
                         ("llama.embedding_length", U64, u64(8)),
                         ("llama.attention.head_count", U32, u32(2)),
                         ("llama.block_count", U64, u64(3)),
                         ("llama.feed_forward_length", U64, u64(16))],
                    tensors=[("token_embd.weight", [8, 4], 0, 0),
                             ("blk.7.attn_norm.weight", [8], 0, 128)],
                    data=b"\0" * 160)
    assert_refused("gguf", sparse(tmp_path / "m.gguf", blob, len(blob)), "block_count is 3")


@pytest.mark.parametrize("dims", [[2**64 - 1, 0, 2**64 - 1], [0, 2**40], [2**63, 0, 1],
                                  [4, 0, 2**61, 2**61]])
def test_empty_tensor_with_huge_dimensions(tmp_path, dims):
    blob = raw_gguf(tensors=[("t", dims, 0, 0)])
    assert_refused("gguf_file", sparse(tmp_path / "d.gguf", blob, len(blob)), "needs")


def _string_array(key, count):
    return (key, ARRAY, u32(STRING) + u64(count))


@pytest.mark.parametrize("count,size", [(2**29, (4 << 30) + 4096),
                                        (MAX_ARRAY_ITEMS + 1, 64 << 20),
                                        (2**33, (1 << 36) + 4096)])
def test_huge_array_of_empty_strings(tmp_path, count, size):
    """A 4 GiB sparse file is a valid-looking array of 2**29 empty strings."""
    blob = raw_gguf(kvs=[("general.architecture", STRING, gguf_string("llama")),
                         _string_array("tokenizer.ggml.tokens", count)], tensors=[], data=b"")
    path = tmp_path / "s.gguf"
    try:
        sparse(path, blob, size)
    except OSError as e:  # a file system without sparse files this large
        pytest.skip(f"cannot make a {size}-byte sparse file here: {e}")
    assert_refused("gguf_file", path, "limit")


def test_arrays_over_the_metadata_total(tmp_path):
    """Arrays each under the per-array limit, together over the total."""
    per = MAX_ARRAY_ITEMS
    kvs = [("general.architecture", STRING, gguf_string("llama"))]
    for i in range(MAX_METADATA_ITEMS // per):  # uint8 arrays: cheap to read
        kvs.append((f"x.{i}", ARRAY, u32(0) + u64(per) + b"\0" * per))
    kvs.append(_string_array("tokenizer.ggml.tokens", 1))
    blob = raw_gguf(kvs=kvs, tensors=[], data=b"")
    assert_refused("gguf_file", sparse(tmp_path / "t.gguf", blob, len(blob) + 64), "limit")


@pytest.mark.parametrize("field,count", [("n_kv", 2**17), ("n_tensors", 2**17)])
def test_counts_over_the_limit_even_when_the_file_is_large(tmp_path, field, count):
    blob = raw_gguf(**{field: count})
    what = "metadata entries" if field == "n_kv" else "tensors"
    assert_refused("gguf_file", sparse(tmp_path / "n.gguf", blob, 64 << 20), what)


# ----------------------------------------------------------------------------- safetensors
def safetensors_file(path, header: bytes, data=b"\0" * 4):
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header + data)
    return str(path)


ENTRY = b'"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]'


@pytest.mark.parametrize("junk,count", [(b"{}", 33_000_000), (b"0", 45_000_000),
                                        (b'"ab"', 20_000_000), (b"[]", MAX_HEADER_VALUES)])
def test_safetensors_header_of_many_json_values(tmp_path, junk, count):
    """A header of tens of millions of tiny values (~100 MB) inside an entry's unknown key."""
    header = b"{" + ENTRY + b',"x":[' + junk + (b"," + junk) * (count - 1) + b"]}}"
    assert_refused("safetensors", safetensors_file(tmp_path / "v.safetensors", header),
                   "JSON values")


def test_safetensors_header_with_many_separators_in_strings_is_read(tmp_path):
    """Commas and colons inside metadata strings are not values: such a file is accepted."""
    meta = json.dumps({"__metadata__": {"notes": "a:b," * (MAX_HEADER_VALUES // 2 + 10)}})
    header = meta[:-1].encode() + b"," + ENTRY + b"}}"
    r = measure("safetensors", safetensors_file(tmp_path / "ok.safetensors", header))
    assert r["error"] is None, r


@pytest.mark.parametrize("header", [
    b'{"\\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
    b'{"w\\udfff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
    b'{"__metadata__":{"\\udbff":"x"},' + ENTRY + b"}}",
    b'{"__metadata__":{"format":"pt\\ud800"},' + ENTRY + b"}}",
])
def test_safetensors_lone_surrogate_names(tmp_path, header):
    assert_refused("safetensors", safetensors_file(tmp_path / "u.safetensors", header),
                   "lone surrogate")


def test_safetensors_surrogate_pair_is_a_valid_name(tmp_path):
    header = b'{"\\ud83d\\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    r = measure("safetensors", safetensors_file(tmp_path / "p.safetensors", header))
    assert r["error"] is None, r
