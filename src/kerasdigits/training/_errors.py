"""The errors of training (one module, so every training module can raise them)."""

from __future__ import annotations

from kerasdigits._errors import KerasDigitsError

__all__ = ["PredictionError", "RunInUseError", "TrainingError"]


class TrainingError(KerasDigitsError, ValueError):
    """Training was asked for something it cannot do (bad arguments, nothing to resume...)."""


class RunInUseError(TrainingError):
    """Another process is training into the same checkpoint folder."""


class PredictionError(KerasDigitsError, ValueError):
    """The model failed on the images, or did not answer with one row per image.

    A model from the zoo, or saved by kerasdigits, never does this; a hand-edited or damaged
    model file, or a model whose layers change the batch size, can.
    """
