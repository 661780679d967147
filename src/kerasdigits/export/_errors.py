"""The error raised when a model cannot be exported, or an exported file cannot be read."""

from __future__ import annotations

from kerasdigits._errors import KerasDigitsError

__all__ = ["ExportError"]


class ExportError(KerasDigitsError, ValueError):
    """A model could not be exported to TFLite, verified, or read back.

    The message says what was wrong (an unknown target, labels that do not match the number of
    classes, a path that does not end in ``.tflite``, a model the converter rejects, a float
    export that does not match its Keras model...). When :func:`export_tflite` raises it, no file
    was written at the requested path.
    """
