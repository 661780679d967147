"""Counting how often Keras traces a model's training step."""

from __future__ import annotations

from typing import Any


def count_train_step_traces(model: Any) -> list[int]:
    """Wrap ``model.train_step``; the returned list grows by one at each trace.

    Keras looks ``train_step`` up on the model, and TensorFlow runs its Python once per trace.
    """
    traces: list[int] = []
    train_step = model.train_step

    def counted(data: Any) -> Any:
        traces.append(1)
        return train_step(data)

    model.train_step = counted
    return traces
