""":func:`build`: turn what a registered builder returns into a Keras model.

One builder defines a model's layers once; :func:`build` puts the input (and optional
in-model preprocessing) in front and assembles the result either as a ``keras.Sequential``
or through the functional API. Both styles contain the same layers in the same order, so
their weights are interchangeable (``seq.set_weights(fun.get_weights())``).

A builder may also return a finished ``keras.Model``, as torchvision and timm builders do:
a ``keras.Sequential`` counts as its list of layers (both styles), any other model is
returned as is, or called as one layer after the input and preprocessing that ``build``
adds (functional style only).
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kerasdigits import _lazy, _validate
from kerasdigits._suggest import did_you_mean
from kerasdigits.models._errors import ModelArgumentError, ModelConfigError, model_error
from kerasdigits.models._registry import get_model_spec
from kerasdigits.models._spec import NATIVE_INPUT_SHAPES, STYLES, ModelSpec, Style

if TYPE_CHECKING:
    import keras

__all__ = ["INPUT_NAME", "PREPROCESSING", "build"]

#: Name of the model's input (and of the input of an exported TFLite model).
INPUT_NAME = "pixels"
#: Named preprocessing modes: arguments of :class:`kerasdigits.transforms.layers.Normalize`.
#: ``"standard"`` uses the MNIST training-set mean and standard deviation.
PREPROCESSING: Mapping[str, Mapping[str, Any]] = {
    "unit": {"mode": "unit"},
    "standard": {"mode": "standard", "mean": 0.1307, "std": 0.3081},
}


@dataclass(frozen=True)
class _InputPlan:
    shape: tuple[int, ...]  # the model's input shape
    dtype: str  # the model's input dtype
    normalize: Mapping[str, Any] | None  # Normalize(**normalize) first, if not None
    adapter: str | None  # "flatten" or "add_channel" after that, if not None
    stack_shape: tuple[int, ...]  # what the builder's first layer receives


def build(
    name: str,
    *,
    style: Style | None = None,
    input_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
    preprocessing: str | Mapping[str, Any] | None = None,
    compile: bool = True,
    **kwargs: Any,
) -> keras.Model:
    """Build a registered model.

    What the result is depends on what the model's builder returns (see
    :func:`~kerasdigits.models.register_model`): a list of layers or a ``keras.Sequential``
    is assembled in the requested style; a graph function, a functional or a subclassed
    ``keras.Model`` builds in the functional style only. A finished model that already takes
    the input ``build`` would give it, without preprocessing, is returned as is (renamed
    ``name`` and compiled); otherwise ``build`` puts the input and the preprocessing in front
    of it: ``Input -> Normalize -> model``.

    Args:
        name: A name from :func:`~kerasdigits.models.list_models`.
        style: ``"sequential"`` (returns a ``keras.Sequential``) or ``"functional"`` (a
            functional ``keras.Model``, or the builder's own non-sequential model); default:
            the model's own default (:attr:`ModelSpec.default_style`).
        input_shape: The model's input shape, without the batch axis. Default: ``(784,)``
            for flat models and ``(28, 28, 1)`` for image models, or ``(28, 28)`` with
            ``preprocessing``. Flat models accept any ``(n,)``, ``(h, w)`` or ``(h, w, c)``
            (flattened in the model); image models any ``(h, w)`` or ``(h, w, c)`` large
            enough for their pooling. A builder that returns a model with a fixed input
            shape must take ``input_shape`` itself to be built for another size.
        num_classes: Size of the softmax head (default: the model's, normally 10), for
            example 47 for EMNIST Balanced. Only for builders that take ``num_classes``; the
            built model's output must then have that many units.
        preprocessing: In-model preprocessing, so that the model takes raw ``uint8`` pixels:
            ``"unit"`` (scale to [0, 1]), ``"standard"`` (MNIST mean and standard deviation),
            or a mapping of :class:`~kerasdigits.transforms.layers.Normalize` arguments
            (``{"mode": "standard", "mean": 0.286, "std": 0.353}``). ``None``: the model
            takes ``float32`` input that is already normalized.
        compile: Compile with the model's default optimizer, loss and metrics
            (:attr:`ModelSpec.compile_settings`, also for a model the builder compiled
            itself); ``False`` leaves the model as the builder made it (uncompiled, unless
            the builder compiled it).
        **kwargs: The model's own options (see :attr:`ModelSpec.parameters`), for example
            ``dropout=0.0`` for ``mlp2x512``.

    Returns:
        A ``keras.Model`` named ``name`` with one input and one output; its input is named
        ``"pixels"`` and its last layer ``"output"`` in the built-in zoo.

    Raises:
        UnknownModelError: No model of that name (a ``KeyError``).
        ModelArgumentError: An argument the builder does not take (a ``TypeError``); the
            message lists the valid ones.
        ModelConfigError: A style, input shape, number of classes or preprocessing the model
            cannot be built with, or a builder that returned something ``build`` cannot use
            (a ``ValueError``). The message names the model.

    Example:
        >>> from kerasdigits.models import build
        >>> model = build("mlp256", preprocessing="unit")
        >>> model.name, model.inputs[0].shape, model.inputs[0].dtype, model.count_params()
        ('mlp256', (None, 28, 28), 'uint8', 203530)
    """
    spec = get_model_spec(name)
    chosen_style, plan, builder_kwargs = _check_request(
        spec, style, input_shape, num_classes, preprocessing, kwargs
    )
    keras_module = _lazy.keras()
    made = _call_builder(spec, builder_kwargs)
    model = _finish(keras_module, spec, chosen_style, plan, made, input_shape is not None,
                    builder_kwargs.get("num_classes"))
    if compile:
        model.compile(**spec.compile_settings.compile_kwargs())
    return model


def _check_request(
    spec: ModelSpec,
    style: str | None,
    input_shape: Sequence[int] | None,
    num_classes: int | None,
    preprocessing: str | Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
) -> tuple[Style, _InputPlan, dict[str, Any]]:
    """Check ``build``'s arguments against the spec: the style, the input plan, the kwargs."""
    chosen_style = _check_style(spec, style)
    builder_kwargs = _check_kwargs(spec, kwargs)
    if num_classes is not None:
        builder_kwargs["num_classes"] = _check_num_classes(spec, num_classes)
    plan = _plan_input(spec, input_shape, _check_preprocessing(spec, preprocessing))
    if _accepts(spec.builder, "input_shape"):
        builder_kwargs["input_shape"] = plan.stack_shape
    return chosen_style, plan, builder_kwargs


def _call_builder(spec: ModelSpec, builder_kwargs: Mapping[str, Any]) -> Any:
    """Call the model's builder; an error it raises names the model."""
    try:
        return spec.builder(**builder_kwargs)
    except ModelConfigError:
        raise
    except (ValueError, TypeError) as exc:  # e.g. Keras rejecting an activation name
        raise ModelConfigError(f"{spec.name}: {_keras_message(exc)}") from exc


def _front_layers(plan: _InputPlan) -> list[Any]:
    """The layers ``build`` puts before the builder's: normalization, an input adapter."""
    from kerasdigits.transforms import layers as kd_layers

    front: list[Any] = []
    if plan.normalize is not None:
        front.append(kd_layers.Normalize(**plan.normalize, name="normalize"))
    if plan.adapter == "flatten":
        front.append(kd_layers.Flatten(name="flatten_input"))
    elif plan.adapter == "add_channel":
        front.append(kd_layers.AddChannel(name="add_channel"))
    return front


def _finish(
    keras: Any,
    spec: ModelSpec,
    style: Style,
    plan: _InputPlan,
    made: Any,
    shape_requested: bool,
    num_classes: int | None,
) -> Any:
    """Assemble the model from what the builder made, and check its outputs."""
    try:
        model = _assemble(keras, spec, style, plan, _front_layers(plan), made, shape_requested)
    except ModelConfigError:
        raise
    except (ValueError, TypeError) as exc:  # e.g. a pooling layer on a too-small input
        raise ModelConfigError(
            f"{spec.name}: cannot be built with input_shape {plan.shape}"
            f"{'' if num_classes is None else f' and num_classes={num_classes}'}: "
            + _keras_message(exc)
        ) from exc
    _check_no_empty_outputs(spec, plan, model)
    _check_outputs(spec, model, num_classes)
    return model


def _assemble(
    keras: Any,
    spec: ModelSpec,
    style: Style,
    plan: _InputPlan,
    front: list[Any],
    made: Any,
    shape_requested: bool,
) -> Any:
    """Turn what the builder returned into the model; raise on what it cannot be."""
    if isinstance(made, type):  # keras.Sequential instead of keras.Sequential([...])
        raise _bad_return(spec, f"the class {made.__qualname__} itself, not an instance of it")
    if isinstance(made, keras.Model):
        return _assemble_model(keras, spec, style, plan, front, made, shape_requested)
    if isinstance(made, keras.layers.Layer):  # one layer: a one-layer stack
        made = [made]
    if isinstance(made, list | tuple):
        if not made:
            raise _bad_return(spec, f"an empty {type(made).__name__}")
        for index, item in enumerate(made):
            _check_stack_item(keras, spec, item, index)
        return _assemble_stack(keras, spec, style, plan, front, list(made))
    if not callable(made):
        raise _bad_return(spec, _describe(made))
    if style == "sequential":
        raise ModelConfigError(
            f"{spec.name}: the builder returns a graph function, which only the functional "
            "style can assemble; register it with styles=('functional',)"
        )
    return _assemble_graph(keras, spec, plan, front, made)


def _assemble_stack(
    keras: Any, spec: ModelSpec, style: Style, plan: _InputPlan, front: list[Any],
    stack: list[Any],
) -> Any:
    inputs = keras.Input(shape=plan.shape, dtype=plan.dtype, name=INPUT_NAME)
    layers = [*front, *stack]
    if style == "sequential":
        return keras.Sequential([inputs, *layers], name=spec.name)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name=spec.name)


def _assemble_graph(
    keras: Any, spec: ModelSpec, plan: _InputPlan, front: list[Any], graph: Callable[..., Any]
) -> Any:
    inputs = keras.Input(shape=plan.shape, dtype=plan.dtype, name=INPUT_NAME)
    x = inputs
    for layer in front:
        x = layer(x)
    outputs = graph(x)
    tensors = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    if not tensors or not all(isinstance(t, keras.KerasTensor) for t in tensors):
        raise ModelConfigError(
            f"{spec.name}: the graph function that the builder {spec.source} returned must "
            f"return the output tensor; it returned {_describe(outputs)}"
        )
    return keras.Model(inputs, outputs, name=spec.name)


def _assemble_model(
    keras: Any,
    spec: ModelSpec,
    style: Style,
    plan: _InputPlan,
    front: list[Any],
    model: Any,
    shape_requested: bool,
) -> Any:
    """Use a finished ``keras.Model`` from the builder: as is, re-assembled or wrapped."""
    inputs = _defined_inputs(model)
    if inputs is not None:
        if len(inputs) != 1:
            raise ModelConfigError(
                f"{spec.name}: the builder {spec.source} returned a model with {len(inputs)} "
                "inputs; build() gives a model one input, the images"
            )
        own = tuple(inputs[0].shape[1:])
        if not _fits(own, plan.stack_shape):
            raise _input_mismatch(spec, own, plan, shape_requested)
        if (
            own == plan.shape
            and not front
            and (style == "sequential") == isinstance(model, keras.Sequential)
        ):  # nothing to add: the builder's own model
            model.name = spec.name
            return model
    if isinstance(model, keras.Sequential):
        if not model.layers:
            raise _bad_return(spec, "an empty keras.Sequential")
        return _assemble_stack(keras, spec, style, plan, front, list(model.layers))
    if style == "sequential":
        kind = "a functional" if inputs is not None else f"a {type(model).__name__}"
        raise ModelConfigError(
            f"{spec.name}: the builder {spec.source} returns {kind} keras.Model, not a "
            "keras.Sequential, so build() can only return it in the functional style; "
            "register it with styles=('functional',)"
        )
    return _assemble_graph(keras, spec, plan, front, model)


def _defined_inputs(model: Any) -> list[Any] | None:
    """The inputs of a built functional or sequential model; ``None`` if it has none yet."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):  # an unbuilt Sequential, a subclassed model
        return None
    return list(inputs) if inputs else None


def _fits(own: tuple[Any, ...], wanted: tuple[int, ...]) -> bool:
    if len(own) != len(wanted):
        return False
    return all(o is None or o == w for o, w in zip(own, wanted, strict=True))


def _input_mismatch(
    spec: ModelSpec, own: tuple[Any, ...], plan: _InputPlan, shape_requested: bool
) -> ModelConfigError:
    returned = f"the builder {spec.source} returned a model taking input shape {own}"
    if shape_requested and not _accepts(spec.builder, "input_shape"):
        return ModelArgumentError(
            f"{spec.name}: {returned} and does not take input_shape, so it cannot be built "
            f"with input_shape {plan.shape}; add an input_shape parameter to the builder"
        )
    if _accepts(spec.builder, "input_shape"):
        return ModelConfigError(
            f"{spec.name}: {returned}, but was asked for input_shape={plan.stack_shape}"
        )
    hint = ""
    for kind, native in NATIVE_INPUT_SHAPES.items():
        if kind != spec.input_kind and own == native:
            hint = f"; register it with input_kind={kind!r}"
    return ModelConfigError(
        f"{spec.name}: {returned}, but input_kind={spec.input_kind!r} models are fed "
        f"{plan.stack_shape}{hint}"
    )


def _check_stack_item(keras: Any, spec: ModelSpec, item: Any, index: int) -> None:
    if isinstance(item, keras.layers.InputLayer | keras.KerasTensor):
        raise ModelConfigError(
            f"{spec.name}: the builder {spec.source} returned a list with an input at index "
            f"{index}; leave the input out, build() adds it"
        )
    if not isinstance(item, keras.layers.Layer):
        raise ModelConfigError(
            f"{spec.name}: the builder {spec.source} must return Keras layers, got "
            f"{_describe(item)} at index {index} of its list"
        )


def _bad_return(spec: ModelSpec, what: str) -> ModelConfigError:
    return ModelConfigError(
        f"{spec.name}: the builder {spec.source} must return a keras.Model, a list of Keras "
        f"layers or a function of the input tensor; it returned {what}"
    )


def _describe(value: object) -> str:
    """``None``, or a short one-line repr with the type: ``3 (int)``."""
    if value is None:
        return "None"
    text = " ".join(repr(value).split())
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__qualname__})"


def _check_outputs(spec: ModelSpec, model: Any, num_classes: int | None) -> None:
    outputs = list(model.outputs)
    if len(outputs) != 1:
        raise ModelConfigError(
            f"{spec.name}: the builder {spec.source} made a model with {len(outputs)} outputs; "
            "a classifier has one, the class probabilities"
        )
    if num_classes is None:  # the builder's own default, if it has one
        parameter = inspect.signature(spec.builder).parameters.get("num_classes")
        if parameter is not None and _validate.is_int(parameter.default):
            num_classes = int(parameter.default)
    shape = tuple(outputs[0].shape[1:])
    if num_classes is not None and shape != (num_classes,):
        raise ModelConfigError(
            f"{spec.name}: built with num_classes={num_classes}, the model outputs shape "
            f"{shape}, not ({num_classes},); the builder {spec.source} must size its head "
            "with num_classes"
        )


def _check_style(spec: ModelSpec, requested: str | None) -> Style:
    if requested is None:
        return spec.default_style
    style = _validate.choice(requested, "style", STYLES, error=model_error(spec.name))
    if style not in spec.styles:
        raise ModelConfigError(
            f"{spec.name} cannot be built in the {style!r} style; it supports {spec.styles}"
        )
    return style


def _accepts(builder: Callable[..., Any], parameter: str) -> bool:
    # Only an explicitly named parameter: a builder's **kwargs may forward to Keras.
    return parameter in inspect.signature(builder).parameters


def _check_kwargs(spec: ModelSpec, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    params = inspect.signature(spec.builder).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    valid = list(spec.parameters)
    for key in kwargs:
        if key not in valid and not takes_any:
            listing = ", ".join(valid) if valid else "none (the model has no options)"
            raise ModelArgumentError(
                f"{spec.name} got an unexpected argument {key!r}. Valid arguments: {listing}."
                + did_you_mean(key, valid)
            )
    missing = [
        p for p, default in spec.parameters.items()
        if default is inspect.Parameter.empty and p not in kwargs
    ]
    if missing:
        raise ModelArgumentError(
            f"{spec.name} needs the argument(s) {', '.join(map(repr, missing))}"
        )
    return dict(kwargs)


def _check_num_classes(spec: ModelSpec, num_classes: object) -> int:
    if not _accepts(spec.builder, "num_classes"):
        raise ModelArgumentError(
            f"{spec.name} has a fixed number of classes; it does not take num_classes"
        )
    return _validate.integer(num_classes, "num_classes", minimum=2,
                             error=model_error(spec.name))


def _check_preprocessing(
    spec: ModelSpec, preprocessing: str | Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    if preprocessing is None:
        return None
    if isinstance(preprocessing, str):
        mode = _validate.choice(preprocessing, "preprocessing", PREPROCESSING, error=model_error(
            spec.name, " It may also be a mapping of Normalize arguments, or None."))
        return PREPROCESSING[mode]
    if isinstance(preprocessing, Mapping):
        from kerasdigits.transforms import layers as kd_layers

        try:  # validate now, with a message naming the model
            kd_layers.Normalize(**preprocessing)
        except (TypeError, ValueError) as exc:
            raise ModelConfigError(f"{spec.name}: invalid preprocessing: {exc}") from exc
        return dict(preprocessing)
    raise ModelConfigError(
        f"{spec.name}: preprocessing must be a string, a mapping or None, got "
        f"{preprocessing!r}"
    )


def _plan_input(
    spec: ModelSpec, input_shape: Sequence[int] | None, normalize: Mapping[str, Any] | None
) -> _InputPlan:
    dtype = "float32" if normalize is None else "uint8"
    if input_shape is None:
        shape = spec.input_shape if normalize is None else (28, 28)
    else:
        shape = _check_shape(spec, input_shape)
    if spec.input_kind == "flat":
        adapter = "flatten" if len(shape) > 1 else None
        return _InputPlan(shape, dtype, normalize, adapter, (math.prod(shape),))
    if len(shape) == 1:
        raise ModelConfigError(
            f"{spec.name} takes images: input_shape must be (height, width) or "
            f"(height, width, channels), got {shape}"
        )
    if len(shape) == 2:
        return _InputPlan(shape, dtype, normalize, "add_channel", (*shape, 1))
    return _InputPlan(shape, dtype, normalize, None, shape)


def _check_shape(spec: ModelSpec, input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if not (1 <= len(shape) <= 3 and all(_validate.is_int(d) and d > 0 for d in shape)):
        raise ModelConfigError(
            f"{spec.name}: input_shape must be a tuple of 1 to 3 positive ints without the "
            f"batch axis, such as (28, 28) or (28, 28, 1); got {input_shape!r}"
        )
    return tuple(int(d) for d in shape)


def _keras_message(exc: BaseException) -> str:
    """Return a Keras error message on one line, without colour codes and argument dumps."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    text = text.split("Arguments received by")[0]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _check_no_empty_outputs(spec: ModelSpec, plan: _InputPlan, model: Any) -> None:
    # A pooling layer on a too-small input can yield a zero-sized axis without an error.
    for layer in model.layers:
        try:
            output = layer.output
        except (AttributeError, ValueError):  # a layer without a single output
            continue
        shape = getattr(output, "shape", None)
        if shape is not None and any(d == 0 for d in shape[1:]):
            raise ModelConfigError(
                f"{spec.name}: input_shape {plan.shape} is too small: layer {layer.name!r} "
                f"would output shape {tuple(shape)}"
            )
