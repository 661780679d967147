"""Developer tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s docs``, ``nox -s bench``."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
ROOT = Path(__file__).parent


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (set KERASDIGITS_DATA_DIR for the real-data tests)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff and mypy."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML documentation (Sphinx) offline, warnings as errors."""
    conf = ROOT / "docs" / "conf.py"
    if not conf.exists():
        session.error(
            "The Sphinx documentation is not written yet (docs/conf.py is missing); "
            "it arrives with the documentation issue. See docs/index.md meanwhile."
        )
    session.install("-e", ".[docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ and print their figures (needs KERASDIGITS_DATA_DIR)."""
    session.install("-e", ".[dev]")
    env = {"KERASDIGITS_DATA_DIR": os.environ.get("KERASDIGITS_DATA_DIR", "")}
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs, env=env)
