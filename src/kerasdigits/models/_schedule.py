"""The Keras learning-rate schedule of a :class:`~kerasdigits.models.Recipe`.

Importing this module imports Keras; :meth:`Recipe.learning_rate_schedule` imports it when
called. Wherever Keras has a schedule with the same arithmetic, the recipe uses it
(``CosineDecay`` with its linear warm-up, ``ExponentialDecay``), so a saved model's optimizer
needs nothing from kerasdigits to load. Only the two combinations Keras lacks (a warm-up
before a constant or an exponential rate) use :class:`RecipeSchedule`, registered for
``.keras`` serialization (package ``kerasdigits``).
"""

from __future__ import annotations

import math
from typing import Any

from kerasdigits import _lazy

keras = _lazy.keras()
ops = keras.ops

__all__ = ["RecipeSchedule", "make_schedule"]


@keras.saving.register_keras_serializable(package="kerasdigits")
class RecipeSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc,name-defined]
    """A recipe's per-step learning rate, saved with the model.

    Linear warm-up from a tenth of ``peak``, then constant, cosine decay to zero at the end of
    training, or exponential decay per epoch: the same arithmetic as
    :meth:`kerasdigits.models.Recipe.learning_rate_at`.

    Args:
        peak: The learning rate after warm-up.
        steps_per_epoch: Optimizer steps (batches) per epoch.
        epochs: Training epochs (the cosine schedule reaches zero there).
        schedule: ``"constant"``, ``"cosine"`` or ``"exponential"``.
        warmup_epochs: Epochs of linear warm-up.
        decay_rate: Per-epoch factor of the exponential schedule.
    """

    def __init__(
        self,
        peak: float,
        steps_per_epoch: int,
        epochs: int,
        schedule: str = "constant",
        warmup_epochs: float = 0.0,
        decay_rate: float = 0.9,
    ) -> None:
        self.peak = float(peak)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.schedule = schedule
        self.warmup_epochs = float(warmup_epochs)
        self.decay_rate = float(decay_rate)

    def __call__(self, step: Any) -> Any:
        epoch = ops.cast(step, "float32") / float(self.steps_per_epoch)
        warm = self.warmup_epochs
        after = ops.maximum(epoch - warm, 0.0)
        if self.schedule == "exponential":
            rate = self.peak * ops.power(self.decay_rate, after)
        elif self.schedule == "cosine":
            span = max(self.epochs - warm, 1e-9)
            progress = ops.minimum(after / span, 1.0)
            rate = self.peak * 0.5 * (1.0 + ops.cos(math.pi * progress))
        else:
            rate = ops.full_like(epoch, self.peak)
        if warm > 0:
            ramp = self.peak * (0.1 + 0.9 * epoch / warm)
            rate = ops.where(epoch < warm, ramp, rate)
        return rate

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "schedule": self.schedule,
            "warmup_epochs": self.warmup_epochs,
            "decay_rate": self.decay_rate,
        }


def make_schedule(
    peak: float,
    steps_per_epoch: int,
    epochs: int,
    schedule: str = "constant",
    warmup_epochs: float = 0.0,
    decay_rate: float = 0.9,
) -> Any:
    """Return the per-step learning rate of a recipe, as a standard Keras schedule if one fits.

    Args:
        peak: The learning rate after warm-up.
        steps_per_epoch: Optimizer steps (batches) per epoch.
        epochs: Training epochs (the cosine schedule reaches zero there).
        schedule: ``"constant"``, ``"cosine"`` or ``"exponential"``.
        warmup_epochs: Epochs of linear warm-up from a tenth of ``peak``.
        decay_rate: Per-epoch factor of the exponential schedule.

    Returns:
        ``keras.optimizers.schedules.CosineDecay`` (cosine, with or without warm-up),
        ``ExponentialDecay`` (exponential without warm-up), or a :class:`RecipeSchedule`.
    """
    schedules = keras.optimizers.schedules
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    if schedule == "cosine":
        decay_steps = max(round(epochs * steps_per_epoch) - warmup_steps, 1)
        if warmup_steps == 0:
            return schedules.CosineDecay(peak, decay_steps, alpha=0.0)
        return schedules.CosineDecay(0.1 * peak, decay_steps, alpha=0.0, warmup_target=peak,
                                     warmup_steps=warmup_steps)
    if schedule == "exponential" and warmup_steps == 0:
        return schedules.ExponentialDecay(peak, decay_steps=steps_per_epoch,
                                          decay_rate=decay_rate)
    return RecipeSchedule(peak=peak, steps_per_epoch=steps_per_epoch, epochs=epochs,
                          schedule=schedule, warmup_epochs=warmup_epochs,
                          decay_rate=decay_rate)
