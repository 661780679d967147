"""Fine-tuning: start a training run from the weights of another model (``init_from``).

The model to train is built as usual (a zoo name with the dataset's class count, or a given
Keras model); :func:`transfer` then copies the source model's weights into it layer by layer.
The two must have the same layers (same kinds, same weight shapes, same pixel scaling) except
the classification head, the last layer that has weights: it is copied when its shapes match
(the same class count) and the source's classes are the dataset's (or unknown), and left as
built, freshly initialised, when only its class axis differs or the classes are others
(Fashion-MNIST on a digits model: a fresh head scored about 1 point higher than the digits
head, bench/bench_finetune.py). ``freeze=True`` then makes every other layer non-trainable,
which also puts the batch-normalization layers in inference mode (Keras 3 does that for
``trainable=False``), so only the head learns.

Nothing here imports TensorFlow or Keras at import time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasdigits import _lazy, _validate
from kerasdigits.training._errors import TrainingError

__all__ = ["FineTune", "Source", "prepare", "transfer"]

#: Layers that scale pixels: their config, not only their kind, must match.
_SCALING_LAYERS = ("Normalize", "Rescaling")
#: Config keys that name or place a layer rather than say what it computes.
_IGNORED_CONFIG = frozenset({"name", "trainable", "dtype", "dtype_policy"})


@dataclass(frozen=True)
class Source:
    """The model ``init_from`` named, ready to copy from.

    Attributes:
        model: The source Keras model.
        label: How to name it in messages and in ``TrainResult.init_from``: the file's path,
            or ``keras.Model 'name'``.
        zoo: The zoo name it was built from, if known.
        freeze: Whether to freeze everything but the head after copying.
    """

    model: Any
    label: str
    zoo: str | None
    freeze: bool


@dataclass(frozen=True)
class FineTune:
    """What :func:`transfer` did.

    Attributes:
        source: The source's label (see :class:`Source`).
        layers_copied: Layers with weights whose weights were copied (the head included when
            it was copied).
        head: ``"copied"``, or why it was left freshly initialised: ``"another class
            count"`` or ``"other classes"``.
        frozen: Layers with weights made non-trainable by ``freeze``.
    """

    source: str
    layers_copied: int
    head: str
    frozen: int

    def __str__(self) -> str:
        head = ("head copied" if self.head == "copied"
                else f"new head ({self.head}), freshly initialised")
        frozen = f"; {self.frozen} layers frozen, only the head trains" if self.frozen else ""
        return (f"init_from: weights of {self.layers_copied} layers from {self.source}; "
                f"{head}{frozen}")


def prepare(init_from: Any, freeze: Any, model_or_name: Any) -> Source | None:
    """Check ``init_from`` and ``freeze`` and load the source model (``None``: no fine-tune).

    Args:
        init_from: ``None``, a Keras model or the path of a ``.keras`` file.
        freeze: ``True`` or ``False``.
        model_or_name: What ``train`` was asked to train: with a zoo name, a source recording
            another zoo name is refused.

    Raises:
        TrainingError: A bad type for either argument, ``freeze=True`` without ``init_from``,
            or a source built from another zoo model than ``model_or_name``.
        ModelFileError: The file cannot be loaded (the message names it).
    """
    freeze = _validate.boolean(freeze, "freeze", error=TrainingError)
    if init_from is None:
        if freeze:
            raise TrainingError("freeze=True needs init_from: there is no trained trunk to "
                                "freeze in a model trained from scratch")
        return None
    model, label = _load(init_from)
    zoo = _zoo_name(model)
    if isinstance(model_or_name, str) and zoo is not None and zoo != model_or_name:
        raise TrainingError(
            f"init_from: {label} holds a {zoo!r} model, not {model_or_name!r}; fine-tune it "
            f"with train({zoo!r}, ..., init_from=...)"
        )
    return Source(model=model, label=label, zoo=zoo, freeze=freeze)


def _load(init_from: Any) -> tuple[Any, str]:
    if isinstance(init_from, (str, os.PathLike)):
        from kerasdigits.training._io import ModelFileError, load_model

        path = Path(init_from)
        try:
            return load_model(path, compile=False), str(path)
        except ModelFileError as exc:
            raise ModelFileError(f"init_from: {exc}") from exc
    if hasattr(init_from, "get_weights") and hasattr(init_from, "layers"):
        return init_from, f"keras.Model {getattr(init_from, 'name', '?')!r}"
    raise TrainingError(f"init_from must be a Keras model or the path of a .keras file, got "
                        f"{type(init_from).__name__}")


def _zoo_name(model: Any) -> str | None:
    """The zoo name ``model`` records, else its own name when that is a zoo name."""
    from kerasdigits.models import list_models
    from kerasdigits.training._io import model_info

    recorded = model_info(model).model
    if recorded is not None:
        return recorded
    name = getattr(model, "name", None)
    return name if name in list_models() else None


def transfer(source: Source, model: Any, class_names: Sequence[str]) -> FineTune:
    """Copy ``source``'s weights into ``model``, then freeze its trunk if asked.

    Args:
        source: From :func:`prepare`.
        model: The model to train, as built.
        class_names: The dataset's classes: the head is copied only when the source's are
            the same (or unknown) and as many.

    Returns:
        What was done.

    Raises:
        TrainingError: The two models differ anywhere but in the head's class count; the
            message names the first layer that differs, both weight shapes, and the zoo name
            to train when the source records one.
    """
    ours, theirs = _leaves(model), _leaves(source.model)
    head = _head_index(ours)
    if head is None:
        raise TrainingError(f"init_from: model {model.name!r} has no layer with weights")
    _check_same_layers(ours, theirs, head, source)
    head_state = _head_state(ours[head], theirs[head], source, class_names)
    copied = 0
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        if mine.weights and (index != head or head_state == "copied"):
            mine.set_weights(other.get_weights())
            copied += 1
    frozen = _freeze(model, ours, head) if source.freeze else 0
    return FineTune(source=source.label, layers_copied=copied, head=head_state, frozen=frozen)


def _head_state(mine: Any, other: Any, source: Source, class_names: Sequence[str]) -> str:
    """``"copied"`` when the source's head fits and predicts the same classes, else why not."""
    from kerasdigits.training._io import get_class_names

    if _shapes(mine) != _shapes(other):
        return "another class count"
    theirs = get_class_names(source.model)
    if theirs is not None and tuple(theirs) != tuple(class_names):
        return "other classes"
    return "copied"


def _leaves(model: Any) -> list[Any]:
    """The layers of ``model`` in order, nested models' layers in their place, no inputs."""
    keras = _lazy.keras()
    found: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            found.extend(_leaves(layer))
        else:
            found.append(layer)
    return found


def _head_index(layers: Sequence[Any]) -> int | None:
    """The index of the classification head: the last layer that has weights."""
    for index in range(len(layers) - 1, -1, -1):
        if layers[index].weights:
            return index
    return None


def _kind(layer: Any) -> str:
    keras = _lazy.keras()
    if isinstance(layer, keras.layers.BatchNormalization):
        return "BatchNormalization"  # FastBatchNormalization has the same weights
    return type(layer).__name__


def _shapes(layer: Any) -> list[tuple[int, ...]]:
    return [tuple(int(d) for d in w.shape) for w in layer.weights]


def _scaling(layer: Any) -> dict[str, Any] | None:
    if _kind(layer) not in _SCALING_LAYERS:
        return None
    return {k: v for k, v in layer.get_config().items() if k not in _IGNORED_CONFIG}


def _class_axis_only(mine: list[tuple[int, ...]], theirs: list[tuple[int, ...]]) -> bool:
    """Whether two heads' weights differ at most in their last axis (the class count)."""
    return len(mine) == len(theirs) and all(
        len(a) == len(b) and a[:-1] == b[:-1] for a, b in zip(mine, theirs, strict=True))


def _check_same_layers(ours: Sequence[Any], theirs: Sequence[Any], head: int,
                       source: Source) -> None:
    for index in range(max(len(ours), len(theirs))):
        mine = ours[index] if index < len(ours) else None
        other = theirs[index] if index < len(theirs) else None
        if mine is None or other is None:
            _mismatch(index, mine, other, source, "", (len(theirs), len(ours)))
        same = _kind(mine) == _kind(other) and _scaling(mine) == _scaling(other)
        if same and index == head:
            same = _class_axis_only(_shapes(mine), _shapes(other))
        elif same:
            same = _shapes(mine) == _shapes(other)
        if not same:
            note = (" (the pixels are scaled differently)"
                    if _kind(mine) == _kind(other) and _scaling(mine) != _scaling(other) else "")
            _mismatch(index, mine, other, source, note)


def _describe(layer: Any) -> str:
    return f"{layer.name!r} ({_kind(layer)}, weights {_shapes(layer) or 'none'})"


def _mismatch(index: int, mine: Any | None, other: Any | None, source: Source, note: str,
              counts: tuple[int, int] = (0, 0)) -> None:
    hint = (f"; it is a {source.zoo!r} model: train({source.zoo!r}, ..., init_from=...)"
            if source.zoo else "; the two models must have the same layers, only the head's "
            "class count may differ")
    if mine is None or other is None:
        extra = _describe(other if other is not None else mine)
        raise TrainingError(
            f"init_from: {source.label} has {counts[0]} layers but the model being trained "
            f"has {counts[1]} (the first extra one, layer {index + 1}: {extra}){hint}"
        )
    raise TrainingError(
        f"init_from: layer {index + 1} of {source.label} is {_describe(other)} but the model "
        f"being trained has {_describe(mine)} there{note}{hint}"
    )


def _freeze(model: Any, layers: Sequence[Any], head: int) -> int:
    """Make every layer but the head non-trainable; return how many with weights were frozen."""
    frozen = 0
    for index, layer in enumerate(layers):
        if index != head:
            layer.trainable = False
            frozen += bool(layer.weights)
    if getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
        # Keras 3 reads the trainable flags when compiling: compile again, the same way.
        try:
            model.compile_from_config(model.get_compile_config())
        except Exception as exc:  # a config Keras cannot rebuild (custom objects...)
            raise TrainingError(
                f"freeze=True: cannot compile model {model.name!r} again after freezing its "
                f"layers ({exc}); pass it uncompiled, or freeze its layers and compile it "
                "yourself"
            ) from exc
    return frozen


def recalibrate_batch_norm(model: Any, images: Any, batch_size: int) -> int:
    """Re-estimate the moving statistics of the trainable batch normalization layers.

    A fine-tuning run is short and starts from another dataset's statistics, while its
    trunk changes under it: the moving averages then lag behind the weights, and the model
    does much worse at inference than in training (measured: 17 % against 83 % after
    recalibration, on 240 pictures for 3 epochs). One pass over the training images in
    training mode, averaging each batch's statistics with equal weight, puts them back.
    Frozen layers (``trainable=False``) keep theirs.

    Args:
        model: The trained model.
        images: The training images, as the model takes them.
        batch_size: Images per forward pass.

    Returns:
        The number of layers recalibrated.
    """
    keras = _lazy.keras()
    layers = [layer for layer in _leaves(model)
              if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    if not layers or len(images) == 0:
        return 0
    momenta = [layer.momentum for layer in layers]
    try:
        for i, start in enumerate(range(0, len(images), batch_size)):
            for layer in layers:  # a running mean: batch i weighs 1 / (i + 1)
                layer.momentum = i / (i + 1)
            model(images[start:start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return len(layers)
