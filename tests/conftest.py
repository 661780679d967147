"""Shared fixtures: every test runs with its own empty caches and no network."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from kerasdigits.datasets import _catalog

# Captured before any fixture clears it: the real MNIST/Fashion-MNIST folder (CI sets it).
_REAL_DATA_DIR = os.environ.get("KERASDIGITS_DATA_DIR")
_REQUIRE_REAL_DATA = os.environ.get("KERASDIGITS_REQUIRE_REAL_DATA") == "1"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory,
                         monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every cache at a fresh temporary folder and hide the user's data directories."""
    root = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("KERASDIGITS_HOME", str(root / "kerasdigits_home"))
    monkeypatch.setenv("KERAS_HOME", str(root / "keras_home"))
    monkeypatch.delenv("KERASDIGITS_DATA_DIR", raising=False)
    monkeypatch.delenv("KERASDIGITS_MIRROR", raising=False)
    # No default mirror may ever be contacted from a test, and no system-wide copy is used.
    for name, info in list(_catalog.DATASETS.items()):
        monkeypatch.setitem(
            _catalog.DATASETS,
            name,
            dataclasses.replace(
                info,
                mirrors=("http://127.0.0.1:9/unreachable/",),
                system_dirs=tuple(root / "system" / d.name for d in info.system_dirs),
            ),
        )
    return root


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder with the real ``mnist/`` and ``fashion-mnist/`` (``KERASDIGITS_DATA_DIR``).

    Skips the test when it is not set, unless ``KERASDIGITS_REQUIRE_REAL_DATA=1`` (CI), where
    a missing folder is an error.
    """
    if not _REAL_DATA_DIR or not Path(_REAL_DATA_DIR, "mnist").is_dir():
        message = "real data not available: set KERASDIGITS_DATA_DIR to a folder with mnist/"
        if _REQUIRE_REAL_DATA:
            pytest.fail(message)
        pytest.skip(message)
    return Path(_REAL_DATA_DIR).resolve()
