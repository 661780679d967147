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
    """Build the documentation offline: HTML with warnings as errors, doctests, API check.

    The HTML build also runs every examples/*.py with --quick on the bundled samples (cached in
    docs/_generated/). ``nox -s docs -- -E`` passes options to both sphinx-build runs;
    ``nox -s docs --no-venv`` builds in the current environment (which then needs the docs extra).
    """
    if session.venv_backend != "none":
        session.install("-e", ".[docs]")
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERASDIGITS_DATA_DIR": ""}
    doctrees = "docs/_build/doctrees"
    for builder, out in (("html", "docs/_build/html"), ("doctest", "docs/_build/doctest")):
        session.run("python", "-m", "sphinx", "-W", "--keep-going", "-b", builder,
                    "-d", doctrees, *session.posargs, "docs", out, env=env)
    session.run("python", "scripts/check_api_docs.py", "docs/_build/html/objects.inv", env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ and print their figures (needs KERASDIGITS_DATA_DIR)."""
    session.install("-e", ".[dev]")
    env = {"KERASDIGITS_DATA_DIR": os.environ.get("KERASDIGITS_DATA_DIR", "")}
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs, env=env)
