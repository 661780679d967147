"""The model registry and zoo: ``build("convnet")`` and friends.

* :func:`build` turns a registered name into a ``keras.Sequential`` or functional
  ``keras.Model``, optionally taking raw ``uint8`` pixels (``preprocessing="unit"``), and
  compiles it with the model's default settings.
* :func:`list_models` and :func:`get_model_spec` tell what is registered: a frozen
  :class:`ModelSpec` per model, with its :class:`CompileSettings`, training :class:`Recipe`
  and reference accuracy.
* :func:`register_model` adds a model. Third-party packages add theirs through the
  ``kerasdigits.models`` entry-point group, loaded on first use of the registry (set
  ``KERASDIGITS_DISABLE_PLUGINS=1`` to turn that off); a plugin that fails to load gives a
  :class:`PluginWarning`.

Importing this package, listing models and reading specs do not import TensorFlow or Keras;
:func:`build` does.

Example:
    >>> from kerasdigits.models import build, list_models
    >>> list_models(tags="fast")
    ['fast_convnet', 'fast_mlp']
    >>> build("lenet5", preprocessing="unit").count_params()
    61706
"""

from __future__ import annotations

from kerasdigits.models import zoo as _zoo  # noqa: F401  (registers the built-in models)
from kerasdigits.models._build import build
from kerasdigits.models._errors import (
    DuplicateModelError,
    ModelArgumentError,
    ModelConfigError,
    PluginWarning,
    UnknownModelError,
)
from kerasdigits.models._registry import get_model_spec, list_models, register_model
from kerasdigits.models._spec import CompileSettings, ModelSpec, Recipe

__all__ = [
    "CompileSettings",
    "DuplicateModelError",
    "ModelArgumentError",
    "ModelConfigError",
    "ModelSpec",
    "PluginWarning",
    "Recipe",
    "UnknownModelError",
    "build",
    "get_model_spec",
    "list_models",
    "register_model",
]
