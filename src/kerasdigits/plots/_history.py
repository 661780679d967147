"""Training curves: :func:`plot_history`."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kerasdigits.plots._mpl import SavePath, finish, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["history_of", "plot_history"]

_NOT_METRICS = frozenset({"loss", "lr", "learning_rate"})
_TRAIN_COLOR = "tab:blue"
_VALIDATION_COLOR = "tab:orange"
_BEST_COLOR = "0.4"
BEST_EPOCH_GID = "best-epoch"


def history_of(history: Any) -> tuple[dict[str, list[float]], int | None]:
    """Return ``(per-epoch metrics, recorded best epoch or None)`` of a history-like object.

    Accepts a :class:`~kerasdigits.training.TrainResult` (its ``history`` and ``best_epoch``),
    the ``History`` object ``model.fit`` returns, or a plain ``{"loss": [...], ...}`` dict.
    """
    best: int | None = None
    if isinstance(history, Mapping):
        metrics = history
    elif isinstance(getattr(history, "history", None), Mapping):
        metrics = history.history
        recorded = getattr(history, "best_epoch", None)
        if isinstance(recorded, numbers.Integral) and not isinstance(recorded, bool) \
                and int(recorded) > 0:
            best = int(recorded)
    else:
        raise TypeError("plot_history() takes a TrainResult, a Keras History or a dict of "
                        f"per-epoch lists, got {type(history).__name__}")
    out: dict[str, list[float]] = {}
    for key, values in metrics.items():
        if isinstance(values, (str, bytes)):
            raise ValueError(f"history[{key!r}] must be a list of numbers, got {values!r}")
        try:
            out[str(key)] = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"history[{key!r}] must be a list of numbers") from None
    if not out.get("loss"):
        raise ValueError("the history has no 'loss' values to plot; "
                         f"it has {sorted(out) or 'no keys'}")
    return out, best


def _metric_key(metrics: Mapping[str, Sequence[float]]) -> str | None:
    if "accuracy" in metrics:
        return "accuracy"
    for key in metrics:
        if key not in _NOT_METRICS and not key.startswith("val_"):
            return key
    return None


def _pretty(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _curves(ax: Axes, metrics: Mapping[str, Sequence[float]], key: str,
            best: int | None, *, best_label: bool) -> None:
    from matplotlib.ticker import MaxNLocator

    for name, color, label in ((key, _TRAIN_COLOR, "train"),
                               (f"val_{key}", _VALIDATION_COLOR, "validation")):
        values = metrics.get(name)
        if values:
            ax.plot(range(1, len(values) + 1), values, color=color, marker=".", label=label)
    if best is not None:
        ax.axvline(best, color=_BEST_COLOR, linestyle="--", linewidth=1,
                   label=f"best epoch ({best})" if best_label else None, gid=BEST_EPOCH_GID)
        marked = metrics.get(f"val_{key}") or metrics.get(key) or []
        if 1 <= best <= len(marked):
            ax.plot([best], [marked[best - 1]], marker="o", markersize=8, linestyle="none",
                    markerfacecolor="none", markeredgecolor="black")
    ax.set_title(_pretty(key))
    ax.set_xlabel("Epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def plot_history(history: Any, *, best_epoch: int | None = None, save: SavePath = None,
                 ) -> Figure:
    """Plot loss and accuracy per epoch, train and validation, with the best epoch marked.

    The figure has two axes, loss on the left and accuracy (or the first other metric) on
    the right; a dashed vertical line and a circle mark the best epoch.

    Args:
        history: A :class:`~kerasdigits.training.TrainResult`, the ``History`` object
            ``model.fit`` returns, or a dict of per-epoch lists (``{"loss": [...],
            "val_loss": [...], "accuracy": [...], ...}``, e.g. read from ``history.json``).
        best_epoch: The 1-based epoch to mark (default: the result's ``best_epoch``, else the
            epoch with the lowest ``val_loss``, else the lowest ``loss``).
        save: Also write the figure to this path (PNG, or the extension's format), atomically.

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install "kerasdigits[plots]"``).
        ValueError: The history has no loss values.

    Example:
        >>> from kerasdigits.plots import plot_history
        >>> fig = plot_history({"loss": [0.9, 0.5, 0.6], "val_loss": [1.0, 0.7, 0.8],
        ...                     "accuracy": [0.7, 0.8, 0.82], "val_accuracy": [0.7, 0.78, 0.77]})
        >>> [ax.get_title() for ax in fig.axes]  # doctest: +SKIP
        ['Loss', 'Accuracy']
    """
    metrics, recorded = history_of(history)
    if best_epoch is not None:
        if isinstance(best_epoch, bool) or not isinstance(best_epoch, numbers.Integral) \
                or best_epoch < 1:
            raise ValueError(f"best_epoch must be a positive int, got {best_epoch!r}")
        best: int | None = int(best_epoch)
    elif recorded is not None:
        best = recorded
    else:
        # train()'s rule, imported when needed: kerasdigits.training loads more than plots need.
        from kerasdigits.training._history import best_epoch as lowest_loss_epoch

        best = lowest_loss_epoch(metrics) or None
    metric = _metric_key(metrics)
    keys = ["loss"] if metric is None else ["loss", metric]
    figure = new_figure(5.0 * len(keys), 3.8)
    for i, key in enumerate(keys):
        ax = figure.add_subplot(1, len(keys), i + 1)
        _curves(ax, metrics, key, best, best_label=True)
    return finish(figure, save)
