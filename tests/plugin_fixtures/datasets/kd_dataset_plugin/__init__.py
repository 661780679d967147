"""A dataset plugin: registers a tiny two-class dataset and tries to replace ``mnist``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kerasdigits.datasets import Dataset, DataSource, Split, register_dataset

CALLS: list[dict[str, object]] = []


@register_dataset("kd_stripes", class_names=["horizontal", "vertical"],
                  description="Stripes, from a plugin.", aliases=["kd-stripes"])
def load_stripes(*, data_dir: Path | None = None, progress: bool = True) -> Dataset:
    """Only the keyword arguments it declares are passed."""
    CALLS.append({"data_dir": data_dir, "progress": progress})
    images = np.zeros((8, 28, 28), np.uint8)
    images[:4, 10:14, :] = 255
    images[4:, :, 10:14] = 255
    labels = np.array([0] * 4 + [1] * 4, np.uint8)
    split = Split(images, labels)
    return Dataset("stripes", split, None, split, ("horizontal", "vertical"),
                   DataSource("memory", None))


def not_mnist() -> Dataset:
    raise AssertionError("a plugin must never replace the built-in mnist")


register_dataset("mnist", loader=not_mnist, class_names=[str(d) for d in range(10)],
                 overwrite=True)
