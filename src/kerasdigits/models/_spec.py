"""Frozen records describing a registered model: its spec, compile settings and recipe.

Nothing here imports Keras at import time; :meth:`CompileSettings.make_optimizer` and
:meth:`Recipe.learning_rate_schedule` import it when called.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from kerasdigits import _lazy, _validate

__all__ = [
    "INPUT_KINDS",
    "NATIVE_INPUT_SHAPES",
    "RESERVED_PARAMETERS",
    "SCHEDULES",
    "STYLES",
    "CompileSettings",
    "InputKind",
    "ModelSpec",
    "Recipe",
    "Schedule",
    "Style",
]

#: How a model is assembled: a ``keras.Sequential`` or a functional ``keras.Model``.
Style = Literal["sequential", "functional"]
#: What the model's first layer expects: flat ``(784,)`` vectors or ``(28, 28, 1)`` images.
InputKind = Literal["flat", "image"]
#: Learning-rate schedules a :class:`Recipe` can name.
Schedule = Literal["constant", "cosine", "exponential"]

STYLES: tuple[Style, ...] = ("sequential", "functional")
INPUT_KINDS: tuple[InputKind, ...] = ("flat", "image")
SCHEDULES: tuple[Schedule, ...] = ("constant", "cosine", "exponential")
#: The input each kind of model takes when built without preprocessing.
NATIVE_INPUT_SHAPES: Mapping[InputKind, tuple[int, ...]] = MappingProxyType(
    {"flat": (784,), "image": (28, 28, 1)}
)
#: Builder parameters that :func:`~kerasdigits.models.build` fills in itself.
RESERVED_PARAMETERS = ("num_classes", "input_shape")


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class CompileSettings:
    """How :func:`~kerasdigits.models.build` compiles a model by default.

    Attributes:
        optimizer: A Keras optimizer name (``"adam"``, ``"rmsprop"``, ``"sgd"``, ...).
        learning_rate: The optimizer's learning rate; ``None`` keeps Keras's default (0.001
            for Adam and RMSprop).
        optimizer_options: Further optimizer arguments (``{"momentum": 0.9}``).
        loss: The loss. Sparse categorical cross-entropy, since the kerasdigits input
            pipeline yields integer labels.
        label_smoothing: With the default loss, spread this much of each target evenly over
            the classes (:class:`~kerasdigits.models.losses.SmoothedSparseCategoricalCrossentropy`);
            ``0``, the default: none.
        metrics: The metrics.
        steps_per_execution: Batches run per call into the compiled training function
            (``model.compile(steps_per_execution=...)``). More than 1 cuts the per-batch
            Python overhead that dominates the training time of small models on a CPU;
            callbacks then see every n-th batch only.

    Example:
        >>> from kerasdigits.models import CompileSettings
        >>> CompileSettings(optimizer="rmsprop").learning_rate is None
        True
    """

    optimizer: str = "adam"
    learning_rate: float | None = None
    optimizer_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    steps_per_execution: int = 1
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "steps_per_execution",
             _validate.positive_int(self.steps_per_execution, "steps_per_execution"))
        if not isinstance(self.optimizer, str) or not self.optimizer:
            raise ValueError(f"optimizer must be a non-empty string, got {self.optimizer!r}")
        _set(self, "learning_rate", _learning_rate(self.learning_rate))
        _set(self, "optimizer_options", _frozen_mapping(self.optimizer_options))
        _set(self, "metrics", tuple(self.metrics))
        _set(self, "label_smoothing",
             _validate.fraction(self.label_smoothing, "label_smoothing", low_open=False))
        if self.label_smoothing and self.loss != "sparse_categorical_crossentropy":
            raise ValueError(f"label_smoothing applies to the default loss "
                             f"'sparse_categorical_crossentropy', not to {self.loss!r}")

    def make_optimizer(self, learning_rate: Any = None) -> Any:
        """Return a new Keras optimizer with these settings (imports Keras).

        Args:
            learning_rate: Overrides :attr:`learning_rate`: a float or a Keras
                ``LearningRateSchedule`` (see :meth:`Recipe.learning_rate_schedule`).

        Returns:
            A ``keras.optimizers.Optimizer``.
        """
        keras = _lazy.keras()
        config: dict[str, Any] = dict(self.optimizer_options)
        rate = self.learning_rate if learning_rate is None else learning_rate
        if rate is not None:
            config["learning_rate"] = rate
        optimizer = keras.optimizers.get(self.optimizer)
        return optimizer.__class__(**config) if config else optimizer

    def make_loss(self) -> Any:
        """Return the loss for ``model.compile``: :attr:`loss`, or a smoothed one.

        Returns:
            The loss name, or with :attr:`label_smoothing` a new
            :class:`~kerasdigits.models.losses.SmoothedSparseCategoricalCrossentropy`
            (imports Keras).
        """
        if not self.label_smoothing:
            return self.loss
        from kerasdigits.models.losses import SmoothedSparseCategoricalCrossentropy

        return SmoothedSparseCategoricalCrossentropy(label_smoothing=self.label_smoothing)

    def compile_kwargs(self, learning_rate: Any = None) -> dict[str, Any]:
        """Return the arguments for ``model.compile`` (a fresh optimizer each call).

        Args:
            learning_rate: Passed to :meth:`make_optimizer`.

        Returns:
            ``{"optimizer": ..., "loss": ..., "metrics": [...], "steps_per_execution": n}``.
        """
        return {
            "optimizer": self.make_optimizer(learning_rate),
            "loss": self.make_loss(),
            "metrics": list(self.metrics),
            "steps_per_execution": self.steps_per_execution,
        }


@dataclass(frozen=True)
class Recipe:
    """A default training recipe: how long, in what batches, with what learning rate.

    The learning rate starts at :attr:`learning_rate` (or the compile settings' rate), warms
    up linearly from a tenth of it over :attr:`warmup_epochs`, then follows
    :attr:`schedule`: ``"constant"``, ``"cosine"`` (decay to zero at the end of training) or
    ``"exponential"`` (multiplied by :attr:`decay_rate` every epoch).

    Attributes:
        epochs: Training epochs (the most, when early stopping is on).
        batch_size: Examples per batch.
        learning_rate: Peak learning rate; ``None`` uses the compile settings'.
        schedule: ``"constant"``, ``"cosine"`` or ``"exponential"``.
        warmup_epochs: Epochs of linear warm-up (may be fractional).
        decay_rate: Per-epoch factor of the ``"exponential"`` schedule.
        early_stopping_patience: Stop after this many epochs without a better validation
            loss, and restore the best weights; ``None``: no early stopping.
        validation_size: Fraction of the training set held out for validation.
        notes: Anything else worth knowing (where the recipe comes from).

    Example:
        >>> from kerasdigits.models import Recipe
        >>> Recipe(epochs=20, batch_size=128).schedule
        'constant'
    """

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float | None = None
    schedule: Schedule = "constant"
    warmup_epochs: float = 0.0
    decay_rate: float = 0.9
    early_stopping_patience: int | None = None
    validation_size: float = 0.0
    notes: str = ""

    def __post_init__(self) -> None:
        _set(self, "epochs", _validate.positive_int(self.epochs, "epochs"))
        _set(self, "batch_size", _validate.positive_int(self.batch_size, "batch_size"))
        _set(self, "learning_rate", _learning_rate(self.learning_rate))
        _set(self, "schedule", _validate.choice(self.schedule, "schedule", SCHEDULES))
        if not (0 <= self.warmup_epochs <= self.epochs):
            raise ValueError(f"warmup_epochs must be in [0, epochs], got {self.warmup_epochs!r}")
        _set(self, "decay_rate", _validate.fraction(self.decay_rate, "decay_rate",
                                                    high_open=False))
        patience = self.early_stopping_patience
        if patience is not None:
            _set(self, "early_stopping_patience",
                 _validate.positive_int(patience, "early_stopping_patience"))
        _set(self, "validation_size", _validate.fraction(self.validation_size, "validation_size",
                                                         low_open=False))
        if patience is not None and self.validation_size == 0:
            raise ValueError("early stopping needs a validation_size > 0")

    def learning_rate_at(self, epoch: float, base: float) -> float:
        """Return the learning rate after ``epoch`` epochs (fractional) of training.

        Args:
            epoch: Epochs done so far (``0 <= epoch <= epochs``).
            base: The learning rate to use when :attr:`learning_rate` is ``None``.

        Returns:
            The learning rate.

        Example:
            >>> from kerasdigits.models import Recipe
            >>> r = Recipe(epochs=10, learning_rate=0.01, schedule="cosine")
            >>> r.learning_rate_at(0, 0.001), round(r.learning_rate_at(5, 0.001), 6)
            (0.01, 0.005)
        """
        peak = self.learning_rate if self.learning_rate is not None else base
        if epoch < self.warmup_epochs:
            return peak * (0.1 + 0.9 * epoch / self.warmup_epochs)
        if self.schedule == "constant":
            return peak
        if self.schedule == "exponential":
            return float(peak * self.decay_rate ** (epoch - self.warmup_epochs))
        span = self.epochs - self.warmup_epochs
        progress = min(1.0, (epoch - self.warmup_epochs) / span) if span > 0 else 1.0
        return peak * 0.5 * (1.0 + math.cos(math.pi * progress))

    def learning_rate_schedule(self, steps_per_epoch: int, base: float = 0.001) -> Any:
        """Return this recipe's learning rate as something ``make_optimizer`` accepts.

        A plain float for a constant rate without warm-up, else a Keras
        ``LearningRateSchedule`` stepping per batch, saved with the model: Keras's own
        ``CosineDecay`` (with its warm-up) or ``ExponentialDecay`` where they fit, so the saved
        optimizer loads with Keras alone (imports Keras).

        Args:
            steps_per_epoch: Batches per epoch.
            base: The learning rate to use when :attr:`learning_rate` is ``None``.

        Returns:
            A float or a ``LearningRateSchedule``.
        """
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch!r}")
        peak = self.learning_rate if self.learning_rate is not None else base
        if self.schedule == "constant" and not self.warmup_epochs:
            return peak
        from kerasdigits.models._schedule import make_schedule

        return make_schedule(peak, steps_per_epoch, self.epochs, self.schedule,
                             self.warmup_epochs, self.decay_rate)


@dataclass(frozen=True)
class ModelSpec:
    """Everything the registry knows about one model (frozen).

    Get it from :func:`~kerasdigits.models.get_model_spec`.

    Attributes:
        name: The registered name (also the Keras model's name).
        builder: The function that returns the model's layers, a graph function or a
            finished ``keras.Model`` (see :func:`~kerasdigits.models.register_model`).
        description: One-line description.
        tags: Tags for :func:`~kerasdigits.models.list_models` (``"mlp"``, ``"fast"``...).
        styles: The styles it can be built in (``"sequential"``, ``"functional"``), as
            registered; a builder returning a graph function or a non-sequential
            ``keras.Model`` builds in the functional style only.
        default_style: The style :func:`~kerasdigits.models.build` uses by default.
        input_kind: ``"flat"`` (the first layer takes ``(784,)`` vectors) or ``"image"``
            (``(28, 28, 1)`` images).
        compile_settings: Default optimizer, loss and metrics.
        recipe: Default training recipe.
        reference_accuracy: Test accuracy the model reaches with its recipe, by dataset name
            (``{"mnist": 0.984}``); empty where unknown, so ``.get("mnist")`` gives ``None``.
        reference: Where the reference figure comes from.
        registered_by: The distribution that registered the model (``"kerasdigits"`` for the
            built-in zoo, the plugin's distribution for plugin models).
        params: The number of parameters of the model built with its defaults (its own
            ``num_classes``, the native input, no preprocessing), as declared at registration;
            ``None`` where the builder does not declare it (build the model to count).

    Example:
        >>> from kerasdigits.models import get_model_spec
        >>> spec = get_model_spec("mlp2x512")
        >>> spec.input_kind, spec.input_shape, spec.compile_settings.optimizer
        ('flat', (784,), 'rmsprop')
    """

    name: str
    builder: Callable[..., Any] = field(repr=False, compare=False)
    description: str = ""
    tags: tuple[str, ...] = ()
    styles: tuple[Style, ...] = STYLES
    default_style: Style = "sequential"
    input_kind: InputKind = "image"
    compile_settings: CompileSettings = field(default_factory=CompileSettings)
    recipe: Recipe = field(default_factory=Recipe)
    reference_accuracy: Mapping[str, float] = field(default_factory=dict, hash=False)
    reference: str = ""
    registered_by: str = ""
    params: int | None = None

    def __post_init__(self) -> None:
        _set(self, "reference_accuracy", _frozen_mapping(self.reference_accuracy))
        if self.params is not None:
            _set(self, "params", _validate.positive_int(self.params, "params"))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The model's input shape without preprocessing, ``(784,)`` or ``(28, 28, 1)``."""
        return NATIVE_INPUT_SHAPES[self.input_kind]

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The builder's own arguments and their defaults, such as ``{"dropout": 0.2}``.

        Without ``num_classes`` and ``input_shape``; a default of ``inspect.Parameter.empty``
        marks a required argument.
        """
        return MappingProxyType(
            {
                p.name: p.default
                for p in _signature(self.builder).parameters.values()
                if p.name not in RESERVED_PARAMETERS
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            }
        )

    @property
    def source(self) -> str:
        """Where the builder is defined, as ``"module:qualname"``."""
        module = getattr(self.builder, "__module__", None) or "?"
        qualname = getattr(self.builder, "__qualname__", None) or repr(self.builder)
        return f"{module}:{qualname}"


def _signature(builder: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(builder)


def _set(record: object, attribute: str, value: object) -> None:
    """Store the checked (normalized) value of a field of a frozen dataclass."""
    object.__setattr__(record, attribute, value)


def _learning_rate(value: float | None) -> float | None:
    return None if value is None else _validate.number(value, "learning_rate", positive=True)
