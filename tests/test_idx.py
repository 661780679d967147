"""IDX reading and writing: round trips, gzip detection, and errors that name the file."""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kerasdigits import _files
from kerasdigits.datasets import DatasetError, read_idx, write_idx
from kerasdigits.datasets._idx import decompress, idx_bytes, idx_header, parse_idx

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D,
         "float64": 0x0E}
SHAPES = [(0,), (7,), (3, 4), (2, 3, 4), (2, 1, 3, 2), (1, 1, 1, 1, 2)]


def _sample(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(1)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        values = rng.normal(scale=1e3, size=shape).astype(dt)
        if values.size:
            values.flat[0] = np.finfo(dt).max
            values.flat[-1] = -np.finfo(dt).tiny
        return values
    info = np.iinfo(dt)
    values = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if values.size:
        values.flat[0] = info.min
        values.flat[-1] = info.max
    return values


def _no_part_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".part")]


# --------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype_and_rank(tmp_path: Path, dtype: str, shape: tuple[int, ...],
                                         compress: bool) -> None:
    array = _sample(dtype, shape)
    path = tmp_path / ("data.idx.gz" if compress else "data.idx")
    write_idx(path, array)
    raw = path.read_bytes()
    assert raw.startswith(b"\x1f\x8b") is compress
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, array)
    assert result.flags.owndata
    assert result.flags.writeable


@pytest.mark.parametrize("dtype", DTYPES)
def test_encoding_is_big_endian_with_the_standard_header(dtype: str) -> None:
    array = np.arange(6, dtype=dtype).reshape(2, 3)
    data = idx_bytes(array)
    assert data[:4] == bytes([0, 0, CODES[dtype], 2])
    assert struct.unpack(">2I", data[4:12]) == (2, 3)
    assert data[12:] == array.astype(np.dtype(dtype).newbyteorder(">")).tobytes()


def test_known_bytes_of_a_label_file() -> None:
    # The first bytes of MNIST's train-labels file: magic 0x00000801, 60000 items, labels 5 0 4.
    data = bytes.fromhex("00000801") + struct.pack(">I", 3) + bytes([5, 0, 4])
    np.testing.assert_array_equal(parse_idx(data), np.array([5, 0, 4], dtype=np.uint8))
    assert idx_bytes(np.array([5, 0, 4], dtype=np.uint8)) == data


def test_little_endian_and_non_contiguous_input_are_encoded_correctly(tmp_path: Path) -> None:
    array = np.arange(24, dtype="<i4").reshape(4, 6)[:, ::2]
    assert not array.flags.c_contiguous
    write_idx(tmp_path / "a.idx", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)
    big = array.astype(">f8")
    write_idx(tmp_path / "b.idx", big)
    result = read_idx(tmp_path / "b.idx")
    assert result.dtype == np.float64
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, big)


def test_gzip_is_detected_by_content_not_by_name(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    # A gzip file without .gz, and a plain file named .gz: both read correctly.
    write_idx(tmp_path / "compressed-idx1-ubyte", array, compress=True)
    write_idx(tmp_path / "plain-idx1-ubyte.gz", array, compress=False)
    assert (tmp_path / "compressed-idx1-ubyte").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "plain-idx1-ubyte.gz").read_bytes()[:4] == b"\x00\x00\x08\x01"
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed-idx1-ubyte"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-idx1-ubyte.gz"), array)


def test_write_idx_gzip_output_is_reproducible(tmp_path: Path) -> None:
    array = np.arange(100, dtype=np.int16)
    write_idx(tmp_path / "a.gz", array)
    raw = (tmp_path / "a.gz").read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip header mtime: 0, not the time of writing
    assert raw == gzip.compress(idx_bytes(array), compresslevel=9, mtime=0)


def test_recompressed_and_multi_member_gzip_read_the_same(tmp_path: Path) -> None:
    array = np.arange(300, dtype=np.int32).reshape(3, 100)
    data = idx_bytes(array)
    (tmp_path / "fast.gz").write_bytes(gzip.compress(data, compresslevel=1))
    (tmp_path / "multi.gz").write_bytes(gzip.compress(data[:50]) + gzip.compress(data[50:]))
    np.testing.assert_array_equal(read_idx(tmp_path / "fast.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "multi.gz"), array)


@settings(max_examples=150, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.dtype(d) for d in DTYPES]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
    ),
    compress=st.booleans(),
)
def test_round_trip_property(array: np.ndarray, compress: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x-idx-ubyte"
        write_idx(path, array, compress=compress)
        result = read_idx(path)
        assert os.listdir(tmp) == ["x-idx-ubyte"]
    assert result.dtype == array.dtype.newbyteorder("=")
    assert result.shape == array.shape
    # Bit for bit, NaN payloads and signed zeros included.
    assert result.tobytes() == array.astype(result.dtype).tobytes()
    assert parse_idx(idx_bytes(array)).tobytes() == result.tobytes()


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_every_truncation_of_a_gzip_file_is_an_error_naming_it(data: st.DataObject) -> None:
    array = np.arange(200, dtype=np.uint8).reshape(2, 100)
    raw = gzip.compress(idx_bytes(array))
    cut = data.draw(st.integers(min_value=1, max_value=len(raw) - 1), label="cut")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cut.gz"
        path.write_bytes(raw[:cut])
        with pytest.raises(DatasetError) as info:
            read_idx(path)
    assert str(path) in str(info.value)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_every_strict_prefix_of_an_idx_file_is_an_error(data: st.DataObject) -> None:
    payload = idx_bytes(np.arange(12, dtype=np.int16).reshape(2, 3, 2))
    cut = data.draw(st.integers(min_value=0, max_value=len(payload) - 1), label="cut")
    with pytest.raises(DatasetError, match=r"^src\.idx: "):
        parse_idx(payload[:cut], source="src.idx")


# --------------------------------------------------------------------------------------------
# Errors name the file


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope-idx1-ubyte.gz"
    with pytest.raises(DatasetError, match="missing file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_a_directory_is_not_readable(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read") as info:
        read_idx(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte.gz"
    write_idx(path, np.arange(1000, dtype=np.int32))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match="truncated gzip file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_crc(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte.gz"
    write_idx(path, np.arange(1000, dtype=np.int32))
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # the CRC32 of the trailer
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"corrupt gzip file.*CRC") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "images-idx3-ubyte.gz"
    raw = gzip.compress(idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    # Keep the 10-byte gzip header, garble the deflate stream (0xFF: invalid block type).
    path.write_bytes(raw[:10] + b"\xff" * (len(raw) - 10))
    with pytest.raises(DatasetError, match="corrupt gzip file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_decompress_leaves_plain_bytes_alone() -> None:
    assert decompress(b"\x00\x00\x08\x01", source="x") == b"\x00\x00\x08\x01"


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x02\x08\x01", b"PK\x03\x04"])
def test_wrong_magic(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(magic + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DatasetError, match="wrong IDX magic number") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("code", [0x00, 0x0A, 0x0F, 0xFF])
def test_unknown_dtype_code(tmp_path: Path, code: int) -> None:
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, code, 1]) + struct.pack(">I", 1) + b"\x00"))
    with pytest.raises(DatasetError, match=f"unknown IDX dtype code 0x{code:02X}") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_zero_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(bytes([0, 0, 8, 0]))
    with pytest.raises(DatasetError, match="zero dimensions") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_too_short_for_a_header(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="not an IDX file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 5))
    with pytest.raises(DatasetError, match=r"truncated IDX header \(8 bytes, need 16\)") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_payload(tmp_path: Path) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(gzip.compress(data[:-10]))
    pattern = r"payload truncated.*4x28x28.*3,136 bytes.*3,126"
    with pytest.raises(DatasetError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)) + b"\x00\x00")
    with pytest.raises(DatasetError, match="has trailing bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_payload_of_a_wider_dtype_is_counted_in_bytes() -> None:
    data = idx_bytes(np.arange(6, dtype=np.float64))
    with pytest.raises(DatasetError, match=r"float64 \(48 bytes\), file holds 47 bytes"):
        parse_idx(data[:-1])


def test_huge_dimensions_do_not_overflow(tmp_path: Path) -> None:
    # 65536**4 elements is 2**64: computed in int64 it wraps around to 0 and an empty payload
    # would look right. It must be reported as a truncated payload, naming the file.
    path = tmp_path / "huge-idx4-ubyte"
    path.write_bytes(bytes([0, 0, 8, 4]) + struct.pack(">4I", *(65536,) * 4))
    pattern = r"payload truncated.*18,446,744,073,709,551,616"
    with pytest.raises(DatasetError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# Writing


@pytest.mark.parametrize(
    "array",
    [
        np.zeros(3, dtype=np.uint16),
        np.zeros(3, dtype=np.float16),
        np.zeros(3, dtype=np.int64),
        np.zeros(3, dtype=bool),
        np.zeros(3, dtype=np.complex64),
        np.array(5, dtype=np.uint8),
    ],
    ids=["uint16", "float16", "int64", "bool", "complex64", "0-d"],
)
def test_unencodable_arrays_raise_and_leave_no_file(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(ValueError, match="IDX"):
        write_idx(tmp_path / "out-idx1-ubyte.gz", array)
    assert list(tmp_path.iterdir()) == []


def test_idx_header_rejects_too_many_dimensions() -> None:
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        idx_header(np.dtype(np.uint8), (1,) * 256)
    assert idx_header(np.dtype(np.uint8), (1,) * 255)[3] == 255


def test_write_idx_creates_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "x.gz"
    write_idx(path, np.arange(3, dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(path), [0, 1, 2])
    assert _no_part_files(tmp_path) == []


@pytest.mark.parametrize("failure", ["fsync", "replace"])
@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()],
                         ids=["oserror", "interrupt"])
def test_interrupted_write_keeps_the_old_file_and_leaves_no_part(
    tmp_path: Path, failure: str, exc: BaseException
) -> None:
    path = tmp_path / "labels-idx1-ubyte.gz"
    write_idx(path, np.array([1, 2, 3], dtype=np.uint8))
    before = path.read_bytes()

    def boom(*args: object) -> None:
        raise exc

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_files.os, failure, boom)
        with pytest.raises(type(exc)):
            write_idx(path, np.array([9, 9, 9, 9], dtype=np.uint8))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_atomic_write_gives_the_file_an_ordinary_mode(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte"
    write_idx(path, np.arange(3, dtype=np.uint8))
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    write_idx(path, np.arange(4, dtype=np.uint8))
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(read_idx(path)) == 4
