"""Every use kerasdigits makes of private Keras internals, each checked before it is relied on.

kerasdigits works around a few Keras 3 bugs under ``tf.distribute`` and reads a few things Keras
keeps no public accessor for. All of it lives here, and nowhere else, so that a Keras upgrade
breaks one module. Every function checks that what it reads or replaces exists (and, where it
matters, takes the arguments it is given) and raises :class:`KerasInternalsError`, naming the
installed and the tested Keras versions, when it does not: a workaround never stops applying
silently.

The assumptions, each stated by the test of the same name in ``tests/test_keras_compat.py``:

* ``model_remembers_the_strategy_scope_it_was_created_in``: a model created inside
  ``strategy.scope()`` keeps that strategy in ``model._distribute_strategy`` (``None`` outside
  any scope). The public ``model.distribute_strategy`` falls back to the current strategy, so
  it cannot tell whether the model came from the scope (:func:`creation_strategy`).
* ``compile_keeps_its_arguments_in_compile_config``: ``model.compile`` stores its arguments in
  ``model._compile_config.config``, a dict with the ``"metrics"`` passed, and sets
  ``model.compiled`` (:func:`compiled_metrics`).
* ``fit_starts_from_model_initial_epoch``: ``fit`` starts at ``model._initial_epoch`` when it is
  set, whatever ``initial_epoch`` it is given, and does not reset it afterwards
  (:func:`forgetting_the_restored_epoch`).
* ``backup_and_restore_puts_the_restored_epoch_in_model_initial_epoch``: that is how
  ``keras.callbacks.BackupAndRestore`` resumes (:func:`restored_epoch`).
* ``backup_and_restore_reads_and_writes_the_paths_in_its_private_attributes``: it writes its
  backup with ``_save_model()`` to ``_weights_path`` (``latest.weights.h5``) and
  ``_training_metadata_path`` (``training_metadata.json``, ``{"epoch": n, ...}``) and restores,
  in ``on_train_begin``, from the same attributes (:func:`backup_and_restore_class`,
  :func:`backup_epoch`).
* ``fit_builds_the_model_through_maybe_symbolic_build``: under a strategy, ``fit`` builds the
  model by calling ``model._maybe_symbolic_build(iterator=...)``, looked up on the instance, and
  ``symbolic_build_builds_from_a_data_batch_of_specs``: ``model._symbolic_build(data_batch=...)``
  builds it from a structure of ``tf.TensorSpec`` (:func:`building_from_element_spec`);
  ``fit_without_a_strategy_traces_the_step_once_when_built_first``: on one device, that build
  creates the optimizer's and the metrics' variables, so that ``fit`` traces the training step
  once instead of twice (:func:`build_before_fit`).
* ``fit_and_evaluate_call_train_step_and_test_step_looked_up_on_the_model``: an instance
  attribute ``train_step`` / ``test_step`` replaces the method (:func:`scalar_logs_made_rank_1`).
* ``a_new_steps_per_execution_applies_once_the_step_functions_are_reset``: Keras reads
  ``model.steps_per_execution`` when it traces ``train_function`` / ``test_function`` /
  ``predict_function`` and traces them again once they are ``None``
  (:func:`one_step_per_execution`).

The Keras bugs worked around: under ``MultiWorkerMirroredStrategy`` the first-batch build
all-reduces the input batch and ``reduce_per_replica`` reduces the scalar metrics along axis 0
(keras-team/keras#20585); under any multi-replica strategy ``steps_per_execution > 1`` fails
("You must feed a value for placeholder tensor", keras-team/keras#19246).

Not here: ``export/_convert.py`` sets the TFLite converter's private
``_experimental_disable_per_channel_quantization_for_dense_layers`` (its owner checks the
converted file's operator versions afterwards, so a converter that ignores it fails loudly
there) and imports ``convert_variables_to_constants_v2`` from ``tensorflow.python``.

Upgrading TensorFlow or Keras: install the new versions, run ``pytest
tests/test_keras_compat.py`` first (a failing test names the assumption that no longer holds;
fix the function above that relies on it, or drop the workaround if Keras fixed the bug), then
``tests/test_distribute.py`` and the rest of the suite. When everything passes, raise
:data:`TESTED_KERAS` / :data:`TESTED_TENSORFLOW` and the upper bounds of ``tensorflow`` and
``keras`` in ``pyproject.toml`` together (``tests/test_keras_compat.py`` checks that they
agree), and update the versions quoted in ``docs/scaling.md``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kerasdigits import _lazy
from kerasdigits._errors import KerasDigitsError

__all__ = [
    "BACKUP_METADATA",
    "BACKUP_WEIGHTS",
    "TESTED_KERAS",
    "TESTED_TENSORFLOW",
    "KerasInternalsError",
    "backup_and_restore_class",
    "backup_epoch",
    "build_before_fit",
    "building_from_element_spec",
    "compiled_metrics",
    "creation_strategy",
    "forgetting_the_restored_epoch",
    "one_step_per_execution",
    "restored_epoch",
    "scalar_logs_made_rank_1",
    "steps_per_execution",
]

#: The newest Keras minor version these workarounds were tested with (``pyproject.toml`` allows
#: up to it).
TESTED_KERAS = "3.15"
#: The newest TensorFlow minor version they were tested with.
TESTED_TENSORFLOW = "2.21"

#: File name of the weights in a ``keras.callbacks.BackupAndRestore`` backup folder.
BACKUP_WEIGHTS = "latest.weights.h5"
#: File name of the training metadata (``{"epoch": n, ...}``) in such a folder.
BACKUP_METADATA = "training_metadata.json"


class KerasInternalsError(KerasDigitsError, RuntimeError):
    """A Keras internal that kerasdigits relies on is missing or has changed.

    The installed Keras (or TensorFlow) is newer or older than the versions kerasdigits was
    tested with; the message names both.
    """


def _versions() -> str:
    keras = _lazy.keras()
    tf = _lazy.tensorflow()
    return (f"Keras {getattr(keras, '__version__', '?')} with TensorFlow "
            f"{getattr(tf, '__version__', '?')}")


def _require(ok: bool, what: str, purpose: str) -> None:
    """Raise :class:`KerasInternalsError` unless ``ok``.

    Args:
        ok: Whether the internal is there as expected.
        what: The internal (``"Model._maybe_symbolic_build(iterator, data_batch)"``).
        purpose: What kerasdigits uses it for.

    Raises:
        KerasInternalsError: ``ok`` is false.
    """
    if ok:
        return
    raise KerasInternalsError(
        f"kerasdigits relies on the Keras internal {what} ({purpose}), which {_versions()} "
        f"does not provide as expected. kerasdigits was tested up to Keras {TESTED_KERAS} and "
        f"TensorFlow {TESTED_TENSORFLOW}: install those ({TESTED_KERAS}.x and "
        f"{TESTED_TENSORFLOW}.x, the newest versions pyproject.toml allows); "
        "tests/test_keras_compat.py names the assumption that no longer holds"
    )


def _takes(function: Any, *names: str) -> bool:
    """Whether ``function`` is callable with every keyword argument in ``names``."""
    if not callable(function):
        return False
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return all(name in parameters for name in names)


@contextlib.contextmanager
def _instance_attribute(model: Any, name: str, value: Any) -> Iterator[None]:
    """Set ``model.<name>`` (shadowing the class's) for the duration of the block."""
    setattr(model, name, value)
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):
            delattr(model, name)


# ----------------------------------------------------------------------------- models


def creation_strategy(model: Any) -> Any:
    """Return the ``tf.distribute.Strategy`` in whose scope ``model`` was created.

    Returns:
        The strategy, or ``None`` when the model was created outside any scope (or is not a
        Keras model).

    Raises:
        KerasInternalsError: A Keras model without ``_distribute_strategy``.
    """
    keras = _lazy.keras()
    if not isinstance(model, keras.Model):
        return None
    _require(hasattr(model, "_distribute_strategy"), "Model._distribute_strategy",
             "to check that a model given with strategy= was created in strategy.scope()")
    return model._distribute_strategy


def compiled_metrics(model: Any) -> list[Any]:
    """Return the ``metrics`` argument ``model`` was compiled with (``[]``: none, or not compiled).

    Raises:
        KerasInternalsError: A Keras model without a boolean ``compiled``, or a compiled one
            without ``_compile_config.config``.
    """
    keras = _lazy.keras()
    if not isinstance(model, keras.Model):
        return []
    _require(isinstance(getattr(model, "compiled", None), bool), "Model.compiled",
             "whether the model is compiled, before reading its compiled metrics")
    if not model.compiled:
        return []
    config: Any = getattr(getattr(model, "_compile_config", None), "config", None)
    _require(isinstance(config, dict) and "metrics" in config,
             "Model._compile_config.config['metrics']",
             "the names of the compiled metrics, to check what callbacks monitor")
    metrics = config["metrics"] or []
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def _require_initial_epoch(model: Any) -> None:
    _require(hasattr(model, "_initial_epoch"), "Model._initial_epoch",
             "the epoch keras.callbacks.BackupAndRestore resumes from")


def restored_epoch(model: Any) -> int:
    """Epochs done according to the ``BackupAndRestore`` backup restored into ``model`` (or 0).

    Raises:
        KerasInternalsError: The model has no ``_initial_epoch``.
    """
    _require_initial_epoch(model)
    return int(model._initial_epoch or 0)


@contextlib.contextmanager
def forgetting_the_restored_epoch(model: Any) -> Iterator[None]:
    """Clear the epoch a ``BackupAndRestore`` restored into ``model`` when the block ends.

    ``fit`` starts every later call at that epoch otherwise.

    Raises:
        KerasInternalsError: The model has no ``_initial_epoch`` (checked on entry).
    """
    _require_initial_epoch(model)
    try:
        yield
    finally:
        model._initial_epoch = None


# ----------------------------------------------------------------------------- fit under a strategy


def _first_local(strategy: Any, value: Any) -> Any:
    tf = _lazy.tensorflow()
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


@contextlib.contextmanager
def building_from_element_spec(model: Any, strategy: Any, element_spec: Any) -> Iterator[None]:
    """Make ``fit`` build ``model`` from ``element_spec`` rather than from a first batch.

    Under a strategy Keras takes a first batch from a fresh iterator and all-reduces it to
    build the model symbolically. The all-reduce fails under ``MultiWorkerMirroredStrategy``
    (keras-team/keras#20585), and the extra iterator consumes one reshuffle of the data, so
    that the epochs would not see the batches a single-device run sees. The pipeline's element
    spec has the shapes and dtypes the build needs.

    Args:
        model: The model about to be fitted (inside ``strategy.scope()``).
        strategy: Its strategy.
        element_spec: ``element_spec`` of the (undistributed) training pipeline.

    Raises:
        KerasInternalsError: ``_maybe_symbolic_build`` or ``_symbolic_build`` is missing or
            takes other arguments.
    """
    tf = _lazy.tensorflow()
    _require(_takes(getattr(type(model), "_maybe_symbolic_build", None), "iterator",
                    "data_batch"),
             "Model._maybe_symbolic_build(iterator, data_batch)",
             "to build the model from the pipeline's element spec under a strategy")
    _require_symbolic_build(model, "to build the model from the pipeline's element spec "
                                   "under a strategy")

    def build_from_spec(iterator: Any = None, data_batch: Any = None) -> None:
        if data_batch is None:
            data_batch = element_spec
        data_batch = tf.nest.map_structure(lambda v: _first_local(strategy, v), data_batch)
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    with _instance_attribute(model, "_maybe_symbolic_build", build_from_spec):
        yield


def _require_symbolic_build(model: Any, purpose: str) -> None:
    _require(_takes(getattr(model, "_symbolic_build", None), "data_batch"),
             "Model._symbolic_build(data_batch)", purpose)


def build_before_fit(model: Any, element_spec: Any) -> None:
    """Create the optimizer's and the compiled metrics' variables before ``fit`` traces.

    Without a strategy, Keras creates them while it traces the training step, and a
    ``tf.function`` that creates variables on its first trace is traced a second time: every
    ``train`` call paid two traces of the step (0.55 s of CPU for ``fast_convnet``, 8% of its
    training). Building them first, from the pipeline's element spec (no batch
    is drawn), leaves one trace and the same training.

    Args:
        model: The compiled model about to be fitted on one device.
        element_spec: ``element_spec`` of the training pipeline.

    Raises:
        KerasInternalsError: ``_symbolic_build`` is missing or takes other arguments.
    """
    _require_symbolic_build(model, "to build the optimizer before fit, so that the training "
                                   "step is traced once")
    model._symbolic_build(data_batch=element_spec)


@contextlib.contextmanager
def scalar_logs_made_rank_1(model: Any) -> Iterator[None]:
    """Give the logs of ``train_step`` and ``test_step`` a leading axis of 1 during the block.

    Under ``MultiWorkerMirroredStrategy`` Keras' ``reduce_per_replica`` does
    ``strategy.reduce("MEAN", v, axis=0)`` on each log, which fails on the scalar metrics
    (keras-team/keras#20585). A step the caller set on the instance is left alone.
    """
    tf = _lazy.tensorflow()

    def one_rank_up(step: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def wrapped(data: Any) -> Any:
            return tf.nest.map_structure(lambda v: tf.expand_dims(tf.convert_to_tensor(v), 0),
                                         step(data))

        return wrapped

    with contextlib.ExitStack() as stack:
        for name in ("train_step", "test_step"):
            if name not in vars(model):
                stack.enter_context(
                    _instance_attribute(model, name, one_rank_up(getattr(model, name))))
        yield


_STEP_FUNCTIONS = ("train_function", "test_function", "predict_function")


def steps_per_execution(model: Any) -> Any:
    """Return ``model.steps_per_execution``.

    Raises:
        KerasInternalsError: The model has no ``steps_per_execution``.
    """
    _require(hasattr(model, "steps_per_execution"), "Model.steps_per_execution",
             "to run one step per call under a multi-replica strategy")
    return model.steps_per_execution


def _set_steps_per_execution(model: Any, steps: Any) -> None:
    model.steps_per_execution = steps
    for name in _STEP_FUNCTIONS:
        setattr(model, name, None)  # traced for the old value: trace again


@contextlib.contextmanager
def one_step_per_execution(model: Any) -> Iterator[None]:
    """Run ``model`` one step per call during the block (keras-team/keras#19246).

    Keras 3 fails to run several steps per call under a multi-replica strategy ("You must feed
    a value for placeholder tensor").

    Raises:
        KerasInternalsError: The model has no ``steps_per_execution`` or step functions.
    """
    steps = steps_per_execution(model)
    _require(all(hasattr(model, name) for name in _STEP_FUNCTIONS),
             "Model.train_function, test_function and predict_function",
             "to trace the step functions again for another steps_per_execution")
    _set_steps_per_execution(model, 1)
    try:
        yield
    finally:
        _set_steps_per_execution(model, steps)


# ----------------------------------------------------------------------------- BackupAndRestore


def backup_epoch(folder: Path) -> int:
    """Epochs completed according to the ``BackupAndRestore`` backup in ``folder`` (0 if none)."""
    try:
        meta = json.loads((folder / BACKUP_METADATA).read_text(encoding="utf-8"))
        epoch = int(meta["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    return epoch if (folder / BACKUP_WEIGHTS).is_file() else 0


@functools.cache
def backup_and_restore_class() -> type:
    """Return kerasdigits' ``BackupAndRestore``: restores from one folder, backs up to another.

    Raises:
        KerasInternalsError: ``keras.callbacks.BackupAndRestore`` has no ``_save_model``.
    """
    keras = _lazy.keras()
    _require(callable(getattr(keras.callbacks.BackupAndRestore, "_save_model", None)),
             "keras.callbacks.BackupAndRestore._save_model",
             "to write the backup to temporary files renamed into place")

    class BackupAndRestore(keras.callbacks.BackupAndRestore):  # type: ignore[misc,name-defined]
        """``keras.callbacks.BackupAndRestore`` that restores from one folder, backs up to another.

        Every worker restores from the chief's backup (``read_dir``, on shared storage) and
        writes its own backup to ``backup_dir`` (the same folder for the chief, a temporary one
        for the others).
        """

        _weights_path: str
        _training_metadata_path: str

        def __init__(self, read_dir: Path, backup_dir: Path, *, restore: bool) -> None:
            super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)
            paths = (getattr(self, "_weights_path", None),
                     getattr(self, "_training_metadata_path", None))
            _require(all(isinstance(p, str) for p in paths) and
                     [Path(str(p)) for p in paths] ==
                     [Path(backup_dir) / BACKUP_WEIGHTS, Path(backup_dir) / BACKUP_METADATA],
                     "BackupAndRestore._weights_path and _training_metadata_path (" +
                     f"{BACKUP_WEIGHTS}, {BACKUP_METADATA})",
                     "to restore from the chief's backup and to write it atomically")
            self.read_dir = Path(read_dir)
            self.restore = restore
            #: Epochs done according to the backup restored (0 if none was).
            self.restored_epoch = 0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            if not self.restore:
                return
            saved = (self._weights_path, self._training_metadata_path)
            self._weights_path = str(self.read_dir / BACKUP_WEIGHTS)
            self._training_metadata_path = str(self.read_dir / BACKUP_METADATA)
            try:
                super().on_train_begin(logs)
            finally:
                self._weights_path, self._training_metadata_path = saved
            self.restored_epoch = restored_epoch(self.model)

        def _save_model(self) -> None:
            # Write-then-rename, so that a worker killed mid-save leaves the previous backup.
            final = (self._weights_path, self._training_metadata_path)
            Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
            self._weights_path = final[0] + ".part.weights.h5"
            self._training_metadata_path = final[1] + ".part"
            try:
                super()._save_model()
            finally:
                parts = (self._weights_path, self._training_metadata_path)
                self._weights_path, self._training_metadata_path = final
            for part, path in zip(parts, final, strict=True):
                os.replace(part, path)

    return BackupAndRestore
