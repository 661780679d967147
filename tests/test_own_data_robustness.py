"""Odd and hostile input to the "your own images" code: folders, caches, registered datasets.

Each test is the regression test of one problem found by trying to break
``load_image_folder``, ``load_dataset`` and the dataset registry.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import tracemalloc
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from kerasdigits import DatasetError, KerasDigitsWarning
from kerasdigits.datasets import (
    Dataset,
    DataSource,
    Split,
    _folder,
    _folder_cache,
    _registry,
    load_dataset,
    register_dataset,
)
from kerasdigits.datasets._folder import load_image_folder
from kerasdigits.datasets._load import _as_folder

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _digit(label: int, k: int = 0) -> np.ndarray:
    """A dark MNIST digit on white (as in a scan), 28x28."""
    ds = load_dataset("mnist_sample", progress=False)
    return 255 - ds.train.images[np.flatnonzero(ds.train.labels == label)[k]]


def make_folder(root: Path, classes: tuple[str, ...] = ("0", "1"), per_class: int = 3) -> Path:
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            Image.fromarray(_digit(label % 10, k)).save(root / name / f"{k}.png")
    return root


def _in_thread(function: Any, seconds: float = 20) -> Any:
    """``function()``, failing the test instead of hanging when it does not return."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (it hangs)"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def registry() -> Iterator[None]:
    saved = _registry._snapshot()
    yield
    _registry._restore(saved)


# ----------------------------------------------------------------------------- pictures


@linux_only
def test_a_fifo_named_like_a_picture_is_refused_not_waited_on(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "digits")
    os.mkfifo(root / "0" / "pipe.png")  # opening it for reading blocks until a writer comes
    with pytest.raises(DatasetError, match=r"pipe\.png: not a regular file"):
        _in_thread(lambda: load_image_folder(root, progress=False))
    with pytest.warns(KerasDigitsWarning, match="skipped 1 of 7"):
        ds = _in_thread(lambda: load_image_folder(root, on_error="skip", progress=False))
    assert len(ds.train) == 6


@linux_only
def test_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "digits")
    (root / "1" / "zero.png").symlink_to("/dev/zero")
    with pytest.raises(DatasetError, match=r"zero\.png: not a regular file"):
        _in_thread(lambda: load_image_folder(root, progress=False))


# ----------------------------------------------------------------------------- folders


@pytest.mark.parametrize("name", ["new\nline", "tab\there", "   ", "x" * 201])
def test_a_class_folder_name_that_cannot_be_a_class_name_is_refused(
    tmp_path: Path, name: str
) -> None:
    # A newline would shift every label of the exported labels.txt; the CLI's training would
    # fail on it only after loading every picture.
    root = make_folder(tmp_path / "digits", classes=("0", name))
    with pytest.raises(DatasetError, match="cannot be a class name"):
        load_image_folder(root, progress=False)


@linux_only
def test_a_class_folder_name_of_undecodable_bytes_is_refused(tmp_path: Path) -> None:
    # It became the class name 'bad\udcff', which matplotlib (summary --out) and the export
    # of labels.txt (UTF-8) fail on.
    root = make_folder(tmp_path / "digits")
    try:
        os.rename(root / "1", os.path.join(os.fsencode(root), b"bad\xff"))
    except OSError:
        pytest.skip("the file system refuses a name that is not UTF-8")
    with pytest.raises(DatasetError, match="not valid text"):
        load_image_folder(root, progress=False)


@linux_only
def test_a_link_up_to_the_root_or_to_another_class_is_not_followed(tmp_path: Path) -> None:
    # Followed, the links gave class 0 the pictures of class 1 and class 1 those of class 0:
    # the same pictures under two labels.
    root = make_folder(tmp_path / "digits")
    (root / "0" / "up").symlink_to("..")
    (root / "1" / "other").symlink_to(root / "0")
    ds = load_image_folder(root, progress=False)
    assert ds.train.labels.tolist() == [0, 0, 0, 1, 1, 1]
    # A link out of the root is still followed.
    make_folder(tmp_path / "more", classes=("0",), per_class=2)
    (root / "0" / "more").symlink_to(tmp_path / "more" / "0")
    assert load_image_folder(root, progress=False).train.labels.tolist() == [0] * 5 + [1] * 3


@pytest.mark.parametrize(("kwargs", "name"), [({"test_size": 5}, "test_size"),
                                               ({"validation_size": 5}, "validation_size")])
def test_a_split_size_that_takes_every_picture_of_a_class_is_refused(
    tmp_path: Path, kwargs: dict[str, Any], name: str
) -> None:
    # Five of six pictures: stratified, class 0 kept none for training, silently.
    root = make_folder(tmp_path / "digits")
    with pytest.raises(ValueError, match=rf"{name}=5 leaves no training picture of class '0'"):
        load_image_folder(root, progress=False, **kwargs)


# ----------------------------------------------------------------------------- the cache


def _zero_bomb(path: Path, good: Path, megabytes: int) -> None:
    """``good``'s cache file with its images replaced by ``megabytes`` MB of zeros (deflated)."""
    with np.load(good) as npz:
        arrays = {name: npz[name] for name in npz.files}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            if name == "images":
                array = np.zeros((megabytes * 1276, 28, 28), np.uint8)  # 784 bytes each
            np.save(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())


def test_a_cache_file_that_decompresses_to_much_more_is_not_read(tmp_path: Path) -> None:
    # 64 MB of zeros in a file of about 64 kB: every array was read before being checked.
    root = make_folder(tmp_path / "digits")
    expected = load_image_folder(root, progress=False).train.images
    (cache,) = [p for p in _folder_cache.cache_dir().iterdir() if p.suffix == ".npz"]
    bomb = tmp_path / "bomb.npz"
    _zero_bomb(bomb, cache, megabytes=64)
    os.replace(bomb, cache)
    tracemalloc.start()
    try:
        ds = load_image_folder(root, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    np.testing.assert_array_equal(ds.train.images, expected)


def test_read_cache_bound(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    images = np.zeros((3, 28, 28), np.uint8)
    _folder_cache.write_cache(path, "k", ["a.png", "b.png", "c.png"], [1, 2, 3], [4, 5, 6],
                              images)
    bound = _folder_cache.max_cache_bytes(3, 5, 28)
    assert set(_folder_cache.read_cache(path, "k", 28, max_bytes=bound)) == {"a.png", "b.png",
                                                                            "c.png"}
    assert _folder_cache.read_cache(path, "k", 28, max_bytes=1000) == {}


def test_the_cache_warning_points_at_the_caller(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "digits")
    folders = _folder_cache.cache_dir()
    folders.parent.mkdir(parents=True)
    folders.write_text("a file where the cache folder goes")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_image_folder(root, progress=False)
    (warning,) = [w for w in caught if issubclass(w.category, KerasDigitsWarning)]
    assert "cannot use the image folder cache" in str(warning.message)
    assert warning.filename == __file__


def test_workers_leave_ctrl_c_to_the_parent() -> None:
    # Each forked worker printed a KeyboardInterrupt traceback of its own on Ctrl-C.
    saved = signal.getsignal(signal.SIGINT)
    try:
        _folder._init_worker()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, saved)


# ----------------------------------------------------------------------------- names, registry


def _tiny(validation: Split | None = None, test: Split | None = None,
          train: Split | None = None) -> Dataset:
    images = np.zeros((4, 28, 28), np.uint8)
    images[2:] = 255
    split = Split(images, np.array([0, 0, 1, 1], np.uint8))
    return Dataset("tiny", split if train is None else train, validation,
                   split if test is None else test, ("a", "b"), DataSource("memory", None))


def test_a_registered_loader_may_return_a_validation_split(registry: None) -> None:
    # load_dataset always called with_validation(0), which refuses a dataset with one.
    validation = Split(np.zeros((2, 28, 28), np.uint8), np.array([0, 1], np.uint8))
    register_dataset("kd_with_val", loader=lambda: _tiny(validation), class_names=["a", "b"])
    ds = load_dataset("kd_with_val")
    assert ds.validation is not None and len(ds.validation) == 2
    with pytest.raises(ValueError, match="already has a validation split"):
        load_dataset("kd_with_val", validation_size=1)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: _tiny(Split(np.zeros((2, 28, 28), np.float32), np.array([0, 1], np.uint8))),
     "validation split must hold uint8"),
    (lambda: _tiny(Split(np.zeros((2, 28, 28), np.uint8), np.array([0, 7], np.uint8))),
     "validation label 7 is outside 0..1"),
    (lambda: _tiny(test=Split(np.zeros((2, 32, 32), np.uint8), np.array([0, 1], np.uint8))),
     r"test split's images are \(32, 32\)"),
    (lambda: _tiny(train=Split(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))),
     "empty train split"),
])
def test_what_a_registered_loader_returns_is_checked(registry: None, make: Any,
                                                      message: str) -> None:
    register_dataset("kd_bad", loader=make, class_names=["a", "b"])
    with pytest.raises(DatasetError, match=message):
        load_dataset("kd_bad")


def test_a_plugin_dataset_wins_over_a_folder_of_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: None
) -> None:
    # _as_folder looked at the names registered so far: before the plugins were loaded, a
    # folder named like a plugin's dataset in the working directory was loaded instead.
    make_folder(tmp_path / "kd_late")

    class Plugins:
        def load(self) -> None:
            if "kd_late" not in _registry._aliases():
                register_dataset("kd_late", loader=_tiny, class_names=["a", "b"])

    monkeypatch.setattr(_registry, "_PLUGINS", Plugins())
    monkeypatch.chdir(tmp_path)
    assert _as_folder("kd_late") is None
    assert load_dataset("kd_late").source == DataSource("memory", None)


@pytest.mark.parametrize("name", ["mnist/", "./mnist", "./Fashion-MNIST/"])
def test_a_dataset_name_written_as_a_path_says_the_name(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        name: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match="no such folder; the dataset is named"):
        load_dataset(name)
    make_folder(tmp_path / name.strip("./"))  # a folder of that name exists: it is loaded
    assert load_dataset(name, progress=False).source.kind == "folder"
