"""A dataset plugin that registers one dataset and then fails."""

from __future__ import annotations

from kerasdigits.datasets import register_dataset


@register_dataset("kd_half_dataset", class_names=["a", "b"])
def load_half() -> None:
    """Registered before the failure; the loader must remove it again."""


raise RuntimeError("kd_dataset_broken is broken on purpose")
