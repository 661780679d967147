"""The MNIST family: Kuzushiji-MNIST and EMNIST, through the same search order, caches and checks.

The real files cannot be downloaded here, so the tests write files in the official layouts
(KMNIST's four ``.gz`` files; EMNIST's single ``gzip.zip`` holding
``gzip/emnist-<split>-{train,test}-{images,labels}-idx?-ubyte.gz``, images transposed, EMNIST
Letters' labels 1..26), and serve them from the local HTTP test server. The pinned checksums
are the official ones; a test pins the test files' hashes where it needs a match.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from _httpserver import LocalServer
from _idxfiles import fake_arrays, write_dataset
from kerasdigits.datasets import (
    DatasetError,
    _catalog,
    get_dataset_info,
    load_dataset,
    locate_dataset,
)
from kerasdigits.datasets._catalog import ROLES
from kerasdigits.datasets._idx import idx_bytes

Arrays = dict[str, np.ndarray]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer().start()
    yield srv
    srv.close()


def _pin(monkeypatch: pytest.MonkeyPatch, name: str, **changes: object) -> None:
    info = _catalog.DATASETS[name]
    monkeypatch.setitem(_catalog.DATASETS, name, dataclasses.replace(info, **changes))


def _gz_files(arrays: Arrays) -> dict[str, bytes]:
    return {role: gzip.compress(idx_bytes(arrays[role]), mtime=0) for role in ROLES}


# --------------------------------------------------------------------------------------------
# The catalog


def test_family_facts() -> None:
    kmnist = get_dataset_info("kmnist")
    assert kmnist.class_names == ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    assert kmnist.counts == (60_000, 10_000)
    assert kmnist.gz_md5 == {  # the (official) values
        "train_images": "bdb82020997e1d708af4cf47b453dcf7",
        "train_labels": "e144d726b3acfaa3e44228e80efcd344",
        "test_images": "5c965bf0a639b31b8f53240b1b52f4d7",
        "test_labels": "7320c461ea6c1c855c0b718fb2a4b134",
    }
    assert set(kmnist.gz_sha256) == set(ROLES) and not kmnist.sha256
    assert "CC BY-SA 4.0" in kmnist.license and kmnist.checksum_source
    letters = get_dataset_info("emnist_letters")
    assert letters.num_classes == 26 and letters.label_offset == 1 and letters.transposed
    balanced = get_dataset_info("emnist-balanced")
    assert balanced.num_classes == 47 and len(set(balanced.class_names)) == 47
    assert get_dataset_info("emnist_digits").counts == (240_000, 40_000)
    for name in ("emnist_digits", "emnist_letters", "emnist_balanced"):
        info = get_dataset_info(name)
        assert info.archive == "gzip.zip" and info.archive_md5 == "58c8d27c78d21e728a6bc7b3cc06412e"
        assert info.cache_folder == "emnist"
        assert info.files["test_images"] == f"emnist-{name[7:]}-test-images-idx3-ubyte"


# --------------------------------------------------------------------------------------------
# KMNIST: the published hashes are of the .gz files


def test_kmnist_from_data_dir_checks_the_compressed_files(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = fake_arrays(30, 10)
    for role, raw in _gz_files(arrays).items():
        (tmp_path / (ROLES[role] + ".gz")).write_bytes(raw)
    # The official hashes: these files are not the official ones.
    with pytest.raises(DatasetError, match=r"md5 of the compressed \.gz file") as info:
        load_dataset("kmnist", data_dir=tmp_path, download=False)
    assert str(tmp_path) in str(info.value) and "recompressed" in str(info.value)
    _pin(monkeypatch, "kmnist",
         gz_md5={r: hashlib.md5(raw).hexdigest() for r, raw in _gz_files(arrays).items()},
         gz_sha256={r: hashlib.sha256(raw).hexdigest() for r, raw in _gz_files(arrays).items()})
    ds = load_dataset("kmnist", data_dir=tmp_path, download=False)
    assert ds.name == "kmnist" and ds.class_names[0] == "o"
    np.testing.assert_array_equal(ds.train.images, arrays["train_images"])
    np.testing.assert_array_equal(ds.test.labels, arrays["test_labels"])


def test_kmnist_uncompressed_copy_is_checked_for_size_and_format_only(tmp_path: Path) -> None:
    arrays = fake_arrays(30, 10)
    write_dataset(tmp_path, arrays, compress=False)
    ds = load_dataset("kmnist", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(ds.train.labels, arrays["train_labels"])
    # A label outside the 10 classes is still refused, naming the file.
    bad = dict(arrays, train_labels=np.full(30, 10, np.uint8))
    write_dataset(tmp_path, bad, compress=False, roles=("train_labels",))
    with pytest.raises(DatasetError, match=r"label 10 at index 0 is outside 0..9"):
        load_dataset("kmnist", data_dir=tmp_path, download=False)


def test_kmnist_downloads_from_a_mirror_into_the_cache(server: LocalServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = fake_arrays(40, 10, seed=3)
    files = _gz_files(arrays)
    for role, raw in files.items():
        server.add(f"/kmnist/{ROLES[role]}.gz", raw)
    _pin(monkeypatch, "kmnist", gz_sha256={r: hashlib.sha256(b).hexdigest()
                                           for r, b in files.items()}, gz_md5={})
    mirror = server.url("/kmnist/")
    assert locate_dataset("kmnist") is None
    ds = load_dataset("kmnist", mirrors=[mirror], progress=False)
    assert ds.source.kind == "download"
    np.testing.assert_array_equal(ds.test.images, arrays["test_images"])
    again = load_dataset("kmnist", mirrors=[mirror], progress=False)
    assert again.source.kind == "cache" and server.count("/kmnist/") == 4


def test_kmnist_mirror_with_wrong_files_leaves_nothing(server: LocalServer) -> None:
    for role, raw in _gz_files(fake_arrays(20, 10)).items():
        server.add(f"/k/{ROLES[role]}.gz", raw)
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        load_dataset("kmnist", mirrors=[server.url("/k/")], progress=False)
    assert server.url("/k/train-images-idx3-ubyte.gz") in str(info.value)
    assert locate_dataset("kmnist") is None


# --------------------------------------------------------------------------------------------
# EMNIST: one zip, transposed images, letters labelled from 1


def _emnist_arrays(num_classes: int, offset: int, n_train: int = 52, n_test: int = 26,
                   seed: int = 0) -> Arrays:
    rng = np.random.default_rng(seed)
    arrays: Arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = np.zeros((n, 28, 28), np.uint8)
        labels = (np.arange(n) % num_classes).astype(np.uint8)
        for i, label in enumerate(labels):  # a class-dependent, asymmetric stroke
            images[i, 4 + label % 20, 3:25] = 255
            images[i, 5:9, 20] = 200
        images += rng.integers(0, 20, size=images.shape, dtype=np.uint8)
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels + offset
    return arrays


def _emnist_zip(splits: dict[str, Arrays]) -> bytes:
    """A ``gzip.zip`` in the official layout; images stored transposed, as EMNIST does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for split, arrays in splits.items():
            for role, stem in ROLES.items():
                array = arrays[role]
                if role.endswith("images"):
                    array = array.transpose(0, 2, 1)
                name = f"gzip/emnist-{split}-{stem.replace('t10k', 'test')}.gz"
                archive.writestr(name, gzip.compress(idx_bytes(array), mtime=0))
    return buffer.getvalue()


@pytest.fixture
def emnist(monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, dict[str, Arrays]]:
    splits = {"letters": _emnist_arrays(26, 1), "digits": _emnist_arrays(10, 0, seed=1),
              "balanced": _emnist_arrays(47, 0, n_train=94, n_test=47, seed=2)}
    raw = _emnist_zip(splits)
    for split in splits:
        _pin(monkeypatch, f"emnist_{split}", archive_md5=hashlib.md5(raw).hexdigest())
    return raw, splits


def test_emnist_is_read_from_the_zip_in_mnist_orientation(
        tmp_path: Path, emnist: tuple[bytes, dict[str, Arrays]]) -> None:
    raw, splits = emnist
    (tmp_path / "emnist").mkdir()
    (tmp_path / "emnist" / "gzip.zip").write_bytes(raw)
    letters = load_dataset("emnist_letters", data_dir=tmp_path, download=False)
    assert letters.num_classes == 26 and letters.class_names[:2] == ("A", "B")
    np.testing.assert_array_equal(letters.train.images, splits["letters"]["train_images"])
    np.testing.assert_array_equal(letters.train.labels, splits["letters"]["train_labels"] - 1)
    assert letters.train.labels.min() == 0 and letters.train.labels.max() == 25
    assert letters.train.images.flags.c_contiguous
    balanced = load_dataset("emnist-balanced", data_dir=tmp_path, download=False,
                            validation_size=47)
    assert balanced.num_classes == 47 and len(balanced.validation) == 47


def test_emnist_zip_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gzip.zip").write_bytes(_emnist_zip({"digits": _emnist_arrays(10, 0)}))
    with pytest.raises(DatasetError, match=r"md5 of the zip file") as info:
        load_dataset("emnist_digits", data_dir=tmp_path, download=False)
    assert "58c8d27c78d21e728a6bc7b3cc06412e" in str(info.value)
    ds = load_dataset("emnist_digits", data_dir=tmp_path, download=False, verify=False)
    assert len(ds.train) == 52


def test_emnist_zip_missing_a_member_names_it(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _emnist_zip({"digits": _emnist_arrays(10, 0)})
    (tmp_path / "gzip.zip").write_bytes(raw)
    _pin(monkeypatch, "emnist_letters", archive_md5=hashlib.md5(raw).hexdigest())
    with pytest.raises(DatasetError, match="no member 'gzip/emnist-letters-train-images"):
        load_dataset("emnist_letters", data_dir=tmp_path, download=False)


def test_emnist_member_larger_than_the_dataset_is_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _emnist_zip({"digits": _emnist_arrays(10, 0, n_train=200)})
    (tmp_path / "gzip.zip").write_bytes(raw)
    _pin(monkeypatch, "emnist_digits", archive_md5=hashlib.md5(raw).hexdigest(),
         counts=(2, 26))
    with pytest.raises(DatasetError, match=r"more than the .* bytes"):
        load_dataset("emnist_digits", data_dir=tmp_path, download=False)


def test_emnist_extracted_files_work_too(tmp_path: Path) -> None:
    arrays = _emnist_arrays(10, 0)
    for role, stem in ROLES.items():
        array = arrays[role].transpose(0, 2, 1) if role.endswith("images") else arrays[role]
        name = f"emnist-digits-{stem.replace('t10k', 'test')}"
        (tmp_path / name).write_bytes(idx_bytes(array))
    ds = load_dataset("emnist_digits", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(ds.test.images, arrays["test_images"])


def test_emnist_zip_downloads_once_for_every_split(
        server: LocalServer, emnist: tuple[bytes, dict[str, Arrays]]) -> None:
    raw, splits = emnist
    server.add("/emnist/gzip.zip", raw)
    mirror = server.url("/emnist/")
    letters = load_dataset("emnist_letters", mirrors=[mirror], progress=False)
    assert letters.source.kind == "download"
    digits = load_dataset("emnist_digits", mirrors=[mirror], progress=False)
    assert digits.source.kind == "cache" and server.count("/emnist/") == 1
    np.testing.assert_array_equal(digits.test.labels, splits["digits"]["test_labels"])
    assert sorted(p.name for p in digits.source.path.iterdir()) == [".lock", "gzip.zip"]


def test_emnist_corrupt_or_oversized_download_leaves_nothing(
        server: LocalServer, emnist: tuple[bytes, dict[str, Arrays]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw, _ = emnist
    server.add("/bad/gzip.zip", raw[:-10] + b"012345678")  # one byte short: within the bound
    server.add("/big/gzip.zip", raw)
    _pin(monkeypatch, "emnist_digits", archive_max_size=len(raw) - 1)
    with pytest.raises(DatasetError) as info:
        load_dataset("emnist_digits", mirrors=[server.url("/bad/"), server.url("/big/")],
                     progress=False)
    message = str(info.value)
    assert "checksum mismatch" in message and "announces" in message
    cache = get_dataset_info("emnist_digits").cache_folder
    assert locate_dataset("emnist_digits") is None, cache


# --------------------------------------------------------------------------------------------
# End to end: a 26-class head, trained and exported with the letters as labels


def test_emnist_letters_trains_and_exports_with_its_labels(
        tmp_path: Path, emnist: tuple[bytes, dict[str, Arrays]]) -> None:
    from kerasdigits import export_tflite, train
    from kerasdigits.export import read_metadata

    raw, _ = emnist
    (tmp_path / "gzip.zip").write_bytes(raw)
    ds = load_dataset("emnist_letters", data_dir=tmp_path, download=False)
    result = train("fast_convnet", ds, epochs=1, validation="none", verbose=0, callbacks=None)
    assert result.model.output_shape == (None, 26)
    out = export_tflite(result.model, tmp_path / "letters.tflite", target="mlkit",
                        dataset=ds, verify=False)
    labels = read_metadata(out.path).labels
    assert list(labels) == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
