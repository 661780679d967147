"""The best epoch of a training history: one rule for ``train`` and for the plots.

Pure Python (no NumPy, no TensorFlow), so :mod:`kerasdigits.plots` can use it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["best_epoch"]


def best_epoch(history: Mapping[str, Sequence[float]]) -> int:
    """Return the 1-based epoch of the lowest validation loss (training loss without validation).

    ``val_loss`` counts when the history has values for it. NaN and infinite values (a
    diverged epoch) are never the best; the first of equal values wins.

    Args:
        history: Per-epoch values (``{"loss": [...], "val_loss": [...], ...}``).

    Returns:
        The epoch, or ``0`` when the values have no finite one.

    Example:
        >>> best_epoch({"loss": [0.9, 0.5, 0.4], "val_loss": [0.8, float("nan"), 0.7]})
        3
    """
    validation = history.get("val_loss")
    key = "val_loss" if validation is not None and len(validation) > 0 else "loss"
    finite = [(float(v), i) for i, v in enumerate(history.get(key) or ())
              if math.isfinite(float(v))]
    return min(finite)[1] + 1 if finite else 0
