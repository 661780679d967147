"""Grids of images: :func:`show_samples`, :func:`show_predictions`; and :func:`print_pixels`."""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import numpy.typing as npt

from kerasdigits.datasets import Dataset, Split
from kerasdigits.plots._mpl import (
    RIGHT_COLOR,
    WRONG_COLOR,
    SavePath,
    finish,
    grid_shape,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["print_pixels", "show_predictions", "show_samples"]

_CELL_INCHES = 1.3  # width and height of one image in a grid


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or int(n) < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return int(n)


def _choose(split: Split, n: int, indices: npt.ArrayLike | None) -> npt.NDArray[np.int64]:
    """Return the (at most ``n``) example indices to show."""
    if len(split) == 0:
        raise ValueError("the split is empty: there are no images to show")
    if indices is None:
        return np.arange(min(n, len(split)), dtype=np.int64)
    chosen = np.asarray(indices)
    if chosen.ndim != 1 or (chosen.size and not np.issubdtype(chosen.dtype, np.integer)):
        raise ValueError(f"indices must be a 1-D sequence of ints, got {chosen!r}")
    if chosen.size == 0:
        raise ValueError("indices is empty: there are no images to show")
    chosen = chosen[:n].astype(np.int64)
    bad = chosen[(chosen < -len(split)) | (chosen >= len(split))]
    if bad.size:
        raise IndexError(f"index {int(bad[0])} is out of range for a split of {len(split)}")
    return np.where(chosen < 0, chosen + len(split), chosen)


def _name(label: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= label < len(class_names):
        return str(class_names[label])
    return str(label)


def _image_grid(images: np.ndarray, *, suptitle: str | None = None) -> tuple[Figure, list[Axes]]:
    """Return a figure with one image per axes, in a near-square grid, without ticks."""
    rows, columns = grid_shape(len(images))
    figure = new_figure(columns * _CELL_INCHES, rows * _CELL_INCHES + (0.3 if suptitle else 0))
    vmax = 255 if np.issubdtype(images.dtype, np.integer) else 1.0
    axes = []
    for i, image in enumerate(images):
        ax = figure.add_subplot(rows, columns, i + 1)
        ax.imshow(np.squeeze(image), cmap="binary", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        axes.append(ax)
    if suptitle:
        figure.suptitle(suptitle)
    return figure, axes


def show_samples(
    data: Dataset | Split,
    n: int = 25,
    *,
    indices: npt.ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    save: SavePath = None,
) -> Figure:
    """Show a grid of images, each titled with its label.

    Args:
        data: A :class:`~kerasdigits.datasets.Dataset` (its train split is shown) or a
            :class:`~kerasdigits.datasets.Split`.
        n: How many images (the first ``n``, or the first ``n`` of ``indices``); a 5x5 grid
            for 25.
        indices: Which examples to show (indices into the split).
        class_names: Titles per label (default: the dataset's class names, so Fashion-MNIST
            images are titled "Sneaker", "Bag"...; the label number for a bare split).
        save: Also write the figure to this path (PNG, or the format of the extension such as
            ``.svg`` or ``.pdf``), atomically, creating folders.

    Returns:
        The :class:`matplotlib.figure.Figure` (a notebook shows it; in a script, pass ``save``).

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install "kerasdigits[plots]"``).
        ValueError: ``n`` is not a positive int, or there is nothing to show.

    Example:
        >>> from kerasdigits import load_dataset
        >>> from kerasdigits.plots import show_samples
        >>> ds = load_dataset("fashion_mnist_sample")
        >>> fig = show_samples(ds, n=16, save="samples.png")  # doctest: +SKIP
        >>> len(fig.axes)  # doctest: +SKIP
        16
    """
    n = _check_n(n)
    if isinstance(data, Dataset):
        split = data.train
        names: Sequence[str] | None = class_names or data.class_names
    elif isinstance(data, Split):
        split, names = data, class_names
    else:
        raise TypeError(f"show_samples() takes a Dataset or a Split, got {type(data).__name__}")
    chosen = _choose(split, n, indices)
    figure, axes = _image_grid(split.images[chosen])
    for ax, label in zip(axes, split.labels[chosen], strict=True):
        ax.set_title(_name(int(label), names), fontsize=9)
    return finish(figure, save)


def _title(predicted: str, true: str) -> str:
    text = f"{predicted} (true {true})"
    return text if len(text) <= 14 else f"{predicted}\n(true {true})"


def show_predictions(
    model: Any,
    split: Split | Dataset,
    n: int = 25,
    *,
    class_names: Sequence[str] | None = None,
    indices: npt.ArrayLike | None = None,
    predictions: npt.ArrayLike | None = None,
    save: SavePath = None,
) -> Figure:
    """Show a grid of images titled with the model's prediction: green when right, red when wrong.

    A wrong title also names the true label (``"3 (true 5)"``). The figure's title counts the
    right ones.

    Args:
        model: A Keras model, or the path of a saved ``.keras`` file; may be ``None`` when
            ``predictions`` is given.
        split: The images and true labels; a :class:`~kerasdigits.datasets.Dataset` means its
            test split.
        n: How many images (the first ``n``, or the first ``n`` of ``indices``).
        class_names: Names per label (default: the dataset's; the label number for a split).
        indices: Which examples to show, e.g. ``evaluation.misclassified`` to see the mistakes.
        predictions: Predicted labels of *every* example of the split (such as
            ``evaluation.predictions``), to show them without running the model.
        save: Also write the figure to this path (PNG, or the extension's format), atomically.

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install "kerasdigits[plots]"``).
        ValueError: Bad ``n``, ``indices`` or ``predictions``.

    Example:
        >>> from kerasdigits import evaluate, load_dataset, train
        >>> from kerasdigits.plots import show_predictions
        >>> ds = load_dataset("mnist_sample")
        >>> result = train("mlp256", ds, epochs=1, verbose=0)  # doctest: +SKIP
        >>> show_predictions(result.model, ds.test, save="predictions.png")  # doctest: +SKIP
        >>> ev = evaluate(result.model, ds)  # doctest: +SKIP
        >>> show_predictions(None, ds.test, n=16, indices=ev.misclassified,
        ...                  predictions=ev.predictions)  # doctest: +SKIP
    """
    n = _check_n(n)
    names: Sequence[str] | None = class_names
    if isinstance(split, Dataset):
        names = names or split.class_names
        split = split.test
    if not isinstance(split, Split):
        raise TypeError(f"show_predictions() takes a Split or a Dataset, got "
                        f"{type(split).__name__}")
    chosen = _choose(split, n, indices)
    if predictions is not None:
        all_predicted = np.asarray(predictions)
        if all_predicted.shape != (len(split),):
            raise ValueError(f"predictions must have one label per example of the split "
                             f"({len(split)},), got shape {all_predicted.shape}")
        predicted = all_predicted[chosen].astype(np.int64)
    elif model is None:
        raise ValueError("show_predictions() needs a model or predictions=")
    else:
        from kerasdigits.training import predict

        predicted, _ = predict(model, split.images[chosen])
    true = split.labels[chosen].astype(np.int64)
    right = int((predicted == true).sum())
    figure, axes = _image_grid(split.images[chosen],
                               suptitle=f"{right} of {len(chosen)} right")
    for ax, p, t in zip(axes, predicted, true, strict=True):
        ok = int(p) == int(t)
        color = RIGHT_COLOR if ok else WRONG_COLOR
        text = _name(int(p), names) if ok else _title(_name(int(p), names), _name(int(t), names))
        ax.set_title(text, fontsize=9, color=color)
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(1.5 if ok else 2.5)
    return finish(figure, save)


def print_pixels(image: npt.ArrayLike, *, file: TextIO | None = None) -> str:
    """Print one image's pixel values as a grid of numbers, as the tutorials do, and return it.

    Each row of the image is a line of right-aligned values separated by a space (three
    characters wide for 0..255, so a 28x28 digit is 28 lines of 28 numbers and its shape is
    visible in the text). No matplotlib is needed.

    Args:
        image: One image: ``(H, W)``, ``(H, W, 1)`` or a flattened square ``(H*W,)``; integer
            pixels 0..255, or floats in [0, 1] (shown scaled back to 0..255).
        file: Where to print (default ``sys.stdout``).

    Returns:
        The text, without a trailing newline.

    Raises:
        ValueError: ``image`` is not one 2-D image.

    Example:
        >>> import numpy as np
        >>> from kerasdigits.plots import print_pixels
        >>> text = print_pixels(np.array([[0, 7], [128, 255]], np.uint8))
          0   7
        128 255
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    elif arr.ndim == 1:
        side = round(len(arr) ** 0.5)
        if side * side != len(arr) or side == 0:
            raise ValueError(f"a flattened image must have a square size, got {arr.shape}")
        arr = arr.reshape(side, side)
    if arr.ndim != 2:
        raise ValueError(f"print_pixels() takes one image (H, W), got shape {arr.shape}")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"image must hold integer or float pixels, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("image holds NaN or infinite values")
        scale = 255.0 if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0 else 1.0
        arr = np.rint(arr * scale)
    values = arr.astype(np.int64)
    width = max(3, *(len(str(v)) for v in (values.min(initial=0), values.max(initial=0))))
    text = "\n".join(" ".join(f"{int(v):>{width}}" for v in row) for row in values)
    print(text, file=file if file is not None else sys.stdout)
    return text
