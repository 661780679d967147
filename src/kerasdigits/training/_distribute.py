"""Training on several devices or machines with ``tf.distribute``.

:func:`~kerasdigits.train` takes ``strategy=``: a ``tf.distribute.Strategy`` instance or one
of the names in :data:`STRATEGIES`. This module turns a name into a strategy and holds what
``train`` does differently under one:

* the model is built, compiled (and, when resuming, loaded) inside ``strategy.scope()``;
* ``batch_size`` stays the *global* batch; each of the ``num_replicas_in_sync`` replicas gets
  ``batch_size // num_replicas_in_sync`` examples (the division must be exact), and the
  recipe's learning rate, meant for the global batch, is used unchanged;
* the input pipelines are sharded by data (``AutoShardPolicy.DATA``) and shuffled with the same
  seed on every worker (a seed drawn on one worker and shared when ``seed=None``);
* only the chief writes into the checkpoint folder; the other workers write the same files
  into a temporary folder (saving involves collectives, so every worker has to save) that is
  removed when ``train`` returns;
* a ``keras.callbacks.BackupAndRestore`` backs the run up in ``<checkpoint_dir>/backup``;
  ``resume=True`` continues from it or from the newest checkpoint, whichever is newer, after
  checking that every worker sees the same one;
* the TensorFlow errors raised when a peer dies or stops responding (the coordination
  service's heartbeats, or the optional collective timeout) become a
  :class:`WorkerFailureError` that says how to resume.

Keras 3 bugs worked around on the model for the duration of ``fit`` only: under
``MultiWorkerMirroredStrategy`` its first-batch build all-reduces the input batch and its
``reduce_per_replica`` reduces the scalar metrics along axis 0 (keras-team/keras#20585); under
any multi-replica strategy ``steps_per_execution > 1`` fails (keras-team/keras#19246).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kerasdigits import _lazy
from kerasdigits._errors import KerasDigitsError
from kerasdigits._suggest import did_you_mean
from kerasdigits.training._train import TrainingError

__all__ = [
    "BACKUP_DIR",
    "STRATEGIES",
    "WorkerFailureError",
    "is_chief",
    "make_strategy",
    "resolve_strategy",
]

#: Strategy name -> one-line description (the names ``train(strategy=...)`` accepts).
STRATEGIES: dict[str, str] = {
    "mirrored": (
        "tf.distribute.MirroredStrategy over every local device: all GPUs, or all logical CPU "
        "devices when there is no GPU"
    ),
    "multi_worker": (
        "tf.distribute.MultiWorkerMirroredStrategy over the cluster described by the TF_CONFIG "
        "environment variable (one process per machine)"
    ),
}

#: Folder (inside the checkpoint folder) of the ``BackupAndRestore`` backup.
BACKUP_DIR = "backup"

_CACHE: dict[tuple[str, float | None], Any] = {}
_CACHE_LOCK = threading.Lock()


class WorkerFailureError(KerasDigitsError, RuntimeError):
    """Distributed training stopped because a worker died or stopped responding.

    Every worker has to be restarted (TensorFlow's collective runtime cannot recover inside a
    process); ``train(..., resume=True)`` then continues from the last checkpoint.
    """


# ----------------------------------------------------------------------------- strategies


def _read_tf_config() -> dict[str, Any]:
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        raise TrainingError(
            "strategy='multi_worker' needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}} (see the "Scaling out" docs); without it '
            "every process would train alone"
        )
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise TrainingError(f"TF_CONFIG is not valid JSON: {exc}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise TrainingError("TF_CONFIG has no 'cluster' (a dict of job name -> addresses)")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise TrainingError("TF_CONFIG has no 'task' with a 'type' and an 'index'")
    task_type, index = task["type"], task["index"]
    if task_type not in cluster:
        raise TrainingError(
            f"TF_CONFIG task type {task_type!r} is not a job of the cluster "
            f"({', '.join(sorted(cluster))})"
        )
    if isinstance(index, bool) or not isinstance(index, int) or \
            not 0 <= index < len(cluster[task_type]):
        raise TrainingError(
            f"TF_CONFIG task index {index!r} is out of range for job {task_type!r} "
            f"({len(cluster[task_type])} tasks)"
        )
    if not set(cluster) <= {"chief", "worker"}:
        raise TrainingError(
            "MultiWorkerMirroredStrategy takes 'chief' and 'worker' jobs only; TF_CONFIG has "
            f"{', '.join(sorted(set(cluster) - {'chief', 'worker'}))}"
        )
    return dict(config)


def _local_devices() -> list[str]:
    tf = _lazy.tensorflow()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]


def make_strategy(name: str, *, collective_timeout: float | None = None) -> Any:
    """Return the ``tf.distribute.Strategy`` called ``name`` (see :data:`STRATEGIES`).

    ``"multi_worker"`` must be created before TensorFlow runs anything else in the process,
    and only once per process: the same instance is returned on later calls.

    Args:
        name: ``"mirrored"`` or ``"multi_worker"``.
        collective_timeout: ``"multi_worker"`` only: seconds after which a collective operation
            (an all-reduce) that has not completed fails with ``DeadlineExceededError``, for a
            peer that is alive but stuck. ``None`` (default): no timeout. A dead or frozen
            peer is detected without it, by the coordination service's heartbeats (about 10
            s). TensorFlow keeps a thread per pending timeout, so a long timeout on a fast
            model costs thousands of threads.

    Returns:
        The strategy.

    Raises:
        TrainingError: Unknown name, a bad ``collective_timeout``, or a missing or malformed
            ``TF_CONFIG`` for ``"multi_worker"``.
    """
    if name not in STRATEGIES:
        raise TrainingError(
            f"unknown strategy {name!r}.{did_you_mean(name, STRATEGIES)} "
            f"Strategies: {', '.join(STRATEGIES)}, or a tf.distribute.Strategy instance."
        )
    if collective_timeout is not None:
        if isinstance(collective_timeout, bool) or \
                not isinstance(collective_timeout, (int, float)) or collective_timeout <= 0:
            raise TrainingError(
                f"collective_timeout must be a positive number of seconds or None, got "
                f"{collective_timeout!r}"
            )
        if name != "multi_worker":
            raise TrainingError("collective_timeout only applies to strategy 'multi_worker'")
        collective_timeout = float(collective_timeout)
    key = (name, collective_timeout)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        tf = _lazy.tensorflow()
        if name == "mirrored":
            strategy = tf.distribute.MirroredStrategy(_local_devices())
        else:
            _read_tf_config()
            if any(k[0] == "multi_worker" for k in _CACHE):
                raise TrainingError(
                    "a 'multi_worker' strategy with another collective_timeout already exists "
                    "in this process; TensorFlow allows one per process"
                )
            options = tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=collective_timeout
            )
            strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        _CACHE[key] = strategy
        return strategy


def resolve_strategy(strategy: Any) -> Any:
    """Return ``None``, a strategy instance as is, or :func:`make_strategy` of a name.

    Raises:
        TrainingError: An unknown name, or something that is not a strategy.
    """
    if strategy is None or isinstance(strategy, str):
        return None if strategy is None else make_strategy(strategy)
    tf = _lazy.tensorflow()
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TrainingError(
            f"strategy must be None, {' or '.join(repr(n) for n in STRATEGIES)} or a "
            f"tf.distribute.Strategy, got {type(strategy).__name__}"
        )
    return strategy


def _task(strategy: Any) -> tuple[str | None, int]:
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None) if resolver is not None else None
    task_id = getattr(resolver, "task_id", None) if resolver is not None else None
    return (str(task_type) if task_type else None), int(task_id or 0)


def _num_workers(strategy: Any) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    try:
        spec = resolver.cluster_spec().as_dict()
    except Exception:  # a resolver that cannot answer describes no cluster
        return 1
    return max(1, sum(len(spec.get(job, ())) for job in ("chief", "worker")))


def is_chief(strategy: Any = None) -> bool:
    """Whether this process writes the checkpoints (and should write any other output).

    The chief is the task of type ``chief``, or worker 0 when the cluster has no chief;
    single-machine strategies (and ``None``) are always the chief. Uses the strategy's
    ``extended.should_checkpoint``.

    Args:
        strategy: A ``tf.distribute.Strategy``, a strategy name, or ``None``.
    """
    resolved = resolve_strategy(strategy)
    if resolved is None:
        return True
    return bool(getattr(resolved.extended, "should_checkpoint", True))


# ----------------------------------------------------------------------------- one run


def _first_local(strategy: Any, value: Any) -> Any:
    tf = _lazy.tensorflow()
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


class DistributedRun:
    """What :func:`~kerasdigits.train` needs to know and do under one strategy (internal)."""

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy
        self.replicas = int(strategy.num_replicas_in_sync)
        self.workers = _num_workers(strategy)
        self.chief = is_chief(strategy)
        self.task_type, self.task_id = _task(strategy)
        self._tmp: Path | None = None
        #: The real checkpoint folder (named in failure messages).
        self.directory: Path | None = None

    @property
    def multi_worker(self) -> bool:
        """Whether there are several worker processes (collectives go over the network)."""
        return self.workers > 1

    @property
    def label(self) -> str:
        """``"worker 1"``, ``"chief 0"`` or ``"local"``: this process, for messages."""
        return f"{self.task_type} {self.task_id}" if self.task_type else "local"

    # -- arguments

    def per_replica_batch_size(self, batch_size: int) -> int:
        """Return ``batch_size // replicas``; the global batch must divide evenly.

        Raises:
            TrainingError: ``batch_size`` is not a multiple of the number of replicas.
        """
        if batch_size % self.replicas:
            lower = batch_size - batch_size % self.replicas
            choices = " or ".join(str(c) for c in (lower, lower + self.replicas) if c > 0)
            raise TrainingError(
                f"batch_size {batch_size} is the global batch and must be a multiple of the "
                f"{self.replicas} replicas of the strategy (each gets an equal share); use "
                f"{choices}"
            )
        return batch_size // self.replicas

    def check_model(self, model: Any) -> None:
        """Refuse a Keras model that was not created inside ``strategy.scope()``."""
        owner = getattr(model, "_distribute_strategy", None)
        if owner is not self.strategy:
            raise TrainingError(
                "a Keras model given with strategy= must be created (and compiled) inside "
                "strategy.scope(); pass a zoo name to have train() build it there"
            )

    def shard(self, data: Any) -> Any:
        """Set ``AutoShardPolicy.DATA`` on a pipeline of global batches.

        Every worker reads the same (identically shuffled) batches and keeps its share of each,
        so the global batch and the epoch are the same as on one device.
        """
        if data is None:
            return None
        tf = _lazy.tensorflow()
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return data.with_options(options)

    # -- values every worker must agree on

    def _gather(self, value: int) -> list[int]:
        tf = _lazy.tensorflow()
        if not self.multi_worker:
            return [value]

        def local() -> Any:
            return tf.constant([value], dtype=tf.int64)

        @tf.function  # type: ignore[untyped-decorator]
        def gather() -> Any:  # in a tf.function: eager collectives are slow and say so
            return self.strategy.gather(self.strategy.run(local), axis=0)

        return [int(v) for v in gather().numpy().tolist()]

    def shuffle_seed(self, seed: int | None) -> int | None:
        """The shuffle seed: ``seed``, or (several workers, no seed) one drawn and shared."""
        if seed is not None or not self.multi_worker:
            return seed
        return self._gather(secrets.randbelow(2**31 - 1) + 1)[0]

    def agree(self, value: int, what: str) -> None:
        """Check that every worker computed the same ``value``.

        Raises:
            TrainingError: They did not (typically: the checkpoint folder is not shared).
        """
        values = self._gather(int(value))
        if len(set(values)) > 1:
            raise TrainingError(
                f"the workers disagree about {what} (one value per replica: {values}); the "
                "checkpoint folder must be on a file system every worker sees"
            )

    # -- files

    def _private_dir(self) -> Path:
        if self._tmp is None:
            prefix = f"kerasdigits-{(self.task_type or 'local')}{self.task_id}-"
            self._tmp = Path(tempfile.mkdtemp(prefix=prefix))
        return self._tmp

    def write_dir(self, directory: Path) -> Path:
        """Where this worker writes checkpoints: ``directory`` for the chief, else a temp dir."""
        self.directory = directory
        if self.chief:
            return directory
        path = self._private_dir() / "checkpoints"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def redirect(self, callbacks: Sequence[Any], write_dir: Path) -> None:
        """Point the file-writing callbacks of a user's list at ``write_dir`` (non-chief).

        Handles ``ModelCheckpoint`` (Keras' and kerasdigits'), kerasdigits' last-checkpoint
        callback, ``CSVLogger`` and ``TensorBoard``; each gets its own folder under the
        temporary folder.

        Raises:
            TrainingError: A ``BackupAndRestore`` in the list under several workers (``train``
                adds its own).
        """
        keras = _lazy.keras()
        if self.multi_worker and any(
            isinstance(cb, keras.callbacks.BackupAndRestore) for cb in callbacks
        ):
            raise TrainingError(
                "under a multi-worker strategy train() backs the run up itself (in "
                f"<checkpoint_dir>/{BACKUP_DIR}, restored from by resume=True); remove the "
                "BackupAndRestore from callbacks="
            )
        if self.chief:
            return
        for i, cb in enumerate(callbacks):
            target = write_dir / f"callback-{i}"
            if isinstance(cb, keras.callbacks.ModelCheckpoint):
                target.mkdir(parents=True, exist_ok=True)
                cb.filepath = str(target / Path(str(cb.filepath)).name)
                if hasattr(cb, "_template"):
                    cb._template = str(target / Path(cb._template).name)
                if hasattr(cb, "directory"):
                    cb.directory = target
            elif isinstance(cb, keras.callbacks.CSVLogger):
                target.mkdir(parents=True, exist_ok=True)
                cb.filename = str(target / Path(cb.filename).name)
            elif isinstance(cb, keras.callbacks.TensorBoard):
                cb.log_dir = str(target)
            elif hasattr(cb, "directory") and hasattr(cb, "on_epoch_end"):
                target.mkdir(parents=True, exist_ok=True)
                cb.directory = target

    def forget_backup(self, directory: Path) -> None:
        """A fresh run: the chief removes a backup left by an interrupted one."""
        if self.chief:
            shutil.rmtree(directory / BACKUP_DIR, ignore_errors=True)

    def backup_epoch(self, directory: Path) -> int:
        """Epochs completed according to the backup in ``directory`` (0 if none)."""
        meta = directory / BACKUP_DIR / "training_metadata.json"
        weights = directory / BACKUP_DIR / "latest.weights.h5"
        try:
            epoch = int(json.loads(meta.read_text(encoding="utf-8"))["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return epoch if weights.is_file() else 0

    def backup(self, directory: Path, write_dir: Path, callbacks: str | Sequence[Any] | None,
               *, resume: bool, initial_epoch: int, previous: dict[str, list[float]],
               epochs: int) -> tuple[int, dict[str, list[float]], Any]:
        """Set up the run's ``BackupAndRestore``; with ``resume``, continue from it if newer.

        The callback reads ``directory/backup`` and writes ``write_dir/backup``. There is none
        when ``callbacks`` is ``None`` or ``"none"``, or when the list has its own.

        Args:
            directory: The real checkpoint folder.
            write_dir: Where this worker writes (the same folder for the chief).
            callbacks: ``train``'s ``callbacks`` argument.
            resume: ``train``'s ``resume``; otherwise a stale backup is removed.
            initial_epoch: Epochs done by the checkpoint ``resume`` already loaded (or 0).
            previous: Its history.
            epochs: Epochs asked for.

        Returns:
            ``(initial_epoch, previous, callback)``, the first two updated when the backup is
            newer than the checkpoint; ``callback`` is ``None`` when there is none.

        Raises:
            TrainingError: The backup has already trained ``epochs`` epochs, or the workers
                do not see the same backup.
        """
        keras = _lazy.keras()
        if callbacks is None or callbacks == "none":
            return initial_epoch, previous, None
        if not isinstance(callbacks, str) and any(
            isinstance(cb, keras.callbacks.BackupAndRestore) for cb in callbacks
        ):
            return initial_epoch, previous, None  # the caller's own (one worker only)
        restore = False
        if resume:
            saved = self.backup_epoch(directory)
            self.agree(saved, "the backup to resume from")
            restore = saved > initial_epoch
            if restore:
                from kerasdigits.callbacks import read_history

                print(f"resume: continuing from the backup in {directory / BACKUP_DIR} (epoch "
                      f"{saved} of {epochs})", file=sys.stderr)
                if saved >= epochs:
                    raise TrainingError(
                        f"resume: the backup in {directory / BACKUP_DIR} has already trained "
                        f"{saved} epochs; ask for more than {saved} epochs"
                    )
                initial_epoch = saved
                previous = {k: v[:saved] for k, v in read_history(directory).items()}
        if not restore:
            self.forget_backup(directory)
        callback = _backup_class()(directory / BACKUP_DIR, write_dir / BACKUP_DIR,
                                   restore=restore)
        return initial_epoch, previous, callback

    # -- around fit

    @contextlib.contextmanager
    def fitting(self, model: Any, element_spec: Any) -> Iterator[None]:
        """Apply the Keras workarounds to ``model`` for the duration of ``fit``.

        Args:
            model: The model about to be fitted.
            element_spec: ``element_spec`` of the (undistributed) training pipeline.
        """
        patched = self._patch(model, element_spec)
        steps = getattr(model, "steps_per_execution", 1)
        several = isinstance(steps, int) and steps > 1 and self.replicas > 1
        if several:
            # Keras 3 fails to run several steps per call under a multi-replica strategy
            # ("You must feed a value for placeholder tensor", keras-team/keras#19246).
            print(f"strategy: running 1 step per call instead of steps_per_execution={steps} "
                  "(Keras 3 cannot run several under a multi-replica strategy)", file=sys.stderr)
            _set_steps_per_execution(model, 1)
        try:
            yield
        finally:
            for name in patched:
                with contextlib.suppress(AttributeError):
                    delattr(model, name)
            if several:
                _set_steps_per_execution(model, steps)
            if hasattr(model, "_initial_epoch"):
                model._initial_epoch = None

    def _patch(self, model: Any, element_spec: Any) -> list[str]:
        tf = _lazy.tensorflow()
        strategy = self.strategy
        patched: list[str] = []

        def one_rank_up(step: Callable[[Any], Any]) -> Callable[[Any], Any]:
            # Keras' reduce_per_replica does strategy.reduce("MEAN", v, axis=0) on each log
            # under MWMS, which fails on the scalar metrics: give them a leading axis of 1.
            def wrapped(data: Any) -> Any:
                logs = step(data)
                return tf.nest.map_structure(
                    lambda v: tf.expand_dims(tf.convert_to_tensor(v), 0), logs
                )

            return wrapped

        if self.multi_worker:
            for name in ("train_step", "test_step"):
                if name not in vars(model):
                    setattr(model, name, one_rank_up(getattr(model, name)))
                    patched.append(name)

        if callable(getattr(type(model), "_maybe_symbolic_build", None)) and \
                callable(getattr(model, "_symbolic_build", None)):

            def build_from_spec(iterator: Any = None, data_batch: Any = None) -> None:
                # Under a strategy Keras takes a first batch from a fresh iterator and
                # all-reduces it to build the model symbolically. The all-reduce fails under
                # MWMS, and the extra iterator consumes one reshuffle of the data, so that
                # the epochs would not see the batches a single-device run sees. The
                # pipeline's element spec has the shapes and dtypes that build needs.
                if data_batch is None:
                    data_batch = element_spec
                data_batch = tf.nest.map_structure(lambda v: _first_local(strategy, v),
                                                   data_batch)
                with strategy.scope():
                    model._symbolic_build(data_batch=data_batch)

            model._maybe_symbolic_build = build_from_spec
            patched.append("_maybe_symbolic_build")
        return patched

    def local_model(self, model: Any) -> Any:
        """Return a single-process copy of a model trained under a multi-worker strategy.

        Every worker saves its (identical) replica to its private folder and loads it back
        outside the strategy, so evaluating, saving or exporting the result needs no peer.
        """
        from kerasdigits.training._io import load_model, save_model

        path = save_model(model, self._private_dir() / "trained.keras")
        return load_model(path, compile=True)

    def cleanup(self) -> None:
        """Remove this worker's temporary folder."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


_BACKUP_CLASS: list[type] = []


def _set_steps_per_execution(model: Any, steps: int) -> None:
    model.steps_per_execution = steps
    for name in ("train_function", "test_function", "predict_function"):
        if hasattr(model, name):
            setattr(model, name, None)  # traced for the old value: trace again


def _backup_class() -> type:
    if _BACKUP_CLASS:
        return _BACKUP_CLASS[0]
    keras = _lazy.keras()

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
            self.read_dir = Path(read_dir)
            self.restore = restore
            #: Epochs done according to the backup restored (0 if none was).
            self.restored_epoch = 0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            if not self.restore:
                return
            saved = (self._weights_path, self._training_metadata_path)
            self._weights_path = str(self.read_dir / "latest.weights.h5")
            self._training_metadata_path = str(self.read_dir / "training_metadata.json")
            try:
                super().on_train_begin(logs)
            finally:
                self._weights_path, self._training_metadata_path = saved
            self.restored_epoch = int(getattr(self.model, "_initial_epoch", 0) or 0)

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

    _BACKUP_CLASS.append(BackupAndRestore)
    return BackupAndRestore


_PEER_FAILURE = ("UnavailableError", "DeadlineExceededError", "AbortedError", "CancelledError")
_REASON = re.compile(r"Collective ops is aborted by: (.+)")


_PEER_FAILURE_TEXT = ("Collective ops is aborted", "Collective has timed out",
                      "stopped sending heartbeats", "CoordinationService")


def _is_peer_failure(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & set(_PEER_FAILURE):
        return True
    text = str(exc)
    return any(marker in text for marker in _PEER_FAILURE_TEXT)


def _failure_message(exc: BaseException, label: str, directory: Path | None) -> str:
    text = str(exc)
    match = _REASON.search(text)
    if match:
        reason = match.group(1).strip()
    elif "Collective has timed out" in text:
        reason = "a collective operation timed out (collective_timeout)"
    else:
        reason = next((line.strip() for line in text.splitlines() if line.strip()),
                      type(exc).__name__)
    unhealthy = re.search(r"unhealthy \(stopped sending heartbeats\):\s*(\S+)", text)
    if unhealthy:
        reason = f"{unhealthy.group(1)} stopped sending heartbeats (it died or hangs)"
    where = f" in {directory}" if directory is not None else ""
    return (
        f"distributed training stopped on {label}: a worker failed or stopped responding "
        f"({type(exc).__name__}: {reason[:300]}). Restart every worker with resume=True "
        f"(kerasdigits train --resume) to continue from the last checkpoint{where}."
    )


def run_distributed(strategy: Any, body: Callable[[DistributedRun], Any]) -> Any:
    """Run ``body`` (the training) inside ``strategy.scope()`` and tidy up afterwards.

    Under several workers, the returned result's model is replaced by a single-process copy
    (see :meth:`DistributedRun.local_model`). Every worker's temporary folder is removed.

    Raises:
        WorkerFailureError: Under several workers, a peer died or stopped responding (or a
            collective operation timed out).
    """
    import dataclasses

    run = DistributedRun(strategy)
    try:
        with strategy.scope():
            result = body(run)
        if run.multi_worker:
            result = dataclasses.replace(result, model=run.local_model(result.model))
        return result
    except Exception as exc:
        if run.multi_worker and _is_peer_failure(exc):
            raise WorkerFailureError(_failure_message(exc, run.label, run.directory)) from exc
        raise
    finally:
        run.cleanup()
        sys.stderr.flush()
