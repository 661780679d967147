"""The :class:`Dataset` and :class:`Split` records returned by the loaders."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from kerasdigits import _lazy, _validate

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["DataSource", "Dataset", "Split", "stratified_split"]

SplitName = Literal["train", "validation", "test"]
_SPLITS: tuple[SplitName, ...] = ("train", "validation", "test")

_SOURCE_LABELS = {
    "data_dir": "data_dir argument",
    "env": "KERASDIGITS_DATA_DIR",
    "cache": "library cache",
    "keras": "Keras cache",
    "system": "system package",
    "download": "downloaded",
    "bundled": "bundled with kerasdigits",
    "memory": "in memory",
    "folder": "image folder",
}


@dataclass(frozen=True)
class DataSource:
    """Where a dataset's files were found.

    Attributes:
        kind: One of ``"data_dir"``, ``"env"`` (``KERASDIGITS_DATA_DIR``), ``"cache"`` (the
            library cache), ``"keras"`` (Keras's cache), ``"system"`` (a system package such as
            Debian's), ``"download"`` (downloaded into the library cache just now),
            ``"bundled"`` (the samples inside the package), ``"memory"`` or ``"folder"`` (a
            folder of picture files, one sub-folder per class: ``load_image_folder``).
        path: The folder holding the IDX files, the ``.npz`` file, or the picture folder.
        url: For ``"download"``, the mirror the files came from.
    """

    kind: str
    path: Path | None
    url: str | None = None

    @property
    def label(self) -> str:
        """A human-readable name of the kind of place."""
        return _SOURCE_LABELS.get(self.kind, self.kind)

    def __str__(self) -> str:
        where = self.url if self.kind == "download" and self.url else self.path
        return f"{self.label} ({where})" if where is not None else self.label


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a dataset: images and their labels.

    Attributes:
        images: ``uint8`` array of shape ``(N, 28, 28)``, pixel values 0..255.
        labels: ``uint8`` array of shape ``(N,)``, class indices.
    """

    images: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        if self.images.ndim != 3:
            raise ValueError(f"Split images must have shape (N, H, W), got {self.images.shape}")
        if self.labels.ndim != 1:
            raise ValueError(f"Split labels must have shape (N,), got {self.labels.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(
                f"Split has {len(self.images)} images but {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, images={self.images.dtype}{list(self.images.shape)})"

    def take(self, indices: npt.ArrayLike) -> Split:
        """Return the examples at ``indices`` (an index array, boolean mask or slice) as a Split."""
        idx = indices if isinstance(indices, slice) else np.asarray(indices)
        if isinstance(idx, np.ndarray) and idx.size == 0:
            idx = idx.astype(np.int64)
        return Split(self.images[idx], self.labels[idx])

    def class_counts(self, num_classes: int = 10) -> npt.NDArray[np.int64]:
        """Return how many examples each class has."""
        return np.bincount(self.labels, minlength=num_classes).astype(np.int64)

    def to_tf(
        self,
        batch_size: int = 32,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        repeat: bool = False,
        drop_remainder: bool = False,
        one_hot: bool = False,
        prefetch: bool = True,
        num_classes: int = 10,
    ) -> tf.data.Dataset:
        """Return a batched ``tf.data.Dataset`` of ``(images, labels)``.

        Images stay ``uint8`` with shape ``(batch, 28, 28)``; normalize inside the model (see
        :mod:`kerasdigits.transforms`), so no float copy of the data is made. Batches are
        gathered from a shuffled index stream, which is much faster than shuffling single
        examples, and the next batch is prefetched while the model trains.

        tf.data's autotuning is off for this pipeline (``options().autotune.enabled`` is
        ``False``; its parallel steps use every core). With it, the same training took up to
        1.7 times as long for the same CPU time on two cores: ``fit`` kept fewer cores busy, and
        about half of its epoch ends waited about 2 s for the autotuning thread
        (``bench/README.md``, issue 17 round 6). Turn it back on with ``with_options`` for a
        heavy pipeline of your own built on this one.

        Args:
            batch_size: Examples per batch.
            shuffle: Reshuffle every epoch.
            seed: Shuffle seed (``None``: not reproducible).
            repeat: Repeat forever (pass ``steps_per_epoch`` to ``fit``).
            drop_remainder: Drop the last, smaller batch.
            one_hot: Yield labels one-hot encoded (``float32``, ``num_classes`` wide) instead
                of ``uint8`` indices.
            prefetch: Prefetch batches (``tf.data.AUTOTUNE``).
            num_classes: The width of one-hot labels (:meth:`Dataset.to_tf` passes the
                dataset's number of classes).

        Returns:
            The ``tf.data.Dataset``.

        Raises:
            ValueError: ``batch_size`` or ``num_classes`` is not a positive int, or
                ``one_hot`` is not ``True`` or ``False``.
        """
        batch_size = _validate.positive_int(batch_size, "batch_size")
        one_hot = _validate.boolean(one_hot, "one_hot")
        num_classes = _validate.positive_int(num_classes, "num_classes")
        tf = _lazy.tensorflow()
        images = tf.constant(self.images)
        labels = tf.constant(self.labels)
        n = len(self)
        indices = tf.data.Dataset.range(n)
        if shuffle:
            indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            indices = indices.repeat()
        batches = indices.batch(batch_size, drop_remainder=drop_remainder)

        def gather(idx: Any) -> tuple[Any, Any]:
            y = tf.gather(labels, idx)
            if one_hot:
                y = tf.one_hot(tf.cast(y, tf.int32), num_classes, dtype=tf.float32)
            return tf.gather(images, idx), y

        result = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if prefetch:
            result = result.prefetch(tf.data.AUTOTUNE)
        options = tf.data.Options()  # autotuning off: see the docstring
        options.autotune.enabled = False
        return result.with_options(options)


def _resolve_count(validation_size: float, n: int) -> int:
    if not _validate.is_number(validation_size):
        raise TypeError(
            "validation_size must be an int (a count) or a float fraction in [0, 1), "
            f"got {validation_size!r}"
        )
    if isinstance(validation_size, numbers.Integral):
        count = int(validation_size)
        if not 0 <= count < n:
            raise ValueError(f"validation_size={count} must be in [0, {n}) for {n} examples")
        return count
    fraction = _validate.fraction(validation_size, "validation_size as a fraction",
                                  low_open=False)
    count = round(fraction * n)
    if n and count >= n:
        raise ValueError(
            f"validation_size={fraction} of {n} examples would leave no training examples"
        )
    return count


def stratified_split(
    labels: npt.NDArray[np.integer[Any]], validation_size: float, *, seed: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Choose a seeded, stratified validation subset.

    Each class contributes in proportion to its share of ``labels`` (largest-remainder rounding,
    so the total is exact).

    Args:
        labels: Class index per example.
        validation_size: A count (int) or a fraction in ``[0, 1)`` (float).
        seed: Seed of the random choice within each class.

    Returns:
        ``(train_indices, validation_indices)``, each sorted, disjoint, covering every index.
    """
    n = len(labels)
    count = _resolve_count(validation_size, n)
    classes, per_class = np.unique(labels, return_counts=True)
    quotas = per_class * (count / n) if n else per_class * 0.0
    take = np.floor(quotas).astype(np.int64)
    remainder = count - int(take.sum())
    if remainder:
        # Largest fractional parts first; ties broken by class index for determinism.
        order = np.lexsort((classes, -(quotas - take)))
        take[order[:remainder]] += 1
    rng = np.random.default_rng(seed)
    chosen = [
        rng.permutation(np.flatnonzero(labels == cls))[:k]
        for cls, k in zip(classes, take, strict=True)
    ]
    validation = np.sort(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)
    mask = np.ones(n, dtype=bool)
    mask[validation] = False
    return np.flatnonzero(mask).astype(np.int64), validation.astype(np.int64)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: train, optional validation, and test splits.

    Attributes:
        name: Canonical dataset name (``"mnist"``, ``"fashion_mnist"``, ...).
        train: The training split (without the validation examples, if any were carved out).
        validation: The validation split, or ``None`` when ``validation_size`` was 0.
        test: The test split.
        class_names: The class names, index = label.
        source: Where the files came from.
    """

    name: str
    train: Split
    validation: Split | None
    test: Split
    class_names: tuple[str, ...]
    source: DataSource

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int]:
        """Height and width of one image."""
        return (int(self.train.images.shape[1]), int(self.train.images.shape[2]))

    def split(self, name: SplitName) -> Split:
        """Return the split called ``name`` (``"train"``, ``"validation"`` or ``"test"``).

        Raises:
            ValueError: Unknown split name, or ``"validation"`` when there is none.
        """
        name = _validate.choice(name, "split", _SPLITS)
        if name == "train":
            return self.train
        if name == "test":
            return self.test
        if self.validation is None:
            raise ValueError(
                f"dataset {self.name!r} has no validation split; load it with "
                "validation_size=... to carve one out of train"
            )
        return self.validation

    def with_validation(self, validation_size: float, *, seed: int = 0) -> Dataset:
        """Return a copy whose train split is divided into train and a stratified validation split.

        Args:
            validation_size: A count (int) or a fraction of train in ``[0, 1)`` (float).
            seed: Seed of the random choice.

        Raises:
            ValueError: This dataset already has a validation split, or the size is out of range.
        """
        if self.validation is not None:
            raise ValueError(f"dataset {self.name!r} already has a validation split")
        if validation_size == 0:
            return self
        train_idx, val_idx = stratified_split(self.train.labels, validation_size, seed=seed)
        return Dataset(
            name=self.name,
            train=self.train.take(train_idx),
            validation=self.train.take(val_idx),
            test=self.test,
            class_names=self.class_names,
            source=self.source,
        )

    def summary(self) -> str:
        """Return a short multi-line description: sizes, shapes, classes and source."""
        rows = [("train", self.train), ("validation", self.validation), ("test", self.test)]
        lines = [f"Dataset {self.name!r}: {self.num_classes} classes, images "
                 f"{self.image_shape[0]}x{self.image_shape[1]} uint8"]
        for label, split in rows:
            if split is None:
                continue
            counts = split.class_counts(self.num_classes)
            lines.append(
                f"  {label:<10} {len(split):>6,} examples  "
                f"(per class {counts.min():,}..{counts.max():,}, "
                f"mean pixel {float(split.images.mean()) if len(split) else 0.0:.1f})"
            )
        lines.append(f"  classes    {', '.join(self.class_names)}")
        lines.append(f"  source     {self.source}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        val = len(self.validation) if self.validation is not None else None
        return (
            f"Dataset(name={self.name!r}, train={len(self.train)}, validation={val}, "
            f"test={len(self.test)}, source={str(self.source)!r})"
        )

    def to_tf(
        self,
        split: SplitName = "train",
        batch_size: int = 32,
        *,
        shuffle: bool | None = None,
        seed: int | None = None,
        repeat: bool = False,
        drop_remainder: bool = False,
        one_hot: bool = False,
        prefetch: bool = True,
    ) -> tf.data.Dataset:
        """Return a batched ``tf.data.Dataset`` of ``(images, labels)`` for one split.

        The same as ``dataset.split(split).to_tf(...)`` (see :meth:`Split.to_tf`), with
        ``shuffle`` defaulting to ``True`` for train only and one-hot labels sized to the
        dataset's classes.

        Args:
            split: ``"train"``, ``"validation"`` or ``"test"``.
            batch_size: Examples per batch.
            shuffle: Reshuffle every epoch; defaults to ``True`` for train only.
            seed: Shuffle seed (``None``: not reproducible).
            repeat: Repeat forever (pass ``steps_per_epoch`` to ``fit``).
            drop_remainder: Drop the last, smaller batch.
            one_hot: Yield labels one-hot encoded (``float32``) instead of ``uint8`` indices.
            prefetch: Prefetch batches (``tf.data.AUTOTUNE``).

        Returns:
            The ``tf.data.Dataset``.
        """
        return self.split(split).to_tf(
            batch_size,
            shuffle=split == "train" if shuffle is None else shuffle,
            seed=seed,
            repeat=repeat,
            drop_remainder=drop_remainder,
            one_hot=one_hot,
            prefetch=prefetch,
            num_classes=self.num_classes,
        )
