"""The exceptions and the warning of the model registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kerasdigits._errors import KerasDigitsError
from kerasdigits._plugins import PluginWarning
from kerasdigits._suggest import did_you_mean

__all__ = [
    "DuplicateModelError",
    "ModelArgumentError",
    "ModelConfigError",
    "PluginWarning",
    "UnknownModelError",
    "model_error",
]


class UnknownModelError(KerasDigitsError, KeyError):
    """No model is registered under the requested name.

    A :class:`KeyError`, so ``except KeyError`` works; unlike a bare ``KeyError`` the message
    is readable and suggests the closest registered names.

    Args:
        name: The unknown name.
        known: The registered names, used for the "did you mean" suggestion.

    Attributes:
        name: The unknown name.
    """

    def __init__(self, name: str, known: Iterable[str] = ()) -> None:
        known = sorted(known)
        self.name = name
        hint = did_you_mean(name, known)
        if not hint:
            hint = " Call kerasdigits.list_models() to see them all."
        message = f"unknown model {name!r}.{hint}"
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message, quotes and all.
        return self.message


class DuplicateModelError(KerasDigitsError, ValueError):
    """A model name is registered twice; the message names both registrants."""


class ModelConfigError(KerasDigitsError, ValueError):
    """A model cannot be built as requested.

    Raised for a style the model does not support, an impossible ``input_shape`` (too small
    for the model's pooling, the wrong rank for its input kind), an invalid ``num_classes``, an
    unknown ``preprocessing`` mode, an out-of-range builder argument, or a builder that
    returned something ``build`` cannot use (``None``, a list holding a non-layer, a model
    with several outputs or an output not sized ``num_classes``). The message names the
    model and the offending argument or returned value.
    """


class ModelArgumentError(ModelConfigError, TypeError):
    """A builder got an argument it does not take; the message lists the valid ones.

    Also a :class:`TypeError`, which is what Python raises for an unexpected keyword argument.
    Raised too for ``num_classes`` or ``input_shape`` when the builder cannot take it (a fixed
    head, or a finished model with a fixed input shape).
    """


def model_error(model: str, note: str = "") -> Callable[[str], ModelConfigError]:
    """Return an ``error`` for :mod:`kerasdigits._validate` that names the model.

    Args:
        model: The model's name, put in front of the message (``"lenet5: ..."``).
        note: A sentence to add after the message.

    Returns:
        A function turning a message into a :class:`ModelConfigError`.
    """

    def make(message: str) -> ModelConfigError:
        return ModelConfigError(f"{model}: {message}{note}")

    return make
