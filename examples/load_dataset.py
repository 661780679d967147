"""Load a dataset, carve a validation split, and feed it to tf.data.

Usage:
    python examples/load_dataset.py [--dataset mnist] [--quick]

``--quick`` uses the bundled ``mnist_sample`` (offline, no data directory needed).
"""

from __future__ import annotations

import argparse

from kerasdigits import flatten, load_dataset, normalize, one_hot

# --help shows the docstring up to "Usage:" (argparse prints its own usage line).
DESCRIPTION = __doc__.partition("\nUsage:")[0].replace("``", "").strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--quick", action="store_true", help="use the bundled sample")
    args = parser.parse_args()
    name = "mnist_sample" if args.quick else args.dataset

    ds = load_dataset(name, validation_size=0.1, seed=0)
    print(ds.summary())

    # The tutorial way: float32 arrays in memory.
    x = normalize(flatten(ds.train.images))
    y = one_hot(ds.train.labels, ds.num_classes)
    print(f"NumPy: x {x.dtype}{x.shape} in [{x.min():.1f}, {x.max():.1f}], y {y.dtype}{y.shape}")

    # The kerasdigits way: uint8 batches, normalized inside the model.
    images, labels = next(iter(ds.to_tf("train", batch_size=128, seed=0)))
    print(f"tf.data: first batch images {images.dtype.name}{tuple(images.shape)}, "
          f"labels {labels.dtype.name}{tuple(labels.shape)}")


if __name__ == "__main__":
    main()
