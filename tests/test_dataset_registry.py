"""The dataset registry: register_dataset, list_datasets, get_dataset_info, and plugins.

The plugins are real entry points: ``tests/plugin_fixtures/datasets`` holds two small
distributions (a package plus its ``.dist-info``), copied into a temporary site directory
on ``sys.path`` where :mod:`importlib.metadata` finds them as it finds an installed wheel's.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kerasdigits._plugins import ENV_DISABLE_PLUGINS, PluginWarning
from kerasdigits.datasets import (
    Dataset,
    DatasetError,
    DataSource,
    Split,
    _registry,
    get_dataset_info,
    list_datasets,
    load_dataset,
    locate_dataset,
    register_dataset,
)

FIXTURES = Path(__file__).parent / "plugin_fixtures" / "datasets"
MODULES = ("kd_dataset_plugin", "kd_dataset_broken")


def _forget_modules() -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in MODULES:
            del sys.modules[name]


@pytest.fixture
def registry() -> Iterator[None]:
    """Whatever a test registers is removed afterwards."""
    saved = _registry._snapshot()
    yield
    _registry._restore(saved)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: None) -> Iterator[Path]:
    """The fixture distributions on ``sys.path``; plugins loaded afresh."""
    monkeypatch.delenv(ENV_DISABLE_PLUGINS, raising=False)
    site_dir = tmp_path / "site"
    shutil.copytree(FIXTURES, site_dir)
    monkeypatch.syspath_prepend(str(site_dir))
    importlib.invalidate_caches()
    _forget_modules()
    _registry._PLUGINS.reset()
    yield site_dir
    _forget_modules()
    _registry._PLUGINS.reset()
    importlib.invalidate_caches()


def _tiny(name: str, classes: tuple[str, ...] = ("a", "b")) -> Dataset:
    images = np.zeros((4, 28, 28), np.uint8)
    images[2:] = 255
    split = Split(images, np.array([0, 0, 1, 1], np.uint8))
    return Dataset(name, split, None, split, classes, DataSource("memory", None))


def test_register_and_load(registry: None) -> None:
    calls: list[dict[str, object]] = []

    def loader(*, verify: bool, **kwargs: object) -> Dataset:
        calls.append({"verify": verify, **kwargs})
        return _tiny("whatever")

    assert register_dataset("kd_pairs", loader=loader, class_names=["a", "b"],
                            description="Pairs.", aliases=["kd-pairs"]) is loader
    assert "kd_pairs" in list_datasets() and list_datasets("kd_*") == ["kd_pairs"]
    info = get_dataset_info("KD-PAIRS")
    assert info.name == "kd_pairs" and info.description == "Pairs." and info.loader is loader
    assert info.registered_by == "test_dataset_registry"  # a module that is not installed
    ds = load_dataset("kd-pairs", verify=False, validation_size=2, data_dir="x")
    assert ds.name == "kd_pairs" and len(ds.validation) == 2
    assert calls[0]["verify"] is False and calls[0]["data_dir"] == "x"
    assert set(calls[0]) == {"verify", "data_dir", "download", "mirrors", "timeout", "progress"}
    assert locate_dataset("kd_pairs") == DataSource("plugin", None)


def test_decorator_and_duplicates(registry: None) -> None:
    @register_dataset("kd_dec", class_names=("x", "y"))
    def load() -> Dataset:
        return _tiny("kd_dec", ("x", "y"))

    assert load_dataset("kd_dec").class_names == ("x", "y")
    with pytest.raises(DatasetError, match=r"'kd_dec' is already taken by 'kd_dec'.*overwrite"):
        register_dataset("kd_dec", loader=load, class_names=("x", "y"))
    with pytest.raises(DatasetError, match="'fashion-mnist' is already taken by 'fashion_mnist'"):
        register_dataset("kd_other", loader=load, class_names=("x", "y"),
                         aliases=["fashion-mnist"])
    register_dataset("kd_dec", loader=lambda: _tiny("n", ("p", "q")), class_names=("p", "q"),
                     overwrite=True)
    assert load_dataset("kd_dec").class_names == ("p", "q")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"name": "bad name"}, ValueError, "invalid dataset name 'bad name'"),
     ({"name": "ok", "aliases": ["no/slash"]}, ValueError, "invalid dataset name 'no/slash'"),
     ({"class_names": "ab"}, TypeError, "class_names must be a sequence"),
     ({"class_names": []}, ValueError, "class_names must be non-empty"),
     ({"class_names": ["a", "a"]}, ValueError, "duplicates"),
     ({"loader": 3}, TypeError, "loader must be callable")],
)
def test_bad_registrations(registry: None, kwargs: dict[str, object], error: type,
                           match: str) -> None:
    arguments: dict[str, object] = {"name": "kd_bad", "loader": lambda: None,
                                    "class_names": ["a", "b"], **kwargs}
    name = arguments.pop("name")
    with pytest.raises(error, match=match):
        register_dataset(name, **arguments)  # type: ignore[arg-type]
    assert "kd_bad" not in list_datasets()


@pytest.mark.parametrize(
    ("returned", "match"),
    [(None, "returned NoneType, not a Dataset"),
     (_tiny("t", ("c", "d")), r"returned class names \('c', 'd'\)"),
     (_tiny("t", ("a",)), r"returned class names \('a',\)")],
)
def test_a_loader_returning_the_wrong_thing_is_named(registry: None, returned: object,
                                                     match: str) -> None:
    register_dataset("kd_wrong", loader=lambda: returned, class_names=["a", "b"])
    with pytest.raises(DatasetError, match=match) as info:
        load_dataset("kd_wrong")
    assert "the loader of dataset 'kd_wrong'" in str(info.value)


def test_loader_labels_and_dtype_are_checked(registry: None) -> None:
    bad = _tiny("t")
    object.__setattr__(bad.train, "labels", np.array([0, 0, 1, 2], np.uint8))
    register_dataset("kd_labels", loader=lambda: bad, class_names=["a", "b"])
    with pytest.raises(DatasetError, match=r"train label 2 is outside 0..1"):
        load_dataset("kd_labels")


def test_plugins_load_through_entry_points(site: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = list_datasets()
    assert "kd_stripes" in names
    assert "kd_half_dataset" not in names  # rolled back with its broken plugin
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]
    assert any("'kd-dataset-broken'" in m and "broken on purpose" in m for m in messages)
    assert any("'kd-dataset-plugin'" in m and "built-in dataset 'mnist'" in m
               for m in messages)
    info = get_dataset_info("kd-stripes")
    assert info.registered_by == "kd-dataset-plugin"
    assert get_dataset_info("mnist").registered_by == "kerasdigits"
    ds = load_dataset("kd_stripes", data_dir=site, validation_size=2)
    assert ds.name == "kd_stripes" and ds.class_names == ("horizontal", "vertical")
    plugin = sys.modules["kd_dataset_plugin"]
    assert [{"data_dir": site, "progress": True}] == plugin.CALLS  # only what it declares


def test_plugins_can_be_disabled(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DISABLE_PLUGINS, "1")
    assert "kd_stripes" not in list_datasets()
    monkeypatch.delenv(ENV_DISABLE_PLUGINS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        assert "kd_stripes" in list_datasets()


def test_cli_lists_and_trains_on_a_plugin_dataset(site: Path, tmp_path: Path) -> None:
    """In a fresh process, as a user runs it: the plugin's dataset is a --dataset choice."""
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    listing = subprocess.run([sys.executable, "-m", "kerasdigits", "datasets"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "kd_stripes" in listing.stdout and "plugin" in listing.stdout
    assert "kd-dataset-broken" in listing.stderr  # the warning, naming the distribution
    summary = subprocess.run([sys.executable, "-m", "kerasdigits", "summary", "kd-stripes"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert summary.returncode == 0, summary.stderr
    assert "Dataset 'kd_stripes': 2 classes" in summary.stdout
