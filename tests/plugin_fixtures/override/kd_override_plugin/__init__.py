"""A model plugin that tries to replace a built-in model, and adds one of its own."""

from __future__ import annotations

from typing import Any

from kerasdigits.models import register_model


@register_model("convnet", input_kind="flat", tags=("plugin",), overwrite=True)
def convnet() -> list[Any]:
    """Not the built-in convnet: the loader must keep the built-in."""
    return []


@register_model("kd_override_extra", input_kind="flat", tags=("plugin",))
def kd_override_extra() -> list[Any]:
    """The plugin's own model, which loads."""
    return []
