"""Regenerate the bundled sample datasets from the real MNIST and Fashion-MNIST files.

Usage:
    python scripts/make_samples.py [DATA_DIR]

DATA_DIR (default: $KERASDIGITS_DATA_DIR) holds ``mnist/`` and ``fashion-mnist/``. The source
files are verified against the pinned checksums first. The samples are the *first* N train and
test images of each dataset, written as reproducible gzip files (mtime 0, level 9), so running the
script twice gives identical bytes. It prints the sha256 of each sample file's decompressed
contents, which ``kerasdigits/datasets/_catalog.py`` pins.

Sizes: MNIST 6,000 train + 1,000 test; Fashion-MNIST 4,000 train + 1,000 test (Fashion images
compress less well, and each file must stay under 2 MB).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from kerasdigits.datasets import load_dataset, write_idx
from kerasdigits.datasets._catalog import ROLES
from kerasdigits.datasets._idx import idx_bytes

SAMPLES = {
    # sample name: (source dataset, train count, test count)
    "mnist_sample": ("mnist", 6_000, 1_000),
    "fashion_mnist_sample": ("fashion_mnist", 4_000, 1_000),
}
OUT = Path(__file__).resolve().parents[1] / "src" / "kerasdigits" / "datasets" / "samples"
LIMIT = 2_000_000


def main(argv: list[str]) -> int:
    data_dir = argv[1] if len(argv) > 1 else None
    for sample, (source, n_train, n_test) in SAMPLES.items():
        ds = load_dataset(source, data_dir=data_dir, download=False, verify=True)
        arrays = {
            "train_images": ds.train.images[:n_train],
            "train_labels": ds.train.labels[:n_train],
            "test_images": ds.test.images[:n_test],
            "test_labels": ds.test.labels[:n_test],
        }
        print(f"{sample}:  # from {ds.source}")
        for role, array in arrays.items():
            path = OUT / sample / (ROLES[role] + ".gz")
            write_idx(path, array)
            size = path.stat().st_size
            if size > LIMIT:
                raise SystemExit(f"{path} is {size:,} bytes, over the {LIMIT:,} byte limit")
            digest = hashlib.sha256(idx_bytes(array)).hexdigest()
            print(f'    "{role}": "{digest}",  # {size:,} bytes')
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
