"""Entry-point plugins: the one loader that kerasdigits' registries share.

A third-party distribution adds to a registry by declaring entry points in the registry's
group (``kerasdigits.models`` for models, ``kerasdigits.datasets`` for datasets), in its
``pyproject.toml``::

    [project.entry-points."kerasdigits.models"]
    my_models = "my_package.models"            # a module that registers on import
    more_models = "my_package.zoo:register"    # or a callable, called with no arguments

A registry owns one :class:`PluginLoader` for its group and calls :meth:`PluginLoader.load`
before every lookup. The loader:

* loads every entry point of the group once, lazily, on first use, sorted by distribution
  and entry-point name; a second thread asking meanwhile waits until loading has finished,
  so that it never sees a half-loaded registry, while a plugin that uses its registry while
  it loads (the same thread) sees what is registered so far;
* records which distribution is loading (:func:`current_distribution`), so that the registry
  can say who registered an entry (:func:`registrant`) and can refuse a plugin replacing a
  built-in (:func:`refuse_builtin_replacement`);
* isolates a plugin that fails to load: the registry is rolled back to what it held before
  that plugin, a :class:`PluginWarning` names the distribution, the entry point and the
  error, and the other plugins still load;
* does nothing while ``KERASDIGITS_DISABLE_PLUGINS`` is set (``1``, ``true``, ``yes`` or
  ``on``), and loads once it is unset.

Nothing here imports a registry, so that the registries can import it (no import cycle).
"""

from __future__ import annotations

import contextvars
import functools
import importlib.metadata
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Generic, TypeVar

from kerasdigits._errors import KerasDigitsWarning

__all__ = [
    "BUILTIN",
    "ENV_DISABLE_PLUGINS",
    "PluginLoader",
    "PluginWarning",
    "current_distribution",
    "plugins_disabled",
    "refuse_builtin_replacement",
    "registrant",
]

#: Set to ``1`` (or ``true``/``yes``/``on``) to turn plugin loading off, for every group.
ENV_DISABLE_PLUGINS = "KERASDIGITS_DISABLE_PLUGINS"
#: The registrant of everything kerasdigits registers itself (the built-ins).
BUILTIN = "kerasdigits"

S = TypeVar("S")

_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kerasdigits_plugin_distribution", default=None
)


class PluginWarning(KerasDigitsWarning):
    """A plugin (an entry point in a kerasdigits group) failed to load or was refused.

    Raised as a warning when a plugin of the ``kerasdigits.models`` or
    ``kerasdigits.datasets`` group fails to load (the message names the distribution, the
    entry point and the error; the other plugins still load), or when it tries to replace a
    built-in model or dataset (the built-in is kept).
    """


def plugins_disabled() -> bool:
    """Return whether ``$KERASDIGITS_DISABLE_PLUGINS`` turns plugin loading off."""
    value = os.environ.get(ENV_DISABLE_PLUGINS, "").strip().lower()
    return value in {"1", "true", "yes", "on"}


def current_distribution() -> str | None:
    """Return the distribution whose plugin is being loaded (in this context), or ``None``."""
    return _CURRENT.get()


def registrant(obj: object) -> str:
    """Return who registers ``obj`` (a builder function, a class...), for the registry.

    Returns:
        The distribution of the plugin being loaded; else :data:`BUILTIN` for kerasdigits'
        own code; else the distribution providing the top-level package of ``obj``'s module;
        else that module's name (code that is not installed, such as a script).
    """
    current = current_distribution()
    if current is not None:
        return current
    module = getattr(obj, "__module__", None) or "__main__"
    top = module.partition(".")[0]
    if top == BUILTIN:
        return BUILTIN
    dists = _packages_distributions().get(top)
    return dists[0] if dists else module


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def refuse_builtin_replacement(
    kind: str, name: str, old_registrant: str, *, call: str, source: str, stacklevel: int = 2
) -> bool:
    """Refuse, with a :class:`PluginWarning`, a plugin replacing a built-in entry.

    An installed package must not change what a built-in name means behind the user's back;
    the user's own code may (it does not load as a plugin).

    Args:
        kind: What the registry holds (``"model"``).
        name: The name being registered again.
        old_registrant: Who registered the entry now under ``name``.
        call: The registering function, for the message (``"register_model"``).
        source: Where the new entry is defined, for the message.
        stacklevel: Of the warning, counted from the caller of this function.

    Returns:
        Whether the replacement is refused: a plugin is loading and the entry is built in.
    """
    plugin = current_distribution()
    if plugin is None or old_registrant != BUILTIN:
        return False
    warnings.warn(
        PluginWarning(
            f"kerasdigits: the {kind} plugin of distribution {plugin!r} tried to replace the "
            f"built-in {kind} {name!r} ({call}(..., overwrite=True) in {source}); plugins "
            f"cannot replace built-in {kind}s, so the built-in is kept. Register the "
            f"plugin's {kind} under another name."
        ),
        stacklevel=stacklevel + 1,
    )
    return True


class PluginLoader(Generic[S]):
    """Loads the entry points of one group into one registry, once, thread-safely.

    Args:
        group: The entry-point group (``"kerasdigits.models"``).
        kind: What the plugins register, for the warnings (``"model"``).
        snapshot: Returns a copy of the registry's contents.
        restore: Puts a snapshot back (rolls back a plugin that failed to load).
    """

    def __init__(
        self,
        group: str,
        kind: str,
        *,
        snapshot: Callable[[], S],
        restore: Callable[[S], None],
    ) -> None:
        self.group = group
        self.kind = kind
        self._snapshot = snapshot
        self._restore = restore
        self._lock = threading.RLock()
        self._loaded = False
        self._loading = False  # only ever true for the thread holding the lock

    @property
    def loaded(self) -> bool:
        """Whether the plugins were loaded (every one of them, or the attempt is over)."""
        return self._loaded

    def load(self) -> None:
        """Load every plugin of the group, once; later calls return at once.

        Does nothing while ``$KERASDIGITS_DISABLE_PLUGINS`` is set (and that does not count
        as the one load). Another thread calling meanwhile waits until loading is over; a
        plugin using its registry while it loads returns at once, seeing the entries
        registered so far.
        """
        if self._loaded or plugins_disabled():
            return
        with self._lock:
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                entry_points = importlib.metadata.entry_points(group=self.group)
                for entry_point in sorted(entry_points, key=_sort_key):
                    self._load_one(entry_point)
            finally:
                # Only now: a thread that sees it set sees every plugin's entries.
                self._loaded = True
                self._loading = False

    def reset(self) -> None:
        """Forget that the plugins were loaded, so the next use loads them again (tests)."""
        with self._lock:
            self._loaded = False

    def _load_one(self, entry_point: importlib.metadata.EntryPoint) -> None:
        distribution = _distribution(entry_point)
        before = self._snapshot()
        token = _CURRENT.set(distribution)
        try:
            target: Any = entry_point.load()
            if callable(target) and not isinstance(target, ModuleType):
                target()
        except Exception as exc:
            self._restore(before)
            warnings.warn(
                PluginWarning(
                    f"kerasdigits: skipped the {self.kind} plugin {entry_point.name!r} "
                    f"({entry_point.value}) of distribution {distribution!r}: it failed to "
                    f"load with {type(exc).__name__}: {exc}. The other plugins are "
                    f"unaffected; set {ENV_DISABLE_PLUGINS}=1 to turn plugin loading off."
                ),
                stacklevel=4,  # _load_one, load, the registry function, its caller
            )
        finally:
            _CURRENT.reset(token)


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    name = dist.metadata["Name"] if dist is not None else None
    return str(name) if name else "<unknown distribution>"


def _sort_key(entry_point: importlib.metadata.EntryPoint) -> tuple[str, str]:
    return _distribution(entry_point), entry_point.name
