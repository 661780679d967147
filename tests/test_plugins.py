"""The generic plugin loader of kerasdigits._plugins, on a registry of its own.

The model registry's use of it is tested in test_models_plugins.py; here a plain dict stands
for another registry (the dataset registry to come), with its own entry-point group.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from kerasdigits import _plugins

GROUP = "kerasdigits.kd_test_things"
MODULES = ("kd_things_good", "kd_things_broken")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site directory on ``sys.path`` holding two distributions of ``GROUP`` plugins."""
    monkeypatch.delenv(_plugins.ENV_DISABLE_PLUGINS, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = "import test_plugins_registry as r\n"
    _distribution(tmp_path, "kd-things-good", "kd_things_good",
                  registry + "def register():\n    r.THINGS['one'] = 1\n    r.THINGS['two'] = 2\n",
                  "good = kd_things_good:register")
    _distribution(tmp_path, "kd-things-broken", "kd_things_broken",
                  registry + "r.THINGS['half'] = 0\nraise RuntimeError('broken on purpose')\n",
                  "broken = kd_things_broken")
    (tmp_path / "test_plugins_registry.py").write_text("THINGS = {}\n")
    importlib.invalidate_caches()
    yield tmp_path
    for name in (*MODULES, "test_plugins_registry"):
        sys.modules.pop(name, None)


def _distribution(site: Path, dist: str, module: str, source: str, entry_point: str) -> None:
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{entry_point}\n")


def _loader() -> tuple[dict[str, int], _plugins.PluginLoader[dict[str, int]]]:
    import test_plugins_registry  # type: ignore[import-not-found]

    things: dict[str, int] = test_plugins_registry.THINGS

    def restore(snapshot: dict[str, int]) -> None:
        things.clear()
        things.update(snapshot)

    return things, _plugins.PluginLoader(GROUP, "thing", snapshot=lambda: dict(things),
                                         restore=restore)


@pytest.mark.usefixtures("site")
def test_loads_once_rolls_back_a_broken_plugin_and_names_it() -> None:
    things, loader = _loader()
    assert not loader.loaded
    with pytest.warns(_plugins.PluginWarning) as record:
        loader.load()
    assert loader.loaded
    assert things == {"one": 1, "two": 2}  # the broken plugin's "half" was rolled back
    (message,) = [str(w.message) for w in record]
    assert message.startswith("kerasdigits: skipped the thing plugin 'broken' "
                              "(kd_things_broken) of distribution 'kd-things-broken'")
    assert "RuntimeError: broken on purpose" in message
    things.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loader.load()  # once only
    assert things == {}


@pytest.mark.usefixtures("site")
def test_disabled_does_not_count_as_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    things, loader = _loader()
    monkeypatch.setenv(_plugins.ENV_DISABLE_PLUGINS, "yes")
    loader.load()
    assert things == {} and not loader.loaded
    monkeypatch.setenv(_plugins.ENV_DISABLE_PLUGINS, "0")
    with pytest.warns(_plugins.PluginWarning, match="kd-things-broken"):
        loader.load()
    assert things == {"one": 1, "two": 2}


def test_registrant_and_builtin_replacement() -> None:
    assert _plugins.registrant(_plugins.registrant) == _plugins.BUILTIN
    assert _plugins.registrant(pytest.raises) == "pytest"  # the installed distribution
    assert _plugins.registrant(_distribution) == __name__  # not installed: the module
    # Outside plugin loading, anyone may replace a built-in.
    assert not _plugins.refuse_builtin_replacement("thing", "one", _plugins.BUILTIN,
                                                   call="register_thing", source="here")
