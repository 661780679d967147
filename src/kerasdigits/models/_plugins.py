"""Model plugins: entry points in the ``kerasdigits.models`` group.

A third-party distribution declares, in its ``pyproject.toml``::

    [project.entry-points."kerasdigits.models"]
    my_models = "my_package.models"            # a module that registers on import
    more_models = "my_package.zoo:register"    # or a callable, called with no arguments

The registry loads every such entry point once, lazily, the first time it is used
(:func:`~kerasdigits.models.list_models`, :func:`~kerasdigits.models.get_model_spec`,
:func:`~kerasdigits.models.build`); a thread using the registry while another loads the
plugins waits until they are all loaded. Models registered while a plugin loads are recorded
as registered by the plugin's distribution. A plugin that fails to load is skipped with a
:class:`~kerasdigits.models.PluginWarning` naming the distribution and the error, and any
models it registered before failing are removed again; the other plugins still load. A plugin
cannot replace a built-in model, even with ``register_model(..., overwrite=True)``: the
built-in is kept, with a :class:`~kerasdigits.models.PluginWarning` naming the distribution,
and the plugin's other models load (code of the user's own may still replace a built-in).

Set ``KERASDIGITS_DISABLE_PLUGINS=1`` to turn plugin loading off.

The loading itself is :class:`kerasdigits._plugins.PluginLoader`, shared with the other
registries; this module names the model registry's loader.
"""

from __future__ import annotations

from kerasdigits._plugins import ENV_DISABLE_PLUGINS, current_distribution, plugins_disabled
from kerasdigits.models._registry import _PLUGINS, ENTRY_POINT_GROUP

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_DISABLE_PLUGINS",
    "current_distribution",
    "load_plugins",
    "plugins_disabled",
]


def load_plugins() -> None:
    """Load every model plugin, once (later calls return at once).

    Does nothing while ``$KERASDIGITS_DISABLE_PLUGINS`` is set (and does not count as the
    one load, so plugins load once it is unset). A plugin that uses the registry while it is
    being loaded sees the models registered so far; another thread waits until loading is
    over.
    """
    _PLUGINS.load()


def _reset_for_tests() -> None:
    """Forget that the plugins were loaded, so the next registry use loads them again."""
    _PLUGINS.reset()
