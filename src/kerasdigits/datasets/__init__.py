"""MNIST-style datasets: the registry, loaders, folders of pictures, and IDX files.

Datasets are found by name in a registry (:func:`list_datasets`, :func:`get_dataset_info`)
that third-party packages extend with :func:`register_dataset` and the
``kerasdigits.datasets`` entry-point group; :func:`load_dataset` loads one by name, or a
folder of a user's own pictures by path (:func:`load_image_folder`).

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
from typing import TYPE_CHECKING, Any

from kerasdigits._errors import DatasetError
from kerasdigits.datasets._catalog import DatasetInfo
from kerasdigits.datasets._dataset import Dataset, DataSource, Split, stratified_split
from kerasdigits.datasets._idx import read_idx, write_idx
from kerasdigits.datasets._load import load_dataset, locate_dataset
from kerasdigits.datasets._registry import (
    dataset_info,
    get_dataset_info,
    list_datasets,
    register_dataset,
)

if TYPE_CHECKING:
    from kerasdigits.datasets._folder import load_image_folder

__all__ = [
    "DataSource",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "Split",
    "dataset_info",
    "get_dataset_info",
    "list_datasets",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "locate_dataset",
    "read_idx",
    "register_dataset",
    "stratified_split",
    "write_idx",
]


def load_mnist(*, data_dir: str | Path | None = None, **kwargs: Any) -> Dataset:
    """Load MNIST: ``load_dataset("mnist", ...)``; see :func:`load_dataset` for the arguments."""
    return load_dataset("mnist", data_dir=data_dir, **kwargs)


def load_fashion_mnist(*, data_dir: str | Path | None = None, **kwargs: Any) -> Dataset:
    """Load Fashion-MNIST: ``load_dataset("fashion_mnist", ...)``; see :func:`load_dataset`."""
    return load_dataset("fashion_mnist", data_dir=data_dir, **kwargs)


def __getattr__(name: str) -> Any:
    # The folder loader (and the thread pool and Pillow it uses) loads on first use.
    if name == "load_image_folder":
        from kerasdigits.datasets._folder import load_image_folder

        return load_image_folder
    raise AttributeError(f"module 'kerasdigits.datasets' has no attribute {name!r}")
