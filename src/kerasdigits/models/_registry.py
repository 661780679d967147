"""The model registry: :func:`register_model`, :func:`list_models`, :func:`get_model_spec`.

In the style of torchvision's and timm's registries: a decorator records a builder function
under a name, with metadata, in a process-wide table. Plugins (entry points in the
``kerasdigits.models`` group) are loaded into the table on first use by the shared loader of
:mod:`kerasdigits._plugins`; see :mod:`kerasdigits.models._plugins`.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from kerasdigits import _plugins, _validate
from kerasdigits.models._errors import DuplicateModelError, UnknownModelError
from kerasdigits.models._spec import (
    INPUT_KINDS,
    STYLES,
    CompileSettings,
    InputKind,
    ModelSpec,
    Recipe,
    Style,
)

__all__ = ["ENTRY_POINT_GROUP", "get_model_spec", "list_models", "register_model"]

F = TypeVar("F", bound=Callable[..., Any])

#: The entry-point group model plugins register under.
ENTRY_POINT_GROUP = "kerasdigits.models"

_MODELS: dict[str, ModelSpec] = {}
_LOCK = threading.RLock()
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@overload
def register_model(name: F, /) -> F: ...


@overload
def register_model(
    name: str | None = None,
    *,
    styles: Iterable[Style] = STYLES,
    default_style: Style | None = None,
    tags: Iterable[str] = (),
    description: str | None = None,
    input_kind: InputKind = "image",
    compile_settings: CompileSettings | None = None,
    recipe: Recipe | None = None,
    reference_accuracy: Mapping[str, float] | None = None,
    reference: str = "",
    params: int | None = None,
    overwrite: bool = False,
) -> Callable[[F], F]: ...


def register_model(
    name: str | Callable[..., Any] | None = None,
    *,
    styles: Iterable[Style] = STYLES,
    default_style: Style | None = None,
    tags: Iterable[str] = (),
    description: str | None = None,
    input_kind: InputKind = "image",
    compile_settings: CompileSettings | None = None,
    recipe: Recipe | None = None,
    reference_accuracy: Mapping[str, float] | None = None,
    reference: str = "",
    params: int | None = None,
    overwrite: bool = False,
) -> Any:
    """Register a model builder under a name (a decorator).

    The builder is called by :func:`~kerasdigits.models.build` with keyword arguments only
    and returns one of:

    * the model's layers **without** an input layer, as a list (a "stack"), which ``build``
      assembles into a ``keras.Sequential`` or chains through the functional API, so both
      styles share one definition and one weights layout;
    * a ``keras.Sequential`` (with or without a ``keras.Input``): its layers are the stack,
      in either style;
    * a function ``outputs = f(inputs)``, for a model that needs a graph (skip connections);
    * any other finished ``keras.Model``, functional or subclassed, as torchvision and timm
      builders return. ``build`` returns it as is when it already takes the input ``build``
      would give it (and there is no ``preprocessing``), else calls it as one layer after
      the input and the preprocessing (``Input -> Normalize -> model``).

    The last two build in the functional style only: register them with
    ``styles=("functional",)``, so that :attr:`ModelSpec.styles` tells the truth
    (``build`` refuses the ``"sequential"`` style for them, saying so). A finished model must
    take the input of its ``input_kind`` (``(784,)`` or ``(28, 28, 1)``), have one output
    sized ``num_classes``, and be a new object on each call; ``build`` renames it and, by
    default, compiles it with ``compile_settings``.

    Builders should import Keras inside their body, so that registering and listing models
    stays free of TensorFlow. They may take ``num_classes`` (the size of the softmax head;
    without it the model has a fixed head) and ``input_shape`` (the shape their first layer
    receives: ``(n,)`` for flat models, ``(h, w, c)`` for image models), both filled in by
    ``build``; any other keyword argument is the model's own option, passed through from
    ``build(name, **kwargs)``. A builder returning a finished model must take
    ``input_shape`` to be built for another input size.

    Args:
        name: The model name (letters, digits, ``_``, ``.``, ``-``); defaults to the builder's
            ``__name__``. ``@register_model`` also works without parentheses.
        styles: The styles the model can be built in: both for a stack or a
            ``keras.Sequential``; ``("functional",)`` for a graph function or another
            ``keras.Model``.
        default_style: The style ``build`` uses by default; defaults to ``styles[0]``.
        tags: Free-form tags for :func:`list_models` (``"mlp"``, ``"convnet"``, ``"fast"``).
        description: One line; defaults to the first line of the builder's docstring.
        input_kind: ``"flat"`` (the first layer takes ``(784,)``) or ``"image"``
            (``(28, 28, 1)``).
        compile_settings: Default optimizer, loss and metrics (default: Adam, sparse
            categorical cross-entropy, accuracy).
        recipe: Default training recipe.
        reference_accuracy: Test accuracy reached with the recipe, by dataset name.
        reference: Where that figure comes from.
        params: The number of parameters of the model built with its defaults (its own
            ``num_classes``, the native input, no preprocessing), as the builder declares
            it, so that ``kerasdigits models`` lists it without building the model;
            ``None``: not declared (the command builds the model to count).
        overwrite: Replace an existing model of the same name instead of raising. A plugin
            (loading through its entry point) cannot replace a built-in model: the built-in
            is kept, with a :class:`~kerasdigits.models.PluginWarning` naming the plugin's
            distribution.

    Returns:
        The decorator, which returns the builder unchanged.

    Raises:
        DuplicateModelError: The name is taken and ``overwrite`` is false; the message names
            both registrants.
        ValueError: An invalid name, style, input kind, tag or parameter count.

    Example:
        >>> from kerasdigits.models import register_model, list_models
        >>> @register_model("doc_logreg", input_kind="flat", tags=("doc",))
        ... def doc_logreg(*, num_classes: int = 10) -> list:
        ...     '''Multinomial logistic regression.'''
        ...     import keras
        ...     return [keras.layers.Dense(num_classes, activation="softmax", name="output")]
        >>> list_models(tags="doc")
        ['doc_logreg']
    """
    if callable(name):
        return register_model()(name)
    style_tuple, chosen_default = _check_styles(styles, default_style)
    kind = _validate.choice(input_kind, "input_kind", INPUT_KINDS)
    tag_tuple = _check_tags(tags)

    def decorator(builder: F) -> F:
        spec = ModelSpec(
            name=_check_name(name, builder),
            builder=builder,
            description=description if description is not None else _first_line(builder),
            tags=tag_tuple,
            styles=style_tuple,
            default_style=chosen_default,
            input_kind=kind,
            compile_settings=compile_settings or CompileSettings(),
            recipe=recipe or Recipe(),
            reference_accuracy=dict(reference_accuracy or {}),
            reference=reference,
            registered_by=_plugins.registrant(builder),
            params=params,
        )
        _add(spec, overwrite=overwrite)
        return builder

    return decorator


def _check_styles(
    styles: Iterable[Style], default_style: Style | None
) -> tuple[tuple[Style, ...], Style]:
    """Return the valid ``styles`` as a tuple, and the default style."""
    style_tuple = tuple(_validate.choice(style, "style", STYLES) for style in styles)
    if not style_tuple:
        raise ValueError("styles must name at least one style")
    if default_style is None:
        return style_tuple, style_tuple[0]
    chosen = _validate.choice(default_style, "default_style", STYLES)
    if chosen not in style_tuple:
        raise ValueError(f"default_style {chosen!r} is not one of styles {style_tuple}")
    return style_tuple, chosen


def _check_tags(tags: str | Iterable[str]) -> tuple[str, ...]:
    """Return the tags as a tuple without repeats; one string is one tag."""
    tag_tuple = tuple(dict.fromkeys((tags,) if isinstance(tags, str) else tags))
    for tag in tag_tuple:
        if not isinstance(tag, str) or not tag or tag != tag.strip():
            raise ValueError(f"tags must be non-empty strings without surrounding blanks: {tag!r}")
    return tag_tuple


def _check_name(name: str | None, builder: Callable[..., Any]) -> str:
    """Return the model's name: ``name``, else the builder's ``__name__``, if valid."""
    if not callable(builder):
        raise TypeError(f"register_model decorates a function, got {builder!r}")
    model_name = name if name is not None else getattr(builder, "__name__", "")
    if not isinstance(model_name, str) or not _NAME.match(model_name):
        raise ValueError(
            f"invalid model name {model_name!r}: use letters, digits, '_', '.' and '-'"
        )
    return model_name


def _first_line(builder: Callable[..., Any]) -> str:
    return (builder.__doc__ or "").strip().split("\n")[0]


def _add(spec: ModelSpec, *, overwrite: bool) -> None:
    with _LOCK:
        old = _MODELS.get(spec.name)
        if old is None:
            _MODELS[spec.name] = spec
            return
        if not overwrite:
            raise DuplicateModelError(
                f"model {spec.name!r} is already registered by {old.registered_by!r} "
                f"({old.source}); {spec.registered_by!r} ({spec.source}) tried to register "
                "it again. Choose another name, or pass overwrite=True to replace it."
            )
        if not _plugins.refuse_builtin_replacement(
            "model", spec.name, old.registered_by, call="register_model", source=spec.source,
            stacklevel=3,  # _add, the decorator, the plugin's register_model line
        ):
            _MODELS[spec.name] = spec


def list_models(
    pattern: str | Iterable[str] | None = None,
    *,
    tags: str | Iterable[str] | None = None,
    style: Style | None = None,
) -> list[str]:
    """Return the registered model names, sorted.

    Loads the plugins on first use (see :mod:`kerasdigits.models`). Does not import Keras.

    Args:
        pattern: An :mod:`fnmatch` pattern (``"mlp*"``), or several (a name matching any is
            listed); case-insensitive.
        tags: Only models carrying this tag, or all of these tags.
        style: Only models that can be built in this style.

    Returns:
        The matching names, sorted.

    Example:
        >>> from kerasdigits.models import list_models
        >>> list_models("mlp*")
        ['mlp256', 'mlp2x512', 'mlp512']
        >>> "lenet5" in list_models(tags="convnet", style="functional")
        True
    """
    _PLUGINS.load()
    patterns = [pattern] if isinstance(pattern, str) else list(pattern or [])
    wanted_tags = {tags} if isinstance(tags, str) else set(tags or ())
    if style is not None:
        _validate.choice(style, "style", STYLES)
    with _LOCK:
        specs = list(_MODELS.values())
    names = []
    for spec in specs:
        if patterns and not any(
            fnmatch.fnmatchcase(spec.name.lower(), p.lower()) for p in patterns
        ):
            continue
        if not wanted_tags <= set(spec.tags):
            continue
        if style is not None and style not in spec.styles:
            continue
        names.append(spec.name)
    return sorted(names)


def get_model_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` registered under ``name``.

    Loads the plugins on first use. Does not import Keras.

    Args:
        name: A registered model name.

    Returns:
        The frozen spec.

    Raises:
        UnknownModelError: No such model (a ``KeyError``); the message suggests close names.

    Example:
        >>> from kerasdigits.models import get_model_spec
        >>> get_model_spec("convnet").input_shape
        (28, 28, 1)
    """
    _PLUGINS.load()
    with _LOCK:
        spec = _MODELS.get(name)
        if spec is None:
            raise UnknownModelError(str(name), list(_MODELS))
    return spec


# --- the plugins; hooks for the plugin loader and the tests ------------------------------


def _snapshot() -> dict[str, ModelSpec]:
    with _LOCK:
        return dict(_MODELS)


def _restore(snapshot: Mapping[str, ModelSpec]) -> None:
    with _LOCK:
        _MODELS.clear()
        _MODELS.update(snapshot)


#: Loads the ``kerasdigits.models`` entry points into the registry, once, on first use.
_PLUGINS = _plugins.PluginLoader(ENTRY_POINT_GROUP, "model", snapshot=_snapshot, restore=_restore)
