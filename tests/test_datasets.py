"""Loading datasets from small IDX files written by the tests: search order, errors, splits."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _idxfiles import (
    Arrays,
    assert_arrays_equal,
    dataset_arrays,
    example_ids,
    fake_arrays,
    file_name,
    pin_hashes,
    sha256_of,
    write_dataset,
    write_npz,
)
from kerasdigits.datasets import (
    Dataset,
    DatasetError,
    Split,
    _verify,
    dataset_info,
    list_datasets,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    locate_dataset,
    stratified_split,
    write_idx,
)
from kerasdigits.datasets._catalog import ROLES
from kerasdigits.datasets._idx import idx_bytes
from kerasdigits.datasets._load import SAMPLES_DIR

DIGITS = tuple(str(d) for d in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")


def _home() -> Path:
    return Path(os.environ["KERASDIGITS_HOME"])


def _keras_datasets() -> Path:
    return Path(os.environ["KERAS_HOME"]) / "datasets"


@pytest.fixture
def arrays() -> Arrays:
    return fake_arrays(30, 10)


# --------------------------------------------------------------------------------------------
# Catalog and names


def test_list_datasets() -> None:
    assert list_datasets() == [
        "emnist_balanced", "emnist_digits", "emnist_letters", "fashion_mnist",
        "fashion_mnist_sample", "kmnist", "mnist", "mnist_sample",
    ]
    assert list_datasets("*sample") == ["fashion_mnist_sample", "mnist_sample"]
    assert list_datasets(["KMNIST", "emnist_d*"]) == ["emnist_digits", "kmnist"]
    assert list_datasets("cifar*") == []


@pytest.mark.parametrize(
    ("alias", "name"),
    [("mnist", "mnist"), ("MNIST", "mnist"), (" fashion-mnist ", "fashion_mnist"),
     ("fashionmnist", "fashion_mnist"), ("fashion_mnist", "fashion_mnist"),
     ("mnist-sample", "mnist_sample"), ("fashion-mnist-sample", "fashion_mnist_sample")],
)
def test_aliases(alias: str, name: str) -> None:
    assert dataset_info(alias).name == name


@pytest.mark.parametrize(("typo", "suggestion"),
                         [("mnsit", "'mnist'"), ("fashion", "'fashion_mnist'")])
def test_unknown_dataset_suggests_close_names(typo: str, suggestion: str) -> None:
    with pytest.raises(DatasetError, match="Did you mean") as info:
        load_dataset(typo, download=False)
    message = str(info.value)
    assert f"unknown dataset {typo!r}" in message
    assert suggestion in message
    assert "Known datasets: emnist_balanced, emnist_digits, " in message
    assert "pass its path" in message


def test_unknown_dataset_without_close_match_lists_known() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'cifar10'") as info:
        dataset_info("cifar10")
    assert "Did you mean" not in str(info.value)
    assert "mnist" in str(info.value)


def test_dataset_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        dataset_info(7)  # type: ignore[arg-type]


def test_catalog_facts() -> None:
    mnist, fashion = dataset_info("mnist"), dataset_info("fashion_mnist")
    assert mnist.class_names == DIGITS
    assert mnist.num_classes == 10
    assert fashion.class_names == FASHION
    assert mnist.counts == fashion.counts == (60_000, 10_000)
    for info in (mnist, fashion):
        assert set(info.sha256) == set(ROLES)
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in info.sha256.values())


def test_catalog_knows_each_files_decompressed_size() -> None:
    # The sizes of the real files: a 16-byte header and 784 bytes per image, an 8-byte header
    # and one byte per label.
    sizes = {"train_images": 47_040_016, "train_labels": 60_008,
             "test_images": 7_840_016, "test_labels": 10_008}
    for name in ("mnist", "fashion_mnist"):
        info = dataset_info(name)
        assert {role: info.file_size(role) for role in ROLES} == sizes
    sample = dataset_info("mnist_sample")
    assert sample.file_size("train_images") == 16 + 6_000 * 784
    assert sample.file_size("test_labels") == 8 + 1_000
    with pytest.raises(ValueError, match="unknown file role 'images'"):
        sample.file_size("images")


# --------------------------------------------------------------------------------------------
# Where the files are found


def test_data_dir_holding_the_files(tmp_path: Path, arrays: Arrays) -> None:
    write_dataset(tmp_path, arrays)
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert ds.source.kind == "data_dir"
    assert ds.source.path == tmp_path.resolve()
    assert ds.name == "mnist"
    assert ds.class_names == DIGITS
    assert_arrays_equal(dataset_arrays(ds), arrays)
    assert ds.validation is None
    assert ds.image_shape == (28, 28)
    assert ds.train.images.dtype == np.uint8
    assert ds.train.labels.dtype == np.uint8


def test_data_dir_accepts_a_string_and_a_tilde(tmp_path: Path, arrays: Arrays,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(tmp_path / "data", arrays)
    monkeypatch.setenv("HOME", str(tmp_path))
    ds = load_dataset("mnist", data_dir="~/data", verify=False, download=False)
    assert ds.source.path == (tmp_path / "data").resolve()


def test_data_dir_dataset_subfolder(tmp_path: Path, arrays: Arrays) -> None:
    write_dataset(tmp_path / "mnist", arrays)
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert ds.source.kind == "data_dir"
    assert ds.source.path == (tmp_path / "mnist").resolve()
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_data_dir_files_win_over_its_subfolder(tmp_path: Path) -> None:
    direct, sub = fake_arrays(12, 4, seed=1), fake_arrays(14, 4, seed=2)
    write_dataset(tmp_path, direct)
    write_dataset(tmp_path / "mnist", sub)
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert ds.source.path == tmp_path.resolve()
    assert_arrays_equal(dataset_arrays(ds), direct)


@pytest.mark.parametrize("folder", ["fashion-mnist", "fashion_mnist"])
def test_fashion_subfolder_names(tmp_path: Path, arrays: Arrays, folder: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(tmp_path / folder, arrays)
    ds = load_fashion_mnist(data_dir=tmp_path, verify=False, download=False)
    assert (ds.source.kind, ds.source.path) == ("data_dir", (tmp_path / folder).resolve())
    assert ds.class_names == FASHION
    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(tmp_path))
    ds = load_dataset("fashion-mnist", verify=False, download=False)
    assert (ds.source.kind, ds.source.path) == ("env", (tmp_path / folder).resolve())
    assert ds.name == "fashion_mnist"
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_env_data_dir(tmp_path: Path, arrays: Arrays, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(tmp_path / "mnist", arrays)
    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(tmp_path))
    ds = load_mnist(verify=False, download=False)
    assert ds.source.kind == "env"
    assert ds.source.path == (tmp_path / "mnist").resolve()
    assert_arrays_equal(dataset_arrays(ds), arrays)
    assert "KERASDIGITS_DATA_DIR" in str(ds.source)


def test_env_data_dir_needs_the_dataset_subfolder(tmp_path: Path, arrays: Arrays,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(tmp_path, arrays)  # files directly in the folder, not in mnist/
    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(tmp_path))
    assert locate_dataset("mnist") is None


def test_library_cache(arrays: Arrays) -> None:
    folder = _home() / "datasets" / "mnist"
    write_dataset(folder, arrays)
    ds = load_mnist(verify=False, download=False)
    assert (ds.source.kind, ds.source.path) == ("cache", folder)
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_keras_npz(arrays: Arrays) -> None:
    npz = write_npz(_keras_datasets() / "mnist.npz", arrays)
    ds = load_mnist(verify=False, download=False)
    assert (ds.source.kind, ds.source.path) == ("keras", npz)
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_keras_fashion_folder(arrays: Arrays) -> None:
    folder = _keras_datasets() / "fashion-mnist"
    write_dataset(folder, arrays)
    ds = load_fashion_mnist(verify=False, download=False)
    assert (ds.source.kind, ds.source.path) == ("keras", folder)
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_keras_mnist_npz_is_not_used_for_fashion(arrays: Arrays) -> None:
    write_npz(_keras_datasets() / "mnist.npz", arrays)
    assert locate_dataset("mnist") is not None
    assert locate_dataset("fashion_mnist") is None


def test_system_dir(arrays: Arrays) -> None:
    (folder,) = dataset_info("fashion_mnist").system_dirs
    assert "usr" not in folder.parts  # the conftest moved it to a temporary folder
    write_dataset(folder, arrays)
    ds = load_fashion_mnist(verify=False, download=False)
    assert (ds.source.kind, ds.source.path) == ("system", folder)
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_data_dir_holding_keras_npz(tmp_path: Path, arrays: Arrays) -> None:
    npz = write_npz(tmp_path / "mnist.npz", arrays)
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert (ds.source.kind, ds.source.path) == ("data_dir", npz.resolve())
    assert_arrays_equal(dataset_arrays(ds), arrays)


def _populate_every_place(name: str, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Put a different fake dataset in every place searched; return place -> what to delete."""
    info = dataset_info(name)
    sub = info.folder_names[-1]
    places: dict[str, Path] = {
        "data_dir": tmp_path / "arg" / sub,
        "env": tmp_path / "env" / info.folder_names[0],
        "cache": _home() / "datasets" / info.name,
    }
    if info.keras_npz:
        places["keras"] = _keras_datasets() / info.keras_npz
    if info.keras_folder:
        places["keras"] = _keras_datasets() / info.keras_folder
    if info.system_dirs:
        places["system"] = info.system_dirs[0]
    for n, (_kind, path) in enumerate(places.items()):
        data = fake_arrays(10 + n, 3, seed=n)
        if path.suffix == ".npz":
            write_npz(path, data)
        else:
            write_dataset(path, data, compress=n % 2 == 0)
    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(tmp_path / "env"))
    return places


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_search_order_first_hit_wins(name: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    places = _populate_every_place(name, tmp_path, monkeypatch)
    expected_kinds = ["data_dir", "env", "cache", "keras"] + (["system"] if name != "mnist" else [])
    assert list(places) == expected_kinds
    for n, (kind, path) in enumerate(places.items()):
        located = locate_dataset(name, data_dir=tmp_path / "arg")
        ds = load_dataset(name, data_dir=tmp_path / "arg", verify=False, download=False)
        assert (ds.source.kind, ds.source.path) == (kind, path.resolve())
        assert located == ds.source
        assert len(ds.train) == 10 + n
        assert_arrays_equal(dataset_arrays(ds), fake_arrays(10 + n, 3, seed=n))
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    assert locate_dataset(name, data_dir=tmp_path / "arg") is None
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(name, data_dir=tmp_path / "arg", verify=False, download=False)


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize("dotted", [False, True], ids=["dashed", "dotted"])
def test_uncompressed_files_and_lecun_dotted_names(tmp_path: Path, arrays: Arrays,
                                                   compress: bool, dotted: bool) -> None:
    paths = write_dataset(tmp_path, arrays, compress=compress, dotted=dotted)
    if dotted:
        assert paths["test_images"].name.startswith("t10k-images.idx3-ubyte")
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_mixed_file_variants_in_one_folder(tmp_path: Path, arrays: Arrays) -> None:
    write_dataset(tmp_path, arrays, roles=("train_images",), compress=True)
    write_dataset(tmp_path, arrays, roles=("train_labels",), compress=False)
    write_dataset(tmp_path, arrays, roles=("test_images",), compress=True, dotted=True)
    write_dataset(tmp_path, arrays, roles=("test_labels",), compress=False, dotted=True)
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert_arrays_equal(dataset_arrays(ds), arrays)


def test_gz_preferred_over_plain_copy_in_the_same_folder(tmp_path: Path) -> None:
    good, other = fake_arrays(10, 3, seed=1), fake_arrays(10, 3, seed=2)
    write_dataset(tmp_path, good, compress=True)
    write_dataset(tmp_path, other, compress=False)
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert_arrays_equal(dataset_arrays(ds), good)


def test_locate_dataset_does_not_read_the_files(tmp_path: Path) -> None:
    for role in ROLES:  # garbage files: locating only looks at names
        (tmp_path / file_name(role)).write_bytes(b"not an idx file")
    source = locate_dataset("mnist", data_dir=tmp_path)
    assert source is not None
    assert source.kind == "data_dir"
    with pytest.raises(DatasetError, match=r"not an IDX file|wrong IDX magic"):
        load_mnist(data_dir=tmp_path, verify=False, download=False)


@pytest.mark.parametrize("download", [False, True])
def test_data_dir_that_does_not_exist_is_an_error(tmp_path: Path, arrays: Arrays,
                                                  download: bool) -> None:
    # A typo in data_dir must not fall through to another copy (or to a download).
    write_dataset(_home() / "datasets" / "mnist", arrays)
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DatasetError) as e:
        load_mnist(data_dir=missing, verify=False, download=download, mirrors=[])
    assert str(e.value) == f"data_dir {missing.resolve()}: no such folder"
    with pytest.raises(DatasetError, match="no such folder"):
        locate_dataset("mnist", data_dir=missing)


def test_data_dir_that_is_a_file_is_an_error(tmp_path: Path, arrays: Arrays) -> None:
    write_dataset(_home() / "datasets" / "mnist", arrays)
    npz = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DatasetError) as e:
        load_mnist(data_dir=npz, verify=False, download=False)
    assert str(e.value) == (f"data_dir {npz.resolve()}: not a folder (pass the folder that "
                            "holds the dataset files)")


def test_bundled_sample_ignores_data_dir(tmp_path: Path, arrays: Arrays) -> None:
    write_dataset(tmp_path, arrays)
    ds = load_dataset("mnist_sample", data_dir=tmp_path)
    assert ds.source.kind == "bundled"
    assert len(ds.train) == 6000


# --------------------------------------------------------------------------------------------
# Invalid files


def test_image_label_count_mismatch(tmp_path: Path, arrays: Arrays) -> None:
    arrays["train_labels"] = arrays["train_labels"][:-1]
    paths = write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match="image/label count mismatch") as info:
        load_mnist(data_dir=tmp_path, verify=False, download=False)
    message = str(info.value)
    assert "30 images" in message
    assert "29 labels" in message
    assert str(paths["train_images"]) in message
    assert str(paths["train_labels"]) in message


def test_test_split_count_mismatch(tmp_path: Path, arrays: Arrays) -> None:
    arrays["test_images"] = arrays["test_images"][:7]
    write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match="mnist test: image/label count mismatch"):
        load_mnist(data_dir=tmp_path, verify=False, download=False)


@pytest.mark.parametrize("bad_label", [10, 255])
def test_labels_outside_0_to_9(tmp_path: Path, arrays: Arrays, bad_label: int) -> None:
    arrays["test_labels"][4] = bad_label
    paths = write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match=rf"label {bad_label} at index 4 is outside 0\.\.9") as e:
        load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert str(paths["test_labels"]) in str(e.value)


@pytest.mark.parametrize(("role", "dtype"),
                         [("train_images", np.int16), ("test_images", np.float32),
                          ("train_labels", np.int8), ("test_labels", np.int32)])
def test_wrong_dtype(tmp_path: Path, arrays: Arrays, role: str, dtype: type) -> None:
    arrays[role] = arrays[role].astype(dtype)
    paths = write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match=f"must be uint8, got dtype {np.dtype(dtype)}") as e:
        load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert str(paths[role]) in str(e.value)


@pytest.mark.parametrize(("role", "shape", "pattern"),
                         [("train_images", (30, 784), r"images must have shape \(N, 28, 28\)"),
                          ("test_images", (10, 28, 28, 1), r"images must have shape"),
                          ("train_labels", (30, 1), r"labels must have shape \(N,\)")])
def test_wrong_rank(tmp_path: Path, arrays: Arrays, role: str, shape: tuple[int, ...],
                    pattern: str) -> None:
    arrays[role] = arrays[role].reshape(shape)
    paths = write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match=pattern) as e:
        load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert str(paths[role]) in str(e.value)


def test_corrupt_file_in_data_dir_names_it(tmp_path: Path, arrays: Arrays) -> None:
    paths = write_dataset(tmp_path, arrays)
    raw = paths["train_labels"].read_bytes()
    paths["train_labels"].write_bytes(raw[: len(raw) - 12])
    with pytest.raises(DatasetError, match="truncated gzip file") as e:
        load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert str(paths["train_labels"]) in str(e.value)


@pytest.mark.parametrize("where", ["data_dir", "subfolder", "env"])
def test_partial_folder_names_the_missing_file(tmp_path: Path, arrays: Arrays, where: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path if where == "data_dir" else tmp_path / "mnist"
    write_dataset(folder, arrays, roles=("train_images", "train_labels", "test_images"))
    if where == "env":
        monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(tmp_path))
    data_dir = None if where == "env" else tmp_path
    # Even with another complete copy further down the search order: the user meant this one.
    write_dataset(_home() / "datasets" / "mnist", arrays)
    with pytest.raises(DatasetError, match="missing file t10k-labels-idx1-ubyte") as e:
        load_mnist(data_dir=data_dir, verify=False, download=False)
    message = str(e.value)
    assert str(folder.resolve()) in message
    assert "train-images" not in message


def test_partial_library_cache_is_not_an_error_without_download(arrays: Arrays) -> None:
    folder = _home() / "datasets" / "mnist"
    write_dataset(folder, arrays, roles=("train_images",))
    with pytest.raises(DatasetError, match="not found") as e:
        load_mnist(verify=False, download=False)
    assert f"library cache: {folder}: missing file train-labels-idx1-ubyte" in str(e.value)


def test_not_found_lists_every_place_and_how_to_fix() -> None:
    with pytest.raises(DatasetError) as e:
        load_fashion_mnist(download=False)
    message = str(e.value)
    lines = message.splitlines()
    assert lines[0] == "dataset 'fashion_mnist' not found. Searched, in order:"
    keras = _keras_datasets() / "fashion-mnist"
    (system,) = dataset_info("fashion_mnist").system_dirs
    expected = [
        "  - data_dir argument: not given",
        "  - KERASDIGITS_DATA_DIR: not set",
        f"  - library cache: {_home() / 'datasets' / 'fashion_mnist'}: no such folder",
        f"  - Keras cache: {keras}: no such folder",
        f"  - system package: {system}: no such folder",
        "  - download: disabled (download=False)",
    ]
    assert lines[1:7] == expected
    assert "data_dir=" in lines[7]
    assert "KERASDIGITS_DATA_DIR" in lines[7]
    assert "download=True" in lines[7]
    assert "KERASDIGITS_MIRROR" in lines[7]


def test_not_found_lists_data_dir_and_env_folders(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "arg").mkdir()
    monkeypatch.setenv("KERASDIGITS_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DatasetError) as e:
        load_mnist(data_dir=tmp_path / "arg", download=False)
    message = str(e.value)
    arg, env = (tmp_path / "arg").resolve(), (tmp_path / "env").resolve()
    assert f"  - data_dir argument: {arg}: no dataset files" in message
    assert f"  - data_dir argument: {arg / 'mnist'}: no such folder" in message
    assert f"  - KERASDIGITS_DATA_DIR: {env / 'mnist'}: no such folder" in message
    assert f"  - Keras cache: {_keras_datasets() / 'mnist.npz'}: no such file" in message
    assert "not given" not in message
    assert "not set" not in message


def test_npz_missing_arrays(arrays: Arrays) -> None:
    path = _keras_datasets() / "mnist.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, x_train=arrays["train_images"], y_train=arrays["train_labels"])
    with pytest.raises(DatasetError, match="missing arrays x_test, y_test") as e:
        load_mnist(verify=False, download=False)
    assert str(path) in str(e.value)


def test_npz_that_is_not_a_zip_file() -> None:
    path = _keras_datasets() / "mnist.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(DatasetError, match=r"cannot read as \.npz") as e:
        load_mnist(verify=False, download=False)
    assert str(path) in str(e.value)


def test_npz_with_wrong_dtype(arrays: Arrays) -> None:
    arrays["test_labels"] = arrays["test_labels"].astype(np.int64)
    path = write_npz(_keras_datasets() / "mnist.npz", arrays)
    with pytest.raises(DatasetError, match=r"\[y_test\]: mnist labels must be uint8") as e:
        load_mnist(verify=False, download=False)
    assert str(path) in str(e.value)


# --------------------------------------------------------------------------------------------
# Checksums and the verification record


def test_verify_reports_expected_and_actual_sha256(tmp_path: Path, arrays: Arrays) -> None:
    paths = write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match="checksum mismatch") as e:
        load_mnist(data_dir=tmp_path, download=False)
    message = str(e.value)
    expected = dataset_info("mnist").sha256["train_images"]
    actual = sha256_of(arrays)["train_images"]
    assert f"expected {expected}" in message
    assert f"actual {actual}" in message
    assert str(paths["train_images"]) in message
    assert "verify=False" in message


def test_verify_reports_npz_mismatch(arrays: Arrays) -> None:
    write_npz(_keras_datasets() / "mnist.npz", arrays)
    with pytest.raises(DatasetError, match=r"mnist.npz \[x_train\]: checksum mismatch") as e:
        load_mnist(download=False)
    assert f"actual {sha256_of(arrays)['train_images']}" in str(e.value)


def test_pinned_hashes_are_of_the_decompressed_contents(tmp_path: Path, arrays: Arrays,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    write_dataset(tmp_path / "gz", arrays, compress=True)
    write_dataset(tmp_path / "plain", arrays, compress=False)
    fast = tmp_path / "fast"
    fast.mkdir()
    for role in ROLES:
        (fast / file_name(role)).write_bytes(
            gzip.compress(idx_bytes(arrays[role]), compresslevel=1, mtime=12345))
    for folder in ("gz", "plain", "fast"):
        ds = load_mnist(data_dir=tmp_path / folder, download=False)
        assert_arrays_equal(dataset_arrays(ds), arrays)


@pytest.fixture
def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the bytes hashed by the verifier, one entry per call."""
    calls: list[int] = []
    real = _verify.sha256_hex

    def counting(data: bytes) -> str:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(_verify, "sha256_hex", counting)
    return calls


def test_second_load_does_not_hash_again(tmp_path: Path, arrays: Arrays, count_hashes: list[int],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    paths = write_dataset(tmp_path, arrays)
    load_mnist(data_dir=tmp_path, download=False)
    assert len(count_hashes) == 4
    assert (_home() / "verified.json").is_file()
    count_hashes.clear()
    ds = load_mnist(data_dir=tmp_path, download=False)
    assert count_hashes == []
    assert_arrays_equal(dataset_arrays(ds), arrays)

    # The same contents, recompressed: a different size, so it is hashed again (and passes).
    raw = paths["train_labels"].read_bytes()
    paths["train_labels"].write_bytes(gzip.compress(gzip.decompress(raw), compresslevel=1))
    assert paths["train_labels"].read_bytes() != raw
    load_mnist(data_dir=tmp_path, download=False)
    assert count_hashes == [len(idx_bytes(arrays["train_labels"]))]

    # Only the modification time changes: hashed again.
    count_hashes.clear()
    st = paths["test_images"].stat()
    os.utime(paths["test_images"], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    load_mnist(data_dir=tmp_path, download=False)
    assert count_hashes == [len(idx_bytes(arrays["test_images"]))]
    count_hashes.clear()
    load_mnist(data_dir=tmp_path, download=False)
    assert count_hashes == []


def test_modified_file_is_not_trusted(tmp_path: Path, arrays: Arrays,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    paths = write_dataset(tmp_path, arrays)
    load_mnist(data_dir=tmp_path, download=False)
    changed = arrays["test_labels"].copy()
    changed[0] = (changed[0] + 1) % 10
    write_idx(paths["test_labels"], changed)
    with pytest.raises(DatasetError, match="checksum mismatch for mnist test_labels"):
        load_mnist(data_dir=tmp_path, download=False)


def test_same_file_in_another_place_is_hashed(tmp_path: Path, arrays: Arrays,
                                              count_hashes: list[int],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    write_dataset(tmp_path / "a", arrays)
    load_mnist(data_dir=tmp_path / "a", download=False)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    count_hashes.clear()
    load_mnist(data_dir=tmp_path / "b", download=False)
    assert len(count_hashes) == 4


def test_npz_is_verified_once(arrays: Arrays, count_hashes: list[int],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    write_npz(_keras_datasets() / "mnist.npz", arrays)
    ds = load_mnist(download=False)
    assert ds.source.kind == "keras"
    assert len(count_hashes) == 4
    count_hashes.clear()
    load_mnist(download=False)
    assert count_hashes == []


def _label_bomb(count: int) -> bytes:
    """A gzip file of a valid IDX label file of ``count`` zero labels: tiny, expands a lot."""
    return gzip.compress(idx_bytes(np.zeros(count, dtype=np.uint8)), compresslevel=9, mtime=0)


def test_oversized_file_is_refused_while_decompressing(tmp_path: Path, arrays: Arrays,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    paths = write_dataset(tmp_path, arrays)
    bomb = _label_bomb(20_000_000)
    paths["test_labels"].write_bytes(bomb)
    assert len(bomb) < 30_000
    with pytest.raises(DatasetError) as e:
        load_mnist(data_dir=tmp_path, download=False)
    assert str(e.value) == (
        f"{paths['test_labels']}: decompresses to more than 10,008 bytes (from "
        f"{len(bomb):,} compressed bytes), the size of mnist test_labels: stopped reading; "
        "the file is corrupt or a decompression bomb (or data of your own: pass verify=False)"
    )


def test_oversized_uncompressed_file_is_refused(tmp_path: Path, arrays: Arrays,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    paths = write_dataset(tmp_path, arrays, compress=False)
    write_idx(paths["test_labels"], np.zeros(20_000, dtype=np.uint8))
    with pytest.raises(DatasetError) as e:
        load_mnist(data_dir=tmp_path, download=False)
    assert str(e.value) == (
        f"{paths['test_labels']}: 20,008 bytes, more than the 10,008 bytes of mnist test_labels "
        "(or data of your own: pass verify=False)"
    )


def test_verify_false_reads_a_dataset_larger_than_the_catalogs(tmp_path: Path,
                                                               arrays: Arrays) -> None:
    # verify=False is for data of one's own, which may hold more examples than MNIST.
    count = dataset_info("mnist").counts[1] + 1
    arrays["test_images"] = np.zeros((count, 28, 28), dtype=np.uint8)
    arrays["test_labels"] = np.zeros(count, dtype=np.uint8)
    write_dataset(tmp_path, arrays)
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert len(ds.test) == count


def test_verify_false_hashes_nothing(tmp_path: Path, arrays: Arrays,
                                     count_hashes: list[int]) -> None:
    write_dataset(tmp_path, arrays)
    load_mnist(data_dir=tmp_path, download=False, verify=False)
    assert count_hashes == []
    assert not (_home() / "verified.json").exists()


def test_unreadable_verification_record_is_ignored(tmp_path: Path, arrays: Arrays,
                                                   count_hashes: list[int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pin_hashes(monkeypatch, "mnist", arrays)
    write_dataset(tmp_path, arrays)
    _home().mkdir(parents=True)
    (_home() / "verified.json").write_text("{not json", encoding="utf-8")
    load_mnist(data_dir=tmp_path, download=False)
    assert len(count_hashes) == 4
    count_hashes.clear()
    load_mnist(data_dir=tmp_path, download=False)
    assert count_hashes == []


# --------------------------------------------------------------------------------------------
# Validation split


@pytest.fixture
def unbalanced(tmp_path: Path) -> Dataset:
    """A fake dataset with 200 train examples in unequal classes."""
    data = fake_arrays(200, 20, seed=3)
    rng = np.random.default_rng(0)
    data["train_labels"] = rng.choice(10, size=200, p=np.linspace(1, 3, 10) / 20).astype(np.uint8)
    write_dataset(tmp_path / "unbalanced", data)
    return load_mnist(data_dir=tmp_path / "unbalanced", verify=False, download=False)


def _check_partition(full: Split, ds: Dataset) -> None:
    assert ds.validation is not None
    train_ids = example_ids(ds.train.images)
    val_ids = example_ids(ds.validation.images)
    assert np.intersect1d(train_ids, val_ids).size == 0
    assert np.array_equal(np.sort(np.concatenate([train_ids, val_ids])), np.arange(len(full)))
    # Every example kept its own label.
    np.testing.assert_array_equal(ds.train.labels, full.labels[train_ids])
    np.testing.assert_array_equal(ds.validation.labels, full.labels[val_ids])
    np.testing.assert_array_equal(ds.validation.images, full.images[val_ids])


def _check_stratified(full: Split, validation: Split) -> None:
    per_class = full.class_counts()
    expected = per_class * len(validation) / len(full)
    # Largest-remainder rounding: each class within one example of its exact share.
    assert np.all(np.abs(validation.class_counts() - expected) < 1 + 1e-9), (
        validation.class_counts(), expected)


@pytest.mark.parametrize(("size", "n_val"), [(50, 50), (0.25, 50), (1, 1), (0.1, 20),
                                             (199, 199), (0.333, 67)])
def test_validation_size(unbalanced: Dataset, size: float, n_val: int) -> None:
    ds = unbalanced.with_validation(size, seed=1)
    assert ds.validation is not None
    assert len(ds.validation) == n_val
    assert len(ds.train) == 200 - n_val
    assert ds.test is unbalanced.test
    _check_partition(unbalanced.train, ds)
    _check_stratified(unbalanced.train, ds.validation)


def test_load_dataset_validation_size_matches_with_validation(tmp_path: Path) -> None:
    data = fake_arrays(100, 10)
    write_dataset(tmp_path, data)
    direct = load_mnist(data_dir=tmp_path, verify=False, download=False, validation_size=0.2,
                        seed=7)
    later = load_mnist(data_dir=tmp_path, verify=False, download=False).with_validation(0.2,
                                                                                        seed=7)
    assert direct.validation is not None
    assert later.validation is not None
    np.testing.assert_array_equal(direct.validation.images, later.validation.images)
    np.testing.assert_array_equal(direct.train.labels, later.train.labels)
    assert direct.split("validation") is direct.validation


def test_validation_split_is_seeded(unbalanced: Dataset) -> None:
    a = example_ids(unbalanced.with_validation(40, seed=5).split("validation").images)
    b = example_ids(unbalanced.with_validation(40, seed=5).split("validation").images)
    c = example_ids(unbalanced.with_validation(40, seed=6).split("validation").images)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_validation_indices_are_sorted() -> None:
    labels = np.repeat(np.arange(10, dtype=np.uint8), 10)
    train, val = stratified_split(labels, 0.3, seed=0)
    assert np.all(np.diff(train) > 0)
    assert np.all(np.diff(val) > 0)
    assert np.bincount(labels[val]).tolist() == [3] * 10
    assert train.dtype == val.dtype == np.int64


@settings(max_examples=100, deadline=None)
@given(
    labels=st.lists(st.integers(0, 9), min_size=2, max_size=300).map(
        lambda v: np.array(v, dtype=np.uint8)),
    data=st.data(),
)
def test_stratified_split_property(labels: np.ndarray, data: st.DataObject) -> None:
    n = len(labels)
    fractions = st.floats(0, 1, exclude_max=True).filter(lambda f: round(f * n) < n)
    size = data.draw(st.one_of(st.integers(0, n - 1), fractions))
    seed = data.draw(st.integers(0, 2**32 - 1))
    train, val = stratified_split(labels, size, seed=seed)
    expected_count = size if isinstance(size, int) else round(size * n)
    assert len(val) == expected_count
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n))
    counts = np.bincount(labels, minlength=10)
    share = counts * len(val) / n
    assert np.all(np.abs(np.bincount(labels[val], minlength=10) - share) < 1 + 1e-9)
    again_train, again_val = stratified_split(labels, size, seed=seed)
    assert np.array_equal(val, again_val)
    assert np.array_equal(train, again_train)


@pytest.mark.parametrize("size", [-1, 200, 201, -0.1, 1.0, 1.5, float("nan")])
def test_bad_validation_size_values(unbalanced: Dataset, size: float) -> None:
    with pytest.raises(ValueError, match="validation_size"):
        unbalanced.with_validation(size)


@pytest.mark.parametrize("size", [True, "10", None, 1j])
def test_bad_validation_size_types(unbalanced: Dataset, size: object) -> None:
    with pytest.raises(TypeError, match="validation_size"):
        unbalanced.with_validation(size)  # type: ignore[arg-type]


def test_bad_validation_size_through_load_dataset(tmp_path: Path) -> None:
    write_dataset(tmp_path, fake_arrays(30, 10))
    for size in (-5, 30, 1.0, True):
        with pytest.raises((ValueError, TypeError), match="validation_size"):
            load_mnist(data_dir=tmp_path, verify=False, download=False, validation_size=size)


def test_validation_fraction_that_leaves_no_train_example_raises(tmp_path: Path) -> None:
    write_dataset(tmp_path, fake_arrays(10, 10))
    ds = load_mnist(data_dir=tmp_path, verify=False, download=False)
    assert len(ds.with_validation(0.9).train) == 1
    with pytest.raises(ValueError, match="validation_size"):
        ds.with_validation(0.97)  # 9.7 rounds to 10 of 10 examples


def test_validation_zero_and_repeated_split(unbalanced: Dataset) -> None:
    assert unbalanced.with_validation(0) is unbalanced
    assert unbalanced.with_validation(0.0) is unbalanced
    with pytest.raises(ValueError, match="no validation split"):
        unbalanced.split("validation")
    with pytest.raises(ValueError, match="unknown split"):
        unbalanced.split("valid")  # type: ignore[arg-type]
    ds = unbalanced.with_validation(10)
    with pytest.raises(ValueError, match="already has a validation split"):
        ds.with_validation(10)


def test_summary_and_repr(unbalanced: Dataset) -> None:
    ds = unbalanced.with_validation(20)
    text = ds.summary()
    assert "train" in text
    assert "validation" in text
    assert "test" in text
    assert "180" in text
    assert "20" in text
    assert "0, 1, 2" in text
    assert "train=180, validation=20, test=20" in repr(ds)


def test_split_checks_its_arrays() -> None:
    images = np.zeros((3, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        Split(images, np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match=r"shape \(N, H, W\)"):
        Split(images.reshape(3, -1), np.zeros(3, np.uint8))
    split = Split(images, np.array([0, 2, 2], np.uint8))
    assert len(split) == 3
    assert split.class_counts(4).tolist() == [1, 0, 2, 0]
    assert len(split.take(slice(1, None))) == 2
    assert split.take(np.array([True, False, True])).labels.tolist() == [0, 2]


# --------------------------------------------------------------------------------------------
# Bundled samples


@pytest.mark.parametrize(("name", "counts", "classes"),
                         [("mnist_sample", (6000, 1000), DIGITS),
                          ("fashion_mnist_sample", (4000, 1000), FASHION)])
def test_bundled_samples_load_offline(name: str, counts: tuple[int, int],
                                      classes: tuple[str, ...], count_hashes: list[int]) -> None:
    ds = load_dataset(name, download=False)
    assert ds.source.kind == "bundled"
    assert ds.source.path == SAMPLES_DIR / name
    assert (len(ds.train), len(ds.test)) == counts
    assert ds.class_names == classes
    assert ds.train.images.shape == (counts[0], 28, 28)
    assert ds.train.images.dtype == np.uint8
    assert len(count_hashes) == 4  # verified against the pinned hashes
    assert np.all(ds.train.class_counts() > 0)
    assert np.all(ds.test.class_counts() > 0)
    assert 0 < ds.train.images.mean() < 255


def test_bundled_files_are_small() -> None:
    files = sorted(SAMPLES_DIR.rglob("*-ubyte*"))
    assert len(files) == 8
    for path in files:
        assert path.stat().st_size < 2_000_000, path


def test_bundled_sample_validation_split() -> None:
    ds = load_dataset("mnist-sample", validation_size=500, seed=0)
    assert ds.validation is not None
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (5500, 500, 1000)
    full = load_dataset("mnist_sample")
    _check_stratified(full.train, ds.validation)


# --------------------------------------------------------------------------------------------
# tf.data


@pytest.fixture
def small(tmp_path: Path) -> Dataset:
    write_dataset(tmp_path / "small", fake_arrays(50, 23, seed=4))
    return load_mnist(data_dir=tmp_path / "small", verify=False, download=False)


def _epoch(tfds: object) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs, ys = [], []
    for x, y in tfds:  # type: ignore[attr-defined]
        xs.append(x.numpy())
        ys.append(y.numpy())
    return xs, ys


def test_to_tf_batches(small: Dataset) -> None:
    xs, ys = _epoch(small.to_tf("train", batch_size=16, shuffle=False))
    assert [x.shape for x in xs] == [(16, 28, 28)] * 3 + [(2, 28, 28)]
    assert all(x.dtype == np.uint8 for x in xs)
    assert all(y.dtype == np.uint8 for y in ys)
    np.testing.assert_array_equal(np.concatenate(xs), small.train.images)
    np.testing.assert_array_equal(np.concatenate(ys), small.train.labels)
    xs, _ = _epoch(small.to_tf("train", batch_size=16, drop_remainder=True, prefetch=False))
    assert [x.shape[0] for x in xs] == [16, 16, 16]


@pytest.mark.parametrize("prefetch", [True, False])
def test_to_tf_turns_tf_data_autotuning_off(small: Dataset, prefetch: bool) -> None:
    # Its thread made the end of an iteration wait about 2 s; a user can turn it back on.
    tf = pytest.importorskip("tensorflow")
    data = small.to_tf("train", batch_size=16, prefetch=prefetch)
    assert data.options().autotune.enabled is False
    assert small.test.to_tf(8).options().autotune.enabled is False
    options = tf.data.Options()
    options.autotune.enabled = True
    assert data.with_options(options).options().autotune.enabled is True
    xs, _ = _epoch(data)
    assert sum(len(x) for x in xs) == len(small.train)


def test_to_tf_element_spec(small: Dataset) -> None:
    tf = pytest.importorskip("tensorflow")
    spec = small.to_tf("test", batch_size=8).element_spec
    assert spec[0].dtype == tf.uint8
    assert spec[0].shape.as_list() == [None, 28, 28]
    assert spec[1].dtype == tf.uint8
    assert spec[1].shape.as_list() == [None]
    spec = small.to_tf("test", batch_size=8, one_hot=True, drop_remainder=True).element_spec
    assert spec[1].dtype == tf.float32
    assert spec[1].shape.as_list() == [8, 10]


def test_to_tf_shuffle_is_seeded_and_sees_every_example_once(small: Dataset) -> None:
    first = small.to_tf("train", batch_size=8, seed=42)
    xs1, ys1 = _epoch(first)
    xs2, _ = _epoch(first)  # a second epoch of the same dataset: reshuffled
    xs3, _ = _epoch(small.to_tf("train", batch_size=8, seed=42))
    xs4, _ = _epoch(small.to_tf("train", batch_size=8, seed=43))
    ids = [example_ids(np.concatenate(x)) for x in (xs1, xs2, xs3, xs4)]
    for epoch in ids:
        assert sorted(epoch.tolist()) == list(range(50))
    assert not np.array_equal(ids[0], np.arange(50))  # train is shuffled by default
    np.testing.assert_array_equal(ids[0], ids[2])  # same seed, same order
    assert not np.array_equal(ids[0], ids[1])
    assert not np.array_equal(ids[0], ids[3])
    # Images and labels stay paired through the shuffle.
    np.testing.assert_array_equal(np.concatenate(ys1), small.train.labels[ids[0]])


def test_to_tf_test_split_is_not_shuffled_by_default(small: Dataset) -> None:
    xs, ys = _epoch(small.to_tf("test", batch_size=10))
    np.testing.assert_array_equal(example_ids(np.concatenate(xs)), np.arange(23))
    np.testing.assert_array_equal(np.concatenate(ys), small.test.labels)


def test_to_tf_one_hot(small: Dataset) -> None:
    _, ys = _epoch(small.to_tf("test", batch_size=10, one_hot=True))
    onehot = np.concatenate(ys)
    assert onehot.dtype == np.float32
    assert onehot.shape == (23, 10)
    np.testing.assert_array_equal(onehot.sum(axis=1), np.ones(23))
    np.testing.assert_array_equal(onehot.argmax(axis=1), small.test.labels)


def test_split_to_tf_one_hot_is_a_bool_as_on_the_dataset(small: Dataset) -> None:
    _, ys = _epoch(small.test.to_tf(10, one_hot=True, num_classes=12))
    assert np.concatenate(ys).shape == (23, 12)
    _, ys = _epoch(small.test.to_tf(10, one_hot=np.bool_(True)))
    assert np.concatenate(ys).shape == (23, 10)
    with pytest.raises(ValueError, match="one_hot must be True or False, got 10"):
        small.test.to_tf(one_hot=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_classes must be a positive int, got 0"):
        small.test.to_tf(one_hot=True, num_classes=0)
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            small.to_tf("test", batch_size=bad)  # type: ignore[arg-type]


def test_to_tf_validation_and_repeat(small: Dataset) -> None:
    ds = small.with_validation(10, seed=0)
    assert ds.validation is not None
    xs, _ = _epoch(ds.to_tf("validation", batch_size=4))
    np.testing.assert_array_equal(np.concatenate(xs), ds.validation.images)
    batches = list(ds.to_tf("train", batch_size=16, repeat=True, seed=1).take(7))
    ids = example_ids(np.concatenate([x.numpy() for x, _ in batches]))
    assert len(ids) == 7 * 16  # repeated across the epoch boundary, full batches
    assert sorted(ids[:40].tolist()) == sorted(example_ids(ds.train.images).tolist())
    with pytest.raises(ValueError, match="no validation split"):
        small.to_tf("validation")


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True])
def test_to_tf_bad_batch_size(small: Dataset, batch_size: object) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        small.to_tf("train", batch_size=batch_size)  # type: ignore[arg-type]
