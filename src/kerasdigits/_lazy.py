"""Lazy access to TensorFlow and Keras, so that ``import kerasdigits`` stays light."""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def _quiet_tensorflow_logs() -> None:
    # TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) is noise for our users; respect
    # an explicit setting.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tensorflow() -> ModuleType:
    """Import and return :mod:`tensorflow`."""
    _quiet_tensorflow_logs()
    return importlib.import_module("tensorflow")


def keras() -> ModuleType:
    """Import and return :mod:`keras` (Keras 3)."""
    _quiet_tensorflow_logs()
    return importlib.import_module("keras")
