"""Helpers for the dataset tests: tiny fake datasets written as IDX files, and the real data."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from kerasdigits.datasets import _catalog
from kerasdigits.datasets._catalog import ROLES
from kerasdigits.datasets._idx import idx_bytes, read_idx, write_idx

Arrays = dict[str, np.ndarray]

NPZ_KEYS = {
    "train_images": "x_train",
    "train_labels": "y_train",
    "test_images": "x_test",
    "test_labels": "y_test",
}


def fake_arrays(n_train: int = 30, n_test: int = 10, *, seed: int = 0) -> Arrays:
    """A tiny MNIST-shaped dataset: uint8 images (N, 28, 28), labels 0..9 cycling (every class).

    Pixel ``[0, 0]`` and ``[0, 1]`` of each image hold the example's index (little-endian), so
    that a test can tell which example it is looking at.
    """
    rng = np.random.default_rng(seed)
    arrays: Arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        index = np.arange(n)
        images[:, 0, 0] = index % 256
        images[:, 0, 1] = index // 256
        labels = ((index + seed) % 10).astype(np.uint8)
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels
    return arrays


def example_ids(images: np.ndarray) -> np.ndarray:
    """Recover the example indices that :func:`fake_arrays` wrote into the images."""
    images = np.asarray(images)
    return images[:, 0, 0].astype(np.int64) + 256 * images[:, 0, 1].astype(np.int64)


def file_name(role: str, *, compress: bool = True, dotted: bool = False) -> str:
    stem = ROLES[role]
    if dotted:
        stem = stem.replace("-idx", ".idx")
    return stem + ".gz" if compress else stem


def write_dataset(folder: Path, arrays: Arrays, *, compress: bool = True,
                  dotted: bool = False, roles: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Write ``arrays`` as the four IDX files (or only ``roles``) into ``folder``."""
    paths = {}
    for role in roles or tuple(ROLES):
        path = folder / file_name(role, compress=compress, dotted=dotted)
        write_idx(path, arrays[role])
        paths[role] = path
    return paths


def write_npz(path: Path, arrays: Arrays) -> Path:
    """Write ``arrays`` in the layout of Keras's ``mnist.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{NPZ_KEYS[role]: arrays[role] for role in ROLES})
    return path


def sha256_of(arrays: Arrays) -> dict[str, str]:
    """The sha256 of each array's decompressed IDX encoding, by role."""
    return {role: hashlib.sha256(idx_bytes(arrays[role])).hexdigest() for role in ROLES}


def pin_hashes(monkeypatch: pytest.MonkeyPatch, name: str, arrays: Arrays) -> None:
    """Make the catalog of dataset ``name`` pin the hashes of ``arrays`` (so verify=True works)."""
    info = _catalog.DATASETS[name]
    monkeypatch.setitem(_catalog.DATASETS, name,
                        dataclasses.replace(info, sha256=sha256_of(arrays)))


def assert_arrays_equal(dataset_arrays: Arrays, expected: Arrays) -> None:
    for role in ROLES:
        np.testing.assert_array_equal(dataset_arrays[role], expected[role], err_msg=role)


def dataset_arrays(ds: object) -> Arrays:
    """The four arrays of a loaded Dataset (without a validation split), by role."""
    return {
        "train_images": ds.train.images,  # type: ignore[attr-defined]
        "train_labels": ds.train.labels,  # type: ignore[attr-defined]
        "test_images": ds.test.images,  # type: ignore[attr-defined]
        "test_labels": ds.test.labels,  # type: ignore[attr-defined]
    }


def gz_recompress(raw: bytes, level: int) -> bytes:
    return gzip.compress(gzip.decompress(raw), compresslevel=level, mtime=0)


@functools.cache
def real_arrays(folder: Path) -> Arrays:
    """The four arrays of the real dataset in ``folder``, read once per session."""
    arrays = {}
    for role, stem in ROLES.items():
        array = read_idx(folder / (stem + ".gz"))
        array.setflags(write=False)
        arrays[role] = array
    return arrays


def decompressed_sums(real_data_dir: Path) -> dict[tuple[str, str], str]:
    """Parse ``SHA256SUMS-decompressed.txt``: ``(folder, role) -> sha256``."""
    stem_to_role = {stem: role for role, stem in ROLES.items()}
    sums = {}
    text = (real_data_dir / "SHA256SUMS-decompressed.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        folder, filename = name.split(maxsplit=1)[0].split("/")
        stem = filename.removesuffix(".gz")
        sums[(folder, stem_to_role[stem])] = digest
    return sums
