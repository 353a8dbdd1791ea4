"""safetensors reading (hostile files), writing (round trips, interop, atomicity)."""

import json
import os
import shutil
import struct
import time
import tracemalloc
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfhf.errors import CheckpointError, InvalidInputError, TfhfError
from tfhf.hub import safetensors_io as sio
from tfhf.hub.safetensors_io import (
    MAX_HEADER_VALUES,
    FolderTransaction,
    SafetensorsFile,
    load_file,
    save_file,
)


def write_raw(path, header, data=b"", length=None):
    """A file with an 8-byte little-endian header length, the header, then ``data``."""
    hb = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    n = len(hb) if length is None else length
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", n) + hb + data)
    return str(path)


def t(dtype="F32", shape=(1,), offsets=(0, 4)):
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
            "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets}


def _parse_fully(path):
    """Open and read every tensor; the only exception allowed is CheckpointError."""
    try:
        with SafetensorsFile(path) as f:
            for k in f.keys():
                arr = f.get(k)
                assert arr.shape == f.shape(k)
    except CheckpointError as e:
        assert str(path) in str(e)


# ---------------------------------------------------------------------------- hostile files
HOSTILE = {
    "header length past the end": (json.dumps({"a": t()}).encode(), b"\0" * 4, 10_000,
                                   ["header claims 10000 bytes"]),
    "header length 2**64-1": (b"{}", b"", 2**64 - 1, ["header claims"]),
    "not JSON": (b"{not json", b"", None, ["not valid JSON"]),
    "not UTF-8": (b'{"\xff\xfe": 1}', b"", None, ["not UTF-8"]),
    "JSON array": (b"[1, 2]", b"", None, ["not an object"]),
    "JSON string": (b'"hello"', b"", None, ["not an object"]),
    "deeply nested": (b"[" * 200_000 + b"]" * 200_000, b"", None, ["nested too deeply"]),
    "number over the digit limit": (b'{"a": {"shape": [' + b"9" * 5000 + b"]}}", b"", None,
                                    ["not valid JSON"]),
    "entry not an object": ({"a": 5}, b"", None, ["entry 'a' is not an object"]),
    "unknown dtype": ({"a": t(dtype="F33")}, b"\0" * 4, None, ["unknown dtype 'F33'"]),
    "dtype is a list": ({"a": t(dtype=["F32"])}, b"\0" * 4, None, ["unknown dtype ['F32']"]),
    "dtype missing": ({"a": {"shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, None,
                      ["unknown dtype None"]),
    "shape not a list": ({"a": t(shape="4")}, b"\0" * 4, None, ["invalid shape '4'"]),
    "negative dimension": ({"a": t(shape=[-1])}, b"\0" * 4, None, ["invalid shape [-1]"]),
    "float dimension": ({"a": t(shape=[1.0])}, b"\0" * 4, None, ["invalid shape [1.0]"]),
    "bool dimension": ({"a": t(shape=[True])}, b"\0" * 4, None, ["invalid shape [True]"]),
    "nested shape": ({"a": t(shape=[[1]])}, b"\0" * 4, None, ["invalid shape [[1]]"]),
    "too many dimensions": ({"a": t(shape=[1] * 100)}, b"\0" * 4, None, ["100 dimensions"]),
    "empty tensor numpy cannot describe": ({"a": t(shape=[0, 2**62, 2**62], offsets=[0, 0])},
                                           b"", None, ["impossibly large shape"]),
    "shape x dtype != byte range": ({"a": t("F32", [2], [0, 4])}, b"\0" * 8, None,
                                    ["shape [2] of F32 = 8 bytes", "span 4 bytes"]),
    "F16 shape x dtype != byte range": ({"a": t("F16", [3], [0, 8])}, b"\0" * 8, None,
                                        ["= 6 bytes", "span 8 bytes"]),
    "offsets out of the file": ({"a": t("F32", [100], [0, 400])}, b"\0" * 8, None,
                                ["outside the 8-byte data section"]),
    "negative offset": ({"a": t("F32", [1], [-4, 0])}, b"\0" * 8, None, ["outside"]),
    "reversed offsets": ({"a": t("F32", [1], [8, 4])}, b"\0" * 8, None, ["outside"]),
    "offsets not a pair": ({"a": t(offsets=[0, 4, 8])}, b"\0" * 8, None,
                           ["invalid data_offsets [0, 4, 8]"]),
    "offsets not integers": ({"a": t(offsets=[0, "4"])}, b"\0" * 8, None,
                             ["invalid data_offsets"]),
    "overlapping tensors": ({"a": t("F32", [2], [0, 8]), "b": t("F32", [2], [4, 12])},
                            b"\0" * 12, None, ["'a' and 'b' overlap"]),
    "duplicated range": ({"a": t("F32", [1], [0, 4]), "b": t("F32", [1], [0, 4])},
                         b"\0" * 4, None, ["overlap"]),
    "metadata not an object": ({"__metadata__": ["x"], "a": t()}, b"\0" * 4, None,
                               ["__metadata__ must be an object"]),
    "metadata values not strings": ({"__metadata__": {"format": 1}}, b"", None,
                                    ["__metadata__"]),
    "huge claimed shape": ({"a": t("F32", [10**12], [0, 4])}, b"\0" * 4, None,
                           ["4000000000000 bytes", "span 4 bytes"]),
    "lone surrogate name": ({"\ud800": t()}, b"\0" * 4, None, ["lone surrogate"]),
    "lone surrogate in metadata": ({"__metadata__": {"k": "v\udfff"}, "a": t()}, b"\0" * 4,
                                   None, ["lone surrogate"]),
    "a million JSON values": (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":['
                              + b"0," * MAX_HEADER_VALUES + b"0]}}", b"\0" * 4, None,
                              ["JSON values"]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_header_raises_checkpoint_error(tmp_path, case):
    header, data, length, fragments = HOSTILE[case]
    path = write_raw(tmp_path / "model.safetensors", header, data, length)
    with pytest.raises(CheckpointError) as ei:
        SafetensorsFile(path)
    msg = str(ei.value)
    assert path in msg and "not a valid safetensors file" in msg
    for fragment in fragments:
        assert fragment in msg, msg


@pytest.mark.parametrize("size", [0, 1, 7])
def test_file_shorter_than_8_bytes(tmp_path, size):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x01" * size)
    with pytest.raises(CheckpointError, match=f"it is {size} bytes long, shorter than the 8-byte"):
        SafetensorsFile(str(path))


def test_unopenable_path_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="Cannot open weights file"):
        SafetensorsFile(str(tmp_path))  # a directory


def test_huge_claimed_shapes_never_allocate(tmp_path):
    """A header claiming 4 TB (inside or outside the file) fails fast with no big allocation."""
    inside = write_raw(tmp_path / "a.safetensors", {"w": t("F32", [10**12], [0, 4])}, b"\0" * 4)
    outside = write_raw(tmp_path / "b.safetensors",
                        {"w": t("F32", [10**12], [0, 4 * 10**12])}, b"\0" * 4)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        for path in (inside, outside):
            with pytest.raises(CheckpointError):
                SafetensorsFile(path)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"reader allocated {peak} bytes for a hostile header"
    assert elapsed < 2.0


def test_reading_memory_maps_instead_of_copying(tmp_path):
    big = np.arange(2_000_000, dtype=np.float32)  # 8 MB
    path = str(tmp_path / "big.safetensors")
    save_file({"big": big, "small": np.ones(3, np.int8)}, path)
    tracemalloc.start()
    try:
        with SafetensorsFile(path) as f:
            arr = f.get("big")
            total = float(arr[-1])
            _, peak = tracemalloc.get_traced_memory()
            assert not arr.flags.owndata and not arr.flags.writeable
            del arr
    finally:
        tracemalloc.stop()
    assert total == 1_999_999.0
    assert peak < 1 << 20, f"reading an 8 MB tensor allocated {peak} bytes"


def test_empty_and_scalar_tensors_read(tmp_path):
    path = write_raw(tmp_path / "m.safetensors",
                     {"empty": t("F32", [0, 5], [0, 0]), "scalar": t("I32", [], [0, 4])},
                     struct.pack("<i", -7))
    with SafetensorsFile(path) as f:
        assert f.get("empty").shape == (0, 5)
        assert f.get("scalar").shape == () and int(f.get("scalar")) == -7


def test_corrupt_safetensors_through_from_pretrained_names_the_file(tmp_path, seq_dir):
    import tfhf

    for how in ("truncated", "garbage header length"):
        folder = tmp_path / how.replace(" ", "_")
        shutil.copytree(seq_dir, folder)
        weights = folder / "model.safetensors"
        data = weights.read_bytes()
        if how == "truncated":
            weights.write_bytes(data[: len(data) // 2])
        else:
            weights.write_bytes(struct.pack("<Q", 2**40) + data[8:])
        with pytest.raises(CheckpointError) as ei:
            tfhf.TFBertForSequenceClassification.from_pretrained(str(folder))
        assert str(weights) in str(ei.value)
        assert "truncated or corrupt" in str(ei.value)


# ---------------------------------------------------------------------------- fuzzing
FUZZ = settings(max_examples=150, deadline=5000, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_dtypes = (st.sampled_from(sorted(sio.DTYPES) + ["F33", "", "f32"]) | st.integers() | st.none()
           | st.lists(st.integers(), max_size=2))
_ints = st.integers(min_value=-3, max_value=40) | st.integers(min_value=-(2**70), max_value=2**70)
_entry = st.fixed_dictionaries({
    "dtype": _dtypes,
    "shape": st.lists(_ints, max_size=4) | st.none() | st.text(max_size=3),
    "data_offsets": st.lists(_ints, max_size=3) | st.none(),
}) | st.integers() | st.text(max_size=4)
_header = st.dictionaries(st.text(max_size=6), _entry, max_size=4)


@FUZZ
@given(data=st.binary(max_size=300), header=st.binary(max_size=200), framed=st.booleans())
def test_fuzz_random_bytes(tmp_path, data, header, framed):
    """Random files, and random headers behind a correct length prefix."""
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + data if framed else data)
    _parse_fully(str(path))


@FUZZ
@given(header=_header, data=st.binary(max_size=96), slack=st.integers(-4, 4))
def test_fuzz_random_headers(tmp_path, header, data, slack):
    raw = json.dumps(header).encode()
    path = write_raw(tmp_path / "fuzz.safetensors", raw, data, length=max(0, len(raw) + slack))
    _parse_fully(path)


def _valid_bytes():
    import io

    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
               "b": np.array([1, 2, 3], np.int64), "c": np.zeros((0, 2), np.float16),
               "d": np.array(3.5, ml_dtypes.bfloat16)}
    buf = io.BytesIO()
    sio._writer(sio._prepare_tensors(tensors), {"format": "pt"})(buf)
    return buf.getvalue()


VALID = _valid_bytes()


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)),
                      max_size=6),
       cut=st.integers(0, len(VALID)))
def test_fuzz_mutated_valid_file(tmp_path, edits, cut):
    data = bytearray(VALID)
    for pos, byte in edits:
        data[pos] = byte
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(bytes(data[:cut]))
    _parse_fully(str(path))


def test_fuzz_baseline_file_is_valid(tmp_path):
    """The mutation fuzzer starts from a file that really is valid."""
    path = tmp_path / "ok.safetensors"
    path.write_bytes(VALID)
    got = load_file(str(path))
    assert got["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert float(got["d"]) == 3.5


# ---------------------------------------------------------------------------- writing
ROUND_TRIP = {
    "f64": np.linspace(-1, 1, 6).reshape(2, 3),
    "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "f16": np.array([0.5, -2, 65504], np.float16),
    "bf16": np.array([[1.5, -3.25], [1e30, -0.0]], ml_dtypes.bfloat16),
    "f8_e4m3": np.array([0.5, -1.0, 2.0], ml_dtypes.float8_e4m3fn),
    "f8_e5m2": np.array([0.25, 4.0], ml_dtypes.float8_e5m2),
    "i64": np.array([-(2**40), 2**40], np.int64),
    "i32": np.array([[-1], [7]], np.int32),
    "i16": np.array([-3], np.int16),
    "i8": np.array([-128, 127], np.int8),
    "u64": np.array([2**63], np.uint64),
    "u32": np.array([7], np.uint32),
    "u16": np.array([65535], np.uint16),
    "u8": np.arange(5, dtype=np.uint8),
    "bool": np.array([True, False, True]),
    "scalar": np.array(2.5, np.float32),
    "empty": np.zeros((3, 0, 2), np.float32),
}


def test_round_trip_all_dtypes(tmp_path):
    path = str(tmp_path / "rt.safetensors")
    save_file(ROUND_TRIP, path, metadata={"format": "pt", "note": "x"})
    with SafetensorsFile(path) as f:
        assert f.metadata == {"format": "pt", "note": "x"}
        assert sorted(f.keys()) == sorted(ROUND_TRIP)
        for k, v in ROUND_TRIP.items():
            got = f.get(k)
            assert got.dtype == v.dtype and got.shape == v.shape, k
            np.testing.assert_array_equal(got.reshape(-1).view(np.uint8),
                                          v.reshape(-1).view(np.uint8), err_msg=k)
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
    assert n % 8 == 0  # data section 8-byte aligned, like safetensors writes it


def test_writer_normalizes_big_endian_and_strided_arrays(tmp_path):
    path = str(tmp_path / "x.safetensors")
    be = np.arange(6, dtype=">f4").reshape(2, 3)
    strided = np.arange(12, dtype=np.int32).reshape(3, 4).T
    save_file({"be": be, "strided": strided}, path)
    got = load_file(path)
    assert got["be"].dtype == np.dtype("<f4")
    np.testing.assert_array_equal(got["be"], be)
    np.testing.assert_array_equal(got["strided"], strided)


def test_safetensors_package_reads_tfhf_files(tmp_path):
    import torch
    from safetensors import safe_open
    from safetensors.numpy import load_file as st_load_numpy
    from safetensors.torch import load_file as st_load_torch

    path = str(tmp_path / "tfhf.safetensors")
    save_file(ROUND_TRIP, path, metadata={"format": "pt"})
    with safe_open(path, framework="np") as f:
        assert f.metadata() == {"format": "pt"}
    plain = {k: v for k, v in ROUND_TRIP.items() if not k.startswith(("bf16", "f8"))}
    plain_path = str(tmp_path / "plain.safetensors")  # numpy itself has no bfloat16 / float8
    save_file(plain, plain_path)
    got = st_load_numpy(plain_path)
    for k, v in plain.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
        assert got[k].dtype == v.dtype, k
    torch_got = st_load_torch(path)
    assert torch_got["bf16"].dtype == torch.bfloat16
    np.testing.assert_array_equal(torch_got["bf16"].float().numpy(),
                                  ROUND_TRIP["bf16"].astype(np.float32))
    assert torch_got["f8_e4m3"].dtype == torch.float8_e4m3fn
    np.testing.assert_array_equal(torch_got["f8_e4m3"].float().numpy(),
                                  ROUND_TRIP["f8_e4m3"].astype(np.float32))


def test_tfhf_reads_safetensors_package_files(tmp_path):
    import torch
    from safetensors.numpy import save_file as st_save_numpy
    from safetensors.torch import save_file as st_save_torch

    plain = {k: v for k, v in ROUND_TRIP.items() if not k.startswith(("bf16", "f8"))}
    p1 = str(tmp_path / "np.safetensors")
    st_save_numpy(plain, p1, metadata={"format": "np"})
    with SafetensorsFile(p1) as f:
        assert f.metadata == {"format": "np"}
        for k, v in plain.items():
            np.testing.assert_array_equal(f.get(k), v, err_msg=k)
            assert f.get(k).dtype == v.dtype, k
    p2 = str(tmp_path / "torch.safetensors")
    bf = torch.tensor([[1.5, -2.0, 3e38]], dtype=torch.bfloat16)
    st_save_torch({"bf": bf, "f16": bf.half(), "f8": bf.float().clamp(-400, 400)
                   .to(torch.float8_e4m3fn)}, p2)
    got = load_file(p2)
    assert got["bf"].dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(got["bf"].astype(np.float32), bf.float().numpy())
    assert got["f8"].dtype == np.dtype(ml_dtypes.float8_e4m3fn)


@pytest.mark.parametrize("tensors, match", [
    ({"__metadata__": np.zeros(1, np.float32)}, "__metadata__"),
    ({"obj": np.array([object()], dtype=object)}, "dtype object"),
    ({"c": np.zeros(2, np.complex64)}, "dtype complex64"),
    ({1: np.zeros(2, np.float32)}, "named 1"),
])
def test_writer_rejects_what_safetensors_cannot_hold(tmp_path, tensors, match):
    with pytest.raises(InvalidInputError, match=match):
        save_file(tensors, str(tmp_path / "x.safetensors"))
    assert os.listdir(tmp_path) == []


def test_written_files_get_normal_permissions(tmp_path):
    path = str(tmp_path / "x.safetensors")
    save_file({"a": np.zeros(2, np.float32)}, path)
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask


def _failing_writer(monkeypatch, fail_on_call=1):
    """Make the n-th file write fail after writing some bytes (a full disk)."""
    real = sio._writer
    calls = {"n": 0}

    def writer(tensors, metadata):
        inner = real(tensors, metadata)
        calls["n"] += 1
        if calls["n"] != fail_on_call:
            return inner

        def write(fh):
            fh.write(b"partial bytes")
            raise OSError(28, "No space left on device")

        return write

    monkeypatch.setattr(sio, "_writer", writer)


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = str(tmp_path / "x.safetensors")
    save_file({"a": np.ones(3, np.float32)}, path)
    before = Path(path).read_bytes()
    _failing_writer(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        save_file({"a": np.zeros(300, np.float32)}, path)
    assert os.listdir(tmp_path) == ["x.safetensors"]
    assert Path(path).read_bytes() == before


def test_transaction_rolls_back_when_a_rename_fails(tmp_path, monkeypatch):
    for name in ("one", "two"):
        (tmp_path / name).write_text(f"old {name}")
    real_replace = os.replace
    seen = []

    def replace(src, dst):
        seen.append(dst)
        if os.path.basename(str(dst)) == "two" and str(src).endswith(".part"):
            raise OSError("rename failed")
        return real_replace(src, dst)

    with FolderTransaction(str(tmp_path)) as tx:
        tx.write_text("one", "new one")
        tx.write_text("two", "new two")
        tx.write_text("three", "new three")
        monkeypatch.setattr(os, "replace", replace)
        with pytest.raises(OSError, match="rename failed"):
            tx.commit()
        monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["one", "two"]
    assert (tmp_path / "one").read_text() == "old one"
    assert (tmp_path / "two").read_text() == "old two"
    assert seen  # the patched rename really ran


def test_transaction_without_commit_leaves_nothing(tmp_path):
    with FolderTransaction(str(tmp_path)) as tx:
        tx.write_text("a.json", "{}")
        assert len(os.listdir(tmp_path)) == 1  # the staged temp file
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("size, expected", [
    ("20KB", 20_000), ("1KiB", 1024), ("5GB", 5 * 10**9), (" 2mb ", 2_000_000), (4096, 4096),
    ("1.5MB", 1_500_000)])
def test_parse_size(size, expected):
    assert sio.parse_size(size) == expected


@pytest.mark.parametrize("size", ["lots", "5XB", 0, -1, "0KB", "", None, True])
def test_parse_size_rejects_bad_values(size):
    with pytest.raises(InvalidInputError, match="max_shard_size="):
        sio.parse_size(size)


def test_shard_index_rejects_paths_and_junk(tmp_path):
    index = tmp_path / "model.safetensors.index.json"
    for weight_map, match in [({"a": "../model.safetensors"}, "invalid shard file"),
                              ({"a": ".."}, "invalid shard file"),
                              ({"a": 3}, "invalid shard file"),
                              ([], "not a valid shard index")]:
        index.write_text(json.dumps({"weight_map": weight_map}))
        with pytest.raises(CheckpointError, match=match):
            sio.shard_files_from_index(str(index))
    index.write_text("{")
    with pytest.raises(CheckpointError, match=str(index)):
        sio.shard_files_from_index(str(index))
    assert issubclass(CheckpointError, TfhfError) and issubclass(CheckpointError, ValueError)
