"""Loading saved models, with the kerasdigits layers registered."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kerasdigits import _lazy
from kerasdigits._errors import KerasDigitsError

__all__ = ["ModelFileError", "load_model"]


class ModelFileError(KerasDigitsError, ValueError):
    """A model file is missing or cannot be loaded."""


def load_model(path: str | os.PathLike[str], *, compile: bool = True) -> Any:
    """Load a ``.keras`` model saved by kerasdigits (or any Keras 3 ``.keras`` file).

    Args:
        path: The ``.keras`` file.
        compile: Restore the optimizer and loss as saved.

    Raises:
        ModelFileError: The file is missing, not a ``.keras`` file, or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: expected a Keras 3 '.keras' model file")
    keras = _lazy.keras()
    # Importing these registers the kerasdigits layers for deserialization.
    import kerasdigits.models.layers
    import kerasdigits.transforms.layers  # noqa: F401

    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ModelFileError(f"{path}: cannot load model: {exc}") from exc
