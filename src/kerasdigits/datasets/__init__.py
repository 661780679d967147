"""MNIST-style datasets: loaders, the :class:`Dataset` record, and IDX file reading and writing.

Example:
    >>> from kerasdigits.datasets import load_dataset, list_datasets
    >>> "mnist" in list_datasets()
    True
    >>> ds = load_dataset("fashion_mnist_sample")
    >>> ds.class_names[0], ds.test.images.shape
    ('T-shirt/top', (1000, 28, 28))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasdigits._errors import DatasetError
from kerasdigits.datasets._catalog import DatasetInfo, dataset_info, list_datasets
from kerasdigits.datasets._dataset import Dataset, DataSource, Split, stratified_split
from kerasdigits.datasets._idx import read_idx, write_idx
from kerasdigits.datasets._load import load_dataset, locate_dataset

__all__ = [
    "DataSource",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "Split",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "locate_dataset",
    "read_idx",
    "stratified_split",
    "write_idx",
]


def load_mnist(*, data_dir: str | Path | None = None, **kwargs: Any) -> Dataset:
    """Load MNIST: ``load_dataset("mnist", ...)``; see :func:`load_dataset` for the arguments."""
    return load_dataset("mnist", data_dir=data_dir, **kwargs)


def load_fashion_mnist(*, data_dir: str | Path | None = None, **kwargs: Any) -> Dataset:
    """Load Fashion-MNIST: ``load_dataset("fashion_mnist", ...)``; see :func:`load_dataset`."""
    return load_dataset("fashion_mnist", data_dir=data_dir, **kwargs)
