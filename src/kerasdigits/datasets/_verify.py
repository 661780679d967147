"""Checksums of decompressed contents, and a record of files already verified.

Hashes are pinned on the *decompressed* bytes, so a recompressed copy (Debian recompresses its
``.gz`` files) verifies as well as the official download. Hashing 47 MB takes a noticeable
fraction of a second, so a file is verified once per location: its path, size and modification
time go into ``$KERASDIGITS_HOME/verified.json`` and later loads trust that record.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from kerasdigits._config import kerasdigits_home
from kerasdigits._errors import DatasetError
from kerasdigits._files import atomic_write_bytes

__all__ = [
    "check_compressed",
    "check_digest",
    "check_sha256",
    "file_digest",
    "is_verified",
    "mark_verified",
    "sha256_hex",
]

_RECORD_NAME = "verified.json"


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_sha256(data: bytes, expected: str, *, source: str, what: str) -> None:
    """Raise :class:`DatasetError` unless ``sha256(data) == expected``.

    Args:
        data: Decompressed contents.
        expected: The pinned hex digest.
        source: The file (or URL) the data came from, for the message.
        what: What the data is (for example ``"mnist train images"``).
    """
    check_digest(sha256_hex(data), expected, algorithm="sha256", source=source, what=what)


def check_digest(actual: str, expected: str, *, algorithm: str, source: str, what: str,
                 of: str = "the decompressed contents", hint: str = "") -> None:
    """Raise :class:`DatasetError` unless the hex digest ``actual`` equals ``expected``.

    Args:
        actual: The digest computed.
        expected: The pinned digest.
        algorithm: Its name, for the message (``"sha256"``, ``"md5"``).
        source: The file (or URL), for the message.
        what: What the data is.
        of: What was hashed, for the message.
        hint: Appended to the message.
    """
    if actual != expected:
        raise DatasetError(
            f"{source}: checksum mismatch for {what} ({algorithm} of {of}): expected "
            f"{expected}, actual {actual}. The file is corrupt or is not the official one: "
            f"delete it and load again (or pass verify=False for data of your own).{hint}"
        )


def file_digest(path: Path, algorithm: str) -> str:
    """Return the hex digest of the file at ``path``, read in chunks (a large zip file).

    Raises:
        DatasetError: The file cannot be read.
    """
    digest = hashlib.new(algorithm)
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


_RECOMPRESSED_HINT = (
    " Only the official compressed files' checksums are published: a copy you recompressed "
    "cannot be checked; decompress it (the file is then checked for size and format only)."
)


def check_compressed(raw: bytes, pinned: dict[str, dict[str, str]], role: str, *,
                     source: str, what: str) -> bool:
    """Check gzip bytes against the published hashes of the official compressed file.

    Args:
        raw: The file's bytes, as stored (gzip data or not).
        pinned: Algorithm (``"md5"``, ``"sha256"``) -> role -> hex digest.
        role: Which file.
        source: The file or URL, for the message.
        what: What the data is.

    Returns:
        Whether anything was checked: ``False`` when ``raw`` is not gzip data (an
        uncompressed copy; those hashes say nothing about it) or no hash is pinned.

    Raises:
        DatasetError: A hash does not match.
    """
    if not raw.startswith(b"\x1f\x8b"):
        return False
    checked = False
    for algorithm, digests in pinned.items():
        if role in digests:
            actual = hashlib.new(algorithm, raw).hexdigest()
            check_digest(actual, digests[role], algorithm=algorithm, source=source, what=what,
                         of="the compressed .gz file", hint=_RECOMPRESSED_HINT)
            checked = True
    return checked


def _record_path() -> Path:
    return kerasdigits_home() / _RECORD_NAME


def _stat_key(path: Path) -> tuple[str, dict[str, int]] | None:
    try:
        resolved = path.resolve()
        st = resolved.stat()
    except OSError:
        return None
    return str(resolved), {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _load_record() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_record_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_verified(path: Path, expected: str) -> bool:
    """Return whether ``path`` was verified against ``expected`` and has not changed since."""
    key = _stat_key(path)
    if key is None:
        return False
    entry = _load_record().get(key[0])
    return entry == {**key[1], "sha256": expected}


def mark_verified(path: Path, expected: str) -> None:
    """Record that ``path`` (as it is now) matches ``expected``. Best effort: never raises."""
    key = _stat_key(path)
    if key is None:
        return
    record = _load_record()
    record[key[0]] = {**key[1], "sha256": expected}
    with contextlib.suppress(OSError):
        atomic_write_bytes(
            _record_path(), json.dumps(record, indent=1, sort_keys=True).encode("utf-8")
        )
