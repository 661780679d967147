"""One training process for tests/test_distribute.py (run as a script, never imported by pytest).

    python tests/_distributed_worker.py CONFIG.json

CONFIG keys: ``mode`` ("compare": single-device then "mirrored" over ``logical_cpus`` CPU
devices, in one process; "train": one ``train`` call with ``strategy``), ``model``, ``train``
and ``test`` (how many sample images), ``epochs``, ``batch_size``, ``seed``, ``validation``,
``checkpoint_dir``, ``resume``, ``strategy``, ``collective_timeout``, ``output`` (JSON file
written at the end). TF_CONFIG, when needed, comes from the environment.

Exit codes: 0 done, 3 WorkerFailureError, 4 any other error (the output file says which).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np


def _configure_tensorflow(logical_cpus: int) -> None:
    import tensorflow as tf

    # Two processes share two cores: one thread per op; two inter-op threads, because with
    # one the collectives of MultiWorkerMirroredStrategy wait on each other (3x slower).
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    if logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(logical_cpus)]
        )


def _data(config: dict[str, Any]) -> Any:
    from kerasdigits import load_dataset

    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, train=ds.train.take(slice(0, config["train"])),
                               test=ds.test.take(slice(0, config["test"])))


def _summary(result: Any, dataset: Any) -> dict[str, Any]:
    from kerasdigits import evaluate

    ev = evaluate(result.model, dataset)
    return {
        "history": result.history,
        "epochs_run": result.epochs_run,
        "initial_epoch": result.initial_epoch,
        "best_epoch": result.best_epoch,
        "wall_time": result.wall_time,
        "checkpoint_dir": str(result.checkpoint_dir) if result.checkpoint_dir else None,
        "checkpoint_paths": [str(p) for p in result.checkpoint_paths],
        "test_accuracy": ev.accuracy,
        "test_loss": ev.loss,
    }


def _train(config: dict[str, Any], dataset: Any, strategy: Any, checkpoint_dir: str) -> Any:
    from kerasdigits import train

    return train(config["model"], dataset, epochs=config["epochs"],
                 batch_size=config["batch_size"], seed=config.get("seed"),
                 validation=config.get("validation", "auto"), checkpoint_dir=checkpoint_dir,
                 resume=config.get("resume", False), verbose=config.get("verbose", 0),
                 strategy=strategy)


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    out: dict[str, Any] = {"pid": os.getpid(), "ok": False}
    started = time.perf_counter()
    code = 0
    try:
        _configure_tensorflow(int(config.get("logical_cpus", 1)))
        strategy: Any = config.get("strategy")
        if strategy == "multi_worker" and config.get("collective_timeout"):
            from kerasdigits.training import make_strategy

            strategy = make_strategy("multi_worker",
                                     collective_timeout=config["collective_timeout"])
        if config["mode"] == "compare":
            dataset = _data(config)
            ckpt = Path(config["checkpoint_dir"])
            distributed = _train(config, dataset, strategy or "mirrored", str(ckpt / "mirrored"))
            single = _train(config, dataset, None, str(ckpt / "single"))
            out["replicas"] = int(distributed.model.distribute_strategy.num_replicas_in_sync)
            out["mirrored"] = _summary(distributed, dataset)
            out["single"] = _summary(single, dataset)
            diffs = [float(np.max(np.abs(a - b))) for a, b in
                     zip(distributed.model.get_weights(), single.model.get_weights(),
                         strict=True)]
            out["max_weight_diff"] = max(diffs)
            try:
                _train({**config, "batch_size": config["batch_size"] + 1}, dataset,
                       strategy or "mirrored", str(ckpt / "indivisible"))
            except Exception as exc:
                out["indivisible_error"] = str(exc)
        else:
            from kerasdigits.training import is_chief, make_strategy

            dataset = _data(config)
            # A name, as the command line passes it: train() creates the strategy.
            result = _train(config, dataset, strategy, config["checkpoint_dir"])
            out["chief"] = is_chief(strategy)
            out.update(_summary(result, dataset))
            if isinstance(strategy, str):
                strategy = make_strategy(strategy)  # the instance train() created
            out["replicas"] = int(strategy.num_replicas_in_sync) if strategy else 1
        out["ok"] = True
    except Exception as exc:
        from kerasdigits.training import WorkerFailureError

        code = 3 if isinstance(exc, WorkerFailureError) else 4
        out["error"] = type(exc).__name__
        out["message"] = str(exc)
        traceback.print_exc()
    out["seconds"] = time.perf_counter() - started
    out["tempdir"] = os.environ.get("TMPDIR")
    Path(config["output"]).write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"worker done: ok={out['ok']} code={code} in {out['seconds']:.1f}s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
