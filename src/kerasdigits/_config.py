"""Where kerasdigits keeps things: environment variables and default directories.

========================== ===================================================================
Variable                   Meaning
========================== ===================================================================
``KERASDIGITS_HOME``       The library cache (downloads, verification records). ``~/.kerasdigits``
``KERASDIGITS_DATA_DIR``   A folder with one sub-folder per dataset (``mnist/``, ``fashion-mnist/``)
``KERASDIGITS_MIRROR``     Comma-separated base URLs that replace the default download mirrors
``KERAS_HOME``             Keras's own cache (``~/.keras``), searched for ``datasets/mnist.npz``
========================== ===================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "KERASDIGITS_HOME"
ENV_DATA_DIR = "KERASDIGITS_DATA_DIR"
ENV_MIRROR = "KERASDIGITS_MIRROR"
ENV_KERAS_HOME = "KERAS_HOME"


def kerasdigits_home() -> Path:
    """Return the library cache directory (``$KERASDIGITS_HOME`` or ``~/.kerasdigits``)."""
    value = os.environ.get(ENV_HOME)
    return Path(value).expanduser() if value else Path.home() / ".kerasdigits"


def keras_home() -> Path:
    """Return Keras's cache directory (``$KERAS_HOME`` or ``~/.keras``)."""
    value = os.environ.get(ENV_KERAS_HOME)
    return Path(value).expanduser() if value else Path.home() / ".keras"


def env_data_dir() -> Path | None:
    """Return ``$KERASDIGITS_DATA_DIR`` as a path, or ``None`` when it is unset or empty."""
    value = os.environ.get(ENV_DATA_DIR)
    return Path(value).expanduser().resolve() if value else None


def env_mirrors() -> tuple[str, ...]:
    """Return the mirrors listed in ``$KERASDIGITS_MIRROR`` (comma or whitespace separated)."""
    value = os.environ.get(ENV_MIRROR, "")
    return tuple(part for part in value.replace(",", " ").split() if part)
