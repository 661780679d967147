"""Check that the API reference documents every public name of kerasdigits.

Usage:
    python scripts/check_api_docs.py [docs/_build/html/objects.inv]

A public module is any module of the package whose dotted name has no component starting with
``_`` (``kerasdigits``, ``kerasdigits.datasets``, ``kerasdigits.transforms.layers``...); its
public names are its ``__all__``, which every public module must define. The check fails (exit
status 1, listing the names) when

* a public module, or a name in a public module's ``__all__``, is not a documented object in
  the Sphinx inventory (``objects.inv``, written by the HTML build), or
* a public name has no documentation of its own: a function, class or module without a
  docstring, or a constant without a ``#:`` doc comment where it is assigned.

The docs build runs the same check on its environment when it finishes (``docs/_ext``), so
``sphinx-build -W`` fails too. Only the standard library and the package itself are needed
(plus Sphinx's ``ModuleAnalyzer`` to read ``#:`` comments).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import types
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = "kerasdigits"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INVENTORY = ROOT / "docs" / "_build" / "html" / "objects.inv"

#: Public names allowed to lack documentation of their own (``module.name``), with the reason.
#: Only names whose source cannot be edited from here belong in it; remove an entry as soon as
#: the source documents the name (a stale entry is reported, not an error).
UNDOCUMENTED_OK: dict[str, str] = {}

#: Fallback descriptions of names that are documented by convention rather than in the source.
CONVENTIONAL_DOCS: dict[str, str] = {
    "__version__": "The version of the installed kerasdigits package, such as ``\"0.1.0\"``.",
}


# --------------------------------------------------------------------------- public API


def is_public_module(name: str) -> bool:
    """Whether a dotted module name is public: no component starts with ``_``."""
    return not any(part.startswith("_") for part in name.split("."))


def public_modules(package: str = PACKAGE) -> list[str]:
    """Return the package and every public module under it, sorted, importing them."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, package + ".", onerror=_raise):
        if is_public_module(info.name):
            names.append(info.name)
    return sorted(names)


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name} while listing the public modules")


def public_api(package: str = PACKAGE) -> dict[str, list[str]]:
    """Return ``{public module: its __all__}``.

    Raises:
        ValueError: A public module has no ``__all__``, or it lists a name that the module
            does not have.
    """
    api: dict[str, list[str]] = {}
    for modname in public_modules(package):
        module = importlib.import_module(modname)
        names = getattr(module, "__all__", None)
        if names is None:
            raise ValueError(f"public module {modname} has no __all__")
        for name in names:
            if not hasattr(module, name):
                raise ValueError(f"{modname}.__all__ lists {name!r}, which the module lacks")
        api[modname] = list(names)
    return api


def expected_objects(api: Mapping[str, Iterable[str]]) -> list[str]:
    """Every full name the API reference must document: the modules and their public names."""
    expected = list(api)
    for modname, names in api.items():
        expected.extend(f"{modname}.{name}" for name in names)
    return expected


def find_missing(api: Mapping[str, Iterable[str]], documented: Iterable[str]) -> list[str]:
    """Return the full names of ``api`` (modules included) absent from ``documented``, in order.

    Example:
        >>> find_missing({"pkg": ["a", "b"], "pkg.sub": ["c"]}, {"pkg", "pkg.a", "pkg.sub.c"})
        ['pkg.sub', 'pkg.b']
    """
    have = set(documented)
    return [name for name in expected_objects(api) if name not in have]


# --------------------------------------------------------------------------- own documentation


def attribute_doc(module: types.ModuleType, name: str) -> str:
    """Return the ``#:`` doc comment of the module-level constant ``name`` (``""`` if none).

    Looked for in ``module`` itself, then in every loaded module of the same package that
    holds the same object under the same name (a constant re-exported from a private module is
    documented where it is assigned).
    """
    try:
        from sphinx.pycode import ModuleAnalyzer
    except ImportError:  # pragma: no cover - Sphinx is in the docs extra
        return ""
    value = getattr(module, name)
    package = module.__name__.split(".")[0]
    others = sorted(
        modname
        for modname, mod in list(sys.modules.items())
        if mod is not None
        and modname != module.__name__
        and modname.split(".")[0] == package
        and getattr(mod, name, _MISSING) is value
    )
    places = [module.__name__, *others]
    for modname in places:
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:
            continue
        lines = docs.get(("", name))
        if lines and "".join(lines).strip():
            return "\n".join(lines).strip()
    return CONVENTIONAL_DOCS.get(name, "")


_MISSING = object()


def own_doc(module: types.ModuleType, name: str) -> str:
    """Return the documentation of a public name itself, or ``""``.

    A class's inherited docstring does not count, nor does the ``Name(field, ...)`` docstring
    that :func:`dataclasses.dataclass` writes for an undocumented class.
    """
    obj = getattr(module, name)
    if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        if not isinstance(doc, str):
            return ""
        if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):
            return ""  # dataclasses' generated docstring
        return inspect.cleandoc(doc)
    return attribute_doc(module, name)


def find_undocumented(api: Mapping[str, Iterable[str]]) -> list[str]:
    """Return the full names in ``api`` (modules included) with no documentation of their own."""
    missing = []
    for modname, names in api.items():
        module = importlib.import_module(modname)
        if not (module.__doc__ or "").strip():
            missing.append(modname)
        for name in names:
            if not own_doc(module, name):
                missing.append(f"{modname}.{name}")
    return missing


# --------------------------------------------------------------------------- the inventory


# name domain:role priority uri dispname (as Sphinx parses it: names may contain spaces)
_INVENTORY_LINE = re.compile(r"(.+?)\s+(\S+)\s+(-?\d+)\s+?(\S*)\s+(.*)")


def read_inventory(path: str | Path) -> dict[str, str]:
    """Return ``{full name: domain:role}`` of the ``py`` objects in a Sphinx ``objects.inv``."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n", 4)
    if len(lines) < 5 or not lines[0].startswith(b"# Sphinx inventory version 2"):
        raise ValueError(f"{path}: not a Sphinx inventory (version 2)")
    objects: dict[str, str] = {}
    for line in zlib.decompress(lines[4]).decode("utf-8").splitlines():
        match = _INVENTORY_LINE.match(line.rstrip())
        if match and match.group(2).startswith("py:"):
            objects[match.group(1)] = match.group(2)
    return objects


# --------------------------------------------------------------------------- reporting


def check(documented: Iterable[str], api: Mapping[str, Iterable[str]] | None = None) -> list[str]:
    """Return one line per problem (empty when the reference is complete)."""
    api = public_api() if api is None else api
    problems = [
        f"{name}: public, but not in the API reference" for name in find_missing(api, documented)
    ]
    problems += [
        f"{name}: public, but has no docstring (or '#:' comment for a constant)"
        for name in find_undocumented(api)
        if name not in UNDOCUMENTED_OK
    ]
    return problems


def stale_allowances(api: Mapping[str, Iterable[str]]) -> list[str]:
    """Entries of :data:`UNDOCUMENTED_OK` that are documented now (or no longer public)."""
    undocumented = set(find_undocumented(api))
    return sorted(name for name in UNDOCUMENTED_OK if name not in undocumented)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in {"-h", "--help"}):
        print(__doc__)
        return 2
    inventory = Path(args[0]) if args else DEFAULT_INVENTORY
    if not inventory.is_file():
        print(f"check_api_docs: {inventory} not found; build the HTML docs first", file=sys.stderr)
        return 2
    api = public_api()
    problems = check(read_inventory(inventory), api)
    for name in stale_allowances(api):
        print(f"check_api_docs: note: {name} is documented now; remove it from UNDOCUMENTED_OK")
    for name, reason in UNDOCUMENTED_OK.items():
        if name not in stale_allowances(api):
            print(f"check_api_docs: note: {name} allowed without docs ({reason})")
    if problems:
        print(f"check_api_docs: {len(problems)} problem(s) in the API reference "
              f"({inventory}):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    total = len(expected_objects(api))
    print(f"check_api_docs: all {total} public modules and names are documented "
          f"({len(api)} modules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
