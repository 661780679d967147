"""Sphinx extension of the kerasdigits docs: build-time pages, and the API-coverage check.

On ``builder-inited`` it writes, into ``docs/_generated/`` (not in git):

* ``api/*.rst``: the API reference, from every public module's ``__all__`` (``kd_api``);
* ``tutorials/*.rst`` and their outputs and figures: every ``examples/*.py`` run with
  ``--quick``, plus a command-line session (``kd_tutorials``; cached between builds);
* ``zoo.inc``, ``benchmarks.inc``: Markdown tables included by ``models.md`` and
  ``benchmarks.md``; ``figures/*.png``: the bundled samples (``kd_tables``).

Files are only rewritten when their contents change, so an unchanged page is not re-read.

On ``build-finished`` it checks that every public module and every name in a public module's
``__all__`` is a documented Python object, and that each has documentation of its own
(``scripts/check_api_docs.py``, also runnable on ``objects.inv`` after the build); problems are
warnings (errors with ``-W``) and make the build's exit status non-zero.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

import kd_api
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
    app.connect("env-updated", mark_aliases)
    app.connect("build-finished", check_api)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
