"""Model plugins through real entry points.

``tests/plugin_fixtures`` holds three small distributions (a package plus its ``.dist-info``
with ``entry_points.txt``). Each test copies what it needs into a temporary site directory
and puts that on ``sys.path``, where :mod:`importlib.metadata` finds the entry points exactly
as it finds those of an installed wheel.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from kerasdigits.models import (
    PluginWarning,
    _plugins,
    _registry,
    build,
    get_model_spec,
    list_models,
)

FIXTURES = Path(__file__).parent / "plugin_fixtures"
PLUGIN_MODULES = ("kd_test_plugin", "kd_broken_plugin", "kd_broken_plugin_clash",
                  "kd_override_plugin", "kd_slow_plugin", "kd_slow_sync")
#: The models of the good fixture, sorted.
PLUGIN_MODELS = ["kd_tiny", "kd_tiny_conv", "kd_tiny_model"]


def _forget_plugin_modules() -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in PLUGIN_MODULES:
            del sys.modules[name]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty site directory on ``sys.path``; the registry is restored afterwards."""
    monkeypatch.delenv(_plugins.ENV_DISABLE_PLUGINS, raising=False)
    _plugins.load_plugins()  # the plugins of the real environment, if any
    saved = _registry._snapshot()
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    monkeypatch.syspath_prepend(str(site_dir))
    _forget_plugin_modules()
    _plugins._reset_for_tests()
    yield site_dir
    _registry._restore(saved)
    _forget_plugin_modules()
    _plugins._reset_for_tests()
    importlib.invalidate_caches()


def _install(site_dir: Path, which: str) -> None:
    shutil.copytree(FIXTURES / which, site_dir, dirs_exist_ok=True)
    importlib.invalidate_caches()


def test_plugin_models_appear_and_build(site: Path) -> None:
    assert "kd_tiny" not in list_models()  # the flag was reset, but nothing is installed yet
    _plugins._reset_for_tests()
    _install(site, "good")

    names = list_models()
    assert set(PLUGIN_MODELS) <= set(names)
    assert "convnet" in names
    assert list_models(tags="plugin") == PLUGIN_MODELS
    spec = get_model_spec("kd_tiny")
    assert spec.registered_by == "kd-test-plugin"
    assert spec.source == "kd_test_plugin:kd_tiny"
    assert spec.description == "A tiny MLP from a plugin."
    assert get_model_spec("kd_tiny_conv").registered_by == "kd-test-plugin"

    model = build("kd_tiny", preprocessing="unit", hidden=4, style="functional")
    assert model.name == "kd_tiny"
    assert model.count_params() == 784 * 4 + 4 + 4 * 10 + 10
    conv = build("kd_tiny_conv", num_classes=3)
    assert tuple(conv.outputs[0].shape) == (None, 3)


def test_plugin_builder_returning_a_finished_model(site: Path) -> None:
    """``kd_tiny_model``'s builder returns a functional ``keras.Model``, as timm's do."""
    import keras

    from kerasdigits import load_dataset, train
    from kerasdigits.models import ModelConfigError

    _install(site, "good")
    spec = get_model_spec("kd_tiny_model")
    assert spec.registered_by == "kd-test-plugin"
    assert spec.source == "kd_test_plugin.finished:kd_tiny_model"
    assert spec.styles == ("functional",)
    assert list_models(tags="finished") == ["kd_tiny_model"]
    assert "kd_tiny_model" not in list_models(style="sequential")

    model = build("kd_tiny_model")  # nothing to add: the plugin's own model, renamed
    assert not isinstance(model, keras.Sequential)
    assert model.name == "kd_tiny_model"
    assert model.inputs[0].name == "image"
    assert model.count_params() == 4 * 9 + 4 + 4 * 10 + 10
    assert type(model.optimizer).__name__ == "Adam"  # the spec's compile settings
    wrapped = build("kd_tiny_model", preprocessing="unit", num_classes=5)
    assert wrapped.inputs[0].dtype == "uint8"
    assert tuple(wrapped.inputs[0].shape) == (None, 28, 28)
    assert tuple(wrapped.outputs[0].shape) == (None, 5)
    with pytest.raises(ModelConfigError, match="kd_tiny_model cannot be built in the "
                                               "'sequential' style"):
        build("kd_tiny_model", style="sequential")

    result = train("kd_tiny_model", load_dataset("mnist_sample"), epochs=1, callbacks=None,
                   verbose=0, seed=0)
    assert result.model.name == "kd_tiny_model"
    assert result.epochs_run == 1
    assert result.history["loss"][0] > 0


def test_plugins_load_once(site: Path) -> None:
    _install(site, "good")
    assert "kd_tiny" in list_models()
    # Loading again must not re-register (which would raise DuplicateModelError).
    _plugins.load_plugins()
    assert list_models(tags="plugin") == PLUGIN_MODELS


def test_plugins_load_on_first_get_model_spec(site: Path) -> None:
    _install(site, "good")
    assert get_model_spec("kd_tiny").registered_by == "kd-test-plugin"


def test_broken_plugin_warns_and_the_rest_still_load(site: Path) -> None:
    _install(site, "good")
    _install(site, "broken")
    with pytest.warns(PluginWarning) as record:
        names = list_models()
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 3, messages
    assert all("'kd-broken-plugin'" in m for m in messages)
    broken = next(m for m in messages if "kd_broken_plugin is broken on purpose" in m)
    assert "RuntimeError" in broken and "'broken'" in broken
    missing = next(m for m in messages if "kd_no_such_module" in m)
    assert "ModuleNotFoundError" in missing
    clash = next(m for m in messages if "DuplicateModelError" in m)
    assert "'convnet'" in clash and "'kerasdigits'" in clash
    # The good plugin loaded; the failed one's partial registration was rolled back.
    assert set(PLUGIN_MODELS) <= set(names)
    assert "kd_half" not in names
    assert get_model_spec("convnet").registered_by == "kerasdigits"
    # Warned once: later registry use is quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list_models() == names


def test_plugin_cannot_replace_a_built_in_model(site: Path) -> None:
    builtin = _registry._snapshot()["convnet"]
    assert builtin.registered_by == "kerasdigits"
    _install(site, "override")
    with pytest.warns(PluginWarning) as record:
        names = list_models()
    assert len(record) == 1
    assert str(record[0].message) == (
        "kerasdigits: the model plugin of distribution 'kd-override-plugin' tried to replace "
        "the built-in model 'convnet' (register_model(..., overwrite=True) in "
        "kd_override_plugin:convnet); plugins cannot replace built-in models, so the built-in "
        "is kept. Register the plugin's model under another name."
    )
    # The built-in is kept; the plugin's other model loads.
    assert get_model_spec("convnet") is builtin
    assert "kd_override_extra" in names
    assert get_model_spec("kd_override_extra").registered_by == "kd-override-plugin"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list_models() == names


def test_own_code_may_still_replace_a_built_in_model(site: Path) -> None:
    from kerasdigits.models import register_model

    _install(site, "override")
    with pytest.warns(PluginWarning, match="'kd-override-plugin'"):
        list_models()

    @register_model("convnet", input_kind="flat", overwrite=True)
    def convnet() -> list[object]:
        """My own convnet."""
        return []

    spec = get_model_spec("convnet")
    assert spec.builder is convnet
    assert spec.registered_by != "kerasdigits"
    assert spec.description == "My own convnet."


def test_disable_plugins_environment_variable(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(site, "good")
    _install(site, "broken")
    monkeypatch.setenv("KERASDIGITS_DISABLE_PLUGINS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        names = list_models()
    assert "kd_tiny" not in names and "convnet" in names
    monkeypatch.delenv("KERASDIGITS_DISABLE_PLUGINS")
    with pytest.warns(PluginWarning, match="kd-broken-plugin"):
        assert "kd_tiny" in list_models()


def test_plugin_in_a_fresh_interpreter(site: Path) -> None:
    """The real thing: a new process finds the plugin lazily, without importing Keras."""
    _install(site, "good")
    code = (
        "import sys\n"
        "from kerasdigits import list_models, get_model_spec\n"
        "assert 'kd_test_plugin' not in sys.modules\n"
        "assert 'kd_tiny' in list_models()\n"
        "assert get_model_spec('kd_tiny').registered_by == 'kd-test-plugin'\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    env.pop("KERASDIGITS_DISABLE_PLUGINS", None)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    env["KERASDIGITS_DISABLE_PLUGINS"] = "1"
    off = "from kerasdigits import list_models\nassert 'kd_tiny' not in list_models()\n"
    subprocess.run([sys.executable, "-c", off], check=True, env=env, timeout=120)


_SLOW_PLUGIN = '''\
import kd_slow_sync
from kerasdigits.models import register_model


def kd_slow(*, num_classes=10):
    """A model of the slow plugin."""
    return []


register_model("kd_slow_first", input_kind="flat")(kd_slow)
kd_slow_sync.started.set()
assert kd_slow_sync.release.wait(60)
register_model("kd_slow_second", input_kind="flat")(kd_slow)
'''


def _install_slow_plugin(site_dir: Path) -> None:
    """A plugin that registers one model, waits for ``kd_slow_sync.release``, then another."""
    (site_dir / "kd_slow_sync.py").write_text(
        "import threading\nstarted = threading.Event()\nrelease = threading.Event()\n"
    )
    (site_dir / "kd_slow_plugin").mkdir()
    (site_dir / "kd_slow_plugin" / "__init__.py").write_text(_SLOW_PLUGIN)
    info = site_dir / "kd_slow_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kd-slow-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[kerasdigits.models]\nslow = kd_slow_plugin\n")
    importlib.invalidate_caches()


def test_another_thread_waits_until_the_plugins_are_loaded(site: Path) -> None:
    """A thread using the registry while another loads the plugins never sees half of them."""
    _install_slow_plugin(site)
    import kd_slow_sync  # type: ignore[import-not-found]

    seen: dict[str, list[str]] = {}

    def use(key: str) -> None:
        seen[key] = list_models("kd_slow_*")

    loader = threading.Thread(target=use, args=("loader",))
    other = threading.Thread(target=use, args=("other",))
    loader.start()
    try:
        assert kd_slow_sync.started.wait(60)  # the plugin has registered its first model
        other.start()
        other.join(0.5)
        assert other.is_alive(), f"returned during loading with {seen.get('other')}"
    finally:
        kd_slow_sync.release.set()
        loader.join(60)
        if other.ident is not None:
            other.join(60)
    both = ["kd_slow_first", "kd_slow_second"]
    assert seen == {"loader": both, "other": both}
    assert get_model_spec("kd_slow_second").registered_by == "kd-slow-plugin"


def test_plugin_warning_is_importable_where_it_was() -> None:
    import kerasdigits
    import kerasdigits.models._errors as errors
    from kerasdigits._plugins import PluginWarning as Generic

    assert errors.PluginWarning is PluginWarning is Generic
    assert issubclass(PluginWarning, kerasdigits.KerasDigitsWarning)


def test_models_command_builds_only_a_model_without_declared_params(site: Path) -> None:
    import io

    from kerasdigits.cli import main

    _install(site, "good")
    out = io.StringIO()
    assert main(["models", "kd_tiny*"], out=out) == 0
    assert get_model_spec("kd_tiny").params is None  # the plugin does not declare it
    rows = {line.split()[0]: line.split()[2] for line in out.getvalue().splitlines()[1:-1]}
    assert rows == {name: f"{build(name, compile=False).count_params():,}"
                    for name in PLUGIN_MODELS}
