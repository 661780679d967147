"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of dimensions),
one big-endian ``uint32`` per dimension, then the values in C order, big-endian. Files may be
gzip-compressed; gzip is recognized by its content, not by the file name.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kerasdigits._errors import DatasetError
from kerasdigits._files import atomic_write_bytes

__all__ = [
    "decompress",
    "idx_bytes",
    "idx_header",
    "parse_idx",
    "read_bytes",
    "read_decompressed",
    "read_idx",
    "read_member",
    "write_idx",
]

#: IDX dtype code -> NumPy dtype (big-endian, as stored).
_CODE_TO_DTYPE: dict[int, np.dtype[np.generic]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_TO_CODE: dict[tuple[str, int], int] = {
    ("u", 1): 0x08,
    ("i", 1): 0x09,
    ("i", 2): 0x0B,
    ("i", 4): 0x0C,
    ("f", 4): 0x0D,
    ("f", 8): 0x0E,
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def decompress(
    raw: bytes,
    *,
    source: str | os.PathLike[str],
    limit: int | None = None,
    what: str = "",
    hint: str = "",
) -> bytes:
    """Return ``raw`` gunzipped if it is gzip data, else unchanged.

    The data is decompressed in chunks of 1 MiB, so that with a ``limit`` a decompression
    bomb (a small gzip file that expands to gigabytes) is refused after using at most
    ``limit`` plus 1 MiB of memory.

    Args:
        raw: The file's bytes.
        source: The file or URL, for error messages.
        limit: The largest decompressed size accepted, in bytes (``None``: no limit).
        what: What the file should be (``"mnist train_images"``), for the limit's message.
        hint: Appended to the limit's message (``"pass verify=False ..."``).

    Raises:
        DatasetError: The gzip stream is truncated or corrupt, or the (decompressed) data is
            larger than ``limit``; the message names ``source``.
    """
    what = what or "the file"
    hint = f" ({hint})" if hint else ""
    if not raw.startswith(_GZIP_MAGIC):
        if limit is not None and len(raw) > limit:
            raise DatasetError(
                f"{source}: {len(raw):,} bytes, more than the {limit:,} bytes of {what}{hint}"
            )
        return raw
    chunks: list[bytes] = []
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if limit is not None and total > limit:
                    raise DatasetError(
                        f"{source}: decompresses to more than {limit:,} bytes (from "
                        f"{len(raw):,} compressed bytes), the size of {what}: stopped reading; "
                        f"the file is corrupt or a decompression bomb{hint}"
                    )
                chunks.append(chunk)
    except EOFError as exc:
        raise DatasetError(
            f"{source}: truncated gzip file ({len(raw):,} bytes; the stream ends early). "
            "The file is incomplete: delete it and load again."
        ) from exc
    except (OSError, zlib.error) as exc:
        raise DatasetError(f"{source}: corrupt gzip file: {exc}") from exc
    return b"".join(chunks)


def parse_idx(
    data: bytes, *, source: str | os.PathLike[str] = "<bytes>"
) -> npt.NDArray[np.generic]:
    """Parse the (already decompressed) bytes of an IDX file into an array.

    The result has native byte order and owns its memory.

    Args:
        data: The IDX bytes.
        source: A name for error messages (usually the file path).

    Returns:
        The array, with the shape given in the header.

    Raises:
        DatasetError: The header is invalid or the payload size does not match it.
    """
    if len(data) < 4:
        raise DatasetError(f"{source}: not an IDX file: only {len(data)} bytes")
    zero1, zero2, code, ndim = data[0], data[1], data[2], data[3]
    if zero1 != 0 or zero2 != 0:
        raise DatasetError(
            f"{source}: wrong IDX magic number 0x{data[:4].hex()}: an IDX file starts with two "
            "zero bytes, a dtype code and the number of dimensions"
        )
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise DatasetError(f"{source}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DatasetError(f"{source}: IDX header declares zero dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(f"{source}: truncated IDX header ({len(data)} bytes, need {header_len})")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = _CODE_TO_DTYPE[code]
    # Python integers: np.prod would wrap around (silently) for a corrupt header's huge dims.
    expected = math.prod(dims) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        shape = "x".join(str(d) for d in dims)
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise DatasetError(
            f"{source}: IDX payload {problem}: header declares shape {shape} of {dtype.name} "
            f"({expected:,} bytes), file holds {actual:,} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> npt.NDArray[np.generic]:
    """Read an IDX file, gzip-compressed or not.

    Args:
        path: The file (for example ``train-images-idx3-ubyte.gz``).

    Returns:
        The array, for MNIST images ``uint8`` of shape ``(N, 28, 28)``.

    Raises:
        DatasetError: The file is missing, truncated, or not a valid IDX file.

    Example:
        >>> import numpy as np, tempfile, os
        >>> from kerasdigits.datasets import read_idx, write_idx
        >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
        >>> write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
        >>> read_idx(path)
        array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    return parse_idx(read_decompressed(path), source=path)


def read_decompressed(
    path: Path, *, limit: int | None = None, what: str = "", hint: str = ""
) -> bytes:
    """Return the contents of ``path``, gunzipped if it is gzip data.

    Args:
        path: The file.
        limit: The largest decompressed size accepted, in bytes (``None``: no limit); see
            :func:`decompress`.
        what: What the file should be, for the limit's message.
        hint: Appended to the limit's message.

    Raises:
        DatasetError: The file is missing, unreadable, a truncated or corrupt gzip stream, or
            larger than ``limit`` once decompressed.
    """
    return decompress(read_bytes(path), source=path, limit=limit, what=what, hint=hint)


def read_bytes(path: Path) -> bytes:
    """Return the bytes of ``path``.

    Raises:
        DatasetError: The file is missing or unreadable (the message names it).
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_member(archive: zipfile.ZipFile, member: str, path: Path, *,
                limit: int | None) -> bytes:
    """Return the bytes of one member of a zip archive, refusing one larger than ``limit``.

    Only that member is read (and decompressed, by :mod:`zipfile`); the size it declares is
    checked first, and :mod:`zipfile` never returns more than that size.

    Args:
        archive: The open archive.
        member: The member's name (``"gzip/emnist-digits-train-images-idx3-ubyte.gz"``).
        path: The archive's path, for messages.
        limit: The largest member accepted, in bytes (``None``: no limit).

    Raises:
        DatasetError: The member is missing, too large, or corrupt.
    """
    try:
        entry = archive.getinfo(member)
    except KeyError:
        raise DatasetError(
            f"{path}: the archive has no member {member!r} (it holds {len(archive.namelist())} "
            "files): is it the official one?"
        ) from None
    if limit is not None and entry.file_size > limit:
        raise DatasetError(
            f"{path} [{member}]: {entry.file_size:,} bytes, more than the {limit:,} bytes it "
            "can take; not read"
        )
    try:
        return archive.read(entry)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise DatasetError(f"{path} [{member}]: corrupt zip member: {exc}") from exc


def idx_header(dtype: np.dtype[np.generic], shape: tuple[int, ...]) -> bytes:
    """Return the IDX header for an array of ``dtype`` and ``shape``.

    Raises:
        ValueError: The dtype has no IDX code, or the shape cannot be stored.
    """
    key = (dtype.kind, dtype.itemsize)
    if key not in _KIND_TO_CODE:
        raise ValueError(
            f"IDX cannot store dtype {dtype}; use uint8, int8, int16, int32, float32 or float64"
        )
    if not 1 <= len(shape) <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, got shape {shape}")
    if any(d < 0 or d > 0xFFFFFFFF for d in shape):
        raise ValueError(f"IDX dimensions must fit in uint32, got shape {shape}")
    return bytes([0, 0, _KIND_TO_CODE[key], len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def idx_bytes(array: npt.ArrayLike) -> bytes:
    """Return the uncompressed IDX encoding of ``array`` (header plus big-endian payload)."""
    arr = np.asarray(array)
    header = idx_header(arr.dtype, arr.shape)
    return header + np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(">")).tobytes()


def write_idx(
    path: str | os.PathLike[str], array: npt.ArrayLike, *, compress: bool | None = None
) -> None:
    """Write ``array`` as an IDX file, atomically.

    Args:
        path: Destination; gzip-compressed when it ends in ``.gz`` (unless ``compress`` says
            otherwise).
        array: Values of dtype uint8, int8, int16, int32, float32 or float64.
        compress: Force gzip on (``True``) or off (``False``).

    Raises:
        ValueError: The array's dtype or shape cannot be stored as IDX.
    """
    path = Path(path)
    data = idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        # mtime=0 makes the output reproducible byte for byte.
        data = gzip.compress(data, compresslevel=9, mtime=0)
    atomic_write_bytes(path, data)
