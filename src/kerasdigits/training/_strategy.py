"""Strategy names, making strategies, and which process is the chief.

:func:`make_strategy` turns one of the names in :data:`STRATEGIES` into a
``tf.distribute.Strategy`` (one per name and process), :func:`resolve_strategy` takes what
``train(strategy=...)`` was given, and :func:`is_chief` tells whether this process writes.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from kerasdigits import _lazy
from kerasdigits._suggest import did_you_mean
from kerasdigits.training._errors import TrainingError

__all__ = ["STRATEGIES", "is_chief", "make_strategy", "num_workers", "resolve_strategy", "task"]

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

_CACHE: dict[tuple[str, float | None], Any] = {}
_CACHE_LOCK = threading.Lock()


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


def task(strategy: Any) -> tuple[str | None, int]:
    """``(task type, task index)`` of this process in the strategy's cluster (``(None, 0)``)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None) if resolver is not None else None
    task_id = getattr(resolver, "task_id", None) if resolver is not None else None
    return (str(task_type) if task_type else None), int(task_id or 0)


def num_workers(strategy: Any) -> int:
    """How many worker processes (chief included) the strategy's cluster has (at least 1)."""
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
