"""The API reference pages, written from the public modules' ``__all__``.

One page per top-level public module (``kerasdigits.datasets``...), with its public submodules
(``kerasdigits.transforms.layers``...) as sections, plus the page of the package itself. Every
name of a module's ``__all__`` gets an autodoc entry in the module that exports it most
specifically; the package's re-exports (``kerasdigits.train``) get short entries pointing there.
So a name added to ``__all__`` is documented by the next build, and one without a docstring is
reported by :mod:`check_api_docs` (run when the build finishes).
"""

from __future__ import annotations

import importlib
import inspect
import pprint
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_api_docs  # noqa: E402

PACKAGE = check_api_docs.PACKAGE


def _kind(obj: Any) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def canonical_homes(api: Mapping[str, list[str]]) -> dict[int, str]:
    """Map ``id(object)`` to the module that documents it in full.

    That is the most specific public module exporting it (``kerasdigits.datasets`` rather than
    ``kerasdigits`` for ``Dataset``); among equally specific ones, the first in sorted order.
    """
    homes: dict[int, str] = {}
    for modname in sorted(api, key=lambda m: (-m.count("."), m)):
        module = importlib.import_module(modname)
        for name in api[modname]:
            obj = getattr(module, name)
            if _kind(obj) in ("data", "module"):
                continue  # constants and submodules are documented wherever they are listed
            homes.setdefault(id(obj), modname)
    return homes


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _data_entry(module: Any, name: str) -> str:
    value = getattr(module, name)
    doc = check_api_docs.attribute_doc(module, name)
    text = repr(value)
    lines = [f".. py:data:: {name}", f"   :module: {module.__name__}"]
    if len(text) <= 70 and "\n" not in text:
        lines.append(f"   :value: {text}")
        body = doc
    else:
        lines.append(f"   :type: {type(value).__name__}")
        pretty = pprint.pformat(value, width=88, sort_dicts=False)
        body = (doc + "\n\n" if doc else "") + "Value::\n\n" + _indent(pretty, "    ")
    lines.append("")
    if body:
        lines.append(_indent(body))
        lines.append("")
    return "\n".join(lines) + "\n"


def _signature(obj: Any) -> str:
    """``(a, b=1, *, c=None)``: the call signature without annotations, or ``""``."""
    from sphinx.util.inspect import signature, stringify_signature

    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return ""
    try:
        sig = signature(obj)
    except (TypeError, ValueError):
        return ""
    return stringify_signature(sig, show_annotation=False, show_return_annotation=False)


def _alias_entry(module: Any, name: str, home: str) -> str:
    obj = getattr(module, name)
    kind = _kind(obj)
    role = {"class": "class", "exception": "exc", "function": "func"}[kind]
    summary = _summary(obj)
    return (
        f".. py:{kind}:: {name}{_signature(obj)}\n"
        f"   :module: {module.__name__}\n\n"
        f"   {summary}\n\n"
        f"   The same object as :{role}:`{home}.{name}`, documented there.\n\n"
    )


def _full_entry(modname: str, name: str, kind: str, obj: Any) -> str:
    full = f"{modname}.{name}"
    if kind == "function":
        return f".. autofunction:: {full}\n\n"
    bases = "   :show-inheritance:\n" if obj.__bases__ != (object,) else ""
    return f".. auto{kind}:: {full}\n   :members:\n{bases}\n"


def module_section(
    modname: str, names: list[str], homes: Mapping[int, str], level: str, extra: str = ""
) -> str:
    """The reST of one module: its docstring, a summary table and one entry per public name."""
    module = importlib.import_module(modname)
    out = [_heading(f"``{modname}``", level), f".. automodule:: {modname}\n"]
    if extra:
        out.append(extra)
    entries: list[str] = []
    table: list[str] = []
    for name in names:
        obj = getattr(module, name)
        kind = _kind(obj)
        if kind == "module":
            table.append(f"   * - :mod:`{name} <{obj.__name__}>`\n     - {_summary(obj)}")
            continue
        if kind == "data":
            entries.append(_data_entry(module, name))
            doc = check_api_docs.attribute_doc(module, name)
            first = doc.split("\n\n")[0].replace("\n", " ")
            table.append(f"   * - :data:`~{modname}.{name}`\n     - {first}")
            continue
        home = homes.get(id(obj), modname)
        role = {"class": "class", "exception": "exc", "function": "func"}[kind]
        table.append(f"   * - :{role}:`~{modname}.{name}`\n     - {_summary(obj)}")
        if home == modname:
            entries.append(_full_entry(modname, name, kind, obj))
        else:
            entries.append(_alias_entry(module, name, home))
    if table and modname != PACKAGE:  # the package's entries are short: no summary needed
        out.append(".. list-table::\n   :widths: 30 70\n   :class: kd-api-summary\n\n"
                   + "\n".join(table) + "\n")
    out.extend(entries)
    return "\n".join(out)


def page_groups(api: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """``{page module: [modules on the page]}``: the package, and each top-level subpackage."""
    groups: dict[str, list[str]] = {}
    for modname in sorted(api):
        parts = modname.split(".")
        page = ".".join(parts[:2])
        groups.setdefault(page, []).append(modname)
    return groups


#: Order of the pages in the reference; pages not listed follow, sorted.
PAGE_ORDER = (
    "kerasdigits",
    "kerasdigits.datasets",
    "kerasdigits.transforms",
    "kerasdigits.models",
    "kerasdigits.training",
    "kerasdigits.callbacks",
    "kerasdigits.plots",
    "kerasdigits.export",
    "kerasdigits.cli",
)


def alias_names() -> set[str]:
    """Full names of the short entries for re-exports (``kerasdigits.train``...).

    The docs extension marks them as aliases in the Python domain, so that a bare ``Dataset``
    in a signature resolves to the full entry, ``kerasdigits.datasets.Dataset``.
    """
    api = check_api_docs.public_api()
    homes = canonical_homes(api)
    names = set()
    for modname, public in api.items():
        module = importlib.import_module(modname)
        for name in public:
            home = homes.get(id(getattr(module, name)))
            if home is not None and home != modname:
                names.add(f"{modname}.{name}")
    return names


def public_paths() -> dict[str, str]:
    """Map the defining path of each public class and function to its documented path.

    ``{"kerasdigits.datasets._dataset.Split": "kerasdigits.datasets.Split", ...}``: objects
    are defined in private modules and exported by public ones, so their ``__module__`` (which
    autodoc and napoleon use to write types) is private. Only objects whose paths differ are
    listed.
    """
    api = check_api_docs.public_api()
    homes = canonical_homes(api)
    paths: dict[str, str] = {}
    for modname, names in api.items():
        module = importlib.import_module(modname)
        for name in names:
            obj = getattr(module, name)
            if _kind(obj) in ("data", "module"):
                continue
            home = homes.get(id(obj), modname)
            defined = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', name)}"
            if defined != f"{home}.{name}":
                paths.setdefault(defined, f"{home}.{name}")
    return paths


_DOTTED = re.compile(rf"~?\b{PACKAGE}(?:\.\w+)+")


def publicize(text: str, paths: Mapping[str, str]) -> str:
    """Replace private paths of public objects in ``text`` by ``~`` and their public paths.

    ``kerasdigits.datasets._dataset.Split | None`` becomes ``~kerasdigits.datasets.Split |
    None`` (a link showing ``Split``); ``...Dataset.to_tf`` keeps its attribute part. Other
    dotted names are left alone.
    """

    def replace(match: re.Match[str]) -> str:
        dotted = match.group(0).lstrip("~")
        parts = dotted.split(".")
        for end in range(len(parts), 1, -1):
            public = paths.get(".".join(parts[:end]))
            if public is not None:
                return "~" + ".".join([public, *parts[end:]])
        return match.group(0)

    return _DOTTED.sub(replace, text)


def generate(outdir: Path) -> dict[str, str]:
    """Return ``{file name under outdir: contents}`` for the API pages and their toctree."""
    api = check_api_docs.public_api()
    homes = canonical_homes(api)
    files: dict[str, str] = {}
    groups = page_groups(api)
    order = [p for p in PAGE_ORDER if p in groups] + sorted(set(groups) - set(PAGE_ORDER))
    files["toctree.inc"] = (
        "```{toctree}\n:maxdepth: 2\n\n"
        + "".join(f"_generated/api/{page}\n" for page in order) + "```\n"
    )
    for page, modules in page_groups(api).items():
        parts = []
        for i, modname in enumerate(modules):
            level = "=" if i == 0 else "-"
            extra = _package_extra(api) if modname == PACKAGE else ""
            parts.append(module_section(modname, api[modname], homes, level, extra))
        # Docstring examples run with the page's public names at hand, as they would in their
        # module (some use the names of the module they document without importing them).
        setup = "".join(f"   from {m} import *  # noqa: F403\n" for m in modules)
        files[f"{page}.rst"] = (
            ".. This page is generated by docs/_ext/kd_api.py from __all__; do not edit.\n\n"
            f".. testsetup:: *\n\n{setup}\n"
            + "\n".join(parts)
        )
    return files


def _package_extra(api: Mapping[str, list[str]]) -> str:
    subs = [m for m in api if m.count(".") == 1]
    rows = "\n".join(f"   * - :mod:`{m}`\n     - {_summary(importlib.import_module(m))}"
                     for m in subs)
    return (
        ".. rubric:: Public modules\n\n"
        ".. list-table::\n   :widths: 30 70\n\n" + rows + "\n\n"
        ".. rubric:: Public names\n\n"
        "Imported lazily, on first use. Most are defined in the modules above and documented "
        "there in full; the entries below link to them.\n"
    )
