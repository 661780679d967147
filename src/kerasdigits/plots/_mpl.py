"""Lazy access to matplotlib, the error raised without it, and atomic figure saving.

Nothing here imports matplotlib at module level: :func:`new_figure` imports it on first use.
Figures are built with the object-oriented API (:class:`matplotlib.figure.Figure` with an Agg
canvas), never through :mod:`matplotlib.pyplot`, so they need no display, touch no global
state and can be made from several threads at once.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kerasdigits._errors import KerasDigitsError
from kerasdigits._files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "RIGHT_COLOR",
    "WRONG_COLOR",
    "MissingExtraError",
    "SavePath",
    "finish",
    "grid_shape",
    "new_figure",
    "require_matplotlib",
    "save_figure",
]

SavePath = str | os.PathLike[str] | None

#: Title colour of a correctly classified image in :func:`~kerasdigits.plots.show_predictions`.
RIGHT_COLOR = "green"
#: Title colour of a misclassified image in :func:`~kerasdigits.plots.show_predictions`.
WRONG_COLOR = "red"

_INSTALL_HINT = 'pip install "kerasdigits[plots]"'


class MissingExtraError(KerasDigitsError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.

    It is an :class:`ImportError`, so ``except ImportError`` catches it too.

    Attributes:
        extra: The name of the extra (``"plots"``).
    """

    def __init__(self, message: str, *, extra: str, name: str | None = None) -> None:
        super().__init__(message, name=name)
        self.extra = extra


def require_matplotlib() -> None:
    """Import matplotlib, or raise :class:`MissingExtraError` naming the ``plots`` extra.

    Raises:
        MissingExtraError: matplotlib cannot be imported.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            f"kerasdigits.plots needs matplotlib, which is not installed ({exc}); "
            f"install the plots extra: {_INSTALL_HINT}",
            extra="plots",
            name="matplotlib",
        ) from exc


def new_figure(width: float, height: float) -> Figure:
    """Return an empty figure of ``width`` x ``height`` inches with an Agg canvas.

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def grid_shape(n: int) -> tuple[int, int]:
    """Return ``(rows, columns)`` of a near-square grid holding ``n`` cells (5x5 for 25)."""
    columns = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / columns), columns


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: float | None = None,
                ) -> Path:
    """Save ``figure`` atomically, in the format named by the extension (PNG without one).

    The image is written to a temporary file beside ``path`` and renamed into place, so no
    half-written file is ever left; parent folders are created.

    Args:
        figure: The figure.
        path: Where to write, e.g. ``"run/history.png"``, ``"cm.svg"`` or ``"cm.pdf"``.
        dpi: Resolution (default: the figure's, 100).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: The extension is not a format matplotlib can write.
    """
    target = Path(path)
    fmt = target.suffix[1:].lower() or "png"
    supported = figure.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            f"cannot save a figure as {target.name!r}: unknown format {fmt!r}; "
            f"use one of {', '.join('.' + s for s in sorted(supported))}"
        )
    with atomic_write(target) as handle:
        figure.savefig(handle, format=fmt, dpi=dpi if dpi is not None else "figure")
    return target


def finish(figure: Figure, save: SavePath) -> Figure:
    """Save ``figure`` when ``save`` is a path, and return it."""
    if save is not None:
        save_figure(figure, save)
    return figure
