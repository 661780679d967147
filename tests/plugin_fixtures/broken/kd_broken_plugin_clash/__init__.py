"""A callable entry point that registers a name the built-in zoo already uses."""

from __future__ import annotations

from typing import Any

from kerasdigits.models import register_model


def register() -> None:
    """Register ``convnet`` again (without ``overwrite=True``)."""

    @register_model("convnet", input_kind="image")
    def convnet() -> list[Any]:
        """A clash."""
        return []
