"""The run object: what :func:`~kerasdigits.train` does differently on one device or several.

``train`` talks to a :class:`Run` at every point where a distributed run differs: a
:class:`LocalRun` (one device) answers with the identity or does nothing; a
:class:`DistributedRun` (under a ``tf.distribute.Strategy``, see
:mod:`kerasdigits.training._strategy`) does this:

* the model is built, compiled (and, when resuming, loaded) inside ``strategy.scope()``
  (:func:`run_distributed`);
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
* Keras bugs are worked around on the model for the duration of ``fit`` only
  (:mod:`kerasdigits._keras_compat`);
* the TensorFlow errors raised when a peer dies or stops responding (the coordination
  service's heartbeats, or the optional collective timeout) become a
  :class:`WorkerFailureError` that says how to resume.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from kerasdigits import _keras_compat, _lazy
from kerasdigits._errors import KerasDigitsError
from kerasdigits.training._errors import TrainingError
from kerasdigits.training._strategy import is_chief, num_workers, task

__all__ = [
    "BACKUP_DIR",
    "DistributedRun",
    "LocalRun",
    "Run",
    "WorkerFailureError",
    "run_distributed",
]

#: Folder (inside the checkpoint folder) of the ``BackupAndRestore`` backup.
BACKUP_DIR = "backup"


class WorkerFailureError(KerasDigitsError, RuntimeError):
    """Distributed training stopped because a worker died or stopped responding.

    Every worker has to be restarted (TensorFlow's collective runtime cannot recover inside a
    process); ``train(..., resume=True)`` then continues from the last checkpoint.
    """


# ----------------------------------------------------------------------------- the interface


class Run(Protocol):
    """What ``train`` asks of a run; see :class:`DistributedRun` for what each method does."""

    def check_model(self, model: Any) -> None:
        """Refuse a Keras model given that does not fit the run."""

    def per_replica_batch_size(self, batch_size: int) -> int:
        """Return each replica's share of the global ``batch_size``."""

    def write_dir(self, directory: Path) -> Path:
        """Return where this process writes the checkpoints meant for ``directory``."""

    def agree(self, value: int, what: str) -> None:
        """Check that every process computed the same ``value``."""

    def backup(self, directory: Path, write_dir: Path, callbacks: str | Sequence[Any] | None,
               *, resume: bool, initial_epoch: int, previous: dict[str, list[float]],
               epochs: int) -> tuple[int, dict[str, list[float]], Any]:
        """Return ``(initial_epoch, previous, backup callback or None)``."""

    def redirect(self, callbacks: Sequence[Any], write_dir: Path) -> None:
        """Point the file-writing callbacks of a caller's list at ``write_dir``."""

    def shuffle_seed(self, seed: int | None) -> int | None:
        """Return the seed to shuffle the training data with."""

    def shard(self, data: Any) -> Any:
        """Return the pipeline ``data`` (or ``None``) as the run feeds it."""

    def fitting(self, model: Any, element_spec: Any) -> AbstractContextManager[None]:
        """Return a context to run ``model.fit`` in."""


class LocalRun:
    """The :class:`Run` of one device: every answer is the identity, every action nothing."""

    def check_model(self, model: Any) -> None:
        """Accept any model."""

    def per_replica_batch_size(self, batch_size: int) -> int:
        """Return ``batch_size`` (one replica)."""
        return batch_size

    def write_dir(self, directory: Path) -> Path:
        """Return ``directory``."""
        return directory

    def agree(self, value: int, what: str) -> None:
        """Nothing to check: there is one process."""

    def backup(self, directory: Path, write_dir: Path, callbacks: str | Sequence[Any] | None,
               *, resume: bool, initial_epoch: int, previous: dict[str, list[float]],
               epochs: int) -> tuple[int, dict[str, list[float]], Any]:
        """Return ``(initial_epoch, previous, None)``: no backup on one device."""
        return initial_epoch, previous, None

    def redirect(self, callbacks: Sequence[Any], write_dir: Path) -> None:
        """Leave the callbacks as they are."""

    def shuffle_seed(self, seed: int | None) -> int | None:
        """Return ``seed``."""
        return seed

    def shard(self, data: Any) -> Any:
        """Return ``data``."""
        return data

    def fitting(self, model: Any, element_spec: Any) -> AbstractContextManager[None]:
        """Build the optimizer and the metrics first (one trace of the step); a plain context.

        Raises:
            KerasInternalsError: The installed Keras lacks the internal this needs.
        """
        _keras_compat.build_before_fit(model, element_spec)
        return contextlib.nullcontext()


# ----------------------------------------------------------------------------- under a strategy


class DistributedRun:
    """What :func:`~kerasdigits.train` needs to know and do under one strategy (a :class:`Run`)."""

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy
        self.replicas = int(strategy.num_replicas_in_sync)
        self.workers = num_workers(strategy)
        self.chief = is_chief(strategy)
        self.task_type, self.task_id = task(strategy)
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
        if _keras_compat.creation_strategy(model) is not self.strategy:
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
        return _keras_compat.backup_epoch(directory / BACKUP_DIR)

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
        callback = _keras_compat.backup_and_restore_class()(
            directory / BACKUP_DIR, write_dir / BACKUP_DIR, restore=restore)
        return initial_epoch, previous, callback

    # -- around fit

    @contextlib.contextmanager
    def fitting(self, model: Any, element_spec: Any) -> Iterator[None]:
        """Apply the Keras workarounds (see :mod:`kerasdigits._keras_compat`) during ``fit``.

        Args:
            model: The model about to be fitted.
            element_spec: ``element_spec`` of the (undistributed) training pipeline.

        Raises:
            KerasInternalsError: The installed Keras lacks an internal a workaround needs.
        """
        with contextlib.ExitStack() as stack:
            stack.enter_context(_keras_compat.forgetting_the_restored_epoch(model))
            if self.multi_worker:
                stack.enter_context(_keras_compat.scalar_logs_made_rank_1(model))
            stack.enter_context(
                _keras_compat.building_from_element_spec(model, self.strategy, element_spec))
            steps = _keras_compat.steps_per_execution(model)
            if isinstance(steps, int) and steps > 1 and self.replicas > 1:
                print(f"strategy: running 1 step per call instead of steps_per_execution={steps}"
                      " (Keras 3 cannot run several under a multi-replica strategy)",
                      file=sys.stderr)
                stack.enter_context(_keras_compat.one_step_per_execution(model))
            yield

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


# ----------------------------------------------------------------------------- failures


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
