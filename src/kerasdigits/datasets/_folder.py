"""Load a folder of one's own pictures, one sub-folder per class, as a :class:`Dataset`.

Two layouts are understood::

    root/<class>/*.png                  root/train/<class>/*.png
                                        root/test/<class>/*.png        (optional)
                                        root/validation/<class>/*.png  (optional)

Each picture is read with Pillow (through :mod:`kerasdigits.transforms`, which applies the
EXIF orientation, composites transparency on white, and scales 16-bit pictures) and converted
to a ``uint8`` gray image: by :func:`~kerasdigits.transforms.to_mnist` (``preprocess="mnist"``),
by a plain resize, or kept as it is. The converted images are cached (see
:mod:`kerasdigits.datasets._folder_cache`), so a second load of the same folder reads only the
pictures that changed.

From 200 pictures to decode on, they are decoded in worker processes, one per core, forked
(on Linux only; elsewhere, and in a daemonic process, in this process), each with one OpenBLAS
thread. Converting a small picture is mostly Python and NumPy work that holds the interpreter
lock, which threads do not speed up: on 2 cores, 10,000 PNG digits took 4.9 s in this process,
7.3 s in 2 threads and 2.8 s in 2 processes; 200 photos of 1600x1200 pixels 5.9 s, 4.9 s and
3.3 s (``bench/bench_image_folder.py``, ``bench/results/image_folder.md``). Forking runs none
of the caller's code again (``"spawn"`` would re-run an unguarded script in every worker), and
the workers use Pillow and NumPy only, even when TensorFlow's threads run in the parent.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import os
import stat
import sys
import warnings
from collections.abc import Generator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from kerasdigits import _validate
from kerasdigits._errors import DatasetError, KerasDigitsWarning
from kerasdigits._files import file_lock
from kerasdigits._suggest import did_you_mean
from kerasdigits.datasets import _folder_cache
from kerasdigits.datasets._dataset import Dataset, DataSource, Split, stratified_split
from kerasdigits.datasets._download import _Progress, default_stream
from kerasdigits.transforms._mnistify import InvertMode
from kerasdigits.transforms._pictures import MAX_SIDE, ImageError, mnist_from_file, read_picture

__all__ = ["IMAGE_EXTENSIONS", "SPLIT_FOLDERS", "load_image_folder"]

_log = logging.getLogger(__name__)

#: The file name extensions read as pictures (compared in lower case); other files are ignored.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: The folders of the split layout, ``root/<split>/<class>/``.
SPLIT_FOLDERS = ("train", "validation", "test")
#: Folders and files skipped besides those whose name starts with a dot.
_SKIPPED_NAMES = frozenset({"__MACOSX"})
_PREPROCESS: tuple[str | None, ...] = ("mnist", "resize", None)
_MAX_CLASSES = 256  # labels are uint8
_SHOWN_FAILURES = 3  # file names quoted by the on_error="skip" warning
# How pictures are decoded: in forked worker processes ("process"; on Linux only, see _pool),
# threads ("thread") or this thread ("serial"); see the module's docstring.
_POOL: Literal["process", "thread", "serial"] = "process"
_MAX_WORKERS = 8
_PARALLEL_MIN_FILES = 200  # fewer pictures than this are decoded in this process
_CHUNK = 64  # the most pictures per task given to a worker
_PROGRESS_MIN_FILES = 500  # a progress line for loads that decode more pictures than this

Preprocess = Literal["mnist", "resize"] | None
OnError = Literal["raise", "skip"]


@dataclass(frozen=True)
class _Options:
    """How a picture is converted (everything that changes its pixels)."""

    preprocess: str | None
    invert: InvertMode
    size: int

    def key(self) -> dict[str, Any]:
        """The options, and the code that applies them, for the cache's key."""
        return {"preprocess": self.preprocess, "invert": self.invert, "size": self.size,
                "converter": _converter_fingerprint()}


@functools.lru_cache(maxsize=1)
def _converter_fingerprint() -> str:
    """A hash of the code that converts pictures, and Pillow's version.

    Part of the cache's key, so that a change to ``to_mnist`` (or to this module, or a new
    Pillow) is never hidden by images converted before it, even within one version of
    kerasdigits. Where the sources cannot be read, the kerasdigits version stands in.
    """
    from kerasdigits.transforms import _mnistify, _pictures

    try:
        import PIL

        pillow = PIL.__version__
    except ImportError:  # reading the first picture will say what to install
        pillow = "none"
    digest = hashlib.sha256(pillow.encode())
    for module in (_mnistify, _pictures, sys.modules[__name__]):
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:
            digest.update(str(module.__name__).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class _Picture:
    """A picture file found under the root."""

    path: str
    rel: str  # relative to the root
    label: int
    size: int  # -1 when it cannot be stat'ed (a broken link): never found in the cache
    mtime_ns: int


@dataclass
class _Layout:
    """What :func:`_scan` found: the classes, and the pictures of each split's folder."""

    class_names: tuple[str, ...]
    splits: dict[str, list[_Picture]]  # "train", and "validation" / "test" when they exist
    ignored: list[str] = field(default_factory=list)  # files that are not pictures


def load_image_folder(
    root: str | os.PathLike[str],
    *,
    class_names: Sequence[str] | None = None,
    validation_size: float = 0,
    test_size: float = 0,
    seed: int = 0,
    preprocess: Preprocess = "mnist",
    invert: InvertMode = "auto",
    size: int = 28,
    on_error: OnError = "raise",
    cache: bool = True,
    progress: bool = True,
) -> Dataset:
    """Load a folder of pictures, one sub-folder per class, as a :class:`Dataset`.

    The layout is either ``root/<class>/<pictures>`` (``test_size`` then carves a stratified
    test split out of them; by default the test split is empty) or ``root/train/<class>/``
    with optional ``root/test/<class>/`` and ``root/validation/<class>/``. The classes are
    the sub-folders' names, in ``class_names`` order if given, else sorted; every split's
    folder must have a folder for every class (it may be empty in ``test/`` and
    ``validation/``, not in ``train/``). Pictures in sub-folders of a class folder belong to
    that class. Names starting with a dot and ``__MACOSX`` folders are skipped; so are files
    whose extension is not one of :data:`IMAGE_EXTENSIONS` (``.png``, ``.jpg``, ``.jpeg``,
    ``.bmp``, ``.gif``, ``.tif``, ``.tiff``, ``.webp``, in any case), such as ``Thumbs.db``
    or ``labels.csv``. Symbolic links to pictures and to folders are followed, even out of
    the root (it is your folder); a folder reached twice within one class (a link cycle) is
    read once, and a link to the root, a split folder or another class's folder is not
    followed (it would give their pictures this class). A FIFO, device or socket named like
    a picture is not read (it counts as a picture that cannot be read). A class folder's
    name must be one line of at most 200 printable characters (it becomes a class name).

    Any picture Pillow reads is accepted: the EXIF orientation is applied, transparency is
    composited, palettes and 16-bit pictures are converted, and only an animation's first
    frame is read. Each split's images are ordered by class, then by path.

    Converted images are cached in ``<kerasdigits home>/cache/folders/`` (``$KERASDIGITS_HOME``
    or ``~/.kerasdigits``), by each file's relative path, size and modification time, and the
    options ``preprocess``, ``invert`` and ``size``: a second load decodes only the pictures
    that were added or changed since (a picture that failed is read again every time).

    Args:
        root: The folder.
        class_names: The class names in label order; they must be exactly the class folders'
            names. Default: the folders' names, sorted.
        validation_size: Carve a stratified validation split out of train: a count (int) or
            a fraction in ``[0, 1)`` (float). Must be 0 with a ``validation/`` folder.
        test_size: Carve a stratified test split out of the training pictures, likewise
            (before ``validation_size``). Must be 0 with a ``test/`` folder.
        seed: Seed of the random choice of the carved-out pictures.
        preprocess: ``"mnist"``: :func:`~kerasdigits.transforms.to_mnist` (the digit cropped,
            scaled into 20x20 and centered in 28x28, bright on black; ``size`` must be 28);
            ``"resize"``: gray, inverted as ``invert`` says, stretched to ``size`` x
            ``size``; ``None``: the pictures must already be ``size`` x ``size`` gray (an RGB
            picture whose channels are equal counts as gray) and are kept as they are.
        invert: ``"auto"`` decides for each picture whether the ink is dark on a light
            background (as :func:`~kerasdigits.transforms.to_mnist` does), ``True`` says it
            is (the pictures are inverted: MNIST's digits are bright on black), ``False``
            that it is not. With ``preprocess=None``, ``"auto"`` keeps the pixels as they are.
        size: The images' height and width.
        on_error: ``"raise"``: a picture that cannot be read or converted raises
            :class:`~kerasdigits.DatasetError`; ``"skip"``: it is left out, and one
            :class:`~kerasdigits.KerasDigitsWarning` says how many were and names the first.
        cache: Read and write the cache; ``False`` decodes every picture and writes nothing.
        progress: Print progress on stderr when many pictures (over 500) must be decoded.

    Returns:
        The :class:`Dataset`: ``uint8`` images ``(N, size, size)`` and ``uint8`` labels in
        each split (the test split is empty, ``(0, size, size)``, without ``test/`` or
        ``test_size``; there is no validation split without ``validation/`` or
        ``validation_size``, or when ``validation/`` holds no picture), the root folder's name
        as its name, and ``DataSource("folder", root)`` as its source.

    Raises:
        DatasetError: The root is missing or not a folder; it has no class folder or no
            picture; a class folder is missing from a split, or is not one of
            ``class_names``; a class has no picture in train; there are more than 256
            classes; a class folder's name cannot be a class name (a newline in it, say); a
            picture cannot be read or converted (with ``on_error="raise"``; the message
            starts with its path).
        ValueError: An argument is invalid (the message names it), or ``test_size`` or
            ``validation_size`` is too large for the pictures found (it would leave none, or
            none of a class, for training).
        TypeError: ``root`` is not a path.
        MissingExtraError: Pillow is not installed (``pip install "kerasdigits[images]"``).

    Example:
        >>> import os
        >>> from PIL import Image
        >>> from kerasdigits.datasets import load_dataset, load_image_folder
        >>> sample = load_dataset("mnist_sample")
        >>> for i in range(40):  # dark digits on white paper, as in a scan
        ...     label = str(sample.train.labels[i])
        ...     os.makedirs(os.path.join("digits", label), exist_ok=True)
        ...     picture = Image.fromarray(255 - sample.train.images[i]).resize((64, 64))
        ...     picture.save(os.path.join("digits", label, f"{i}.png"))
        >>> ds = load_image_folder("digits", test_size=0.25, progress=False)
        >>> ds.name, ds.class_names, len(ds.train), len(ds.test), ds.train.images.shape[1:]
        ('digits', ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'), 30, 10, (28, 28))
    """
    options = _check_options(preprocess, invert, size)
    names = _check_class_names(class_names)
    test_size = _check_split_size(test_size, "test_size")
    validation_size = _check_split_size(validation_size, "validation_size")
    seed = _validate.integer(seed, "seed", minimum=0)
    on_error = _validate.choice(on_error, "on_error", ("raise", "skip"))
    cache = _validate.boolean(cache, "cache")
    progress = _validate.boolean(progress, "progress")
    folder = _check_root(root)
    layout = _scan(folder, names)
    _check_split_sizes(folder, layout, test_size, validation_size)
    pictures = [p for split in layout.splits.values() for p in split]
    images = _load_pictures(folder, pictures, options, cache=cache, skip=on_error == "skip",
                            progress=progress)
    splits = _make_splits(folder, layout, images, options.size)
    return _assemble(folder, layout, splits, test_size, validation_size, seed)


# ----------------------------------------------------------------------------- arguments


def _check_options(preprocess: object, invert: object, size: object) -> _Options:
    preprocess = _validate.choice(preprocess, "preprocess", _PREPROCESS)
    invert = cast(InvertMode, _validate.choice(invert, "invert", ("auto", True, False)))
    side = _validate.positive_int(size, "size")
    if preprocess == "mnist" and side != 28:
        raise ValueError(
            f"size must be 28 with preprocess='mnist' (to_mnist makes 28x28 images), got "
            f"{side}; use preprocess='resize' for another size"
        )
    return _Options(preprocess, invert, side)


def _check_class_names(class_names: object) -> tuple[str, ...] | None:
    if class_names is None:
        return None
    if isinstance(class_names, str | bytes) or not isinstance(class_names, Sequence):
        raise TypeError(f"class_names must be a sequence of folder names, got {class_names!r}")
    names = tuple(class_names)
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad or not names:
        raise ValueError(
            f"class_names must be non-empty folder names (strings), got {class_names!r}"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"class_names has repeated names: {', '.join(map(repr, repeated))}")
    return names


def _check_split_size(value: object, name: str) -> float:
    """A count (an int >= 0) or a fraction in [0, 1) (a float), as ``stratified_split`` takes."""
    if _validate.is_int(value):
        return _validate.integer(value, name, minimum=0)
    return _validate.fraction(value, name, low_open=False)


def _check_root(root: object) -> Path:
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a folder (a str or os.PathLike path), got {root!r}")
    path = Path(root).expanduser()
    if not path.exists():
        raise DatasetError(f"{path}: no such folder")
    if not path.is_dir():
        raise DatasetError(f"{path}: a file, not a folder of pictures (root/<class>/*.png)")
    return path.resolve()


def _check_split_sizes(
    root: Path, layout: _Layout, test_size: float, validation_size: float
) -> None:
    """Refuse a split size that the layout makes meaningless or the pictures too large."""
    if test_size and "test" in layout.splits:
        raise ValueError(f"test_size must be 0 when {root} has a test/ folder, got {test_size}")
    if validation_size and "validation" in layout.splits:
        raise ValueError(
            f"validation_size must be 0 when {root} has a validation/ folder, got "
            f"{validation_size}"
        )
    n = len(layout.splits["train"])
    for name, value in (("test_size", test_size), ("validation_size", validation_size)):
        count = value if isinstance(value, int) else round(value * n)
        if value and count >= n:
            raise ValueError(f"{name}={value} would leave none of the {n} training pictures")


# ----------------------------------------------------------------------------- the folders


def _visible(name: str) -> bool:
    return not name.startswith(".") and name not in _SKIPPED_NAMES


def _entries(folder: Path) -> tuple[list[os.DirEntry[str]], list[os.DirEntry[str]]]:
    """The visible sub-folders (links to folders included) and other entries, by name."""
    folders: list[os.DirEntry[str]] = []
    others: list[os.DirEntry[str]] = []
    try:
        with os.scandir(folder) as it:
            for entry in sorted((e for e in it if _visible(e.name)), key=lambda e: e.name):
                (folders if entry.is_dir() else others).append(entry)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot list the folder: {exc.strerror or exc}") from exc
    return folders, others


def _is_picture(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _walk(folder: Path, prefix: str, label: int, ignored: list[str],
          stops: frozenset[tuple[int, int]] = frozenset()) -> list[_Picture]:
    """The pictures under ``folder`` (recursively), sorted by path; other files go to ``ignored``.

    Links are followed; a folder already seen (by device and inode) is not read again, so a
    link cycle ends, and neither is one of ``stops`` (the root, the split folders and the
    other class folders: a link back up to them would give their pictures this label).
    """
    found: list[_Picture] = []
    seen: set[tuple[int, int]] = set(stops) - {_inode(folder)}
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            info = current.stat()
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        folders, files = _entries(current)
        stack.extend(Path(entry.path) for entry in reversed(folders))
        for entry in files:
            if not _is_picture(entry.name):
                ignored.append(entry.path)
                continue
            try:
                stat = entry.stat()  # follows a link
                size, mtime = stat.st_size, stat.st_mtime_ns
            except OSError:  # a broken link: reading it will say so
                size, mtime = -1, -1
            found.append(_Picture(entry.path, entry.path[len(prefix):], label, size, mtime))
    found.sort(key=lambda p: p.rel)
    return found


def _inode(folder: Path) -> tuple[int, int]:
    try:
        info = folder.stat()
    except OSError:
        return (-1, -1)
    return (info.st_dev, info.st_ino)


def _check_class_folder_names(where: Path, classes: tuple[str, ...]) -> None:
    """Refuse a folder name that would break plots, a model's labels or its ``labels.txt``."""
    for name in classes:
        problem = _validate.class_name_problem(name)
        if problem:
            raise DatasetError(
                f"{where}: class folder {name!r} cannot be a class name: {problem}; rename "
                f"it (a class name is one line of at most {_validate.MAX_CLASS_NAME_CHARS} "
                "printable characters, shown in plots and written to a model's labels)"
            )


def _class_folders(where: Path, class_names: tuple[str, ...] | None) -> tuple[str, ...]:
    """The class folders of ``root`` or ``root/train``, in label order."""
    folders, files = _entries(where)
    found = [entry.name for entry in folders]
    if not found:
        pictures = sum(_is_picture(entry.name) for entry in files)
        loose = (f"; the {pictures} pictures directly in it belong to no class" if pictures
                 else "")
        raise DatasetError(
            f"{where}: no class folders{loose}: put each class's pictures in a folder named "
            "after the class (root/<class>/*.png, or root/train/<class>/ and "
            "root/test/<class>/)"
        )
    if class_names is None:
        return tuple(found)
    missing = [name for name in class_names if name not in found]
    extra = [name for name in found if name not in class_names]
    if missing or extra:
        parts = [f"no folder for class {', '.join(map(repr, missing))}"] if missing else []
        if extra:
            parts.append(f"folder {', '.join(map(repr, extra))} not in class_names")
        raise DatasetError(f"{where}: the class folders do not match class_names: "
                           f"{'; '.join(parts)}")
    return class_names


def _split_folders(root: Path) -> dict[str, Path] | None:
    """``{split: root/split}`` for the split layout, ``None`` for root/<class>/."""
    names = [entry.name for entry in _entries(root)[0]]
    if "train" not in names:
        return None
    extra = [name for name in names if name not in SPLIT_FOLDERS]
    if extra:
        hint = did_you_mean(extra[0], SPLIT_FOLDERS)
        raise DatasetError(
            f"{root}: has a train/ folder, so its folders must be train/, validation/ and "
            f"test/ (each with a folder per class), but it also has "
            f"{', '.join(f'{name}/' for name in extra)}.{hint}"
        )
    return {name: root / name for name in SPLIT_FOLDERS if name in names}


def _scan(root: Path, class_names: tuple[str, ...] | None) -> _Layout:
    """Find the layout, the classes and every picture; check that the folders agree."""
    split_folders = _split_folders(root)
    folders = {"train": root} if split_folders is None else split_folders
    classes = _class_folders(folders["train"], class_names)
    if len(classes) > _MAX_CLASSES:
        raise DatasetError(f"{folders['train']}: {len(classes)} class folders; at most "
                           f"{_MAX_CLASSES} classes are supported (labels are uint8)")
    _check_class_folder_names(folders["train"], classes)
    layout = _Layout(classes, {})
    prefix = os.path.join(str(root), "")
    for split, where in folders.items():
        if split != "train":
            _check_same_classes(where, classes)
    stops = frozenset(_inode(folder) for folder in (
        root, *folders.values(), *(where / name for where in folders.values()
                                   for name in classes)))
    for split, where in folders.items():
        layout.splits[split] = [
            picture
            for label, name in enumerate(classes)
            for picture in _walk(where / name, prefix, label, layout.ignored, stops)
        ]
    if not any(layout.splits.values()):
        extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise DatasetError(f"{root}: no pictures found (files ending in {extensions})")
    _check_every_class_has_pictures(folders["train"], layout)
    if layout.ignored:
        _log.debug("%s: ignored %d files that are not pictures, such as %s", root,
                   len(layout.ignored), layout.ignored[0])
    return layout


def _check_same_classes(where: Path, classes: tuple[str, ...]) -> None:
    found = [entry.name for entry in _entries(where)[0]]
    missing = [name for name in classes if name not in found]
    if missing:
        raise DatasetError(
            f"{where}: no folder for class {', '.join(map(repr, missing))}; every split needs "
            "a folder for every class (an empty one is fine in test/ and validation/)"
        )
    extra = [name for name in found if name not in classes]
    if extra:
        raise DatasetError(
            f"{where}: folder {', '.join(map(repr, extra))} is not a class of "
            f"{where.parent / 'train'} (classes: {', '.join(classes)})"
        )


def _check_every_class_has_pictures(where: Path, layout: _Layout) -> None:
    counts = np.bincount([p.label for p in layout.splits["train"]],
                         minlength=len(layout.class_names))
    empty = [name for name, count in zip(layout.class_names, counts, strict=True) if not count]
    if empty:
        raise DatasetError(
            f"{where / empty[0]}: no pictures of class {empty[0]!r}"
            + (f" (nor of {', '.join(map(repr, empty[1:]))})" if empty[1:] else "")
            + "; every class needs training pictures: add some, or remove the folder"
        )


# ----------------------------------------------------------------------------- converting


def _convert(path: str, options: _Options) -> npt.NDArray[np.uint8]:
    """One picture file as a ``uint8`` ``(size, size)`` image.

    Raises:
        ImageError: It cannot be read or converted (the message starts with the path).
    """
    _check_regular_file(path)
    if options.preprocess == "mnist":
        return mnist_from_file(path, invert=options.invert)
    if options.preprocess == "resize":
        return _resized(read_picture(path, max_side=MAX_SIDE), options)
    return _as_is(path, read_picture(path), options)


def _check_regular_file(path: str) -> None:
    """Refuse a FIFO, device or socket named like a picture: opening one may block forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing, a broken link...: reading it says so
    if not stat.S_ISREG(mode):
        raise ImageError(f"{path}: not a regular file (a FIFO, a device or a socket), not read")


def _gray(picture: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """A gray picture, an RGB one whose channels are equal as gray; ``None`` for colours."""
    if picture.ndim == 2:
        return picture
    first = picture[..., 0]
    if np.array_equal(first, picture[..., 1]) and np.array_equal(first, picture[..., 2]):
        return np.ascontiguousarray(first)
    return None


def _light_background(gray: npt.NDArray[np.uint8]) -> bool:
    """Whether most of the border and most of the picture are light: ``to_mnist``'s rule."""
    lo, hi = int(gray.min()), int(gray.max())
    if lo == hi:
        return False
    middle = (lo + hi) / 2
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.mean(border > middle)) + float(np.mean(gray > middle)) > 1.0


def _resized(picture: npt.NDArray[np.uint8], options: _Options) -> npt.NDArray[np.uint8]:
    """``preprocess="resize"``: gray (luma), stretched to size x size, inverted if need be."""
    from PIL import Image

    gray = _gray(picture)
    image = Image.fromarray(picture).convert("L") if gray is None else Image.fromarray(gray)
    if image.size != (options.size, options.size):
        image = image.resize((options.size, options.size), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    invert = options.invert
    if invert == "auto":
        invert = _light_background(pixels)
    return (255 - pixels) if invert else pixels.copy()


def _as_is(path: str, picture: npt.NDArray[np.uint8], options: _Options) -> npt.NDArray[np.uint8]:
    """``preprocess=None``: the pixels of a size x size gray picture, inverted if asked."""
    gray = _gray(picture)
    height, width = picture.shape[:2]
    if gray is None or (height, width) != (options.size, options.size):
        kind = "colour picture" if gray is None else "picture"
        raise ImageError(
            f"{path}: a {width}x{height} {kind}; preprocess=None needs {options.size}x"
            f"{options.size} gray pictures (use preprocess='resize' or 'mnist' to convert)"
        )
    return (255 - gray) if options.invert is True else gray


def _convert_chunk(paths: list[str], options: _Options) -> list[npt.NDArray[np.uint8] | str]:
    """Convert each file; a file that cannot be read gives its error message instead."""
    results: list[npt.NDArray[np.uint8] | str] = []
    for path in paths:
        try:
            results.append(_convert(path, options))
        except ImageError as exc:
            results.append(str(exc))
    return results


def _pool() -> str:
    """How to decode: ``_POOL``, except that processes are forked on Linux only.

    A forked worker starts at once and runs none of the caller's code; ``"spawn"`` (macOS,
    Windows) would re-run the caller's script in every worker, unless it is guarded by
    ``if __name__ == "__main__":``, so there the pictures are decoded in this process.
    """
    if _POOL == "process" and not (
        sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
    ):
        return "serial"
    if _POOL == "process" and multiprocessing.current_process().daemon:
        return "serial"  # a daemonic process (a multiprocessing.Pool worker) has no children
    return _POOL


def _workers(count: int, pool: str) -> int:
    if pool == "serial" or count < _PARALLEL_MIN_FILES:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_WORKERS, count))


def _chunks(paths: list[str], workers: int) -> list[tuple[int, list[str]]]:
    """``(start, paths)`` tasks: a few per worker, so that they all finish at about once."""
    size = _CHUNK if workers == 1 else max(1, min(_CHUNK, len(paths) // (4 * workers)))
    return [(i, paths[i:i + size]) for i in range(0, len(paths), size)]


def _executor(pool: str, workers: int) -> Executor:
    if pool == "thread":
        return ThreadPoolExecutor(workers, thread_name_prefix="kerasdigits-folder")
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_init_worker)


def _init_worker() -> None:
    """In a worker process: leave Ctrl-C to the parent, and use one OpenBLAS thread.

    Ctrl-C reaches every process of the terminal's group: the parent stops the load (it
    cancels the chunks not started and waits for the running ones), instead of each worker
    printing a ``KeyboardInterrupt`` traceback of its own.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _one_blas_thread()


_BLAS_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_",
                 "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads")


def _one_blas_thread() -> None:
    """In a worker process: make NumPy's OpenBLAS use one thread.

    With a worker per core, BLAS threads only compete for the cores: converting a large
    picture (matrix products in ``to_mnist``) was 2 to 4 times slower with them. Best effort
    (Linux only, as the workers are): the OpenBLAS libraries loaded, found in
    ``/proc/self/maps``, are told so; anything else is left as it is.
    """
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
        libraries = [p for p in paths if "openblas" in os.path.basename(p).lower()
                     and ".so" in os.path.basename(p)]
        for library in sorted(libraries):
            handle = ctypes.CDLL(library)
            setter = next((getattr(handle, name) for name in _BLAS_SETTERS
                           if hasattr(handle, name)), None)
            if setter is not None:
                setter(1)
    except Exception:  # an optimization only: never fail a worker
        _log.debug("could not limit OpenBLAS to one thread", exc_info=True)


def _run(
    chunks: list[tuple[int, list[str]]], options: _Options, pool: str, workers: int
) -> Generator[tuple[int, list[npt.NDArray[np.uint8] | str]], None, None]:
    """``(start, results)`` for every chunk, in the order they are done.

    Closing the generator early (an error, ``KeyboardInterrupt``) cancels the chunks not
    started yet and waits for the running ones.
    """
    if workers <= 1:
        for start, chunk in chunks:
            yield start, _convert_chunk(chunk, options)
        return
    executor = _executor(pool, workers)
    try:
        futures = {executor.submit(_convert_chunk, chunk, options): start
                   for start, chunk in chunks}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _decode(
    name: str, paths: list[str], options: _Options, *, stop_early: bool, progress: bool
) -> tuple[list[npt.NDArray[np.uint8] | None], list[tuple[int, str]]]:
    """Convert ``paths``; return the images (``None`` where it failed) and the failures.

    With ``stop_early``, stop at the first chunk holding a failure (pictures not converted
    by then are ``None`` too).
    """
    n = len(paths)
    images: list[npt.NDArray[np.uint8] | None] = [None] * n
    failures: list[tuple[int, str]] = []
    stream = default_stream(progress) if n > _PROGRESS_MIN_FILES else None
    bar = _PictureProgress(name, n, stream) if stream is not None else None
    pool = _pool()
    workers = _workers(n, pool)
    done = 0
    try:
        with warnings.catch_warnings():
            # Pillow's reader sets a warnings filter while it opens a file, which threads race
            # on: whatever they leave behind is undone on leaving this block. The workers
            # forked from a process with threads (TensorFlow's) run only Pillow and NumPy.
            warnings.filterwarnings("ignore", r".*use of fork\(\) may lead to deadlocks",
                                    DeprecationWarning)
            with closing(_run(_chunks(paths, workers), options, pool, workers)) as results:
                for start, outcomes in results:
                    for i, outcome in enumerate(outcomes, start=start):
                        if isinstance(outcome, str):
                            failures.append((i, outcome))
                        else:
                            images[i] = outcome
                    done += len(outcomes)
                    if bar is not None:
                        bar.update(done)
                    if failures and stop_early:
                        break
    finally:
        if bar is not None:
            bar.close(done, done == n and not (failures and stop_early))
    return images, sorted(failures)


class _PictureProgress(_Progress):
    """The download progress line, counting pictures instead of bytes."""

    def _fmt(self, done: int) -> str:
        total = self.total or 0
        pct = 100.0 * done / total if total else 100.0
        return f"{self.name}: {done:,}/{total:,} pictures ({pct:3.0f}%)"


# ----------------------------------------------------------------------------- the cache


def _load_pictures(
    root: Path, pictures: list[_Picture], options: _Options, *, cache: bool, skip: bool,
    progress: bool,
) -> list[npt.NDArray[np.uint8] | None]:
    """Every picture converted (from the cache where it is up to date); ``None``: skipped.

    Raises:
        DatasetError: A picture cannot be read or converted, and ``skip`` is false.
    """
    with ExitStack() as stack:
        if cache:
            path, key = _folder_cache.cache_file(root, options.key())
            try:
                stack.enter_context(file_lock(path.with_suffix(".lock")))
            except OSError as exc:  # a read-only home, say: load without the cache
                warnings.warn(f"cannot use the image folder cache in {path.parent}: {exc}; "
                              "every picture is decoded", KerasDigitsWarning, stacklevel=3)
                cache = False
        if cache:
            images, failures = _load_cached(root, path, key, pictures, options, skip=skip,
                                            progress=progress)
        else:
            images, failures = _decode(root.name, [p.path for p in pictures], options,
                                       stop_early=not skip, progress=progress)
    if failures:
        _report_failures(root, failures, len(pictures), skip=skip)
    return images


def _load_cached(
    root: Path, path: Path, key: str, pictures: list[_Picture], options: _Options, *,
    skip: bool, progress: bool,
) -> tuple[list[npt.NDArray[np.uint8] | None], list[tuple[int, str]]]:
    """:func:`_decode` the pictures that the cache file lacks, and update it."""
    longest = max((len(p.rel) for p in pictures), default=0)
    stored = _folder_cache.read_cache(
        path, key, options.size,
        max_bytes=_folder_cache.max_cache_bytes(len(pictures), longest, options.size))
    images: list[npt.NDArray[np.uint8] | None] = [None] * len(pictures)
    todo: list[int] = []
    for i, picture in enumerate(pictures):
        hit = stored.get(picture.rel)
        if hit is not None and (hit.size, hit.mtime_ns) == (picture.size, picture.mtime_ns):
            images[i] = hit.image
        else:
            todo.append(i)
    decoded, failures = _decode(root.name, [pictures[i].path for i in todo], options,
                                stop_early=not skip, progress=progress)
    for i, image in zip(todo, decoded, strict=True):
        images[i] = image
    kept = sum(image is not None for image in images)
    # Rewrite the file when a picture was converted, or one it holds is gone or changed.
    changed = any(image is not None for image in decoded) or len(stored) != kept
    if changed:
        _save(path, key, [(pictures[i], image) for i, image in enumerate(images)
                          if image is not None], options.size)
    return images, [(todo[i], message) for i, message in failures]


def _save(
    path: Path, key: str, converted: list[tuple[_Picture, npt.NDArray[np.uint8]]], side: int
) -> None:
    """Write the cache file; a failure to write it is a warning, not an error."""
    pictures = [picture for picture, _ in converted]
    stacked = np.empty((len(converted), side, side), dtype=np.uint8)
    for i, (_, image) in enumerate(converted):
        stacked[i] = image
    try:
        _folder_cache.write_cache(path, key, [p.rel for p in pictures],
                                  [p.size for p in pictures], [p.mtime_ns for p in pictures],
                                  stacked)
    except OSError as exc:
        warnings.warn(f"could not write the image folder cache {path}: {exc}; the next load "
                      "will decode every picture again", KerasDigitsWarning, stacklevel=5)


def _report_failures(
    root: Path, failures: list[tuple[int, str]], total: int, *, skip: bool
) -> None:
    """Raise the first failure as a DatasetError, or warn once about all of them."""
    if not skip:
        raise DatasetError(f"{failures[0][1]} (on_error='skip' leaves out the pictures that "
                           "cannot be read)")
    shown = "; ".join(message for _, message in failures[:_SHOWN_FAILURES])
    more = len(failures) - _SHOWN_FAILURES
    warnings.warn(
        f"{root}: skipped {len(failures)} of {total} pictures that could not be read: "
        f"{shown}{f'; and {more} more' if more > 0 else ''}",
        KerasDigitsWarning,
        stacklevel=4,
    )


# ----------------------------------------------------------------------------- the dataset


def _make_splits(
    root: Path, layout: _Layout, images: list[npt.NDArray[np.uint8] | None], side: int
) -> dict[str, Split]:
    """A :class:`Split` per split folder, without the pictures skipped."""
    splits: dict[str, Split] = {}
    start = 0
    for name, pictures in layout.splits.items():
        kept = [(p, image) for p, image in zip(pictures, images[start:start + len(pictures)],
                                               strict=True) if image is not None]
        start += len(pictures)
        stacked = np.empty((len(kept), side, side), dtype=np.uint8)
        for i, (_, image) in enumerate(kept):
            stacked[i] = image
        labels = np.array([p.label for p, _ in kept], dtype=np.uint8)
        splits[name] = Split(stacked, labels)
    counts = splits["train"].class_counts(len(layout.class_names))
    empty = [name for name, count in zip(layout.class_names, counts, strict=True) if not count]
    if empty:
        raise DatasetError(f"{root}: no readable training picture of class "
                           f"{', '.join(map(repr, empty))} (every one was skipped)")
    return splits


def _assemble(
    root: Path, layout: _Layout, splits: dict[str, Split], test_size: float,
    validation_size: float, seed: int,
) -> Dataset:
    train = splits["train"]
    side = train.images.shape[1]
    test = splits.get("test")
    if test_size:
        train_idx, test_idx = stratified_split(train.labels, test_size, seed=seed)
        train, test = train.take(train_idx), train.take(test_idx)
    if test is None:
        test = Split(np.empty((0, side, side), np.uint8), np.empty(0, np.uint8))
    _check_carved(train, layout.class_names, "test_size", test_size)
    validation = splits.get("validation")
    dataset = Dataset(
        name=root.name or str(root),
        train=train,
        validation=validation if validation is not None and len(validation) else None,
        test=test,
        class_names=layout.class_names,
        source=DataSource("folder", root),
    )
    if not validation_size:
        return dataset
    dataset = dataset.with_validation(validation_size, seed=seed)
    _check_carved(dataset.train, layout.class_names, "validation_size", validation_size)
    return dataset


def _check_carved(train: Split, class_names: tuple[str, ...], name: str, size: float) -> None:
    """Refuse a split size that took every training picture of a class (a small class)."""
    if not size:
        return
    counts = train.class_counts(len(class_names))
    empty = [c for c, count in zip(class_names, counts, strict=True) if not count]
    if empty:
        raise ValueError(
            f"{name}={size} leaves no training picture of class "
            f"{', '.join(map(repr, empty))}: use a smaller {name}, or add pictures"
        )
