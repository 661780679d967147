"""What kerasdigits knows about each built-in dataset: files, checksums, class names, mirrors.

The datasets themselves are looked up through the registry (:mod:`._registry`), which starts
with the entries of :data:`DATASETS` and takes more from :func:`register_dataset` and plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kerasdigits._plugins import BUILTIN

if TYPE_CHECKING:
    from kerasdigits.datasets._dataset import Dataset

__all__ = ["DATASETS", "ROLES", "DatasetInfo"]

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
_KUZUSHIJI = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
_UPPER = tuple(chr(c) for c in range(ord("A"), ord("Z") + 1))
# EMNIST Balanced: digits, the 26 capitals, and the 11 lower-case letters whose shape differs
# from their capital (emnist-balanced-mapping.txt).
_BALANCED = (*_DIGITS, *_UPPER, "a", "b", "d", "e", "f", "g", "h", "n", "q", "r", "t")
_MNIST_LICENSE = (
    "MNIST database of handwritten digits, Yann LeCun, Corinna Cortes and Christopher J. C. "
    "Burges, CC BY-SA 3.0"
)
_FASHION_LICENSE = (
    "Fashion-MNIST, Zalando SE (Han Xiao, Kashif Rasul, Roland Vollgraf), MIT License"
)
_KMNIST_LICENSE = (
    '"KMNIST Dataset" (created by CODH), adapted from "Kuzushiji Dataset" (created by NIJL '
    "and others), doi:10.20676/00000341, CC BY-SA 4.0"
)
_EMNIST_LICENSE = (
    "EMNIST, Gregory Cohen, Saeed Afshar, Jonathan Tapson and Andre van Schaik (2017), "
    "arXiv:1702.05373, derived from NIST Special Database 19; see NIST's terms of use"
)
_EMNIST_MIRRORS = ("https://biometrics.nist.gov/cs_links/EMNIST/",)
#: md5 of the official ``gzip.zip`` (the only published checksum of EMNIST), as pinned by
#: torchvision (``torchvision/datasets/mnist.py``, class ``EMNIST``).
_EMNIST_ZIP_MD5 = "58c8d27c78d21e728a6bc7b3cc06412e"
#: The largest ``gzip.zip`` accepted (the official one is about 536 MiB).
_EMNIST_ZIP_MAX = 640 * 1024 * 1024


def _emnist_files(split: str) -> dict[str, str]:
    return {role: f"emnist-{split}-{stem.replace('t10k', 'test')}"
            for role, stem in ROLES.items()}


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about one dataset.

    The built-in datasets are MNIST-style IDX files found by the search order of
    :func:`~kerasdigits.datasets.load_dataset`; a dataset registered with
    :func:`~kerasdigits.datasets.register_dataset` has a ``loader`` instead.

    Attributes:
        name: Canonical name, as accepted by :func:`~kerasdigits.datasets.load_dataset`.
        title: Human-readable title.
        class_names: The class names, index = label.
        sha256: sha256 of each file's *decompressed* contents, keyed by role (see ``ROLES``);
            empty when only the compressed files' hashes are published.
        counts: Number of ``(train, test)`` examples (``None``: unknown).
        folder_names: Sub-folder names looked for under a data directory, first preferred.
        mirrors: Default download base URLs, tried in order.
        keras_npz: File name of Keras's single-file copy under ``$KERAS_HOME/datasets``.
        keras_folder: Folder name of Keras's copy of the IDX files under ``$KERAS_HOME/datasets``.
        system_dirs: System-wide install locations (Debian's ``dataset-*`` packages).
        bundled: ``True`` for the small samples shipped inside the package.
        license: Attribution and license.
        description: One-sentence description.
        aliases: Other names accepted for the dataset.
        files: The file name (without ``.gz``) of each role, when not the standard ``ROLES``.
        gz_sha256: sha256 of each official *compressed* (``.gz``) file, by role; checked when
            the file found is gzip data (a recompressed copy must be decompressed, or loaded
            with ``verify=False``).
        gz_md5: md5 of each official compressed file, by role, checked as ``gz_sha256``.
        archive: For a dataset published as one zip file (EMNIST's ``gzip.zip``): its name;
            the roles' ``.gz`` files are read from inside it, under ``archive_prefix``.
        archive_prefix: The folder of the ``.gz`` members inside ``archive``.
        archive_md5: The published md5 of ``archive``.
        archive_max_size: The largest ``archive`` accepted, in bytes (download bound).
        label_offset: Subtracted from the stored labels (EMNIST Letters stores 1..26).
        transposed: The stored images are transposed relative to MNIST (EMNIST); they are
            returned in MNIST's orientation.
        checksum_source: Where the pinned checksums come from.
        loader: For a registered dataset, the function that loads it (see
            :func:`~kerasdigits.datasets.register_dataset`); ``None`` for IDX files.
        registered_by: The distribution that registered the dataset (``"kerasdigits"`` for
            the built-ins).
    """

    name: str
    title: str
    class_names: tuple[str, ...]
    sha256: dict[str, str] = field(default_factory=dict)
    counts: tuple[int, int] | None = None
    folder_names: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    keras_npz: str | None = None
    keras_folder: str | None = None
    system_dirs: tuple[Path, ...] = ()
    bundled: bool = False
    license: str = ""
    description: str = ""
    aliases: tuple[str, ...] = field(default=())
    files: dict[str, str] = field(default_factory=lambda: dict(ROLES))
    gz_sha256: dict[str, str] = field(default_factory=dict)
    gz_md5: dict[str, str] = field(default_factory=dict)
    archive: str | None = None
    archive_prefix: str = ""
    archive_md5: str | None = None
    archive_max_size: int = 0
    label_offset: int = 0
    transposed: bool = False
    checksum_source: str = ""
    loader: Callable[..., Dataset] | None = None
    registered_by: str = BUILTIN

    @property
    def cache_folder(self) -> str:
        """The folder name in the library cache (shared by the datasets of one archive)."""
        return self.folder_names[0] if self.archive and self.folder_names else self.name

    @property
    def verifiable(self) -> bool:
        """Whether any checksum is pinned (of the files or of the archive)."""
        return bool(self.sha256 or self.gz_sha256 or self.gz_md5 or self.archive_md5)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def file_size(self, role: str) -> int:
        """Return the size in bytes of the decompressed IDX file of ``role``.

        An image file is a 16-byte header and 784 bytes per 28x28 image; a label file is an
        8-byte header and one byte per label (MNIST's ``train-images-idx3-ubyte``: 47,040,016
        bytes). Downloads are never decompressed past this size.

        Args:
            role: Which file (a key of ``ROLES``).

        Raises:
            ValueError: ``role`` is not a key of ``ROLES``, or the counts are unknown.
        """
        if role not in ROLES:
            raise ValueError(f"unknown file role {role!r}; expected one of {', '.join(ROLES)}")
        if self.counts is None:
            raise ValueError(f"dataset {self.name!r}: the number of examples is not known")
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
        DatasetInfo(
            name="kmnist",
            title="Kuzushiji-MNIST",
            class_names=_KUZUSHIJI,
            counts=(60_000, 10_000),
            folder_names=("kmnist", "kuzushiji-mnist"),
            mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            # md5: the KMNIST repository's download script (rois-codh/kmnist) and torchvision's
            # KMNIST class; sha256: torchvision-ruby's KMNIST class (ankane/torchvision-ruby,
            # lib/torchvision/datasets/kmnist.rb). Both are of the official .gz files.
            gz_md5={
                "train_images": "bdb82020997e1d708af4cf47b453dcf7",
                "train_labels": "e144d726b3acfaa3e44228e80efcd344",
                "test_images": "5c965bf0a639b31b8f53240b1b52f4d7",
                "test_labels": "7320c461ea6c1c855c0b718fb2a4b134",
            },
            gz_sha256={
                "train_images": "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                "train_labels": "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                "test_images": "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                "test_labels": "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
            },
            checksum_source=(
                "md5 of the official .gz files: rois-codh/kmnist and torchvision; sha256 of the "
                "same files: ankane/torchvision-ruby"
            ),
            license=_KMNIST_LICENSE,
            description=(
                "70,000 28x28 grayscale cursive Japanese (Kuzushiji) characters, one per "
                "hiragana row, in 10 classes."
            ),
            aliases=("kuzushiji_mnist", "kuzushiji-mnist", "k-mnist"),
        ),
        *(
            DatasetInfo(
                name=f"emnist_{split}",
                title=f"EMNIST {split.capitalize()}",
                class_names=classes,
                counts=counts,
                folder_names=("emnist",),
                mirrors=_EMNIST_MIRRORS,
                files=_emnist_files(split),
                archive="gzip.zip",
                archive_prefix="gzip/",
                archive_md5=_EMNIST_ZIP_MD5,
                archive_max_size=_EMNIST_ZIP_MAX,
                label_offset=offset,
                transposed=True,
                checksum_source="md5 of the official gzip.zip: torchvision's EMNIST class",
                license=_EMNIST_LICENSE,
                description=description,
                aliases=(f"emnist-{split}",),
            )
            for split, classes, counts, offset, description in (
                ("digits", _DIGITS, (240_000, 40_000), 0,
                 "280,000 28x28 handwritten digits from NIST SD 19, in MNIST's format."),
                ("letters", _UPPER, (124_800, 20_800), 1,
                 "145,600 28x28 handwritten letters, upper and lower case merged, 26 classes."),
                ("balanced", _BALANCED, (112_800, 18_800), 0,
                 "131,600 28x28 handwritten characters in 47 balanced classes: digits, "
                 "capitals, and the 11 lower-case letters unlike their capital."),
            )
        ),
    )
}

