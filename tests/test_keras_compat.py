"""The assumptions kerasdigits makes about Keras internals (src/kerasdigits/_keras_compat.py).

One test per assumption, named after it, in the order the compat module's docstring lists
them. After upgrading Keras or TensorFlow, run this file first: a failing test names the
assumption that no longer holds, before anything fails deeper in a distributed run. The last
tests check the compat functions themselves (their loud failure, the backup callback).
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _traces import count_train_step_traces
from kerasdigits import _keras_compat as compat
from kerasdigits.training import make_strategy

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parent.parent


def _model(*, compiled: bool = True, steps_per_execution: int = 1) -> Any:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    if compiled:
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], steps_per_execution=steps_per_execution)
    return model


def _data(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 4), dtype=np.float32), rng.integers(0, 3, n)


def _pipeline(n: int = 8, batch: int = 4) -> Any:
    return tf.data.Dataset.from_tensor_slices(_data(n)).batch(batch)


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.findall(r"\d+", version)[:2]
    return int(major), int(minor)


# ----------------------------------------------------------------------------- the versions


def test_installed_keras_and_tensorflow_are_no_newer_than_tested() -> None:
    # Newer versions may break any assumption below: run this file, then raise the tested
    # versions in _keras_compat.py and pyproject.toml together.
    assert _minor(keras.__version__) <= _minor(compat.TESTED_KERAS)
    assert _minor(tf.__version__) <= _minor(compat.TESTED_TENSORFLOW)


def test_pyproject_bounds_keras_and_tensorflow_at_the_tested_versions() -> None:
    tomllib = pytest.importorskip("tomllib")
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not run from a checkout")
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    bounds = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0]: d.replace(" ", "") for d in dependencies}
    for name, tested in (("keras", compat.TESTED_KERAS), ("tensorflow", compat.TESTED_TENSORFLOW)):
        major, minor = _minor(tested)
        assert f"<{major}.{minor + 1}" in bounds[name], bounds.get(name)


# ----------------------------------------------------------------------------- the assumptions


def test_model_remembers_the_strategy_scope_it_was_created_in() -> None:
    strategy = make_strategy("mirrored")
    outside = _model()
    with strategy.scope():
        inside = _model()
        # The public property falls back to the current strategy: it cannot tell.
        assert outside.distribute_strategy is strategy
    assert inside._distribute_strategy is strategy
    assert outside._distribute_strategy is None
    assert compat.creation_strategy(inside) is strategy
    assert compat.creation_strategy(outside) is None
    assert compat.creation_strategy(object()) is None  # not a Keras model


def test_compile_keeps_its_arguments_in_compile_config(tmp_path: Path) -> None:
    model = _model(compiled=False)
    assert model.compiled is False
    assert compat.compiled_metrics(model) == []
    top2 = keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", top2])
    model.fit(*_data(), epochs=1, verbose=0)
    assert model.compiled is True
    assert model._compile_config.config["metrics"] == ["accuracy", top2]
    assert compat.compiled_metrics(model) == ["accuracy", top2]
    # A model loaded compiled (resume=True) is compiled from the saved config.
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=True)
    names = [m if isinstance(m, str) else m.name for m in compat.compiled_metrics(loaded)]
    assert names == ["accuracy", "top2"]


def test_fit_starts_from_model_initial_epoch() -> None:
    x, y = _data()
    model = _model()
    assert model._initial_epoch is None
    model._initial_epoch = 2
    assert model.fit(x, y, epochs=3, initial_epoch=0, verbose=0).epoch == [2]
    assert model._initial_epoch == 2  # fit does not reset it: the next fit would start there
    with compat.forgetting_the_restored_epoch(model):
        pass
    assert model._initial_epoch is None
    assert model.fit(x, y, epochs=1, verbose=0).epoch == [0]


def test_backup_and_restore_puts_the_restored_epoch_in_model_initial_epoch(
        tmp_path: Path) -> None:
    x, y = _data()
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[
        keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)])
    seen: list[int] = []
    model = _model()
    record = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(compat.restored_epoch(model)))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[
        keras.callbacks.BackupAndRestore(str(tmp_path)), record])
    assert seen == [2]
    assert history.epoch == [2]


def test_backup_and_restore_reads_and_writes_the_paths_in_its_private_attributes(
        tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    assert Path(backup._weights_path) == tmp_path / "backup" / compat.BACKUP_WEIGHTS
    assert Path(backup._training_metadata_path) == tmp_path / "backup" / compat.BACKUP_METADATA
    backup.set_model(model)
    backup.on_epoch_end(2)  # _save_model(): the weights and {"epoch": 3, ...}
    meta = json.loads((tmp_path / "backup" / compat.BACKUP_METADATA).read_text())
    assert meta["epoch"] == 3
    assert compat.backup_epoch(tmp_path / "backup") == 3
    # Writing goes to wherever the attributes point...
    backup._weights_path = str(tmp_path / "elsewhere.weights.h5")
    backup._training_metadata_path = str(tmp_path / "elsewhere.json")
    backup._save_model()
    assert (tmp_path / "elsewhere.weights.h5").is_file()
    assert json.loads((tmp_path / "elsewhere.json").read_text())["epoch"] == 3
    # ... and so does restoring, in on_train_begin.
    fresh = _model()
    fresh.fit(x, y, epochs=1, verbose=0)
    restore = keras.callbacks.BackupAndRestore(str(tmp_path / "unused"))
    restore._weights_path = str(tmp_path / "elsewhere.weights.h5")
    restore._training_metadata_path = str(tmp_path / "elsewhere.json")
    restore.set_model(fresh)
    restore.on_train_begin()
    assert fresh._initial_epoch == 3
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_builds_the_model_through_maybe_symbolic_build() -> None:
    strategy = make_strategy("mirrored")
    with strategy.scope():
        model = _model()
    original = model._maybe_symbolic_build
    calls: list[tuple[bool, bool]] = []

    def record(iterator: Any = None, data_batch: Any = None) -> None:
        calls.append((iterator is not None, data_batch is not None))
        original(iterator=iterator, data_batch=data_batch)

    model._maybe_symbolic_build = record  # looked up on the instance
    model.fit(_pipeline(), epochs=1, shuffle=False, verbose=0)
    assert calls[0] == (True, False)


def test_symbolic_build_builds_from_a_data_batch_of_specs() -> None:
    strategy = make_strategy("mirrored")
    with strategy.scope():
        model = keras.Sequential([keras.layers.Dense(3, activation="softmax")])  # unbuilt
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    spec = _pipeline().element_spec
    assert all(isinstance(s, tf.TensorSpec) for s in spec)
    assert not model.built
    with strategy.scope():
        model._symbolic_build(data_batch=spec)
    assert model.built and all(layer.built for layer in model.layers)


@pytest.mark.parametrize("built_first", [False, True])
def test_fit_without_a_strategy_traces_the_step_once_when_built_first(built_first: bool) -> None:
    model = _model(steps_per_execution=2)
    traces = count_train_step_traces(model)
    if built_first:
        compat.build_before_fit(model, _pipeline().element_spec)
        assert model.optimizer.built
    model.fit(_pipeline(n=16), epochs=2, shuffle=False, verbose=0)
    # Keras builds the optimizer inside the first trace, and a tf.function that creates
    # variables there is traced again; built first, once.
    assert len(traces) == (1 if built_first else 2)


def test_building_first_trains_the_same_weights() -> None:
    models = [_model(steps_per_execution=2) for _ in range(2)]
    initial = models[0].get_weights()
    models[1].set_weights(initial)
    compat.build_before_fit(models[1], _pipeline().element_spec)
    for model in models:
        model.fit(_pipeline(n=16), epochs=2, shuffle=False, verbose=0)
    assert not np.array_equal(models[0].get_weights()[0], initial[0])  # it did train
    for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_and_evaluate_call_train_step_and_test_step_looked_up_on_the_model() -> None:
    x, y = _data()
    model = _model()
    seen: list[str] = []
    train_step, test_step = model.train_step, model.test_step

    def my_train_step(data: Any) -> Any:
        seen.append("train")
        return train_step(data)

    def my_test_step(data: Any) -> Any:
        seen.append("test")
        return test_step(data)

    model.train_step, model.test_step = my_train_step, my_test_step
    model.fit(x, y, epochs=1, validation_data=(x, y), verbose=0)
    assert {"train", "test"} <= set(seen)


def test_a_new_steps_per_execution_applies_once_the_step_functions_are_reset() -> None:
    x, y = _data()
    model = _model(steps_per_execution=4)

    def batches_ended() -> tuple[list[int], Any]:
        ended: list[int] = []
        return ended, keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: ended.append(batch))

    ended, callback = batches_ended()
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[callback])
    assert ended == [3]  # 4 batches in one call
    assert compat.steps_per_execution(model) == 4
    with compat.one_step_per_execution(model):
        assert model.steps_per_execution == 1
        assert model.train_function is None
        ended, callback = batches_ended()
        model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[callback])
        assert ended == [0, 1, 2, 3]  # traced again: one batch per call
    assert model.steps_per_execution == 4 and model.train_function is None


# ----------------------------------------------------------------------------- the workarounds


def test_a_missing_internal_fails_loudly_naming_the_keras_version(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    monkeypatch.delattr(model, "_compile_config")
    not_keras = types.SimpleNamespace()
    checks = [
        lambda: compat.compiled_metrics(model),
        lambda: compat.restored_epoch(not_keras),
        lambda: compat.steps_per_execution(not_keras),
        lambda: compat.forgetting_the_restored_epoch(not_keras).__enter__(),
        lambda: compat.one_step_per_execution(not_keras).__enter__(),
        lambda: compat.building_from_element_spec(not_keras, None, None).__enter__(),
        lambda: compat.build_before_fit(not_keras, None),
    ]
    for check in checks:
        with pytest.raises(compat.KerasInternalsError) as caught:
            check()
        message = str(caught.value)
        assert f"Keras {keras.__version__}" in message
        assert f"tested up to Keras {compat.TESTED_KERAS}" in message
        assert "test_keras_compat.py" in message


def test_workarounds_last_for_the_block_only() -> None:
    strategy = make_strategy("mirrored")
    with strategy.scope():
        model = _model()
    spec = _pipeline().element_spec

    def own_test_step(data: Any) -> Any:
        return {}

    model.test_step = own_test_step  # the caller's own: left alone
    with compat.building_from_element_spec(model, strategy, spec), \
            compat.scalar_logs_made_rank_1(model):
        assert {"_maybe_symbolic_build", "train_step"} <= set(vars(model))
        assert model.test_step is own_test_step
        model.fit(_pipeline(), epochs=1, shuffle=False, verbose=0)
    assert not {"_maybe_symbolic_build", "train_step"} & set(vars(model))
    assert model.test_step is own_test_step


def test_backup_class_restores_from_one_folder_and_backs_up_to_another(tmp_path: Path) -> None:
    x, y = _data()
    backup_class = compat.backup_and_restore_class()
    assert compat.backup_and_restore_class() is backup_class  # one class per process

    class Interrupt(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if epoch == 2:
                raise RuntimeError("interrupted")

    chief = tmp_path / "chief"
    with pytest.raises(RuntimeError, match="interrupted"):
        _model().fit(x, y, epochs=4, verbose=0, callbacks=[
            backup_class(tmp_path / "none", chief, restore=False), Interrupt()])
    assert sorted(p.name for p in chief.iterdir()) == sorted(
        [compat.BACKUP_WEIGHTS, compat.BACKUP_METADATA])  # renamed into place, no .part left
    assert compat.backup_epoch(chief) == 2
    worker = tmp_path / "worker"
    model = _model()
    callback = backup_class(chief, worker, restore=True)
    with compat.forgetting_the_restored_epoch(model):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    assert callback.restored_epoch == 2
    assert history.epoch == [2]
    assert compat.backup_epoch(chief) == 2  # read, not written
    assert not worker.exists()  # its own backup, removed when training ended
    assert model._initial_epoch is None
