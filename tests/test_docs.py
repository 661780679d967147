"""The API-coverage check of the docs (scripts/check_api_docs.py), on fake packages and inventories.

The docs build itself (``nox -s docs``) is not run here: it takes minutes. These tests make sure
that the check would fail it when a public name is missing from the API reference or has no
documentation of its own.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_api_docs",
                                                  ROOT / "scripts" / "check_api_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``kdfake``: a documented package, a public submodule with one undocumented function,
    and a private module (ignored)."""
    pkg = tmp_path / "kdfake"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''\
        """A fake package."""

        __all__ = ["CONST", "Thing", "f"]

        #: A documented constant.
        CONST = 3
        UNDOCUMENTED_CONST = 4


        def f():
            """Do f."""


        class Thing:
            """A thing."""
    '''))
    (pkg / "sub.py").write_text(textwrap.dedent('''\
        """A public submodule."""

        __all__ = ["g"]


        def g():
            pass
    '''))
    (pkg / "_private.py").write_text("def hidden():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "kdfake"
    for name in [m for m in sys.modules if m == "kdfake" or m.startswith("kdfake.")]:
        del sys.modules[name]


def test_find_missing_lists_modules_and_names_absent_from_the_reference(
    checker: ModuleType,
) -> None:
    api = {"pkg": ["a", "b"], "pkg.sub": ["c"]}
    assert checker.find_missing(api, {"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"}) == []
    assert checker.find_missing(api, {"pkg", "pkg.a", "pkg.sub.c"}) == ["pkg.sub", "pkg.b"]
    # A re-export documented under another module does not count for this one.
    assert checker.find_missing({"pkg": ["a"]}, {"pkg", "pkg.sub.a"}) == ["pkg.a"]


def test_public_api_skips_private_modules(checker: ModuleType, fake_package: str) -> None:
    assert checker.public_modules(fake_package) == ["kdfake", "kdfake.sub"]
    assert checker.public_api(fake_package) == {"kdfake": ["CONST", "Thing", "f"],
                                                "kdfake.sub": ["g"]}


def test_public_module_without_all_is_an_error(checker: ModuleType, fake_package: str,
                                               tmp_path: Path) -> None:
    (tmp_path / "kdfake" / "extra.py").write_text('"""No __all__ here."""\n')
    with pytest.raises(ValueError, match=r"kdfake\.extra has no __all__"):
        checker.public_api(fake_package)


def test_name_in_all_that_the_module_lacks_is_an_error(checker: ModuleType, fake_package: str,
                                                       tmp_path: Path) -> None:
    (tmp_path / "kdfake" / "extra.py").write_text('"""Doc."""\n__all__ = ["nothing"]\n')
    with pytest.raises(ValueError, match="'nothing'"):
        checker.public_api(fake_package)


def test_check_fails_for_a_public_name_without_docs(checker: ModuleType,
                                                    fake_package: str) -> None:
    pytest.importorskip("sphinx.pycode")  # reads '#:' comments of constants
    api = checker.public_api(fake_package)
    everything = set(checker.expected_objects(api))
    assert checker.check(everything, api) == [
        "kdfake.sub.g: public, but has no docstring (or '#:' comment for a constant)"
    ]


def test_check_fails_for_a_public_name_missing_from_the_reference(
    checker: ModuleType, fake_package: str, tmp_path: Path
) -> None:
    pytest.importorskip("sphinx.pycode")
    (tmp_path / "kdfake" / "sub.py").write_text('"""Sub."""\n__all__ = []\n')
    api = checker.public_api(fake_package)
    documented = set(checker.expected_objects(api)) - {"kdfake.Thing"}
    assert checker.check(documented, api) == ["kdfake.Thing: public, but not in the API reference"]


def test_constant_documentation_comes_from_where_it_is_assigned(
    checker: ModuleType, fake_package: str
) -> None:
    pytest.importorskip("sphinx.pycode")
    module = importlib.import_module(fake_package)
    assert checker.own_doc(module, "CONST") == "A documented constant."
    assert checker.own_doc(module, "UNDOCUMENTED_CONST") == ""
    assert checker.own_doc(module, "f") == "Do f."


def test_dataclass_generated_docstring_does_not_count(checker: ModuleType) -> None:
    from dataclasses import dataclass

    @dataclass
    class Plain:
        x: int

    holder = ModuleType("holder")
    holder.Plain = Plain  # type: ignore[attr-defined]
    assert checker.own_doc(holder, "Plain") == ""


def _inventory(lines: list[str]) -> bytes:
    header = (b"# Sphinx inventory version 2\n# Project: kdfake\n# Version: 1\n"
              b"# The remainder of this file is compressed using zlib.\n")
    return header + zlib.compress(("\n".join(lines) + "\n").encode("utf-8"))


def test_read_inventory_returns_the_python_objects(checker: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "objects.inv"
    path.write_bytes(_inventory([
        "kdfake py:module 0 api.html#module-$ -",
        "kdfake.f py:function 1 api.html#$ -",
        "kdfake.CONST py:data 1 api.html#$ -",
        "kdfake.Thing py:class -1 api.html#$ The Thing",
        "some label std:label -1 index.html#$ Some label",
    ]))
    assert checker.read_inventory(path) == {
        "kdfake": "py:module",
        "kdfake.f": "py:function",
        "kdfake.CONST": "py:data",
        "kdfake.Thing": "py:class",
    }


def test_read_inventory_rejects_other_files(checker: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "objects.inv"
    path.write_bytes(b"not an inventory\n")
    with pytest.raises(ValueError, match="not a Sphinx inventory"):
        checker.read_inventory(path)


def test_every_public_name_of_kerasdigits_is_listed(checker: ModuleType) -> None:
    """The real package: every public module has an __all__ whose names exist."""
    api = checker.public_api()
    for module in ("kerasdigits.datasets", "kerasdigits.transforms",
                   "kerasdigits.transforms.layers", "kerasdigits.models",
                   "kerasdigits.training", "kerasdigits.callbacks", "kerasdigits.export",
                   "kerasdigits.plots", "kerasdigits.cli"):
        assert api[module], module
    assert "train" in api["kerasdigits"]
