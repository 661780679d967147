"""Pictures for the tutorials: sample digits, training curves, predictions, confusion matrix.

Needs matplotlib, the optional ``plots`` extra (``pip install "kerasdigits[plots]"``); it is
imported when a plotting function is first called, so ``import kerasdigits.plots`` is light.
Calling a plot without matplotlib raises :class:`MissingExtraError` (an :class:`ImportError`)
saying what to install.

Every plotting function returns a :class:`matplotlib.figure.Figure` built with the
object-oriented API (no :mod:`matplotlib.pyplot` state, so it works headless and in threads):
a notebook displays it, and ``save="path.png"`` (or ``.svg``, ``.pdf``) also writes it,
atomically. :func:`print_pixels` prints the text dump of one image and needs no matplotlib.

Example:
    >>> from kerasdigits import evaluate, load_dataset, train
    >>> from kerasdigits import plots
    >>> ds = load_dataset("mnist_sample")
    >>> _ = plots.print_pixels(ds.train.images[0][5:8, 10:14])
      0   0   3  18
     94 154 170 253
    253 253 253 253
    >>> fig = plots.show_samples(ds, n=25, save="samples.png")  # doctest: +SKIP
    >>> result = train("mlp256", ds, epochs=3, verbose=0)  # doctest: +SKIP
    >>> fig = plots.plot_history(result, save="history.png")  # doctest: +SKIP
    >>> fig = plots.show_predictions(result.model, ds.test, save="predictions.png")  # doctest: +SKIP
    >>> ev = evaluate(result.model, ds)  # doctest: +SKIP
    >>> fig = plots.plot_confusion_matrix(ev, save="confusion.png")  # doctest: +SKIP
"""  # noqa: E501

from __future__ import annotations

from kerasdigits.plots._confusion import plot_confusion_matrix
from kerasdigits.plots._history import plot_history
from kerasdigits.plots._images import print_pixels, show_predictions, show_samples
from kerasdigits.plots._mpl import RIGHT_COLOR, WRONG_COLOR, MissingExtraError, save_figure
from kerasdigits.plots._report import save_training_figures

__all__ = [
    "RIGHT_COLOR",
    "WRONG_COLOR",
    "MissingExtraError",
    "plot_confusion_matrix",
    "plot_history",
    "print_pixels",
    "save_figure",
    "save_training_figures",
    "show_predictions",
    "show_samples",
]
