"""Exporting trained models to ``.tflite`` files that run on a phone on the first try.

:func:`export_tflite` writes a LiteRT (TensorFlow Lite) model for one of three targets —
``"litert"`` (a plain ``Interpreter``), ``"mlkit"`` (ML Kit custom image labeling and object
detection, MediaPipe ``ImageClassifier``) or ``"firebase-legacy"`` (``[1, 784]`` float input,
as the 2018 Firebase ML Kit tutorials fed it) — with batch 1, builtin ops only, class
probabilities out, TFLite metadata with the labels, and a LiteRT-vs-Keras parity check before
the file is written. :func:`read_metadata` and :func:`describe_tflite` read files back;
:func:`verify_tflite` compares a file with its Keras model on real test images.

Importing this package imports neither TensorFlow nor Keras; exporting does.

Example:
    >>> from kerasdigits.export import export_tflite, describe_tflite
    >>> result = export_tflite(model, "digits.tflite", target="mlkit")  # doctest: +SKIP
    >>> result.input.shape, result.input.dtype, result.labels[:3]  # doctest: +SKIP
    ((1, 28, 28, 3), 'float32', ('0', '1', '2'))
"""

from __future__ import annotations

from kerasdigits.export._convert import GRAY_WEIGHTS, INPUT_DTYPES, QUANTIZATIONS, TARGETS
from kerasdigits.export._errors import ExportError
from kerasdigits.export._export import (
    DEFAULT_INPUT_DTYPES,
    ExportResult,
    ModelCard,
    TensorInfo,
    export_tflite,
)
from kerasdigits.export._inspect import describe_tflite, read_metadata
from kerasdigits.export._metadata import (
    AssociatedFileInfo,
    ModelMetadataInfo,
    TensorMetadataInfo,
)
from kerasdigits.export._verify import FLOAT_TOLERANCE, VerifyReport, verify_tflite

__all__ = [
    "DEFAULT_INPUT_DTYPES",
    "FLOAT_TOLERANCE",
    "GRAY_WEIGHTS",
    "INPUT_DTYPES",
    "QUANTIZATIONS",
    "TARGETS",
    "AssociatedFileInfo",
    "ExportError",
    "ExportResult",
    "ModelCard",
    "ModelMetadataInfo",
    "TensorInfo",
    "TensorMetadataInfo",
    "VerifyReport",
    "describe_tflite",
    "export_tflite",
    "read_metadata",
    "verify_tflite",
]
