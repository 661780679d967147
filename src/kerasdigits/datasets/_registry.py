"""The dataset registry: the built-in datasets, :func:`register_dataset`, and plugins.

The registry works as the model registry does (:mod:`kerasdigits.models`): a name is
registered once (a duplicate raises unless ``overwrite=True``), an unknown name gets a "did
you mean", and third-party distributions add datasets through the ``kerasdigits.datasets``
entry-point group, loaded lazily on first use by the loader the two registries share
(:class:`kerasdigits._plugins.PluginLoader`): a plugin that fails to load warns, naming its
distribution, and cannot replace a built-in dataset.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from kerasdigits import _plugins
from kerasdigits._errors import DatasetError
from kerasdigits._suggest import did_you_mean
from kerasdigits.datasets._catalog import DATASETS, DatasetInfo
from kerasdigits.datasets._dataset import Dataset

__all__ = [
    "ENTRY_POINT_GROUP",
    "dataset_info",
    "get_dataset_info",
    "list_datasets",
    "register_dataset",
]

#: The entry-point group of dataset plugins.
ENTRY_POINT_GROUP = "kerasdigits.datasets"

L = TypeVar("L", bound=Callable[..., Dataset])

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_LOCK = threading.RLock()


def _aliases() -> dict[str, str]:
    with _LOCK:
        return {
            alias.lower(): info.name
            for info in DATASETS.values()
            for alias in (info.name, *info.aliases)
        }


def _check_names(name: object, aliases: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    names = [name, *aliases]
    for value in names:
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(
                f"invalid dataset name {value!r}: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit"
            )
    return str(name), tuple(str(a) for a in aliases)


def _check_class_names(class_names: object, name: str) -> tuple[str, ...]:
    if isinstance(class_names, str) or not isinstance(class_names, Iterable):
        raise TypeError(
            f"register_dataset({name!r}): class_names must be a sequence of strings, got "
            f"{class_names!r}"
        )
    names = tuple(class_names)
    if not names or not all(isinstance(c, str) and c.strip() for c in names):
        raise ValueError(
            f"register_dataset({name!r}): class_names must be non-empty strings, got {names!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"register_dataset({name!r}): class_names has duplicates: {names!r}")
    return names


def _add(info: DatasetInfo, *, overwrite: bool) -> None:
    with _LOCK:
        taken = _aliases()
        clashes = [a for a in (info.name, *info.aliases) if a.lower() in taken]
        old = DATASETS.get(taken[clashes[0].lower()]) if clashes else None
        if old is None:
            DATASETS[info.name] = info
            return
        if not overwrite or old.name != info.name:
            hint = ("Choose another name, or pass overwrite=True to replace it."
                    if old.name == info.name else "Choose another name or alias.")
            raise DatasetError(
                f"dataset name {clashes[0]!r} is already taken by {old.name!r} (registered by "
                f"{old.registered_by!r}); {info.registered_by!r} tried to register it again. "
                + hint
            )
        source = getattr(info.loader, "__qualname__", repr(info.loader))
        if not _plugins.refuse_builtin_replacement(
            "dataset", info.name, old.registered_by, call="register_dataset", source=source,
            stacklevel=4,  # _add, _register, register_dataset, its caller
        ):
            DATASETS[info.name] = info


@overload
def register_dataset(
    name: str,
    *,
    loader: None = None,
    class_names: Iterable[str],
    title: str | None = None,
    description: str = "",
    license: str = "",
    aliases: Iterable[str] = (),
    overwrite: bool = False,
) -> Callable[[L], L]: ...


@overload
def register_dataset(
    name: str,
    *,
    loader: L,
    class_names: Iterable[str],
    title: str | None = None,
    description: str = "",
    license: str = "",
    aliases: Iterable[str] = (),
    overwrite: bool = False,
) -> L: ...


def register_dataset(
    name: str,
    *,
    loader: L | None = None,
    class_names: Iterable[str],
    title: str | None = None,
    description: str = "",
    license: str = "",
    aliases: Iterable[str] = (),
    overwrite: bool = False,
) -> L | Callable[[L], L]:
    """Register a dataset, so that :func:`load_dataset` and the CLI accept its name.

    ``loader`` is called by :func:`~kerasdigits.datasets.load_dataset` with those of the
    keyword arguments ``data_dir``, ``download``, ``verify``, ``mirrors``, ``timeout`` and
    ``progress`` that it accepts (all of them if it takes ``**kwargs``), and returns a
    :class:`~kerasdigits.datasets.Dataset` whose images are ``uint8`` ``(N, H, W)`` and whose
    class names are ``class_names``; :func:`load_dataset` checks that, renames the dataset
    to ``name`` and carves the validation split. Without ``loader``, ``register_dataset``
    is a decorator.

    A third-party package registers its datasets from an entry point of the
    ``kerasdigits.datasets`` group (a module that registers on import, or a function called
    with no arguments)::

        [project.entry-points."kerasdigits.datasets"]
        my_datasets = "my_package.datasets"

    Args:
        name: The dataset's name: letters, digits, ``_``, ``.`` and ``-``.
        loader: The function that loads it (see above).
        class_names: The class names, index = label.
        title: A human-readable title (default: ``name``).
        description: One sentence, for ``kerasdigits datasets`` and the docs.
        license: Attribution and license of the data.
        aliases: Other names accepted for it.
        overwrite: Replace a dataset already registered under ``name`` (never a built-in
            one from a plugin).

    Returns:
        ``loader``, or a decorator registering the function it decorates.

    Raises:
        DatasetError: The name or an alias is taken (and ``overwrite`` is false, or the alias
            belongs to another dataset).
        ValueError: Invalid name, alias or class names.
        TypeError: ``loader`` is not callable, or ``class_names`` not a sequence.

    Example:
        >>> import numpy as np
        >>> from kerasdigits.datasets import Dataset, DataSource, Split, register_dataset
        >>> @register_dataset("doc_blank", class_names=["blank", "full"])
        ... def load_blank() -> Dataset:
        ...     images = np.zeros((4, 28, 28), np.uint8)
        ...     images[2:] = 255
        ...     split = Split(images, np.array([0, 0, 1, 1], np.uint8))
        ...     return Dataset("doc_blank", split, None, split, ("blank", "full"),
        ...                    DataSource("memory", None))
        >>> from kerasdigits.datasets import load_dataset
        >>> load_dataset("doc_blank").class_names
        ('blank', 'full')
    """
    name, alias_tuple = _check_names(name, tuple(aliases))
    classes = _check_class_names(class_names, name)

    def register(function: L) -> L:
        if not callable(function):
            raise TypeError(f"register_dataset({name!r}): loader must be callable, got "
                            f"{function!r}")
        info = DatasetInfo(
            name=name, title=title or name, class_names=classes, description=description,
            license=license, aliases=alias_tuple, folder_names=(name,), loader=function,
            registered_by=_plugins.registrant(function),
        )
        _add(info, overwrite=overwrite)
        return function

    if loader is None:
        return register
    return register(loader)


def list_datasets(pattern: str | Iterable[str] | None = None) -> list[str]:
    """Return the names of the registered datasets, sorted.

    Loads the dataset plugins on first use.

    Args:
        pattern: An :mod:`fnmatch` pattern (``"emnist*"``), or several (a name matching any
            is listed); case-insensitive.

    Example:
        >>> from kerasdigits import list_datasets
        >>> list_datasets("*mnist")
        ['fashion_mnist', 'kmnist', 'mnist']
        >>> list_datasets("emnist*")
        ['emnist_balanced', 'emnist_digits', 'emnist_letters']
    """
    _PLUGINS.load()
    patterns = [pattern] if isinstance(pattern, str) else list(pattern or [])
    with _LOCK:
        names = list(DATASETS)
    return sorted(
        n for n in names
        if not patterns or any(fnmatch.fnmatchcase(n.lower(), p.lower()) for p in patterns)
    )


def get_dataset_info(name: str) -> DatasetInfo:
    """Return the :class:`DatasetInfo` of ``name`` (aliases such as ``"fashion-mnist"`` work).

    Loads the dataset plugins on first use.

    Raises:
        DatasetError: The name is unknown; the message suggests close matches.
        TypeError: ``name`` is not a string.

    Example:
        >>> from kerasdigits.datasets import get_dataset_info
        >>> info = get_dataset_info("emnist-letters")
        >>> info.name, info.num_classes, info.class_names[:3]
        ('emnist_letters', 26, ('A', 'B', 'C'))
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    _PLUGINS.load()
    aliases = _aliases()
    key = name.strip().lower()
    if key in aliases:
        with _LOCK:
            return DATASETS[aliases[key]]
    raise DatasetError(
        f"unknown dataset {name!r}.{did_you_mean(key, sorted(set(aliases.values())))} "
        f"Known datasets: {', '.join(list_datasets())}. A folder of images of your own: pass "
        "its path (for example './my_digits/')."
    )


def dataset_info(name: str) -> DatasetInfo:
    """Return the :class:`DatasetInfo` of ``name``: the same as :func:`get_dataset_info`."""
    return get_dataset_info(name)


# --- the plugins; hooks for the plugin loader and the tests ------------------------------


def _snapshot() -> dict[str, DatasetInfo]:
    with _LOCK:
        return dict(DATASETS)


def _restore(snapshot: Mapping[str, DatasetInfo]) -> None:
    with _LOCK:
        DATASETS.clear()
        DATASETS.update(snapshot)


def _loader_kwargs(loader: Callable[..., Any], offered: Mapping[str, Any]) -> dict[str, Any]:
    """Return those of ``offered`` that ``loader`` accepts (all, if it takes ``**kwargs``)."""
    import inspect

    try:
        parameters = inspect.signature(loader).parameters.values()
    except (TypeError, ValueError):  # a builtin or C function: offer nothing
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(offered)
    names = {p.name for p in parameters
             if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return {k: v for k, v in offered.items() if k in names}


#: Loads the ``kerasdigits.datasets`` entry points into the registry, once, on first use.
_PLUGINS = _plugins.PluginLoader(ENTRY_POINT_GROUP, "dataset", snapshot=_snapshot,
                                 restore=_restore)
