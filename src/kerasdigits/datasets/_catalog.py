"""What kerasdigits knows about each dataset: files, checksums, class names, mirrors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kerasdigits._errors import DatasetError
from kerasdigits._suggest import did_you_mean

__all__ = ["DATASETS", "ROLES", "DatasetInfo", "dataset_info", "list_datasets"]

#: The four files of an MNIST-style dataset, by role, with their standard (uncompressed) names.
ROLES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# IDX layout of the files: magic number plus one uint32 per dimension, then one byte a value.
_IMAGES_HEADER = 4 + 3 * 4
_LABELS_HEADER = 4 + 1 * 4
_IMAGE_BYTES = 28 * 28

_DIGITS = tuple(str(d) for d in range(10))
_FASHION = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_MNIST_LICENSE = (
    "MNIST database of handwritten digits, Yann LeCun, Corinna Cortes and Christopher J. C. "
    "Burges, CC BY-SA 3.0"
)
_FASHION_LICENSE = (
    "Fashion-MNIST, Zalando SE (Han Xiao, Kashif Rasul, Roland Vollgraf), MIT License"
)


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset.

    Attributes:
        name: Canonical name, as accepted by :func:`~kerasdigits.datasets.load_dataset`.
        title: Human-readable title.
        class_names: The 10 class names, index = label.
        sha256: sha256 of each file's *decompressed* contents, keyed by role (see ``ROLES``).
        counts: Number of ``(train, test)`` examples.
        folder_names: Sub-folder names looked for under a data directory, first preferred.
        mirrors: Default download base URLs, tried in order.
        keras_npz: File name of Keras's single-file copy under ``$KERAS_HOME/datasets``.
        keras_folder: Folder name of Keras's copy of the IDX files under ``$KERAS_HOME/datasets``.
        system_dirs: System-wide install locations (Debian's ``dataset-*`` packages).
        bundled: ``True`` for the small samples shipped inside the package.
        license: Attribution and license.
        description: One-sentence description.
    """

    name: str
    title: str
    class_names: tuple[str, ...]
    sha256: dict[str, str]
    counts: tuple[int, int]
    folder_names: tuple[str, ...]
    mirrors: tuple[str, ...] = ()
    keras_npz: str | None = None
    keras_folder: str | None = None
    system_dirs: tuple[Path, ...] = ()
    bundled: bool = False
    license: str = ""
    description: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def num_classes(self) -> int:
        """Number of classes (10 for every built-in dataset)."""
        return len(self.class_names)

    def file_size(self, role: str) -> int:
        """Return the size in bytes of the decompressed IDX file of ``role``.

        An image file is a 16-byte header and 784 bytes per 28x28 image; a label file is an
        8-byte header and one byte per label (MNIST's ``train-images-idx3-ubyte``: 47,040,016
        bytes). Downloads are never decompressed past this size.

        Args:
            role: Which file (a key of ``ROLES``).

        Raises:
            ValueError: ``role`` is not a key of ``ROLES``.
        """
        if role not in ROLES:
            raise ValueError(f"unknown file role {role!r}; expected one of {', '.join(ROLES)}")
        count = self.counts[0 if role.startswith("train") else 1]
        if role.endswith("images"):
            return _IMAGES_HEADER + count * _IMAGE_BYTES
        return _LABELS_HEADER + count


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mnist",
            title="MNIST handwritten digits",
            class_names=_DIGITS,
            sha256={
                "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            },
            counts=(60_000, 10_000),
            folder_names=("mnist",),
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ),
            keras_npz="mnist.npz",
            license=_MNIST_LICENSE,
            description="70,000 28x28 grayscale handwritten digits (60,000 train, 10,000 test).",
        ),
        DatasetInfo(
            name="fashion_mnist",
            title="Fashion-MNIST",
            class_names=_FASHION,
            sha256={
                "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            },
            counts=(60_000, 10_000),
            folder_names=("fashion-mnist", "fashion_mnist"),
            mirrors=(
                "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
                "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
            ),
            keras_folder="fashion-mnist",
            system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
            license=_FASHION_LICENSE,
            description="70,000 28x28 grayscale Zalando article images in 10 classes.",
            aliases=("fashion-mnist", "fashionmnist"),
        ),
        DatasetInfo(
            name="mnist_sample",
            title="MNIST sample (bundled)",
            class_names=_DIGITS,
            sha256={
                "train_images": "2782ff6f3467f3487a520503c34fe99b761aa97623af029969e59716ac3585c3",
                "train_labels": "0d830540a6191e75a9f5cd63cd5b4bde38960b893784bbf456d560179296d7cd",
                "test_images": "de7c252b04f05e1f8309634180ccdf286dc6dbac8c579b74e76e02ae0331ca52",
                "test_labels": "832c0d20f0dc42e575488c75a83a970787d4c8d4d05831b2ef03701b4a478a90",
            },
            counts=(6_000, 1_000),
            folder_names=("mnist_sample",),
            bundled=True,
            license=_MNIST_LICENSE,
            description="The first 6,000 train and 1,000 test images of MNIST, in the wheel.",
            aliases=("mnist-sample",),
        ),
        DatasetInfo(
            name="fashion_mnist_sample",
            title="Fashion-MNIST sample (bundled)",
            class_names=_FASHION,
            sha256={
                "train_images": "09dd72e74aa8a76feaada262d167edcd489b57bc01d49240b1da1e0f2d395932",
                "train_labels": "bd16d103c66bdc7c4826aef758caccae538e9465d8c4fd0939db7bcb1891a702",
                "test_images": "7a6d8e07ea021ec5bc73135ebd0a5770799557ec6f8242d8749c4f32a3cf4643",
                "test_labels": "b40abac7ec8228f434940f579deb7cf7b6e3103b5274cb91d1545771f5ef1c8b",
            },
            counts=(4_000, 1_000),
            folder_names=("fashion_mnist_sample",),
            bundled=True,
            license=_FASHION_LICENSE,
            description=(
                "The first 4,000 train and 1,000 test images of Fashion-MNIST, in the wheel."
            ),
            aliases=("fashion-mnist-sample",),
        ),
    )
}

_ALIASES: dict[str, str] = {
    alias: info.name for info in DATASETS.values() for alias in (info.name, *info.aliases)
}


def list_datasets() -> list[str]:
    """Return the names of every dataset :func:`load_dataset` accepts, sorted.

    Example:
        >>> from kerasdigits import list_datasets
        >>> list_datasets()
        ['fashion_mnist', 'fashion_mnist_sample', 'mnist', 'mnist_sample']
    """
    return sorted(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """Return the :class:`DatasetInfo` for ``name`` (aliases such as ``"fashion-mnist"`` work).

    Raises:
        DatasetError: The name is unknown; the message suggests close matches.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key in _ALIASES:
        return DATASETS[_ALIASES[key]]
    raise DatasetError(
        f"unknown dataset {name!r}.{did_you_mean(key, _ALIASES)} "
        f"Known datasets: {', '.join(list_datasets())}."
    )
