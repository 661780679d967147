"""The real MNIST and Fashion-MNIST files (``KERASDIGITS_DATA_DIR``): contents, formats, hashes."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from _idxfiles import (
    NPZ_KEYS,
    Arrays,
    assert_arrays_equal,
    dataset_arrays,
    decompressed_sums,
    gz_recompress,
    real_arrays,
)
from kerasdigits.datasets import (
    DatasetError,
    _verify,
    dataset_info,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
)
from kerasdigits.datasets._catalog import ROLES
from kerasdigits.datasets._idx import idx_bytes

pytestmark = pytest.mark.realdata

FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of these tests may download anything."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a real-data test tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(scope="module")
def sums(real_data_dir: Path) -> dict[tuple[str, str], str]:
    return decompressed_sums(real_data_dir)


def _real(real_data_dir: Path, name: str) -> Arrays:
    return real_arrays(real_data_dir / FOLDERS[name])


def _assert_official(ds_arrays: Arrays, name: str, sums: dict[tuple[str, str], str]) -> None:
    for role in ROLES:
        digest = hashlib.sha256(idx_bytes(ds_arrays[role])).hexdigest()
        assert digest == sums[(FOLDERS[name], role)], role


def _copy_dataset(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for stem in ROLES.values():
        shutil.copyfile(src / (stem + ".gz"), dest / (stem + ".gz"))
    return dest


def test_checksum_file_matches_the_catalog(sums: dict[tuple[str, str], str]) -> None:
    assert len(sums) == 8
    for name, folder in FOLDERS.items():
        for role in ROLES:
            assert dataset_info(name).sha256[role] == sums[(folder, role)]


@pytest.mark.parametrize("data_dir", ["root", "folder"])
def test_load_mnist_from_data_dir(real_data_dir: Path, sums: dict[tuple[str, str], str],
                                  data_dir: str) -> None:
    folder = real_data_dir / "mnist"
    ds = load_mnist(data_dir=real_data_dir if data_dir == "root" else folder, download=False)
    assert (ds.source.kind, ds.source.path) == ("data_dir", folder)
    assert (len(ds.train), len(ds.test)) == (60_000, 10_000)
    assert ds.train.images.shape == (60_000, 28, 28)
    assert ds.train.images.dtype == ds.train.labels.dtype == np.uint8
    assert ds.class_names == tuple("0123456789")
    _assert_official(dataset_arrays(ds), "mnist", sums)
    # The classic facts: the first training digit is a 5, and every class has ~6,000 examples.
    assert ds.train.labels[:3].tolist() == [5, 0, 4]
    assert ds.train.class_counts().min() > 5000
    assert ds.test.class_counts().sum() == 10_000


def test_load_mnist_from_env(real_data_dir: Path, sums: dict[tuple[str, str], str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(real_data_dir))
    ds = load_mnist(download=False)
    assert (ds.source.kind, ds.source.path) == ("env", real_data_dir / "mnist")
    assert (len(ds.train), len(ds.test)) == (60_000, 10_000)
    _assert_official(dataset_arrays(ds), "mnist", sums)
    assert_arrays_equal(dataset_arrays(ds), _real(real_data_dir, "mnist"))


def test_load_fashion_mnist(real_data_dir: Path, sums: dict[tuple[str, str], str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    ds = load_fashion_mnist(data_dir=real_data_dir, download=False)
    assert (ds.source.kind, ds.source.path) == ("data_dir", real_data_dir / "fashion-mnist")
    assert (len(ds.train), len(ds.test)) == (60_000, 10_000)
    assert ds.class_names == FASHION
    _assert_official(dataset_arrays(ds), "fashion_mnist", sums)
    # Fashion-MNIST is exactly balanced: 6,000 / 1,000 of each class.
    assert ds.train.class_counts().tolist() == [6000] * 10
    assert ds.test.class_counts().tolist() == [1000] * 10

    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(real_data_dir))
    via_env = load_dataset("fashion-mnist", download=False)
    assert via_env.source.kind == "env"
    assert_arrays_equal(dataset_arrays(via_env), dataset_arrays(ds))


def test_second_load_trusts_the_verification_record(real_data_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_hash = _verify.sha256_hex
    monkeypatch.setattr(_verify, "sha256_hex", lambda data: calls.append(1) or real_hash(data))
    load_mnist(data_dir=real_data_dir, download=False)
    assert len(calls) == 4
    load_mnist(data_dir=real_data_dir, download=False)
    assert len(calls) == 4


def test_keras_npz(real_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _real(real_data_dir, "mnist")
    npz = Path(os.environ["KERAS_HOME"]) / "datasets" / "mnist.npz"
    npz.parent.mkdir(parents=True)
    np.savez(npz, **{NPZ_KEYS[role]: expected[role] for role in ROLES})
    ds = load_mnist(download=False)
    assert (ds.source.kind, ds.source.path) == ("keras", npz)
    assert_arrays_equal(dataset_arrays(ds), expected)
    assert ds.train.images.flags.c_contiguous


def test_keras_npz_with_a_flipped_pixel(real_data_dir: Path) -> None:
    expected = _real(real_data_dir, "mnist")
    npz = Path(os.environ["KERAS_HOME"]) / "datasets" / "mnist.npz"
    npz.parent.mkdir(parents=True)
    arrays = {NPZ_KEYS[role]: expected[role] for role in ROLES}
    arrays["x_test"] = expected["test_images"].copy()
    arrays["x_test"][123, 14, 14] ^= 0x80
    np.savez(npz, **arrays)
    with pytest.raises(DatasetError, match=r"mnist.npz \[x_test\]: checksum mismatch") as e:
        load_mnist(download=False)
    assert f"expected {dataset_info('mnist').sha256['test_images']}" in str(e.value)


def test_recompressed_copy_still_verifies(real_data_dir: Path, tmp_path: Path) -> None:
    folder = real_data_dir / "mnist"
    real = _real(real_data_dir, "mnist")
    for role, stem in ROLES.items():
        again = gzip.compress(idx_bytes(real[role]), compresslevel=1, mtime=0)
        assert again != (folder / (stem + ".gz")).read_bytes()
        (tmp_path / (stem + ".gz")).write_bytes(again)
    ds = load_mnist(data_dir=tmp_path, download=False)  # verify=True by default
    assert ds.source.path == tmp_path.resolve()
    assert_arrays_equal(dataset_arrays(ds), real)


def test_recompressed_label_file_at_every_level(real_data_dir: Path) -> None:
    raw = (real_data_dir / "fashion-mnist" / "train-labels-idx1-ubyte.gz").read_bytes()
    pinned = dataset_info("fashion_mnist").sha256["train_labels"]
    copies = {gz_recompress(raw, level) for level in range(1, 10)}
    assert len(copies) > 2  # really different files
    for copy in copies:
        _verify.check_sha256(gzip.decompress(copy), pinned, source="copy", what="labels")


def test_uncompressed_copy_with_lecun_names_verifies(real_data_dir: Path,
                                                     tmp_path: Path) -> None:
    real = _real(real_data_dir, "fashion_mnist")
    for role, stem in ROLES.items():
        (tmp_path / stem.replace("-idx", ".idx")).write_bytes(idx_bytes(real[role]))
    ds = load_fashion_mnist(data_dir=tmp_path, download=False)
    assert (ds.source.kind, ds.source.path) == ("data_dir", tmp_path.resolve())
    assert_arrays_equal(dataset_arrays(ds), real)


def test_copy_with_one_flipped_pixel_fails(real_data_dir: Path, tmp_path: Path) -> None:
    folder = _copy_dataset(real_data_dir / "mnist", tmp_path / "mnist")
    target = folder / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(target.read_bytes()))
    data[16 + 5 * 784 + 14 * 28 + 14] ^= 0x01  # image 5, the middle pixel
    target.write_bytes(gzip.compress(bytes(data), compresslevel=1))
    with pytest.raises(DatasetError, match="checksum mismatch for mnist test_images") as e:
        load_mnist(data_dir=folder, download=False)
    message = str(e.value)
    assert str(target) in message
    assert f"expected {dataset_info('mnist').sha256['test_images']}" in message
    assert f"actual {hashlib.sha256(bytes(data)).hexdigest()}" in message
    # Without verification the copy loads, and differs from the original in that pixel only.
    ds = load_mnist(data_dir=folder, download=False, verify=False)
    original = _real(real_data_dir, "mnist")["test_images"]
    diff = np.argwhere(ds.test.images != original)
    assert diff.tolist() == [[5, 14, 14]]


@pytest.mark.parametrize(("sample", "name", "n_train", "n_test"),
                         [("mnist_sample", "mnist", 6000, 1000),
                          ("fashion_mnist_sample", "fashion_mnist", 4000, 1000)])
def test_bundled_samples_are_the_first_examples(real_data_dir: Path, sample: str, name: str,
                                                n_train: int, n_test: int) -> None:
    ds = load_dataset(sample, download=False)
    real = _real(real_data_dir, name)
    np.testing.assert_array_equal(ds.train.images, real["train_images"][:n_train])
    np.testing.assert_array_equal(ds.train.labels, real["train_labels"][:n_train])
    np.testing.assert_array_equal(ds.test.images, real["test_images"][:n_test])
    np.testing.assert_array_equal(ds.test.labels, real["test_labels"][:n_test])
    assert ds.class_names == dataset_info(name).class_names
