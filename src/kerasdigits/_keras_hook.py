"""Register kerasdigits' Keras classes as soon as Keras is imported, without importing it.

A model saved by kerasdigits may use a few kerasdigits layers (``Normalize``,
``SpaceToDepth``, ``RandomShift``). Keras finds such classes only once the module defining
them has run, yet ``import kerasdigits`` must not import Keras (it takes seconds). So
``import kerasdigits`` calls :func:`install`: if Keras is already imported the classes are
registered at once; otherwise a one-shot import hook registers them right after ``keras``
finishes importing. Either way ``import kerasdigits`` followed by plain
``keras.saving.load_model("model.keras")`` works, in any order of imports.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["install"]

_LOCK = threading.Lock()
_done = False


def _register() -> None:
    global _done
    with _LOCK:
        if _done:
            return
        _done = True
    try:
        from kerasdigits.training._io import register_serializables

        register_serializables()
    except Exception as exc:  # never break the user's `import keras`
        from kerasdigits._errors import KerasDigitsWarning

        warnings.warn(f"kerasdigits could not register its Keras layers ({exc}); load "
                      "models with kerasdigits.load_model", KerasDigitsWarning, stacklevel=2)


class _Loader(importlib.abc.Loader):
    """Runs the real ``keras`` loader, then registers kerasdigits' classes."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _register()

    def __getattr__(self, name: str) -> Any:  # e.g. get_resource_reader, is_package
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``keras`` with the other finders and wraps its loader (once)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras":
            return None
        _uninstall()
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


_FINDER = _Finder()


def _uninstall() -> None:
    with _LOCK:
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)


def install() -> None:
    """Register kerasdigits' Keras classes now if Keras is imported, else when it is."""
    keras = sys.modules.get("keras")
    if keras is not None and getattr(keras, "saving", None) is not None:
        _register()
        return
    with _LOCK:
        if _done or _FINDER in sys.meta_path:
            return
        sys.meta_path.insert(0, _FINDER)
