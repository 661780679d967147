"""Training, evaluation and prediction helpers.

``train``, ``evaluate`` and ``predict`` are re-exported at the top level
(``from kerasdigits import train``). TensorFlow is imported when they are first called.
"""

from __future__ import annotations

from kerasdigits.training._errors import PredictionError, RunInUseError, TrainingError
from kerasdigits.training._evaluate import Evaluation, evaluate, evaluation_from_probabilities
from kerasdigits.training._feeding import PixelError
from kerasdigits.training._io import (
    ModelFileError,
    get_class_names,
    load_model,
    save_model,
    set_class_names,
)
from kerasdigits.training._predict import predict
from kerasdigits.training._run import WorkerFailureError
from kerasdigits.training._strategy import STRATEGIES, is_chief, make_strategy
from kerasdigits.training._train import TrainResult, train

__all__ = [
    "STRATEGIES",
    "Evaluation",
    "ModelFileError",
    "PixelError",
    "PredictionError",
    "RunInUseError",
    "TrainResult",
    "TrainingError",
    "WorkerFailureError",
    "evaluate",
    "evaluation_from_probabilities",
    "get_class_names",
    "is_chief",
    "load_model",
    "make_strategy",
    "predict",
    "save_model",
    "set_class_names",
    "train",
]
