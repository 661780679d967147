"""The confusion matrix as a picture: :func:`plot_confusion_matrix`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasdigits.plots._mpl import SavePath, finish, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_confusion_matrix"]


def plot_confusion_matrix(
    evaluation: Any,
    *,
    normalize: bool = False,
    class_names: Sequence[str] | None = None,
    save: SavePath = None,
) -> Figure:
    """Draw the confusion matrix with every cell annotated, class names on the axes.

    Rows are true labels and columns predicted labels, as in
    :attr:`~kerasdigits.training.Evaluation.confusion_matrix`; the diagonal holds the right
    answers. The title gives the accuracy.

    Args:
        evaluation: An :class:`~kerasdigits.training.Evaluation` (from
            :func:`kerasdigits.evaluate`), or a square array of counts.
        normalize: Show each row as fractions of its true class (recall on the diagonal)
            instead of counts; a class without examples shows ``-``.
        class_names: Axis labels (default: the evaluation's class names, else ``0..C-1``).
        save: Also write the figure to this path (PNG, or the extension's format), atomically.

    Returns:
        The :class:`matplotlib.figure.Figure` (one axes; ``fig.axes[0].texts`` holds the
        annotations, row by row).

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install "kerasdigits[plots]"``).
        ValueError: The matrix is not square, or the class names do not match it.

    Example:
        >>> from kerasdigits import evaluate
        >>> from kerasdigits.plots import plot_confusion_matrix
        >>> ev = evaluate(model, ds)  # doctest: +SKIP
        >>> fig = plot_confusion_matrix(ev, save="confusion.png")  # doctest: +SKIP
    """
    raw = getattr(evaluation, "confusion_matrix", evaluation)
    counts = np.asarray(raw)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"a confusion matrix must be square (C, C), got shape {counts.shape}")
    if not (np.issubdtype(counts.dtype, np.integer) or np.issubdtype(counts.dtype, np.floating)):
        raise ValueError(f"a confusion matrix must hold numbers, got dtype {counts.dtype}")
    size = counts.shape[0]
    names = tuple(class_names or getattr(evaluation, "class_names", None)
                  or (str(i) for i in range(size)))
    if len(names) != size:
        raise ValueError(f"{len(names)} class names for a {size}x{size} confusion matrix")

    totals = counts.sum(axis=1, keepdims=True)
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            shown = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)
        vmax = 1.0
    else:
        shown = counts.astype(np.float64)
        vmax = float(max(shown.max(), 1.0))

    total = float(counts.sum())
    accuracy = float(np.trace(counts)) / total if total else float("nan")
    side = max(4.0, 0.55 * size + 2.0)
    figure = new_figure(side + 0.4, side)
    ax = figure.add_subplot(1, 1, 1)
    ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    fontsize = 9 if size <= 12 else 7
    for i in range(size):
        for j in range(size):
            value = shown[i, j]
            if normalize:
                text = "-" if np.isnan(value) else f"{value:.2f}"
            else:
                text = str(int(counts[i, j])) if np.issubdtype(counts.dtype, np.integer) \
                    else f"{counts[i, j]:g}"
            dark = not np.isnan(value) and value > vmax / 2
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if dark else "black")
    ax.set_xticks(range(size), names)
    ax.set_yticks(range(size), names)
    if max(len(name) for name in names) > 2:
        for label in ax.get_xticklabels():
            label.set_rotation(45)
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    what = "normalized by true class" if normalize else f"{int(total):,} examples" \
        if np.issubdtype(counts.dtype, np.integer) else f"{total:g} examples"
    title = "Confusion matrix"
    if not np.isnan(accuracy):
        title += f": accuracy {accuracy:.2%}"
    ax.set_title(f"{title}\n({what})", fontsize=10)
    return finish(figure, save)
