"""Distributed training with tf.distribute: strategy names, mirrored and multi-worker runs.

The multi-device and multi-worker runs happen in subprocesses (tests/_distributed_worker.py):
logical CPU devices must be configured before TensorFlow starts, and
MultiWorkerMirroredStrategy takes over the process. Workers talk over 127.0.0.1 only, on
ports chosen free at run time. Every subprocess runs in its own session with a hard timeout
and its process group is killed when the test ends, however it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kerasdigits import evaluate, load_dataset, train
from kerasdigits.callbacks import latest_checkpoint
from kerasdigits.datasets import Dataset
from kerasdigits.training import (
    STRATEGIES,
    TrainingError,
    WorkerFailureError,
    is_chief,
    load_model,
    make_strategy,
)

WORKER = Path(__file__).with_name("_distributed_worker.py")
# The same small problem everywhere: 1,200 training and 400 test images of the bundled sample,
# mlp256 (no batch normalization or dropout: replicas compute exactly what one device does),
# global batch 60 (30 per replica).
SMALL = {"model": "mlp256", "train": 1200, "test": 400, "batch_size": 60, "seed": 0}
STARTUP_TIMEOUT = 120  # seconds for a worker to start TensorFlow and train a little
FAILURE_BOUND = 60  # seconds within which the survivor of a killed worker must exit


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def small() -> Dataset:
    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, train=ds.train.take(slice(0, SMALL["train"])),
                               test=ds.test.take(slice(0, SMALL["test"])))


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class _Group:
    """Worker subprocesses that are always killed (whole process groups) at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, config: dict[str, Any], env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
        config = {**config, "output": str(self.root / f"{name}.json")}
        config_path = self.root / f"{name}.config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        tmpdir = self.root / f"{name}.tmp"
        tmpdir.mkdir(exist_ok=True)
        full_env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
        full_env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(tmpdir), **(env or {})})
        with (self.root / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen([sys.executable, str(WORKER), str(config_path)],
                                    stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        text = (self.root / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        return text[-4000:]

    def wait(self, name: str, timeout: float) -> int:
        try:
            return self.procs[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(name)
            pytest.fail(f"{name} did not finish within {timeout} s; its log:\n{self.log(name)}")

    def result(self, name: str) -> dict[str, Any]:
        path = self.root / f"{name}.json"
        if not path.is_file():
            pytest.fail(f"{name} wrote no result; its log:\n{self.log(name)}")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def kill_all(self) -> None:
        for name in self.procs:
            self.kill(name)


@contextlib.contextmanager
def _group(root: Path) -> Iterator[_Group]:
    group = _Group(root)
    try:
        yield group
    finally:
        group.kill_all()


def _tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def _start_cluster(group: _Group, config: dict[str, Any], prefix: str) -> list[str]:
    ports = _free_ports(2)
    names = [f"{prefix}{i}" for i in range(2)]
    for i, name in enumerate(names):
        group.start(name, {**config, "strategy": "multi_worker"},
                    env={"TF_CONFIG": _tf_config(ports, i)})
    return names


def _leftover_tempdirs(group: _Group, name: str) -> list[str]:
    return sorted(p.name for p in (group.root / f"{name}.tmp").glob("kerasdigits-*"))


# ----------------------------------------------------------------------------- in process


def test_strategy_names_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(STRATEGIES) == {"mirrored", "multi_worker"}
    with pytest.raises(TrainingError, match=r"strategy 'mirored'\. Did you mean 'mirrored'"):
        make_strategy("mirored")
    with pytest.raises(TrainingError, match="collective_timeout"):
        make_strategy("multi_worker", collective_timeout=-1)
    with pytest.raises(TrainingError, match="only applies to strategy 'multi_worker'"):
        make_strategy("mirrored", collective_timeout=10)
    with pytest.raises(TrainingError, match="strategy must be None"):
        train("mlp256", "mnist_sample", strategy=3)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(TrainingError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multi_worker")
    bad = {
        "{not json": "not valid JSON",
        '{"task": {"type": "worker", "index": 0}}': "no 'cluster'",
        '{"cluster": {"worker": ["127.0.0.1:1"]}}': "no 'task'",
        '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "chief", "index": 0}}':
            "task type 'chief' is not a job",
        '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}':
            "index 1 is out of range",
        '{"cluster": {"worker": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"]}, '
        '"task": {"type": "worker", "index": 0}}': "'chief' and 'worker' jobs only",
    }
    for raw, message in bad.items():
        monkeypatch.setenv("TF_CONFIG", raw)
        with pytest.raises(TrainingError, match=message):
            make_strategy("multi_worker")
    assert is_chief(None)


def test_mirrored_in_process_with_one_device(small: Dataset, tmp_path: Path) -> None:
    strategy = make_strategy("mirrored")
    assert make_strategy("mirrored") is strategy  # one instance per process
    assert is_chief(strategy) and is_chief("mirrored")
    result = train("mlp256", small, epochs=1, batch_size=60, seed=0, verbose=0,
                   checkpoint_dir=tmp_path, strategy="mirrored")
    assert result.model.distribute_strategy is strategy
    assert result.epochs_run == 1 and result.checkpoint_paths
    assert not (tmp_path / "backup").exists()  # the backup is removed when training ends
    assert evaluate(result.model, small).accuracy > 0.5


def test_a_keras_model_must_come_from_the_scope(small: Dataset) -> None:
    from kerasdigits.models import build, get_model_spec

    model = build("mlp256", preprocessing="unit")
    with pytest.raises(TrainingError, match=r"inside strategy\.scope\(\)"):
        train(model, small, epochs=1, verbose=0, callbacks=None, strategy="mirrored")
    strategy = make_strategy("mirrored")
    with strategy.scope():  # e.g. to scale the learning rate with the global batch
        model = build("mlp256", preprocessing="unit")
        model.compile(**get_model_spec("mlp256").compile_settings.compile_kwargs(0.002))
    result = train(model, small, epochs=1, batch_size=120, verbose=0, callbacks=None,
                   strategy=strategy)
    assert result.model is model
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.002)


def test_backup_resumes_an_interrupted_run(small: Dataset, tmp_path: Path) -> None:
    import keras

    class Interrupt(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if epoch == 2:
                raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        train("mlp256", small, epochs=4, batch_size=60, seed=0, verbose=0, validation="none",
              callbacks=[Interrupt()], checkpoint_dir=tmp_path, strategy="mirrored")
    meta = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert meta["epoch"] == 2
    resumed = train("mlp256", small, epochs=4, batch_size=60, seed=0, verbose=0,
                    validation="none", callbacks=[], checkpoint_dir=tmp_path, resume=True,
                    strategy="mirrored")
    assert (resumed.initial_epoch, resumed.epochs_run) == (2, 2)
    assert not (tmp_path / "backup").exists()
    # A fresh run (resume=False) ignores and removes a stale backup.
    with pytest.raises(RuntimeError, match="interrupted"):
        train("mlp256", small, epochs=4, batch_size=60, seed=0, verbose=0, validation="none",
              callbacks=[Interrupt()], checkpoint_dir=tmp_path, strategy="mirrored")
    fresh = train("mlp256", small, epochs=1, batch_size=60, seed=0, verbose=0,
                  validation="none", callbacks=[], checkpoint_dir=tmp_path, strategy="mirrored")
    assert (fresh.initial_epoch, fresh.epochs_run) == (0, 1)


def test_non_chief_writes_into_a_temporary_folder(small: Dataset, tmp_path: Path) -> None:
    import keras

    from kerasdigits import callbacks as presets
    from kerasdigits.training._run import DistributedRun

    run = DistributedRun(make_strategy("mirrored"))
    run.chief = False  # pretend to be worker 1
    real = tmp_path / "real"
    cbs = [*presets.preset("default", directory=real),
           keras.callbacks.CSVLogger(str(real / "h.csv"))]
    write_dir = run.write_dir(real)
    assert real not in write_dir.parents and write_dir != real
    run.redirect(cbs, write_dir)
    assert all(write_dir in Path(cb.directory).parents for cb in cbs if hasattr(cb, "directory"))
    assert write_dir in Path(cbs[0].filepath).parents
    assert write_dir in Path(cbs[-1].filename).parents
    run.cleanup()
    assert not write_dir.exists()


def test_failure_messages_name_the_cause_and_the_way_out(tmp_path: Path) -> None:
    import tensorflow as tf

    from kerasdigits.training._run import _failure_message, _is_peer_failure

    dead = tf.errors.UnavailableError(
        None, None, "{{function_node CollectiveReduceV2}} Collective ops is aborted by: Error "
        "reported from /job:worker/task:0: The following tasks are unhealthy (stopped sending "
        "heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed.")
    stuck = tf.errors.DeadlineExceededError(None, None, "Collective has timed out during "
                                            "execution. [Op:CollectiveReduceV2]")
    assert _is_peer_failure(dead) and _is_peer_failure(stuck)
    assert not _is_peer_failure(ValueError("bad shape"))
    text = _failure_message(dead, "worker 0", tmp_path)
    assert "/job:worker/replica:0/task:1 stopped sending heartbeats" in text
    assert "resume=True" in text and str(tmp_path) in text
    assert "collective operation timed out" in _failure_message(stuck, "worker 1", None)


# ----------------------------------------------------------------------------- subprocesses


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path: Path) -> None:
    config = {**SMALL, "mode": "compare", "logical_cpus": 2, "epochs": 2, "validation": "none",
              "checkpoint_dir": str(tmp_path / "ckpt")}
    with _group(tmp_path) as group:
        group.start("compare", config)
        assert group.wait("compare", STARTUP_TIMEOUT) == 0, group.log("compare")
        out = group.result("compare")
    assert out["replicas"] == 2
    mirrored, single = out["mirrored"], out["single"]
    # Same global batches in the same order, gradients averaged over the same 60 examples:
    # only floating-point summation order differs (measured: 2e-7).
    assert out["max_weight_diff"] < 1e-4
    for key in ("loss", "accuracy"):
        assert mirrored["history"][key] == pytest.approx(single["history"][key], rel=1e-4)
    assert mirrored["test_accuracy"] == pytest.approx(single["test_accuracy"], abs=0.0025)
    assert "multiple of the 2 replicas" in out["indivisible_error"]


@pytest.mark.slow
def test_multi_worker_on_loopback(small: Dataset, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    config = {**SMALL, "mode": "train", "epochs": 2, "validation": "auto",
              "checkpoint_dir": str(ckpt)}
    with _group(tmp_path) as group:
        names = _start_cluster(group, config, "worker")
        codes = [group.wait(name, STARTUP_TIMEOUT) for name in names]
        assert codes == [0, 0], "\n".join(group.log(n) for n in names)
        chief, other = (group.result(n) for n in names)
        leftovers = [_leftover_tempdirs(group, n) for n in names]
    assert (chief["chief"], other["chief"]) == (True, False)
    assert chief["replicas"] == other["replicas"] == 2
    assert chief["history"] == other["history"]
    assert leftovers == [[], []]  # the non-chief's temporary checkpoints were removed
    assert not (ckpt / "backup").exists()
    # Only the chief wrote here (best-only files and last.keras), and both report them.
    assert sorted(p.name for p in ckpt.glob("*.keras")) == \
        sorted(Path(p).name for p in chief["checkpoint_paths"])
    assert other["checkpoint_paths"] == chief["checkpoint_paths"]
    found = latest_checkpoint(ckpt)
    assert found is not None and found[1] == 2
    model = load_model(found[0])
    accuracy = evaluate(model, small).accuracy
    # The expected range, and the same as one device: the global batch of 60 is split 30/30
    # between the workers; shuffling is seeded the same on both (measured: 0.825 either way).
    assert 0.7 <= accuracy <= 0.95
    assert chief["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    reference = train("mlp256", small, epochs=2, batch_size=60, seed=0, verbose=0,
                      validation="auto", checkpoint_dir=tmp_path / "reference")
    assert chief["history"]["loss"] == pytest.approx(reference.history["loss"], rel=1e-3)
    assert accuracy == pytest.approx(evaluate(reference.model, small).accuracy, abs=0.01)


@pytest.mark.slow
def test_killed_worker_stops_the_other_and_a_restart_resumes(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    config = {**SMALL, "mode": "train", "epochs": 40, "validation": "auto",
              "checkpoint_dir": str(ckpt)}
    with _group(tmp_path) as group:
        chief, other = _start_cluster(group, config, "first")
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (latest_checkpoint(ckpt) or (None, 0))[1] < 2:
            if time.monotonic() > deadline or any(p.poll() is not None
                                                  for p in group.procs.values()):
                pytest.fail("the cluster did not reach epoch 2:\n" + group.log(chief)
                            + group.log(other))
            time.sleep(0.2)
        group.kill(other)
        killed_at = time.monotonic()
        code = group.wait(chief, FAILURE_BOUND)
        elapsed = time.monotonic() - killed_at
        print(f"worker 0 stopped {elapsed:.1f} s after worker 1 was killed")
        failed = group.result(chief)
        assert code == 3, group.log(chief)
        assert failed["error"] == WorkerFailureError.__name__
        assert "stopped responding" in failed["message"]
        assert "resume=True" in failed["message"] and str(ckpt) in failed["message"]
        assert elapsed < FAILURE_BOUND
        assert (ckpt / "backup" / "training_metadata.json").is_file()  # fit did not end
        found = latest_checkpoint(ckpt)
        assert found is not None
        done = found[1]
        assert 2 <= done < 40

        # Restart both workers (new ports) with resume=True for one more epoch.
        again = _start_cluster(group, {**config, "epochs": done + 1, "resume": True}, "again")
        codes = [group.wait(name, STARTUP_TIMEOUT) for name in again]
        assert codes == [0, 0], "\n".join(group.log(n) for n in again)
        results = [group.result(n) for n in again]
    for result in results:
        assert (result["initial_epoch"], result["epochs_run"]) == (done, 1)
    assert latest_checkpoint(ckpt) == (ckpt / "last.keras", done + 1)
    assert not (ckpt / "backup").exists()
    assert 0.7 <= results[0]["test_accuracy"] <= 1.0
    assert np.isfinite(results[0]["test_loss"])
