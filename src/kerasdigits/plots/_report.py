"""The figures of a training run, written together: :func:`save_training_figures`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerasdigits.datasets import Dataset, Split
from kerasdigits.plots._confusion import plot_confusion_matrix
from kerasdigits.plots._history import plot_history
from kerasdigits.plots._images import show_predictions
from kerasdigits.plots._mpl import require_matplotlib

__all__ = ["save_training_figures"]


def save_training_figures(
    result_or_history: Any,
    model: Any,
    split: Split | Dataset | None,
    evaluation: Any,
    out_dir: str | os.PathLike[str],
    *,
    n: int = 25,
    class_names: Sequence[str] | None = None,
    format: str = "png",
) -> list[Path]:
    """Write the pictures of a training run: ``history``, ``predictions`` and ``confusion``.

    * ``history.png``: :func:`plot_history` of ``result_or_history``;
    * ``predictions.png``: :func:`show_predictions` of ``model`` on the first ``n`` images of
      ``split``;
    * ``confusion.png``: :func:`plot_confusion_matrix` of ``evaluation``.

    A figure whose input is ``None`` is skipped. Each file is written atomically.

    Args:
        result_or_history: A :class:`~kerasdigits.training.TrainResult`, Keras ``History`` or
            history dict, or ``None``.
        model: The trained model (default: ``result_or_history.model`` when it has one).
        split: The split to show predictions on; a :class:`~kerasdigits.datasets.Dataset`
            means its test split (and supplies the class names).
        evaluation: An :class:`~kerasdigits.training.Evaluation`, or ``None``.
        out_dir: The folder to write into (created if needed).
        n: Images in the predictions grid.
        class_names: Names per label (default: the evaluation's, else the dataset's).
        format: File extension and format: ``"png"``, ``"svg"`` or ``"pdf"``.

    Returns:
        The paths written, in the order above.

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install "kerasdigits[plots]"``);
            raised before anything is computed or written.

    Example:
        >>> from kerasdigits import evaluate, load_dataset, train
        >>> from kerasdigits.plots import save_training_figures
        >>> ds = load_dataset("mnist_sample")
        >>> result = train("mlp256", ds, epochs=2, verbose=0)  # doctest: +SKIP
        >>> ev = evaluate(result.model, ds)  # doctest: +SKIP
        >>> save_training_figures(result, None, ds, ev, "run")  # doctest: +SKIP
        [PosixPath('run/history.png'), PosixPath('run/predictions.png'), PosixPath('run/confusion.png')]
    """  # noqa: E501
    require_matplotlib()
    folder = Path(out_dir)
    suffix = "." + format.lstrip(".").lower()
    if model is None:
        model = getattr(result_or_history, "model", None)
    names = class_names or getattr(evaluation, "class_names", None)
    written: list[Path] = []
    if result_or_history is not None:
        path = folder / f"history{suffix}"
        plot_history(result_or_history, save=path)
        written.append(path)
    if model is not None and split is not None:
        path = folder / f"predictions{suffix}"
        show_predictions(model, split, n, class_names=names, save=path)
        written.append(path)
    if evaluation is not None:
        path = folder / f"confusion{suffix}"
        plot_confusion_matrix(evaluation, class_names=names, save=path)
        written.append(path)
    return written
