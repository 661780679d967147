"""Downloading dataset files from HTTPS mirrors into the library cache.

Each file is fetched whole, decompressed and checked against its pinned sha256, and only then
written to the cache (atomically, under a file lock). A failed, corrupt or interrupted download
leaves nothing behind, and the next mirror is tried.

A hostile or broken mirror cannot exhaust memory: the size of every file is known
(:meth:`~kerasdigits.datasets.DatasetInfo.file_size`), so a download longer than
:func:`max_download_size` is stopped, and a gzip stream is never decompressed past the file's
size (a decompression bomb is refused after a few megabytes).
"""

from __future__ import annotations

import hashlib
import http.client
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

from kerasdigits._errors import DatasetError
from kerasdigits._files import atomic_write, atomic_write_bytes
from kerasdigits._version import __version__
from kerasdigits.datasets._catalog import DatasetInfo
from kerasdigits.datasets._idx import decompress
from kerasdigits.datasets._verify import check_compressed, check_digest, check_sha256, mark_verified

__all__ = [
    "DEFAULT_TIMEOUT",
    "download_archive",
    "download_file",
    "max_download_size",
    "mirror_url",
]

#: Seconds a connection may stay silent before the download is abandoned.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 16


def mirror_url(mirror: str, dataset: str, filename: str) -> str:
    """Return the URL of ``filename`` on ``mirror``.

    ``{dataset}`` in the mirror is replaced by the dataset name, so one mirror can serve
    several datasets (``https://example.org/data/{dataset}/``); otherwise the file name is
    appended to the path of the mirror's base URL. A query string or fragment stays at the
    end (``https://example.org/mnist/?token=abc`` gives
    ``https://example.org/mnist/train-images-idx3-ubyte.gz?token=abc``), and a mirror whose
    path already names ``filename`` as its last component is used as it is.
    """
    parts = urllib.parse.urlsplit(mirror.replace("{dataset}", dataset))
    path = parts.path
    if path.rpartition("/")[2] != filename:
        path = path.rstrip("/") + "/" + filename
    return urllib.parse.urlunsplit(parts._replace(path=path))


def max_download_size(info: DatasetInfo, role: str) -> int:
    """Return the most bytes a download of ``role``'s file may take.

    The decompressed size (:meth:`DatasetInfo.file_size`) plus 1 % and 64 KiB: gzip never
    grows data by more than a few bytes per 64 KiB block, and a mirror may serve the file
    uncompressed. A larger download is stopped.
    """
    size = info.file_size(role)
    return size + size // 100 + 65_536


def _size(n: int) -> str:
    """Return a byte count for humans: ``"512 B"``, ``"28.9 kB"``, ``"9.7 MB"``."""
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1e3:.1f} kB"
    return f"{n / 1e6:.1f} MB"


class _Progress:
    """Download progress on a stream: a live line on a terminal, a few lines otherwise."""

    def __init__(self, name: str, total: int | None, stream: TextIO | None) -> None:
        self.name = name
        self.total = total
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty())
        self.start = time.monotonic()
        self.last_step = -1

    def _fmt(self, done: int) -> str:
        if self.total:
            pct = 100.0 * done / self.total
            return f"{self.name}: {_size(done)}/{_size(self.total)} ({pct:3.0f}%)"
        return f"{self.name}: {_size(done)}"

    def update(self, done: int) -> None:
        if self.stream is None:
            return
        if self.tty:
            self.stream.write("\r  " + self._fmt(done))
            self.stream.flush()
            return
        if self.total:
            step = int(4 * done / self.total)  # a line per quarter
            if step > self.last_step:
                self.last_step = step
                self.stream.write("  " + self._fmt(done) + "\n")
                self.stream.flush()

    def close(self, done: int, ok: bool) -> None:
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.start
        status = f"done in {elapsed:.1f} s" if ok else "failed"
        prefix = "\r  " if self.tty else "  "
        self.stream.write(f"{prefix}{self._fmt(done)} {status}\n")
        self.stream.flush()


def _fetch(
    url: str, *, timeout: float, progress: _Progress | None, name: str, limit: int, what: str,
    sink: Callable[[bytes], object] | None = None,
) -> bytes:
    """Return the body at ``url``, refusing one longer than ``limit`` bytes (``what`` says whose).

    With ``sink``, each chunk goes to ``sink`` instead (a large file written to disk as it
    arrives) and ``b""`` is returned.

    Raises:
        DatasetError: The body is incomplete or longer than ``limit`` (announced or received).
    """
    request = urllib.request.Request(url, headers={"User-Agent": f"kerasdigits/{__version__}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = progress or _Progress(name, total, None)
        bar.total = total
        chunks: list[bytes] = []
        done = 0
        ok = False
        too_big = f"more than the {limit:,} bytes {what} can take"
        try:
            if total is not None and total > limit:
                raise DatasetError(
                    f"{url}: the server announces {total:,} bytes, {too_big}; not downloaded"
                )
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                done += len(chunk)
                if done > limit:
                    raise DatasetError(f"{url}: download stopped after {too_big}")
                if sink is None:
                    chunks.append(chunk)
                else:
                    sink(chunk)
                bar.update(done)
            if total is not None and done != total:
                raise DatasetError(f"{url}: incomplete download ({done:,} of {total:,} bytes)")
            ok = True
        finally:
            bar.close(done, ok)
    return b"".join(chunks)


def download_file(
    info: DatasetInfo,
    role: str,
    dest_dir: Path,
    mirrors: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    stream: TextIO | None = None,
    validate: Callable[[bytes, str], None] | None = None,
) -> tuple[Path, str]:
    """Download one file of ``info`` into ``dest_dir``, trying ``mirrors`` in order.

    Args:
        info: The dataset.
        role: Which file (a key of ``ROLES``).
        dest_dir: The cache folder to write into.
        mirrors: Base URLs to try.
        timeout: Seconds of silence after which a mirror is abandoned.
        stream: Where progress goes (``None``: no progress output).
        validate: Extra check of the decompressed bytes (raises :class:`DatasetError`).

    Returns:
        The written path and the mirror it came from.

    Raises:
        DatasetError: Every mirror failed; the message lists each URL and its error (a
            download longer than :func:`max_download_size` or decompressing past
            :meth:`~DatasetInfo.file_size` is such an error).
    """
    filename = info.files[role] + ".gz"
    dest = dest_dir / filename
    what = f"{info.name} {role}"
    pinned = {"md5": info.gz_md5, "sha256": info.gz_sha256}
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror_url(mirror, info.name, filename)
        if stream is not None:
            stream.write(f"Downloading {url}\n")
        bar = _Progress(filename, None, stream)
        try:
            raw = _fetch(url, timeout=timeout, progress=bar, name=filename,
                         limit=max_download_size(info, role), what=what)
            # The published hashes of the compressed files are checked first, when there are
            # any: a mirror serving uncompressed data then fails (nothing to check it with).
            if (info.gz_md5 or info.gz_sha256) and not check_compressed(
                    raw, pinned, role, source=url, what=what):
                raise DatasetError(f"{url}: not gzip data, so it cannot be checked against "
                                   f"the published hashes of {filename}")
            data = decompress(raw, source=url, limit=info.file_size(role), what=what)
            if validate is not None:
                validate(data, url)
            if info.sha256:
                check_sha256(data, info.sha256[role], source=url, what=what)
        except (OSError, http.client.HTTPException, DatasetError, ValueError) as exc:
            failures.append(_failure(url, exc))
            continue
        atomic_write_bytes(dest, raw)
        if info.sha256:
            mark_verified(dest, info.sha256[role])
        return dest, mirror
    raise _all_failed(info, filename, failures)


def download_archive(
    info: DatasetInfo,
    dest_dir: Path,
    mirrors: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    stream: TextIO | None = None,
) -> tuple[Path, str]:
    """Download ``info``'s zip archive (EMNIST's ``gzip.zip``) into ``dest_dir``.

    The archive is written to a temporary file as it arrives (it is hundreds of megabytes),
    hashed on the way, and renamed into place only when it is complete and its md5 matches
    the published one; at most :attr:`~DatasetInfo.archive_max_size` bytes are accepted.

    Returns:
        The written path and the mirror it came from.

    Raises:
        DatasetError: Every mirror failed; the message lists each URL and its error.
    """
    assert info.archive is not None
    dest = dest_dir / info.archive
    what = f"{info.name}'s {info.archive}"
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror_url(mirror, info.name, info.archive)
        if stream is not None:
            stream.write(f"Downloading {url}\n")
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with atomic_write(dest) as out:
                _fetch(url, timeout=timeout, progress=_Progress(info.archive, None, stream),
                       name=info.archive, limit=info.archive_max_size, what=what,
                       sink=_tee(digest, out))
                if info.archive_md5:
                    check_digest(digest.hexdigest(), info.archive_md5, algorithm="md5",
                                 source=url, what=what, of="the zip file")
        except (OSError, http.client.HTTPException, DatasetError, ValueError) as exc:
            failures.append(_failure(url, exc))
            continue
        if info.archive_md5:
            mark_verified(dest, "md5:" + info.archive_md5)
        return dest, mirror
    raise _all_failed(info, info.archive, failures)


def _tee(digest: Any, out: IO[bytes]) -> Callable[[bytes], None]:
    """Return a sink that hashes each chunk and writes it to ``out``."""
    def sink(chunk: bytes) -> None:
        digest.update(chunk)
        out.write(chunk)

    return sink


def _failure(url: str, exc: BaseException) -> str:
    reason = str(exc.reason if isinstance(exc, urllib.error.URLError) else exc)
    # DatasetError messages already start with the URL.
    return f"{url}: {type(exc).__name__}: {reason.removeprefix(f'{url}: ')}"


def _all_failed(info: DatasetInfo, filename: str, failures: list[str]) -> DatasetError:
    if not failures:
        failures.append("no mirrors configured")
    details = "\n    ".join(failures)
    return DatasetError(f"could not download {filename} for {info.name!r}:\n    {details}")


def default_stream(progress: bool) -> TextIO | None:
    """Return the progress stream: ``sys.stderr`` when ``progress`` is true."""
    return sys.stderr if progress else None
