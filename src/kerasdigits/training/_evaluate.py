"""Evaluating a model on a split: loss, accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kerasdigits.datasets import Dataset, Split, load_dataset
from kerasdigits.training._feeding import prepare_images
from kerasdigits.training._predict import _load_if_path, predict_proba

__all__ = ["Evaluation", "evaluate", "evaluation_from_probabilities"]

_EPS = 1e-7  # Keras's epsilon: probabilities are clipped to [eps, 1 - eps] in the loss


@dataclass(frozen=True, eq=False)
class Evaluation:
    """How a model does on one split.

    Attributes:
        loss: Mean sparse categorical cross-entropy.
        accuracy: Fraction classified correctly.
        per_class_accuracy: Accuracy (recall) of each class, ``nan`` for a class with no example.
        confusion_matrix: ``(C, C)`` counts; rows are true labels, columns predicted labels.
        misclassified: Indices (into the split) of the wrongly classified examples.
        predictions: Predicted label of every example.
        class_names: Class names, index = label.
    """

    loss: float
    accuracy: float
    per_class_accuracy: npt.NDArray[np.float64]
    confusion_matrix: npt.NDArray[np.int64]
    misclassified: npt.NDArray[np.int64]
    predictions: npt.NDArray[np.int64]
    class_names: tuple[str, ...]

    @property
    def num_examples(self) -> int:
        """Number of examples evaluated."""
        return int(self.confusion_matrix.sum())

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (no per-example arrays except the misclassified indices)."""
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "num_examples": self.num_examples,
            "per_class_accuracy": {
                name: (None if np.isnan(acc) else float(acc))
                for name, acc in zip(self.class_names, self.per_class_accuracy, strict=True)
            },
            "confusion_matrix": self.confusion_matrix.tolist(),
            "misclassified": self.misclassified.tolist(),
        }

    def __str__(self) -> str:
        n = self.num_examples
        wrong = len(self.misclassified)
        lines = [
            f"accuracy {self.accuracy:.4f} ({n - wrong:,}/{n:,} right), loss {self.loss:.4f}",
            "",
        ]
        width = max(5, *(len(c) for c in self.class_names))
        lines.append(f"{'class':<{width}}  {'n':>6}  {'accuracy':>8}")
        for i, name in enumerate(self.class_names):
            count = int(self.confusion_matrix[i].sum())
            acc = self.per_class_accuracy[i]
            shown = "-" if np.isnan(acc) else f"{acc:.4f}"
            lines.append(f"{name:<{width}}  {count:>6,}  {shown:>8}")
        lines.append("")
        lines.append("confusion matrix (rows: true, columns: predicted)")
        cell = max(4, len(str(int(self.confusion_matrix.max(initial=0)))) + 1)
        lines.append(" " * 4 + "".join(f"{j:>{cell}}" for j in range(len(self.class_names))))
        for i, row in enumerate(self.confusion_matrix):
            lines.append(f"{i:>3} " + "".join(f"{int(v):>{cell}}" for v in row))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Evaluation(accuracy={self.accuracy:.4f}, loss={self.loss:.4f}, "
                f"n={self.num_examples}, misclassified={len(self.misclassified)})")


def evaluation_from_probabilities(
    probabilities: npt.ArrayLike, labels: npt.ArrayLike, class_names: tuple[str, ...]
) -> Evaluation:
    """Compute an :class:`Evaluation` from predicted probabilities and the true labels."""
    probs = np.asarray(probabilities, dtype=np.float64)
    true = np.asarray(labels).astype(np.int64)
    num_classes = len(class_names)
    if probs.ndim != 2 or probs.shape != (len(true), num_classes):
        raise ValueError(
            f"probabilities must have shape ({len(true)}, {num_classes}), got {probs.shape}"
        )
    predicted = probs.argmax(axis=1).astype(np.int64) if len(true) else np.zeros(0, np.int64)
    picked = np.clip(probs[np.arange(len(true)), true], _EPS, 1 - _EPS)
    loss = float(-np.log(picked).mean()) if len(true) else float("nan")
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (true, predicted), 1)
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / per_class_total
    accuracy = float((predicted == true).mean()) if len(true) else float("nan")
    return Evaluation(
        loss=loss,
        accuracy=accuracy,
        per_class_accuracy=per_class.astype(np.float64),
        confusion_matrix=confusion,
        misclassified=np.flatnonzero(predicted != true).astype(np.int64),
        predictions=predicted,
        class_names=tuple(class_names),
    )


def evaluate(model: Any, data: Dataset | Split | str, *,
             class_names: tuple[str, ...] | None = None) -> Evaluation:
    """Evaluate ``model`` on a dataset's test split, or on any :class:`Split`.

    Args:
        model: A Keras model (or the path of a saved ``.keras`` file) whose output is class
            probabilities.
        data: A :class:`Dataset` (its test split is used), a dataset name (loaded with
            :func:`~kerasdigits.datasets.load_dataset`, as :func:`train` does), or a
            :class:`Split`.
        class_names: Names for the table (default: the dataset's, else the model's own
            (:func:`~kerasdigits.training.get_class_names`), else ``"0"``, ``"1"``...).

    Returns:
        The :class:`Evaluation`; ``print()`` it for a readable table.

    Raises:
        ValueError: The split is empty, or the model was trained with other classes than the
            dataset's (a Fashion-MNIST model evaluated on MNIST digits, say).
        PixelError: The split's images are not valid pixels (see :func:`predict`).
        PredictionError: The model failed on the images or did not answer with one row per
            image (see :func:`predict`).
    """
    from kerasdigits.training._io import get_class_names

    model = _load_if_path(model)
    own = get_class_names(model)
    if isinstance(data, str):
        data = load_dataset(data)
    if isinstance(data, Dataset):
        split = data.test
        if own is not None and class_names is None and tuple(data.class_names) != own:
            raise ValueError(
                f"model {model.name!r} was trained with the classes {', '.join(own[:4])}, ... "
                f"but the dataset {data.name!r} has {', '.join(data.class_names[:4])}, ...: "
                "evaluate it on the dataset it was trained for (or pass class_names=)"
            )
        names = class_names or data.class_names
    elif isinstance(data, Split):
        split = data
        outputs = int(model.outputs[0].shape[-1])
        names = class_names or own or tuple(str(i) for i in range(outputs))
    else:
        raise TypeError(
            f"evaluate() takes a Dataset, a dataset name or a Split, got {type(data).__name__}"
        )
    if len(split) == 0:
        where = (f"the test split of the dataset {data.name!r}" if isinstance(data, Dataset)
                 else "the split")
        raise ValueError(f"cannot evaluate: {where} is empty (0 images)")
    batch, _ = prepare_images(model, split.images)
    probs = predict_proba(model, batch)
    return evaluation_from_probabilities(probs, split.labels, names)
