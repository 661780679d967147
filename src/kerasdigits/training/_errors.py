"""The errors of training (one module, so every training module can raise them)."""

from __future__ import annotations

from kerasdigits._errors import KerasDigitsError

__all__ = ["RunInUseError", "TrainingError"]


class TrainingError(KerasDigitsError, ValueError):
    """Training was asked for something it cannot do (bad arguments, nothing to resume...)."""


class RunInUseError(TrainingError):
    """Another process is training into the same checkpoint folder."""
