"""The cache of :func:`~kerasdigits.datasets._folder.load_image_folder`: converted pictures.

One ``.npz`` file per folder and set of options, in ``<kerasdigits home>/cache/folders/``,
named by a hash of its key (the resolved root folder, the options that change the pixels, the
cache format and the kerasdigits version). It holds, for each picture converted without error,
its path relative to the root, its size and ``st_mtime_ns`` when it was read, and the converted
``uint8`` image. A picture whose path, size and modification time all match is not decoded
again; any other picture is. Pictures that failed are not stored: they are read again, and
fail again, on the next load.

A cache file is never trusted blindly: it is read with ``np.load(allow_pickle=False)`` and
every array's name, dtype and shape is checked, as is the full key stored inside it (a hash
collision or a file from another version is no match); a file whose arrays would take much
more memory than the pictures of the folder (a decompression bomb) is not even read. Anything
wrong, a truncated or foreign file included, makes it count as missing: it is rebuilt. It is
written with :func:`kerasdigits._files.atomic_write`, so an interrupted load never leaves half
a file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kerasdigits._config import kerasdigits_home
from kerasdigits._files import atomic_write
from kerasdigits._version import __version__

__all__ = [
    "CACHE_FORMAT",
    "CachedPicture",
    "cache_dir",
    "cache_file",
    "max_cache_bytes",
    "read_cache",
    "write_cache",
]

#: Bumped whenever the file layout, or the way a picture is converted, changes.
CACHE_FORMAT = 1
_ARRAYS = frozenset({"format", "key", "paths", "sizes", "mtimes", "images"})


@dataclass(frozen=True)
class CachedPicture:
    """One converted picture, and the file size and modification time it was read at."""

    size: int
    mtime_ns: int
    image: npt.NDArray[np.uint8]


def cache_dir() -> Path:
    """The folder of the cache files: ``<kerasdigits home>/cache/folders``."""
    return kerasdigits_home() / "cache" / "folders"


def cache_file(root: Path, options: dict[str, Any]) -> tuple[Path, str]:
    """Return the cache file of ``root`` (resolved) loaded with ``options``, and its key.

    Args:
        root: The resolved root folder.
        options: The options that change the converted pixels (JSON-serializable).

    Returns:
        ``(path, key)``: the ``.npz`` file, and the text that must be stored in it.
    """
    key = json.dumps({"format": CACHE_FORMAT, "kerasdigits": __version__, "root": str(root),
                      **options}, sort_keys=True)
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_dir() / f"{digest}.npz", key


def max_cache_bytes(count: int, longest_path: int, side: int) -> int:
    """A generous bound on the decompressed size of the cache of ``count`` pictures.

    Twice what a cache of ``count`` pictures whose relative paths have at most
    ``longest_path`` characters holds, plus 1 MiB: room for pictures deleted since the file
    was written (a cache holding more is rebuilt), never room for a decompression bomb.
    """
    per_picture = side * side + 16 + 4 * (longest_path + 64)  # image, size and mtime, path
    return 2 * count * per_picture + (1 << 20)


def read_cache(
    path: Path, key: str, side: int, *, max_bytes: int | None = None
) -> dict[str, CachedPicture]:
    """Return the pictures stored in ``path`` by relative path; ``{}`` if it is no valid cache.

    Args:
        path: The cache file.
        key: The key it must hold (from :func:`cache_file`).
        side: The images' height and width.
        max_bytes: A file whose arrays would take more than this, decompressed, is no valid
            cache (see :func:`max_cache_bytes`); it is not read. ``None``: no bound.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            if set(npz.files) != _ARRAYS:
                return {}
            # The sizes the zip declares bound what reading it can take: zipfile never returns
            # more than a member declares (a small .npz can hold gigabytes of zeros).
            if max_bytes is not None and sum(i.file_size for i in npz.zip.infolist()) > max_bytes:
                return {}
            arrays = {name: npz[name] for name in _ARRAYS}
    except FileNotFoundError:
        return {}
    except Exception:  # truncated, not a zip, pickled objects...: a cache never fails a load
        return {}
    if not _valid(arrays, key, side):
        return {}
    paths, images = arrays["paths"], arrays["images"]
    sizes, mtimes = arrays["sizes"].tolist(), arrays["mtimes"].tolist()
    return {str(rel): CachedPicture(sizes[i], mtimes[i], images[i])
            for i, rel in enumerate(paths.tolist())}


def _valid(arrays: dict[str, npt.NDArray[Any]], key: str, side: int) -> bool:
    """Whether the arrays of a cache file have the expected key, dtypes and shapes."""
    fmt, stored_key, paths = arrays["format"], arrays["key"], arrays["paths"]
    if fmt.shape != () or fmt.dtype != np.int64 or int(fmt) != CACHE_FORMAT:
        return False
    if stored_key.shape != () or stored_key.dtype.kind != "U" or str(stored_key) != key:
        return False
    if paths.ndim != 1 or paths.dtype.kind != "U":
        return False
    n = len(paths)
    return (
        all(arrays[name].shape == (n,) and arrays[name].dtype == np.int64
            for name in ("sizes", "mtimes"))
        and arrays["images"].shape == (n, side, side)
        and arrays["images"].dtype == np.uint8
    )


def write_cache(
    path: Path,
    key: str,
    paths: Sequence[str],
    sizes: Sequence[int],
    mtimes: Sequence[int],
    images: npt.NDArray[np.uint8],
) -> None:
    """Write the cache file atomically (a temporary file beside it, then a rename).

    Args:
        path: The cache file.
        key: Its key (from :func:`cache_file`).
        paths: Each picture's path relative to the root.
        sizes: Each picture's file size in bytes.
        mtimes: Each picture's ``st_mtime_ns``.
        images: The converted pictures, ``uint8`` of shape ``(len(paths), side, side)``.

    Raises:
        OSError: The file cannot be written (nothing is left behind).
    """
    with atomic_write(path) as handle:
        np.savez(
            handle,
            format=np.array(CACHE_FORMAT, dtype=np.int64),
            key=np.array(key),
            paths=np.array(list(paths), dtype=str) if paths else np.empty(0, dtype="<U1"),
            sizes=np.asarray(sizes, dtype=np.int64).reshape(-1),
            mtimes=np.asarray(mtimes, dtype=np.int64).reshape(-1),
            images=np.ascontiguousarray(images, dtype=np.uint8),
        )
