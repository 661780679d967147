"""Sphinx extension of the kerasdigits docs: build-time pages, and the API-coverage check.

On ``builder-inited`` it writes, into ``docs/_generated/`` (not in git):

* ``api/*.rst``: the API reference, from every public module's ``__all__`` (``kd_api``);
* ``tutorials/*.rst`` and their outputs and figures: every ``examples/*.py`` run with
  ``--quick``, plus a command-line session (``kd_tutorials``; cached between builds);
* ``zoo.inc``, ``datasets.inc``, ``benchmarks.inc``: Markdown tables included by ``models.md``,
  ``datasets.md`` and
  ``benchmarks.md``; ``figures/*.png``: the bundled samples (``kd_tables``);
* ``to_mnist.png``: the before/after figure of ``own_data.md`` (``kd_own_data``).

Files are only rewritten when their contents change, so an unchanged page is not re-read.

The public names are defined in private modules (``kerasdigits.datasets._dataset.Split``), and
autodoc and napoleon write types with the defining module. So that the reference shows and
links the public paths (``kerasdigits.datasets.Split``), the extension rewrites them in the
``:type:`` fields napoleon writes, in the recorded type hints, in "Bases:" lines and in the
targets of cross-references (``kd_api.public_paths``); the source stays as it is.

On ``build-finished`` it checks that every public module and every name in a public module's
``__all__`` is a documented Python object, and that each has documentation of its own
(``scripts/check_api_docs.py``, also runnable on ``objects.inv`` after the build); problems are
warnings (errors with ``-W``) and make the build's exit status non-zero.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path
from typing import Any

import kd_api
import kd_own_data
import kd_tables
import kd_tutorials
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)


def write_if_changed(path: Path, data: str | bytes) -> bool:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path.is_file() and path.read_bytes() == raw:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(raw)
    tmp.replace(path)
    return True


def write_tree(folder: Path, files: dict[str, str | bytes], suffixes: tuple[str, ...]) -> None:
    """Write ``files`` into ``folder``; delete other files there with one of ``suffixes``."""
    for name, data in files.items():
        write_if_changed(folder / name, data)
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and path.suffix in suffixes and path.name not in files:
                path.unlink()


def _cached(gen: Path, name: str, key: str, make: Any) -> None:
    """Write ``make()`` to ``gen/name`` unless ``gen/name.key`` holds ``key`` already."""
    stamp = gen / f"{name}.key"
    if (gen / name).is_file() and stamp.is_file() and stamp.read_text() == key:
        return
    write_if_changed(gen / name, make())
    write_if_changed(stamp, key)


def generate(app: Sphinx) -> None:
    gen = Path(app.srcdir) / "_generated"
    started = time.perf_counter()
    try:
        write_tree(gen / "api", kd_api.generate(gen / "api"), (".rst", ".inc"))
        base = kd_tutorials.base_key()
        bench = hashlib.sha256(base.encode())
        for path in sorted((kd_tables.BENCH).glob("bench_*.py")) + sorted(
                (kd_tables.BENCH / "results").glob("*.json")):
            bench.update(path.name.encode() + path.read_bytes())
        bench.update(Path(kd_tables.__file__).read_bytes())
        tables_key = hashlib.sha256(
            base.encode() + Path(kd_tables.__file__).read_bytes()).hexdigest()
        _cached(gen, "zoo.inc", tables_key, kd_tables.zoo_markdown)
        _cached(gen, "datasets.inc", tables_key, kd_tables.datasets_markdown)
        own_key = hashlib.sha256(base.encode() + Path(kd_own_data.__file__).read_bytes())
        _cached(gen, "to_mnist.png", own_key.hexdigest(), kd_own_data.to_mnist_figure)
        _cached(gen, "benchmarks.inc", bench.hexdigest(), kd_tables.benchmarks_markdown)
        figures_stamp = gen / "figures" / "figures.key"
        if not figures_stamp.is_file() or figures_stamp.read_text() != tables_key:
            write_tree(gen / "figures", kd_tables.dataset_figures(), (".png",))
            write_if_changed(figures_stamp, tables_key)
        # Only HTML shows the tutorials: other builders (doctest...) reuse earlier results.
        pages = kd_tutorials.generate(gen / "tutorials", log=logger.info,
                                      reuse=app.builder.format != "html")
        write_tree(gen / "tutorials", pages, (".rst", ".inc"))
        for path in (gen / "tutorials").iterdir():  # results of examples that are gone
            if path.is_dir() and f"{path.name}.rst" not in pages:
                shutil.rmtree(path, ignore_errors=True)
    except kd_tutorials.TutorialError as exc:
        raise ExtensionError(f"a tutorial failed to run:\n{exc}") from exc
    logger.info("kerasdigits docs: generated pages ready in %.0f s",
                time.perf_counter() - started)


def mark_aliases(app: Sphinx, env: Any) -> None:
    """Mark the short entries of re-exports as aliases of the full ones (see kd_api)."""
    objects = env.get_domain("py").objects
    for name in kd_api.alias_names():
        if name in objects and not objects[name].aliased:
            objects[name] = objects[name]._replace(aliased=True)


_TYPE_FIELD = re.compile(r"^\s*:(?:type|vartype|rtype)\b")


def _paths(app: Sphinx) -> dict[str, str]:
    paths = getattr(app, "_kd_public_paths", None)
    if paths is None:
        paths = kd_api.public_paths()
        app._kd_public_paths = paths  # type: ignore[attr-defined]
    return paths


def public_docstring_paths(app: Sphinx, what: str, name: str, obj: Any, options: Any,
                           lines: list[str]) -> None:
    """Write public paths into docstrings (after napoleon: its ``:type:`` lines included).

    Napoleon writes an attribute's annotation with its defining module
    (``kerasdigits.datasets._dataset.Split``); the reader should see and follow the public
    name.
    """
    paths = _paths(app)
    lines[:] = [kd_api.publicize(line, paths) if _TYPE_FIELD.match(line) else line
                for line in lines]


def public_typehint_paths(app: Sphinx, domain: str, objtype: str, contentnode: Any) -> None:
    """Write public paths into the recorded type hints, before autodoc adds them to the page."""
    annotations = getattr(getattr(app.env, "current_document", None), "autodoc_annotations",
                          None)
    if annotations is None:  # Sphinx < 9
        annotations = app.env.temp_data.get("annotations", {})
    paths = _paths(app)
    for hints in annotations.values():
        for key, value in hints.items():
            hints[key] = kd_api.publicize(value, paths)


def public_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """Show the public path of a base class defined in a private module ("Bases: ...")."""
    paths = _paths(app)
    for i, base in enumerate(bases):
        defined = f"{getattr(base, '__module__', '')}.{getattr(base, '__qualname__', '')}"
        if defined in paths:
            bases[i] = f":py:class:`~{paths[defined]}`"


def public_xref_targets(app: Sphinx, doctree: Any) -> None:
    """Point the remaining cross-references at public paths (signatures of overloads...).

    Their text is already short (``CompileSettings``); this fixes the target, which the HTML
    shows as the link's tooltip.
    """
    from sphinx import addnodes

    paths = _paths(app)
    for node in doctree.findall(addnodes.pending_xref):
        target = node.get("reftarget", "")
        if node.get("refdomain") == "py" and target.startswith(kd_api.PACKAGE + "."):
            public = kd_api.publicize(target, paths).lstrip("~")
            if public != target:
                node["reftarget"] = public


def check_api(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None:
        return
    domain = app.env.get_domain("py")
    documented = set(domain.objects) | set(domain.data.get("modules", {}))
    problems = kd_api.check_api_docs.check(documented)
    for line in problems:
        logger.warning("API reference: %s", line, type="kerasdigits", subtype="api")
    if problems:
        app.statuscode = 1
    else:
        logger.info("kerasdigits docs: every public module and name is in the API reference")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    # After napoleon (priority 500) has turned "Attributes:" into ":type:" lines.
    app.connect("autodoc-process-docstring", public_docstring_paths, priority=600)
    # Before autodoc's own handler (500) merges the type hints into the field lists.
    app.connect("object-description-transform", public_typehint_paths, priority=400)
    app.connect("autodoc-process-bases", public_bases)
    app.connect("doctree-read", public_xref_targets)
    app.connect("env-updated", mark_aliases)
    app.connect("build-finished", check_api)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
