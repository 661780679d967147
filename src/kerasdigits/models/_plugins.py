"""Model plugins: entry points in the ``kerasdigits.models`` group.

A third-party distribution declares, in its ``pyproject.toml``::

    [project.entry-points."kerasdigits.models"]
    my_models = "my_package.models"            # a module that registers on import
    more_models = "my_package.zoo:register"    # or a callable, called with no arguments

The registry loads every such entry point once, lazily, the first time it is used
(:func:`~kerasdigits.models.list_models`, :func:`~kerasdigits.models.get_model_spec`,
:func:`~kerasdigits.models.build`). Models registered while a plugin loads are recorded as
registered by the plugin's distribution. A plugin that fails to load is skipped with a
:class:`~kerasdigits.models.PluginWarning` naming the distribution and the error, and any
models it registered before failing are removed again; the other plugins still load. A plugin
cannot replace a built-in model, even with ``register_model(..., overwrite=True)``: the
built-in is kept, with a :class:`~kerasdigits.models.PluginWarning` naming the distribution,
and the plugin's other models load (code of the user's own may still replace a built-in).

Set ``KERASDIGITS_DISABLE_PLUGINS=1`` to turn plugin loading off.
"""

from __future__ import annotations

import contextvars
import importlib.metadata
import os
import threading
import warnings
from types import ModuleType

from kerasdigits.models._errors import PluginWarning

__all__ = ["ENTRY_POINT_GROUP", "ENV_DISABLE_PLUGINS", "load_plugins", "plugins_disabled"]

#: The entry-point group plugins register under.
ENTRY_POINT_GROUP = "kerasdigits.models"
#: Set to ``1`` (or ``true``/``yes``/``on``) to turn plugin loading off.
ENV_DISABLE_PLUGINS = "KERASDIGITS_DISABLE_PLUGINS"

_LOCK = threading.RLock()
_loaded = False
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kerasdigits_plugin_distribution", default=None
)


def plugins_disabled() -> bool:
    """Return whether ``$KERASDIGITS_DISABLE_PLUGINS`` turns plugin loading off."""
    value = os.environ.get(ENV_DISABLE_PLUGINS, "").strip().lower()
    return value in {"1", "true", "yes", "on"}


def current_distribution() -> str | None:
    """Return the distribution whose plugin is being loaded, or ``None``."""
    return _CURRENT.get()


def load_plugins() -> None:
    """Load every model plugin, once (later calls return at once).

    Does nothing while ``$KERASDIGITS_DISABLE_PLUGINS`` is set (and does not count as the
    one load, so plugins load once it is unset). A plugin that uses the registry while it is
    being loaded sees the models registered so far.
    """
    global _loaded
    if _loaded or plugins_disabled():
        return
    with _LOCK:
        if _loaded:
            return
        _loaded = True
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in sorted(entry_points, key=lambda ep: (_distribution(ep), ep.name)):
            _load(entry_point)


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    name = dist.metadata["Name"] if dist is not None else None
    return str(name) if name else "<unknown distribution>"


def _load(entry_point: importlib.metadata.EntryPoint) -> None:
    from kerasdigits.models import _registry

    distribution = _distribution(entry_point)
    before = _registry._snapshot()
    token = _CURRENT.set(distribution)
    try:
        target = entry_point.load()
        if callable(target) and not isinstance(target, ModuleType):
            target()
    except Exception as exc:
        _registry._restore(before)
        warnings.warn(
            PluginWarning(
                f"kerasdigits: skipped the model plugin {entry_point.name!r} "
                f"({entry_point.value}) of distribution {distribution!r}: it failed to load "
                f"with {type(exc).__name__}: {exc}. The other plugins are unaffected; set "
                f"{ENV_DISABLE_PLUGINS}=1 to turn plugin loading off."
            ),
            stacklevel=4,
        )
    finally:
        _CURRENT.reset(token)


def _reset_for_tests() -> None:
    """Forget that the plugins were loaded, so the next registry use loads them again."""
    global _loaded
    with _LOCK:
        _loaded = False
