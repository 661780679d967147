"""Argument checks shared by the zoo builders."""

from __future__ import annotations

from kerasdigits import _validate
from kerasdigits.models._errors import ModelConfigError, model_error

__all__ = ["BATCHES_PER_CALL", "check_min_size", "check_rate"]

#: ``steps_per_execution`` of the zoo's models (``accurate_convnet`` uses 8): batches run per
#: call into the compiled training function. It changes nothing they learn, only how often
#: Python is re-entered (callbacks see every 16th batch): one epoch of ``mlp256`` at batch 32
#: costs about 30% less CPU time than with 1, ``mlp2x512`` at batch 128 about 18% less.
BATCHES_PER_CALL = 16


def check_rate(model: str, argument: str, value: object) -> float:
    """Return ``value`` as a float if it is a valid dropout rate in ``[0, 1)``."""
    return _validate.fraction(value, argument, low_open=False, error=model_error(model))


def check_min_size(
    model: str, input_shape: tuple[int, ...], minimum: int, why: str
) -> tuple[int, int]:
    """Check that an image input is at least ``minimum`` pixels high and wide.

    Returns:
        ``(height, width)``.
    """
    height, width = input_shape[0], input_shape[1]
    if height < minimum or width < minimum:
        raise ModelConfigError(
            f"{model} needs images of at least {minimum}x{minimum} pixels ({why}); "
            f"input_shape {input_shape} is too small"
        )
    return height, width
