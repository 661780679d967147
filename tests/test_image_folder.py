"""load_image_folder: one's own pictures, one sub-folder per class, as a Dataset."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from kerasdigits import DatasetError, KerasDigitsWarning
from kerasdigits.datasets import _folder, _folder_cache
from kerasdigits.datasets._folder import load_image_folder
from kerasdigits.transforms import mnist_from_file

CLASSES = ("0", "1", "2")


@functools.lru_cache(maxsize=1)
def _sample() -> tuple[np.ndarray, np.ndarray]:
    from kerasdigits.datasets import load_dataset

    ds = load_dataset("mnist_sample")
    return ds.train.images[:300].copy(), ds.train.labels[:300].copy()


def digit(label: int | str, k: int = 0) -> np.ndarray:
    """The k-th MNIST sample image of ``label``: bright ink on black, 28x28."""
    images, labels = _sample()
    return images[np.flatnonzero(labels == int(label))[k]]


def write(path: Path, image: np.ndarray | Image.Image, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    picture.save(path, **kwargs)
    return path


def make_folder(root: Path, classes: tuple[str, ...] = CLASSES, per_class: int = 3,
                split: str = "", start: int = 0) -> Path:
    """``root/[split/]<class>/<k>.png``: dark MNIST digits on white, upscaled to 56x56."""
    for name in classes:
        for k in range(start, start + per_class):
            picture = Image.fromarray(255 - digit(name, k)).resize((56, 56))
            write(root / split / name / f"{k:03d}.png", picture)
    return root


class Counter:
    """Wraps _folder._convert, counting the pictures actually decoded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        original = _folder._convert

        def counting(path: str, options: Any) -> np.ndarray:
            self.paths.append(path)
            return original(path, options)

        monkeypatch.setattr(_folder, "_convert", counting)

    def take(self) -> list[str]:
        paths, self.paths = self.paths, []
        return paths


def cache_files() -> list[Path]:
    folder = _folder_cache.cache_dir()
    return sorted(p for p in folder.iterdir() if p.suffix != ".lock") if folder.exists() else []


# ----------------------------------------------------------------------------- layouts


def test_flat_layout_gives_a_dataset_of_mnist_images(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "my digits")
    ds = load_image_folder(root, progress=False)
    assert ds.name == "my digits"
    assert ds.class_names == CLASSES
    assert ds.source.kind == "folder" and ds.source.path == root.resolve()
    assert str(ds.source) == f"image folder ({root.resolve()})"
    assert ds.train.images.dtype == np.uint8 and ds.train.labels.dtype == np.uint8
    assert ds.train.images.shape == (9, 28, 28)
    assert ds.train.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert ds.test.images.shape == (0, 28, 28) and ds.test.labels.shape == (0,)
    assert ds.validation is None
    # Each image is what mnist_from_file makes of its file, in class-then-path order.
    files = sorted(root.glob("*/*.png"))
    expected = np.stack([mnist_from_file(f) for f in files])
    np.testing.assert_array_equal(ds.train.images, expected)


def test_split_layout_and_class_names_order(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_folder(root, split="train", per_class=3)
    make_folder(root, split="test", per_class=2, start=3)
    make_folder(root, split="validation", per_class=1, start=5)
    ds = load_image_folder(root, class_names=["2", "0", "1"], progress=False)
    assert ds.class_names == ("2", "0", "1")
    assert ds.train.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert ds.test.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.validation is not None and ds.validation.labels.tolist() == [0, 1, 2]
    # label 0 is class "2": its first training image is the file train/2/000.png
    np.testing.assert_array_equal(ds.train.images[0],
                                  mnist_from_file(root / "train" / "2" / "000.png"))
    with pytest.raises(ValueError, match=r"validation_size must be 0 when .* validation/"):
        load_image_folder(root, validation_size=1, progress=False)
    with pytest.raises(ValueError, match=r"test_size must be 0 when .* test/"):
        load_image_folder(root, test_size=1, progress=False)


def test_train_only_split_layout_can_carve_a_test_split(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", split="train", per_class=4)
    ds = load_image_folder(root, test_size=0.25, progress=False)
    assert ds.test.class_counts(3).tolist() == [1, 1, 1]
    assert len(ds.train) == 9


def test_test_and_validation_sizes_are_stratified(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=10)
    ds = load_image_folder(root, test_size=0.3, validation_size=3, seed=1, progress=False)
    assert ds.test.class_counts(3).tolist() == [3, 3, 3]
    assert ds.validation is not None and ds.validation.class_counts(3).tolist() == [1, 1, 1]
    assert ds.train.class_counts(3).tolist() == [6, 6, 6]
    again = load_image_folder(root, test_size=0.3, validation_size=3, seed=1, progress=False)
    np.testing.assert_array_equal(ds.test.images, again.test.images)
    other = load_image_folder(root, test_size=6, seed=2, progress=False)
    assert other.test.class_counts(3).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="test_size=30 would leave none of the 30"):
        load_image_folder(root, test_size=30, progress=False)
    with pytest.raises(ValueError, match=r"validation_size=0\.99 would leave none"):
        load_image_folder(root, validation_size=0.99, progress=False)


def test_pictures_in_nested_folders_belong_to_the_class(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=1)
    write(root / "1" / "batch2" / "deeper" / "x.png", 255 - digit(1, 5))
    ds = load_image_folder(root, progress=False)
    assert ds.train.labels.tolist() == [0, 1, 1, 2]


# ----------------------------------------------------------------------------- formats


def _formats(root: Path) -> dict[str, Path]:
    """One picture per format and mode, in class folder "x"."""
    seven = 255 - digit(7)  # dark ink on white
    big = np.asarray(Image.fromarray(seven).resize((84, 84)))
    folder = root / "x"
    rgba = np.zeros((84, 84, 4), np.uint8)
    rgba[..., 3] = 255 - big  # black ink, transparent paper
    bordered = np.full((160, 120), 255, np.uint8)  # wide margins of paper
    bordered[10:94, 30:114] = big
    files = {
        "png": write(folder / "a.PNG", big),
        "jpeg": write(folder / "b.jpg", big, quality=95),
        "jpeg2": write(folder / "b2.JPEG", np.stack([big] * 3, axis=-1), quality=95),
        "bmp": write(folder / "c.bmp", big),
        "gif": write(folder / "d.gif", Image.fromarray(big).convert("P")),
        "tiff": write(folder / "e.tif", big),
        "tiff2": write(folder / "e2.tiff", big),
        "webp": write(folder / "f.webp", big, lossless=True),
        "rgba": write(folder / "g.png", Image.fromarray(rgba, "RGBA")),
        "palette": write(folder / "h.png", Image.fromarray(big).convert("RGB").quantize(16)),
        "16bit": write(folder / "i.png", Image.fromarray(big.astype(np.uint16) * 257)),
        "inverted": write(folder / "j.png", 255 - big),
        "border": write(folder / "k.png", bordered),
    }
    return files


def test_every_format_and_mode_is_read_as_mnist_from_file_reads_it(tmp_path: Path) -> None:
    files = _formats(tmp_path / "d")
    ds = load_image_folder(tmp_path / "d", progress=False)
    assert len(ds.train) == len(files)
    ordered = sorted(files.values(), key=lambda p: p.name)
    for image, path in zip(ds.train.images, ordered, strict=True):
        np.testing.assert_array_equal(image, mnist_from_file(path))
    # And they all look like the same seven (lossy formats and modes aside).
    reference = mnist_from_file(files["png"]).astype(float)
    for image, path in zip(ds.train.images, ordered, strict=True):
        corr = np.corrcoef(reference.ravel(), image.astype(float).ravel())[0, 1]
        assert corr > 0.9, (path.name, corr)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    seven = 255 - digit(7)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    stored = Image.fromarray(seven).transpose(Image.Transpose.ROTATE_90)
    write(tmp_path / "d" / "7" / "rotated.jpg", stored, quality=100, exif=exif)
    ds = load_image_folder(tmp_path / "d", preprocess="resize", invert=False, cache=False,
                           progress=False)
    upright, sideways = seven.astype(float), np.asarray(stored, float)
    loaded = ds.train.images[0].astype(float)
    assert np.abs(loaded - upright).mean() < 3
    assert np.abs(loaded - sideways).mean() > 20


# ----------------------------------------------------------------------------- preprocess


def test_preprocess_none_keeps_the_pixels(tmp_path: Path) -> None:
    root = tmp_path / "d"
    a, b = digit(0), digit(1)
    write(root / "0" / "a.png", a)
    write(root / "1" / "b.png", np.stack([b] * 3, axis=-1))  # gray saved as RGB
    ds = load_image_folder(root, preprocess=None, progress=False)
    np.testing.assert_array_equal(ds.train.images, np.stack([a, b]))
    inverted = load_image_folder(root, preprocess=None, invert=True, progress=False)
    np.testing.assert_array_equal(inverted.train.images, 255 - np.stack([a, b]))
    write(root / "1" / "c.png", np.array([255, 0, 0], np.uint8) * np.ones((28, 28, 1), np.uint8))
    with pytest.raises(DatasetError, match=r"c\.png: a 28x28 colour picture; preprocess=None"):
        load_image_folder(root, preprocess=None, progress=False)
    (root / "1" / "c.png").unlink()
    write(root / "1" / "d.png", np.zeros((30, 28), np.uint8))
    with pytest.raises(DatasetError, match=r"d\.png: a 28x30 picture; preprocess=None needs "
                                           r"28x28"):
        load_image_folder(root, preprocess=None, progress=False)
    write(root / "1" / "c.png", np.array([255, 0, 0], np.uint8) * np.ones((28, 28, 1), np.uint8))
    with pytest.warns(KerasDigitsWarning, match="skipped 2 of 4"):
        ds = load_image_folder(root, preprocess=None, on_error="skip", progress=False)
    assert len(ds.train) == 2  # the two others skipped


def test_preprocess_resize_gives_size_and_inverts_dark_ink(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write(root / "0" / "dark_on_white.png", Image.fromarray(255 - digit(0)).resize((64, 48)))
    write(root / "1" / "bright_on_black.png", Image.fromarray(digit(1)).resize((40, 40)))
    ds = load_image_folder(root, preprocess="resize", size=16, progress=False)
    assert ds.train.images.shape == (2, 16, 16)
    # Both come out bright ink on black: dark corners.
    assert ds.train.images[:, 0, 0].tolist() == [0, 0]
    assert ds.train.images.max() > 200
    forced = load_image_folder(root, preprocess="resize", size=16, invert=False,
                               progress=False)
    assert forced.train.images[0, 0, 0] == 255  # left as it was: white paper
    assert forced.image_shape == (16, 16)


def test_preprocess_mnist_needs_size_28(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size must be 28 with preprocess='mnist'"):
        load_image_folder(tmp_path, size=32)


# ----------------------------------------------------------------------------- folders


def test_hidden_and_non_picture_files_are_ignored(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=2)
    for name in (".DS_Store", "Thumbs.db", "notes.txt", "labels.csv", "meta.json",
                 "README.md"):
        (root / "0" / name).write_bytes(b"not a picture")
        (root / name).write_bytes(b"not a picture")
    (root / "0" / ".hidden.png").write_bytes(b"not a picture")
    write(root / "__MACOSX" / "0" / "._000.png", digit(0))
    (root / ".git").mkdir()
    (root / "1" / ".thumbnails").mkdir()
    (root / "1" / ".thumbnails" / "x.png").write_bytes(b"junk")
    ds = load_image_folder(root, progress=False)
    assert ds.class_names == CLASSES
    assert len(ds.train) == 6


def test_root_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nowhere: no such folder"):
        load_image_folder(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"file\.png: a file, not a folder"):
        load_image_folder(tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: no class folders: put each class"):
        load_image_folder(tmp_path / "empty")
    write(tmp_path / "loose" / "a.png", digit(0))
    with pytest.raises(DatasetError, match="the 1 pictures directly in it belong to no class"):
        load_image_folder(tmp_path / "loose")
    for name in CLASSES:
        (tmp_path / "no_pictures" / name).mkdir(parents=True)
    (tmp_path / "no_pictures" / "0" / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="no_pictures: no pictures found"):
        load_image_folder(tmp_path / "no_pictures")
    with pytest.raises(TypeError, match="root must be a folder"):
        load_image_folder(123)  # type: ignore[arg-type]


def test_empty_class_folders(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=2)
    (root / "3").mkdir()
    with pytest.raises(DatasetError, match=r"d/3: no pictures of class '3'.*training pictures"):
        load_image_folder(root, progress=False)
    split = make_folder(tmp_path / "s", split="train", per_class=2)
    make_folder(split, classes=("0", "1"), split="test", per_class=1)
    (split / "test" / "2").mkdir()  # empty in test: fine
    ds = load_image_folder(split, progress=False)
    assert ds.test.class_counts(3).tolist() == [1, 1, 0]
    (split / "validation" / "0").mkdir(parents=True)
    (split / "validation" / "1").mkdir()
    (split / "validation" / "2").mkdir()
    assert load_image_folder(split, progress=False).validation is None  # no pictures in it


def test_class_folder_missing_from_a_split_is_named(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", split="train", per_class=1)
    make_folder(root, classes=("0", "2"), split="test", per_class=1)
    with pytest.raises(DatasetError, match=r"d/test: no folder for class '1'"):
        load_image_folder(root, progress=False)
    make_folder(root, classes=("1", "9"), split="test", per_class=1)
    with pytest.raises(DatasetError, match=r"d/test: folder '9' is not a class of"):
        load_image_folder(root, progress=False)


def test_unexpected_folder_beside_train_is_an_error(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", split="train", per_class=1)
    make_folder(root, split="val", per_class=1)
    with pytest.raises(DatasetError, match=r"also has val/\..*validation"):
        load_image_folder(root, progress=False)


def test_class_names_must_match_the_folders(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=1)
    with pytest.raises(DatasetError, match=r"no folder for class '7'"):
        load_image_folder(root, class_names=["0", "1", "2", "7"], progress=False)
    with pytest.raises(DatasetError, match=r"folder '2' not in class_names"):
        load_image_folder(root, class_names=["0", "1"], progress=False)


def test_more_than_256_classes_is_an_error(tmp_path: Path) -> None:
    for i in range(257):
        (tmp_path / "d" / f"c{i:03d}").mkdir(parents=True)
    with pytest.raises(DatasetError, match="257 class folders; at most 256"):
        load_image_folder(tmp_path / "d")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_links_are_followed_and_cycles_end(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=1)
    elsewhere = make_folder(tmp_path / "elsewhere", classes=("9",), per_class=2)
    os.symlink(elsewhere / "9", root / "9")  # a class folder outside the root
    os.symlink(root / "0", root / "0" / "loop")  # a cycle
    os.symlink(elsewhere / "9" / "000.png", root / "1" / "linked.png")
    ds = load_image_folder(root, progress=False)
    assert ds.class_names == ("0", "1", "2", "9")
    assert ds.train.class_counts(4).tolist() == [1, 2, 1, 2]
    os.symlink(tmp_path / "missing.png", root / "2" / "broken.png")
    with pytest.raises(DatasetError, match=r"broken\.png: no such file"):
        load_image_folder(root, progress=False)


# ----------------------------------------------------------------------------- bad pictures


def test_truncated_picture_raises_naming_it(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=2)
    bad = root / "1" / "001.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(DatasetError, match=r"1/001\.png: .*on_error='skip'") as info:
        load_image_folder(root, progress=False)
    assert isinstance(info.value, ValueError)
    (root / "2" / "000.png").write_text("text with a picture's name")
    with pytest.raises(DatasetError, match=r"(1/001|2/000)\.png"):
        load_image_folder(root, progress=False)


def test_skip_warns_once_with_the_count_and_the_names(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=3)
    for name in ("0/001.png", "2/002.png"):
        (root / name).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_image_folder(root, on_error="skip", progress=False)
    assert len(caught) == 1
    warning = caught[0]
    assert issubclass(warning.category, KerasDigitsWarning)
    assert warning.filename == __file__  # points at the caller
    text = str(warning.message)
    assert "skipped 2 of 9 pictures" in text
    assert "0/001.png" in text and "2/002.png" in text
    assert ds.train.class_counts(3).tolist() == [2, 3, 2]


def test_skipped_pictures_are_not_cached_and_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=2)
    bad = root / "1" / "000.png"
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[:50])
    counter = Counter(monkeypatch)
    with pytest.warns(KerasDigitsWarning, match="skipped 1 of 6"):
        load_image_folder(root, on_error="skip", progress=False)
    assert len(counter.take()) == 6
    with pytest.warns(KerasDigitsWarning, match="skipped 1 of 6"):
        load_image_folder(root, on_error="skip", progress=False)
    assert counter.take() == [str(bad)]  # read again; the 5 others come from the cache
    bad.write_bytes(good_bytes)
    ds = load_image_folder(root, progress=False)
    assert counter.take() == [str(bad)] and len(ds.train) == 6


def test_a_failed_load_still_caches_what_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=2)
    bad = root / "2" / "001.png"
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[:50])
    counter = Counter(monkeypatch)
    with pytest.raises(DatasetError, match=r"2/001\.png"):
        load_image_folder(root, progress=False)
    assert len(counter.take()) == 6
    bad.write_bytes(good_bytes)
    load_image_folder(root, progress=False)
    assert counter.take() == [str(bad)]


def test_a_class_whose_pictures_were_all_skipped_is_an_error(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=1)
    (root / "1" / "000.png").write_bytes(b"junk")
    with pytest.warns(KerasDigitsWarning), pytest.raises(
            DatasetError, match="no readable training picture of class '1'"):
        load_image_folder(root, on_error="skip", progress=False)


def test_a_blank_picture_is_an_error_naming_it(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=1)
    write(root / "0" / "blank.png", np.full((40, 40), 255, np.uint8))
    with pytest.raises(DatasetError, match=r"blank\.png.*no ink"):
        load_image_folder(root, progress=False)


# ----------------------------------------------------------------------------- the cache


def test_second_load_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_folder(tmp_path / "d", per_class=3)
    counter = Counter(monkeypatch)
    first = load_image_folder(root, progress=False)
    assert len(counter.take()) == 9
    assert len(cache_files()) == 1
    assert cache_files()[0].parent == Path(os.environ["KERASDIGITS_HOME"]) / "cache" / "folders"
    second = load_image_folder(root, test_size=3, progress=False)
    assert counter.take() == []
    np.testing.assert_array_equal(np.concatenate([second.train.images, second.test.images])
                                  .sum(), first.train.images.sum())
    third = load_image_folder(root, progress=False)
    np.testing.assert_array_equal(third.train.images, first.train.images)
    np.testing.assert_array_equal(third.train.labels, first.train.labels)
    # Other options are another cache file.
    load_image_folder(root, invert=True, progress=False)
    assert len(counter.take()) == 9
    load_image_folder(root, preprocess="resize", size=20, progress=False)
    assert len(counter.take()) == 9
    assert len(cache_files()) == 3


def test_a_change_to_the_conversion_code_invalidates_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=1)
    counter = Counter(monkeypatch)
    load_image_folder(root, progress=False)
    assert len(counter.take()) == 3
    fingerprint = _folder._converter_fingerprint()
    assert len(fingerprint) == 16 and fingerprint == _folder._converter_fingerprint()
    monkeypatch.setattr(_folder, "_converter_fingerprint", lambda: "to_mnist changed")
    load_image_folder(root, progress=False)
    assert len(counter.take()) == 3


def test_changed_added_and_removed_pictures_are_picked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=3)
    counter = Counter(monkeypatch)
    load_image_folder(root, progress=False)
    counter.take()
    touched = root / "1" / "001.png"
    write(touched, Image.fromarray(255 - digit(1, 9)).resize((56, 56)))
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    ds = load_image_folder(root, progress=False)
    assert counter.take() == [str(touched)]
    np.testing.assert_array_equal(ds.train.images[4], mnist_from_file(touched))
    added = write(root / "2" / "new.png", 255 - digit(2, 9))
    ds = load_image_folder(root, progress=False)
    assert counter.take() == [str(added)] and len(ds.train) == 10
    (root / "0" / "000.png").unlink()
    ds = load_image_folder(root, progress=False)
    assert counter.take() == [] and len(ds.train) == 9
    assert ds.train.class_counts(3).tolist() == [2, 3, 4]
    # Nothing changed: the cache file is not rewritten.
    mtime = cache_files()[0].stat().st_mtime_ns
    load_image_folder(root, progress=False)
    assert cache_files()[0].stat().st_mtime_ns == mtime


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong_shape",
                                    "wrong_key", "pickled", "extra_array"])
def test_a_bad_cache_file_is_ignored_and_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    root = make_folder(tmp_path / "d", per_class=2)
    expected = load_image_folder(root, progress=False).train.images
    (path,) = cache_files()
    data = path.read_bytes()
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if damage == "garbage":
        path.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "wrong_shape":
        arrays["images"] = np.zeros((6, 27, 28), np.uint8)
        np.savez(path.with_suffix(""), **arrays)
    elif damage == "wrong_key":
        arrays["key"] = np.array("someone else's folder")
        arrays["images"] = np.zeros_like(arrays["images"])
        np.savez(path.with_suffix(""), **arrays)
    elif damage == "pickled":
        arrays["paths"] = np.array(list(arrays["paths"]), dtype=object)
        np.savez(path.with_suffix(""), **arrays)
    else:
        np.savez(path.with_suffix(""), **arrays, surprise=np.zeros(3))
    counter = Counter(monkeypatch)
    ds = load_image_folder(root, progress=False)
    assert len(counter.take()) == 6
    np.testing.assert_array_equal(ds.train.images, expected)
    load_image_folder(root, progress=False)  # rebuilt: a hit again
    assert counter.take() == []


def test_an_interrupted_cache_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=2)

    def interrupted(handle: Any, **arrays: Any) -> None:
        handle.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(_folder_cache.np, "savez", interrupted)
        with pytest.raises(KeyboardInterrupt):
            load_image_folder(root, progress=False)
    folder = _folder_cache.cache_dir()
    assert [p.name for p in folder.iterdir() if p.suffix != ".lock"] == []
    assert len(load_image_folder(root, progress=False).train) == 6
    assert len(cache_files()) == 1


def test_a_cache_that_cannot_be_written_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=1)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_folder_cache, "write_cache", refuse)
    with pytest.warns(KerasDigitsWarning, match="could not write the image folder cache"):
        ds = load_image_folder(root, progress=False)
    assert len(ds.train) == 3


def test_a_cache_folder_that_cannot_be_used_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=1)
    home = tmp_path / "home"
    home.write_text("a file where the kerasdigits home folder should be")
    monkeypatch.setenv("KERASDIGITS_HOME", str(home))
    with pytest.warns(KerasDigitsWarning, match="cannot use the image folder cache"):
        ds = load_image_folder(root, progress=False)
    assert len(ds.train) == 3


def test_cache_false_neither_reads_nor_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "d", per_class=2)
    load_image_folder(root, progress=False)
    (path,) = cache_files()
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["images"] = np.zeros_like(arrays["images"])  # a valid cache of wrong pixels
    np.savez(path.with_suffix(""), **arrays)
    assert load_image_folder(root, progress=False).train.images.max() == 0  # trusted
    counter = Counter(monkeypatch)
    ds = load_image_folder(root, cache=False, progress=False)
    assert len(counter.take()) == 6 and ds.train.images.max() > 0
    other = make_folder(tmp_path / "other", per_class=1)
    load_image_folder(other, cache=False, progress=False)
    assert cache_files() == [path]


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(("kwargs", "error", "text"), [
    ({"preprocess": "mnsit"}, ValueError, "unknown preprocess 'mnsit'.*Did you mean 'mnist'"),
    ({"invert": "yes"}, ValueError, "unknown invert 'yes'"),
    ({"invert": 1}, ValueError, "unknown invert 1"),
    ({"size": 0, "preprocess": "resize"}, ValueError, "size must be a positive int"),
    ({"size": 28.0}, ValueError, "size must be a positive int"),
    ({"on_error": "ignore"}, ValueError, "unknown on_error 'ignore'"),
    ({"cache": 1}, ValueError, "cache must be True or False"),
    ({"progress": "no"}, ValueError, "progress must be True or False"),
    ({"seed": -1}, ValueError, "seed must be an int >= 0"),
    ({"seed": 1.5}, ValueError, "seed must be an int"),
    ({"test_size": 1.0}, ValueError, r"test_size must be a number in \[0, 1\)"),
    ({"test_size": "0.1"}, ValueError, "test_size must be a number"),
    ({"validation_size": -1}, ValueError, "validation_size must be an int >= 0"),
    ({"validation_size": True}, ValueError, "validation_size must be a number"),
    ({"class_names": "012"}, TypeError, "class_names must be a sequence"),
    ({"class_names": ["0", "0"]}, ValueError, "class_names has repeated names: '0'"),
    ({"class_names": ["0", 1]}, ValueError, "class_names must be non-empty folder names"),
    ({"class_names": []}, ValueError, "class_names must be non-empty"),
])
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict[str, Any], error: type,
                                 text: str) -> None:
    with pytest.raises(error, match=text):
        load_image_folder(tmp_path / "not even looked at", **kwargs)


# ----------------------------------------------------------------------------- speed


def test_progress_goes_to_stderr_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "digits", per_class=2)
    monkeypatch.setattr(_folder, "_PROGRESS_MIN_FILES", 3)
    load_image_folder(root, cache=False, progress=False)
    assert capsys.readouterr().err == ""
    load_image_folder(root, cache=False)
    err = capsys.readouterr().err
    assert "digits: 6/6 pictures (100%) done in" in err
    load_image_folder(root)
    assert "6/6 pictures" in capsys.readouterr().err
    load_image_folder(root)  # from the cache: nothing to decode, nothing printed
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("pool", ["process", "thread", "serial"])
def test_every_pool_gives_the_same_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: str
) -> None:
    root = make_folder(tmp_path / "d", per_class=5)
    expected = load_image_folder(root, cache=False, progress=False)
    monkeypatch.setattr(_folder, "_POOL", pool)
    monkeypatch.setattr(_folder, "_PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(_folder, "_CHUNK", 2)
    ds = load_image_folder(root, cache=False, progress=False)
    np.testing.assert_array_equal(ds.train.images, expected.train.images)
    np.testing.assert_array_equal(ds.train.labels, expected.train.labels)
    (root / "1" / "003.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match=r"1/003\.png"):
        load_image_folder(root, cache=False, progress=False)
    with pytest.warns(KerasDigitsWarning, match="skipped 1 of 15"):
        ds = load_image_folder(root, cache=False, on_error="skip", progress=False)
    assert len(ds.train) == 14


def test_importing_the_module_imports_neither_pillow_nor_tensorflow() -> None:
    code = ("import sys, kerasdigits.datasets._folder; "
            "print(sorted(m for m in ('PIL', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux")
def test_worker_processes_use_one_blas_thread() -> None:
    code = """
import ctypes, json
from kerasdigits.datasets import _folder
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l and "/" in l})
getters = [getattr(ctypes.CDLL(lib), name) for lib in libs
           for name in ("openblas_get_num_threads", "openblas_get_num_threads64_",
                        "scipy_openblas_get_num_threads64_") if hasattr(ctypes.CDLL(lib), name)]
_folder._one_blas_thread()
print(json.dumps([g() for g in getters]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
                                          "OPENBLAS_NUM_THREADS": "2"})
    counts = json.loads(out.stdout)
    if not counts:
        pytest.skip("NumPy is not linked with OpenBLAS")
    assert set(counts) == {1}
