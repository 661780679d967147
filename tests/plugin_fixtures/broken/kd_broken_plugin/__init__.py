"""A model plugin that registers one model and then fails."""

from __future__ import annotations

from typing import Any

from kerasdigits.models import register_model


@register_model("kd_half", input_kind="flat")
def kd_half() -> list[Any]:
    """Registered before the failure; the loader must remove it again."""
    return []


raise RuntimeError("kd_broken_plugin is broken on purpose")
