"""Finding dataset files in the places a user may have them, and loading them.

Search order (first complete hit wins; :attr:`Dataset.source` says which):

1. the ``data_dir`` argument (the folder itself, or its ``<dataset>/`` sub-folder);
2. ``$KERASDIGITS_DATA_DIR/<dataset>/``;
3. the library cache, ``$KERASDIGITS_HOME/datasets/<dataset>/`` (default ``~/.kerasdigits``);
4. Keras's cache, ``$KERAS_HOME/datasets/`` (``mnist.npz``, ``fashion-mnist/*.gz``);
5. system packages (Debian's ``dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist``);
6. with ``download=True``, the HTTPS mirrors (or ``mirrors=`` / ``$KERASDIGITS_MIRROR``), into
   the library cache.

The bundled samples (``mnist_sample``, ``fashion_mnist_sample``) live inside the package.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from kerasdigits._config import env_data_dir, env_mirrors, keras_home, kerasdigits_home
from kerasdigits._errors import DatasetError
from kerasdigits._files import file_lock
from kerasdigits.datasets._catalog import ROLES, DatasetInfo
from kerasdigits.datasets._dataset import Dataset, DataSource, Split
from kerasdigits.datasets._download import (
    DEFAULT_TIMEOUT,
    default_stream,
    download_archive,
    download_file,
    max_download_size,
)
from kerasdigits.datasets._idx import decompress, idx_bytes, parse_idx, read_bytes, read_member
from kerasdigits.datasets._registry import (
    _aliases,
    _loader_kwargs,
    get_dataset_info,
    list_datasets,
)
from kerasdigits.datasets._verify import (
    check_compressed,
    check_digest,
    check_sha256,
    file_digest,
    is_verified,
    mark_verified,
)

__all__ = ["SAMPLES_DIR", "Candidate", "candidates", "load_dataset", "locate_dataset"]

#: Folder of the bundled sample datasets inside the installed package.
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
_NPZ_KEYS = {
    "train_images": "x_train",
    "train_labels": "y_train",
    "test_images": "x_test",
    "test_labels": "y_test",
}


@dataclass(frozen=True)
class Candidate:
    """A place searched for a dataset, and what was found there.

    Attributes:
        source: The place.
        files: Role -> path of the files found (all four for a complete hit; an ``.npz`` file
            serves every role).
        note: Why the place is not a hit (``""`` for a hit).
    """

    source: DataSource
    files: dict[str, Path]
    note: str = ""

    @property
    def complete(self) -> bool:
        """Whether every file was found."""
        return not self.note and set(self.files) == set(ROLES)

    @property
    def partial(self) -> bool:
        """Whether some but not all files were found."""
        return bool(self.files) and set(self.files) != set(ROLES)


def _file_variants(stem: str) -> tuple[str, ...]:
    dotted = stem.replace("-idx", ".idx")  # LeCun's unpacked files are named t10k-images.idx3-ubyte
    return (stem + ".gz", stem, dotted + ".gz", dotted)


def _scan_folder(kind: str, folder: Path, info: DatasetInfo) -> Candidate:
    source = DataSource(kind, folder)
    if not folder.is_dir():
        return Candidate(source, {}, "no such folder")
    files: dict[str, Path] = {}
    for role, stem in info.files.items():
        for variant in _file_variants(stem):
            path = folder / variant
            if path.is_file():
                files[role] = path
                break
    if not files and info.archive and (folder / info.archive).is_file():
        return Candidate(source, dict.fromkeys(ROLES, folder / info.archive))
    if not files:
        return Candidate(source, files, "no dataset files")
    if len(files) < len(ROLES):
        missing = ", ".join(info.files[r] + "(.gz)" for r in ROLES if r not in files)
        return Candidate(source, files, f"missing file {missing}")
    return Candidate(source, files)


def _scan_npz(kind: str, path: Path) -> Candidate:
    source = DataSource(kind, path)
    if not path.is_file():
        return Candidate(source, {}, "no such file")
    return Candidate(source, dict.fromkeys(ROLES, path))


def candidates(info: DatasetInfo, data_dir: str | Path | None = None) -> Iterator[Candidate]:
    """Yield every place searched for ``info``, in search order.

    Args:
        info: The dataset.
        data_dir: The ``data_dir`` argument of :func:`load_dataset`, if any.
    """
    if info.bundled:
        yield _scan_folder("bundled", SAMPLES_DIR / info.name, info)
        return
    if data_dir is not None:
        root = _check_data_dir(data_dir)
        direct = _scan_folder("data_dir", root, info)
        # Yielded even when empty, so that the not-found message lists the folder itself.
        yield direct
        if not direct.files:
            if info.keras_npz and (root / info.keras_npz).is_file():
                yield _scan_npz("data_dir", root / info.keras_npz)
            for folder in info.folder_names:
                yield _scan_folder("data_dir", root / folder, info)
    env_root = env_data_dir()
    if env_root is not None:
        for folder in info.folder_names:
            yield _scan_folder("env", env_root / folder, info)
    yield _scan_folder("cache", cache_dir(info), info)
    kdir = keras_home() / "datasets"
    if info.keras_npz:
        yield _scan_npz("keras", kdir / info.keras_npz)
    if info.keras_folder:
        yield _scan_folder("keras", kdir / info.keras_folder, info)
    for system_dir in info.system_dirs:
        yield _scan_folder("system", system_dir, info)


def _check_data_dir(data_dir: str | Path) -> Path:
    """Return ``data_dir`` resolved; a folder the caller named must exist.

    Raises:
        DatasetError: ``data_dir`` does not exist or is not a folder (rather than silently
            loading another copy, or downloading one, because of a typo).
    """
    root = Path(data_dir).expanduser().resolve()
    if not root.exists():
        raise DatasetError(f"data_dir {root}: no such folder")
    if not root.is_dir():
        raise DatasetError(
            f"data_dir {root}: not a folder (pass the folder that holds the dataset files)"
        )
    return root


def cache_dir(info: DatasetInfo) -> Path:
    """Return the library-cache folder of ``info`` (``$KERASDIGITS_HOME/datasets/<name>``).

    The datasets of one archive share a folder (EMNIST's: ``datasets/emnist``).
    """
    return kerasdigits_home() / "datasets" / info.cache_folder


def locate_dataset(name: str, *, data_dir: str | Path | None = None) -> DataSource | None:
    """Return where :func:`load_dataset` would read ``name`` from, without reading it.

    Args:
        name: Dataset name.
        data_dir: As for :func:`load_dataset`.

    Returns:
        The first complete location, or ``None`` when the dataset would have to be downloaded.

    Raises:
        DatasetError: The dataset is unknown, or ``data_dir`` is not an existing folder.
    """
    info = get_dataset_info(name)
    if info.loader is not None:
        return DataSource("plugin", None, url=None)
    for cand in candidates(info, data_dir):
        if cand.complete:
            return cand.source
    return None


# --------------------------------------------------------------------------------------------
# Reading and validating


def _validate_array(
    info: DatasetInfo, role: str, array: npt.NDArray[np.generic], source: object
) -> None:
    kind = "images" if role.endswith("images") else "labels"
    if array.dtype != np.uint8:
        raise DatasetError(f"{source}: {info.name} {kind} must be uint8, got dtype {array.dtype}")
    if kind == "images" and (array.ndim != 3 or array.shape[1:] != (28, 28)):
        raise DatasetError(
            f"{source}: {info.name} images must have shape (N, 28, 28), got {array.shape}"
        )
    if kind == "labels":
        if array.ndim != 1:
            raise DatasetError(
                f"{source}: {info.name} labels must have shape (N,), got {array.shape}"
            )
        low, high = info.label_offset, info.label_offset + info.num_classes - 1
        outside = (array.astype(np.int64) < low) | (array.astype(np.int64) > high)
        if outside.any():
            bad = int(np.flatnonzero(outside)[0])
            raise DatasetError(
                f"{source}: label {int(array[bad])} at index {bad} is outside {low}..{high}"
            )


def _check_pair(info: DatasetInfo, split: str, images: np.ndarray, labels: np.ndarray,
                image_src: object, label_src: object) -> None:
    if len(images) != len(labels):
        raise DatasetError(
            f"{info.name} {split}: image/label count mismatch: {image_src} holds "
            f"{len(images):,} images but {label_src} holds {len(labels):,} labels"
        )


def _gz_hashes(info: DatasetInfo) -> dict[str, dict[str, str]]:
    return {"md5": info.gz_md5, "sha256": info.gz_sha256}


def _parse_role(info: DatasetInfo, role: str, raw: bytes, source: object, *,
                verify: bool) -> tuple[np.ndarray, bytes]:
    """Decompress (bounded), parse and validate one file's bytes; return the array and data."""
    what = f"{info.name} {role}"
    # A verified file has the catalog's size, so a larger one is refused while decompressing
    # (a gzip bomb costs no memory); without verify, data of one's own may be larger.
    limit = info.file_size(role) if verify and info.counts else None
    data = decompress(raw, source=str(source), limit=limit, what=what,
                      hint="or data of your own: pass verify=False")
    array = parse_idx(data, source=str(source))
    _validate_array(info, role, array, source)
    return array, data


def _read_role(info: DatasetInfo, role: str, path: Path, *, verify: bool) -> np.ndarray:
    what = f"{info.name} {role}"
    raw = read_bytes(path)
    if verify and (info.gz_md5 or info.gz_sha256):
        key = "gz:" + (info.gz_sha256.get(role) or info.gz_md5.get(role, ""))
        if not is_verified(path, key) and check_compressed(
            raw, _gz_hashes(info), role, source=str(path), what=what
        ):
            mark_verified(path, key)
    array, data = _parse_role(info, role, raw, path, verify=verify)
    if verify and info.sha256 and not is_verified(path, info.sha256[role]):
        check_sha256(data, info.sha256[role], source=str(path), what=what)
        mark_verified(path, info.sha256[role])
    return array


def _read_npz(info: DatasetInfo, path: Path, *, verify: bool) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in _NPZ_KEYS.values() if key not in npz.files]
            if missing:
                raise DatasetError(
                    f"{path}: not a Keras-format {info.keras_npz}: missing arrays "
                    f"{', '.join(missing)} (has {', '.join(npz.files) or 'none'})"
                )
            arrays = {role: np.asarray(npz[key]) for role, key in _NPZ_KEYS.items()}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot read as .npz: {exc}") from exc
    for role, array in arrays.items():
        _validate_array(info, role, array, f"{path} [{_NPZ_KEYS[role]}]")
    if verify and info.sha256:
        # The pinned hashes are of the IDX files; an array hashes the same once re-encoded as
        # IDX, so any correct copy verifies, however it was written.
        combined = "".join(info.sha256[r] for r in ROLES)
        if not is_verified(path, combined):
            for role, array in arrays.items():
                check_sha256(idx_bytes(array), info.sha256[role],
                             source=f"{path} [{_NPZ_KEYS[role]}]", what=f"{info.name} {role}")
            mark_verified(path, combined)
    return arrays


def _read_archive(info: DatasetInfo, path: Path, *, verify: bool) -> dict[str, np.ndarray]:
    """Read the four ``.gz`` members of ``info``'s zip archive, without unpacking the rest."""
    if verify and info.archive_md5 and not is_verified(path, "md5:" + info.archive_md5):
        check_digest(file_digest(path, "md5"), info.archive_md5, algorithm="md5",
                     source=str(path), what=f"{info.name}'s {info.archive}", of="the zip file")
        mark_verified(path, "md5:" + info.archive_md5)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for role in ROLES:
                member = info.archive_prefix + info.files[role] + ".gz"
                raw = read_member(archive, member, path, limit=_member_limit(info, role, verify))
                arrays[role] = _parse_role(info, role, raw, f"{path} [{member}]",
                                           verify=verify)[0]
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot read as a zip archive: {exc}") from exc
    return arrays


def _member_limit(info: DatasetInfo, role: str, verify: bool) -> int | None:
    return max_download_size(info, role) if verify and info.counts else None


def _read_candidate(info: DatasetInfo, cand: Candidate, *, verify: bool) -> dict[str, np.ndarray]:
    paths = set(cand.files.values())
    if len(paths) == 1 and next(iter(paths)).suffix == ".npz":
        return _read_npz(info, next(iter(paths)), verify=verify)
    if len(paths) == 1 and info.archive and next(iter(paths)).name == info.archive:
        return _read_archive(info, next(iter(paths)), verify=verify)
    return {role: _read_role(info, role, cand.files[role], verify=verify) for role in ROLES}


def _split(info: DatasetInfo, images: np.ndarray, labels: np.ndarray) -> Split:
    """Return a split in MNIST's conventions: upright images, labels from 0."""
    if info.transposed:
        images = np.ascontiguousarray(images.transpose(0, 2, 1))
    if info.label_offset:
        labels = (labels - info.label_offset).astype(np.uint8)
    return Split(images, labels)


def _assemble(info: DatasetInfo, arrays: dict[str, np.ndarray], cand: Candidate,
              source: DataSource) -> Dataset:
    for split in ("train", "test"):
        img, lab = f"{split}_images", f"{split}_labels"
        _check_pair(info, split, arrays[img], arrays[lab], cand.files[img], cand.files[lab])
    return Dataset(
        name=info.name,
        train=_split(info, arrays["train_images"], arrays["train_labels"]),
        validation=None,
        test=_split(info, arrays["test_images"], arrays["test_labels"]),
        class_names=info.class_names,
        source=source,
    )


def _not_found(info: DatasetInfo, searched: list[Candidate], data_dir: object,
               download_note: str) -> DatasetError:
    lines = [f"dataset {info.name!r} not found. Searched, in order:"]
    if data_dir is None and not info.bundled:
        lines.append("  - data_dir argument: not given")
    if env_data_dir() is None and not info.bundled:
        lines.append("  - KERASDIGITS_DATA_DIR: not set")
    for cand in searched:
        lines.append(f"  - {cand.source.label}: {cand.source.path}: {cand.note}")
    if download_note:
        lines.append(f"  - download: {download_note}")
    if info.bundled:
        lines.append("The bundled sample is missing from this installation: reinstall kerasdigits.")
    else:
        holding = (f"{info.archive} or its four .gz files" if info.archive
                   else f"{info.files['train_images']}.gz and the other three files")
        lines.append(
            f"To fix: pass data_dir='/path/to/folder' (holding {holding}, or a "
            f"{info.folder_names[0]}/ sub-folder), set "
            "KERASDIGITS_DATA_DIR to a folder with one sub-folder per dataset, or allow "
            "download=True (mirrors=[...] or KERASDIGITS_MIRROR for a mirror of your own)."
        )
    return DatasetError("\n".join(lines))


def load_dataset(
    name: str | os.PathLike[str],
    *,
    data_dir: str | Path | None = None,
    download: bool = True,
    validation_size: float = 0,
    seed: int = 0,
    verify: bool = True,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> Dataset:
    """Load a dataset by name (or a folder of images by path), downloading if allowed.

    Args:
        name: A registered dataset (see :func:`list_datasets`): ``"mnist"``,
            ``"fashion_mnist"`` (or ``"fashion-mnist"``), ``"kmnist"``, ``"emnist_digits"``,
            ``"emnist_letters"``, ``"emnist_balanced"``, the bundled ``"mnist_sample"`` and
            ``"fashion_mnist_sample"``, or a plugin's. Or the path of a folder of pictures
            (a :class:`~pathlib.Path`, a string with a ``/``, or a folder that exists and is
            not a registered name), loaded by
            :func:`~kerasdigits.datasets.load_image_folder` with its defaults (call that for
            its other options); ``data_dir``, ``download``, ``verify``, ``mirrors`` and
            ``timeout`` do not apply to a folder.
        data_dir: A folder to look in first: either holding the four IDX files (``.gz`` or
            not), Keras's ``mnist.npz`` or EMNIST's ``gzip.zip``, or holding a
            ``<dataset>/`` sub-folder that does. It must exist (ignored for the bundled
            samples).
        download: Download missing files into the library cache when no place has them.
        validation_size: Carve a stratified validation split out of train: a count (int) or a
            fraction (float in ``[0, 1)``). ``0`` means no validation split (but for a
            registered dataset whose loader returns one, which is kept).
        seed: Seed of the validation split's random choice.
        verify: Check each file against its pinned checksum the first time it is loaded from
            a location: the sha256 of its decompressed contents (MNIST, Fashion-MNIST), else
            the published hashes of the official ``.gz`` files (KMNIST; an uncompressed copy
            is checked for size and format only) or of the zip (EMNIST). Turn off only for
            data of your own in the standard file layout.
        mirrors: Base URLs to download from, replacing the defaults (and
            ``$KERASDIGITS_MIRROR``). ``{dataset}`` in a URL is replaced by the dataset name.
        timeout: Seconds a mirror may stay silent before the next one is tried.
        progress: Print download (or, for a folder, loading) progress to stderr.

    Returns:
        The :class:`Dataset`: ``uint8`` images ``(N, 28, 28)`` in MNIST's orientation and
        ``uint8`` labels from 0 (EMNIST's transposed images and EMNIST Letters' labels 1..26
        are converted).

    Raises:
        DatasetError: The dataset is unknown, ``data_dir`` is not an existing folder, the
            dataset cannot be found or downloaded, a file is invalid (the message names
            the file and the problem), a registered loader returned an invalid dataset, or
            ``name`` looks like a folder that does not exist but names a dataset
            (``"mnist/"``).

    Example:
        >>> from kerasdigits import load_dataset
        >>> ds = load_dataset("mnist_sample", validation_size=500)
        >>> len(ds.train), len(ds.validation), len(ds.test)
        (5500, 500, 1000)
        >>> ds.train.images.dtype, ds.train.images.shape[1:]
        (dtype('uint8'), (28, 28))
    """
    folder = _as_folder(name)
    if folder is not None:
        from kerasdigits.datasets._folder import load_image_folder

        loaded: Dataset = load_image_folder(folder, validation_size=validation_size, seed=seed,
                                            progress=progress)
        return loaded
    info = get_dataset_info(str(name))
    options: dict[str, Any] = {"data_dir": data_dir, "download": download, "verify": verify,
                               "mirrors": mirrors, "timeout": timeout, "progress": progress}
    if info.loader is not None:
        dataset = _load_registered(info, options)
    else:
        dataset = _load_files(info, **options)
    # A registered loader may return its own validation split: kept unless one is asked for.
    return dataset.with_validation(validation_size, seed=seed) if validation_size else dataset


def _as_folder(name: object) -> Path | None:
    """Return ``name`` as a folder path when it names a folder rather than a dataset.

    Raises:
        DatasetError: ``name`` looks like a path (``"mnist/"``) to no folder, and without its
            slashes it is a dataset's name.
    """
    if isinstance(name, os.PathLike):
        return Path(name)
    if not isinstance(name, str):
        raise TypeError(f"dataset must be a name or a folder path, got {type(name).__name__}")
    if "/" in name or os.sep in name or name.startswith(("~", ".")):
        _check_not_a_misspelled_name(name)
        return Path(name)
    list_datasets()  # the plugins' names too, whether or not they were loaded yet
    if name.strip().lower() in _aliases():
        return None
    path = Path(name)
    return path if name.strip() and path.is_dir() else None


def _check_not_a_misspelled_name(name: str) -> None:
    """Refuse ``"mnist/"`` or ``"./mnist"`` when no such folder exists: say the name."""
    bare = name.strip().removeprefix("./").strip("/" + os.sep)
    if not bare or Path(name).expanduser().exists():
        return
    list_datasets()
    registered = _aliases().get(bare.lower())
    if registered is not None:
        raise DatasetError(
            f"{name}: no such folder; the dataset is named {registered!r} (a name with a "
            "'/' is a folder of pictures)"
        )


def _load_registered(info: DatasetInfo, options: dict[str, Any]) -> Dataset:
    """Call a registered dataset's loader and check what it returns."""
    assert info.loader is not None
    where = f"the loader of dataset {info.name!r} (registered by {info.registered_by!r})"
    dataset = info.loader(**_loader_kwargs(info.loader, options))
    if not isinstance(dataset, Dataset):
        raise DatasetError(f"{where} returned {type(dataset).__name__}, not a Dataset")
    if tuple(dataset.class_names) != info.class_names:
        raise DatasetError(
            f"{where} returned class names {tuple(dataset.class_names)!r}, but the dataset was "
            f"registered with {info.class_names!r}"
        )
    if not len(dataset.train):
        raise DatasetError(f"{where} returned an empty train split")
    side = dataset.train.images.shape[1:]
    for split_name, split in (("train", dataset.train), ("validation", dataset.validation),
                              ("test", dataset.test)):
        if split is None:
            continue
        if split.images.dtype != np.uint8 or split.labels.dtype != np.uint8:
            raise DatasetError(
                f"{where}: the {split_name} split must hold uint8 images and labels, got "
                f"{split.images.dtype} and {split.labels.dtype}"
            )
        if split.images.shape[1:] != side:
            raise DatasetError(
                f"{where}: the {split_name} split's images are {split.images.shape[1:]}, the "
                f"train split's {side}: every split must have images of one size"
            )
        if len(split) and int(split.labels.max()) >= info.num_classes:
            raise DatasetError(
                f"{where}: {split_name} label {int(split.labels.max())} is outside "
                f"0..{info.num_classes - 1}"
            )
    return dataclasses.replace(dataset, name=info.name)


def _load_files(
    info: DatasetInfo,
    *,
    data_dir: str | Path | None,
    download: bool,
    verify: bool,
    mirrors: Sequence[str] | None,
    timeout: float,
    progress: bool,
) -> Dataset:
    """Load a dataset of IDX files (or an archive of them) from the first place that has it."""
    searched: list[Candidate] = []
    for cand in candidates(info, data_dir):
        if cand.complete:
            arrays = _read_candidate(info, cand, verify=verify)
            return _assemble(info, arrays, cand, cand.source)
        if cand.partial and cand.source.kind in ("data_dir", "env"):
            raise DatasetError(f"{cand.source.path}: {cand.note} (found the other files there)")
        searched.append(cand)
    if info.bundled:
        raise _not_found(info, searched, data_dir, "")
    if not download:
        raise _not_found(info, searched, data_dir, "disabled (download=False)")
    urls = tuple(mirrors) if mirrors is not None else (env_mirrors() or info.mirrors)
    target = cache_dir(info)
    try:
        used = _download_missing(info, target, urls, timeout=timeout,
                                 stream=default_stream(progress))
    except DatasetError as exc:
        raise _not_found(info, searched, data_dir, f"failed: {exc}") from exc
    cand = _scan_folder("cache", target, info)
    arrays = _read_candidate(info, cand, verify=verify)
    url = used[0].replace("{dataset}", info.name) if used else None
    return _assemble(info, arrays, cand, DataSource("download", target, url=url))


def _download_missing(info: DatasetInfo, target: Path, urls: Sequence[str], *,
                      timeout: float, stream: TextIO | None) -> list[str]:
    """Download what the cache folder lacks; return the mirrors used."""
    used: list[str] = []
    with file_lock(target / ".lock"):
        present = _scan_folder("cache", target, info)
        if info.archive:
            if not present.complete:
                used.append(download_archive(info, target, urls, timeout=timeout,
                                             stream=stream)[1])
            return used
        for role in ROLES:
            if role in present.files:
                continue
            _, mirror = download_file(info, role, target, urls, timeout=timeout, stream=stream,
                                      validate=_download_validator(info, role))
            used.append(mirror)
    return used


def _download_validator(info: DatasetInfo, role: str) -> Callable[[bytes, str], None]:
    def validate(data: bytes, url: str) -> None:
        _validate_array(info, role, parse_idx(data, source=url), url)

    return validate
