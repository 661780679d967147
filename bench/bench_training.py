"""Benchmark: the tutorials' recipes in plain Keras next to kerasdigits, and our own models.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_training.py [--all]
        [--case NAME ...] [--quick] [--seeds N | --seed-list 0,1,2] [--seed 0]
        [--seeds-for NAME=N ...] [--out bench/results/training.json]
    python bench/bench_training.py --all --seeds 5 \\
        --seeds-for kd-accurate_convnet=3,kd-accurate_convnet-fashion=3
    python bench/bench_training.py --chart-only [--out bench/results/training.json]
    python bench/bench_training.py --list

Every case runs in a fresh Python process (``--case NAME --json FILE``, which is also how to run
one case by hand), so that peak memory and timings are its own. With several seeds (``--seeds
N``: seeds ``--seed`` to ``--seed + N - 1``; or ``--seed-list``) every case runs once per seed,
round by round (every case with seed 0, then every case with seed 1, ...), so that a change in
the machine's load falls on all cases alike; ``--seeds-for NAME=N`` gives a case only the first
N seeds. The driver computes each case's ratios against its reference case *from the same run*
(the tutorial's recipe written in plain Keras, exactly as the tutorial does it: ``float32``
arrays in memory, one-hot labels, ``model.fit``): times from the medians over the seeds,
accuracy differences from the means.

Per case and seed: test accuracy of the trained model (best weights, where the recipe keeps
them), training time (seconds from data in memory to trained model: the float conversion or the
``tf.data`` pipeline, building, compiling and ``fit`` with the recipe's own validation and
checkpoints, but not the benchmark's accuracy probes), time to reach the case's target
accuracy (the tutorial's published figure minus 0.3 points; the test set is probed at every
epoch end, and several times per epoch for short runs, with the probe time left out), peak
resident memory of the process, the 1-minute load average before and after, and the host's
speed (a float32 matmul's GFLOP/s, measured before the case: it varies over a day). Per case:
the mean, sample standard deviation, worst and best test accuracy, and the median and range of
the times, memory, load and host speed.

``--all`` (the default) writes ``bench/results/training.json``, ``training.md`` and
``training.png`` (test accuracy against wall time, every case and seed: the race chart;
``--chart-only`` redraws it from an existing JSON file); a run of some cases only (``--case``)
or of ``--quick`` (1 epoch on 2,000 bundled sample images, for smoke tests) prints its table
and writes files only when ``--out`` is given. One seed of every case takes about 45 minutes
on two cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    QUIET,
    RESULTS,
    load_average,
    machine,
    name_counts,
    need_data_dir,
    peak_rss_mb,
    save_figure,
    spread,
    table,
    today,
    write_results,
)
from _flops import matmul_peak

#: Fixed accuracy targets: the tutorial's published figure minus 0.3 points.
MLP2X512_TARGET = 0.9798 - 0.003
MLP256_TARGET = 0.9774 - 0.003
CONVNET_TARGET = 0.9887 - 0.003
MLP512_TARGET = 0.9828 - 0.003
FASHION_TARGET = 0.9069 - 0.003
#: Memory budget for training any zoo model on MNIST.
MEMORY_BUDGET_MB = 2048
#: The zoo tag of the model the ``kd-balanced`` case trains (the first one listed).
BALANCED_TAG = "balanced"


@dataclass(frozen=True)
class Case:
    """One benchmark case."""

    name: str
    title: str  # what is trained, how
    dataset: str  # "mnist" or "fashion_mnist"
    via: str  # "keras" (tutorial code) or "kerasdigits"
    reference: str | None  # the case the ratios are computed against
    target: float  # accuracy whose first crossing is timed
    probes_per_epoch: int  # test-set checks per epoch (1: epoch ends only)
    run: Callable[[Context], Any]  # trains and returns the model


# --------------------------------------------------------------------------- measuring


class Context:
    """What a case's ``run`` gets: the data, a clock and the accuracy probe."""

    def __init__(self, case: Case, *, quick: bool, seed: int, workdir: Path) -> None:
        self.case = case
        self.title = case.title  # a case may say more once it knows its model
        self.quick = quick
        self.seed = seed
        self.workdir = workdir
        self.data = _load(case.dataset, quick)
        self.start: float | None = None
        self.excluded = 0.0  # seconds spent probing, left out of the training time
        self.cpu_start = 0.0
        self.cpu_excluded = 0.0  # CPU seconds spent probing
        self.cpu_s: float | None = None
        self.curve: list[dict[str, float]] = []
        self.fit_s: float | None = None
        self.stopped: float | None = None
        self.epochs_run = 0

    def epochs(self, n: int | None) -> int | None:
        """The recipe's epochs; 1 in quick mode."""
        return 1 if self.quick else n

    def begin(self) -> None:
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def end(self) -> None:
        self.stopped = self.elapsed()
        self.cpu_s = time.process_time() - self.cpu_start - self.cpu_excluded

    def elapsed(self) -> float:
        assert self.start is not None, "begin() first"
        return time.perf_counter() - self.start - self.excluded

    def probe(self, x_test: np.ndarray, y_test: np.ndarray) -> Any:
        """A Keras callback checking test accuracy at epoch ends (and within epochs)."""
        import keras

        ctx, per_epoch = self, self.case.probes_per_epoch

        class Probe(keras.callbacks.Callback):  # type: ignore[misc]
            def on_train_begin(self, logs: Any = None) -> None:
                self.steps = (self.params or {}).get("steps")
                self.epoch = 0

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.epoch = epoch
                self.next = 1

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                if per_epoch < 2 or not self.steps:
                    return
                done = (batch + 1) / self.steps
                if done * per_epoch >= self.next and batch + 1 < self.steps:
                    self.next = math.floor(done * per_epoch) + 1
                    self.check(self.epoch + done)

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                ctx.epochs_run = epoch + 1
                self.check(epoch + 1)

            def check(self, epoch: float) -> None:
                at = ctx.elapsed()
                t, cpu = time.perf_counter(), time.process_time()
                acc = accuracy(self.model, x_test, y_test)
                ctx.excluded += time.perf_counter() - t
                ctx.cpu_excluded += time.process_time() - cpu
                ctx.curve.append({"epoch": round(epoch, 3), "train_s": round(at, 3),
                                  "test_accuracy": acc})

        return Probe()


# Probing in batches of 2,000 or 2,500 images made the training after each probe stall: about
# 0.4 s of idle wall time per probe (fast_convnet: 9.9 s instead of 5.5 s with 10 probes),
# none with 500, 1,000 or 10,000 (TensorFlow 2.21, oneDNN; cause not found).
_PROBE_BATCH = 1000


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy with a traced inference function (the same for every case)."""
    import tensorflow as tf

    fn = getattr(model, "_bench_argmax", None)
    if fn is None:
        spec = tf.TensorSpec((None, *x.shape[1:]), x.dtype)
        fn = tf.function(lambda b: tf.argmax(model(b, training=False), axis=-1),
                         input_signature=[spec])
        model._bench_argmax = fn
    # A model answering over test-time copies runs each image that many times: the same
    # number of images per batch through the network (memory stays as for the others).
    copies = max([getattr(layer, "copies", 1) for layer in model.layers] + [1])
    step = max(1, _PROBE_BATCH // copies)
    correct = sum(int(np.sum(fn(x[i:i + step]).numpy() == y[i:i + step]))
                  for i in range(0, len(x), step))
    return correct / len(x)


def _load(name: str, quick: bool) -> Any:
    from kerasdigits import load_dataset

    if not quick:
        return load_dataset(name, download=False, progress=False)
    ds = load_dataset(f"{name}_sample", download=False, progress=False)
    return dataclasses.replace(ds, train=ds.train.take(slice(0, 2000)),
                               test=ds.test.take(slice(0, 500)))


# --------------------------------------------------------------------------- plain Keras


def _tutorial_arrays(ctx: Context) -> tuple[np.ndarray, ...]:
    """The data as ``keras.datasets.mnist.load_data()`` returns it: uint8 NumPy arrays."""
    ds = ctx.data
    return ds.train.images, ds.train.labels, ds.test.images, ds.test.labels


def _float(x: np.ndarray, flat: bool) -> np.ndarray:
    # As the tutorials do it: reshape, astype("float32"), / 255.
    x = x.reshape(len(x), 784) if flat else x.reshape(len(x), 28, 28, 1)
    return x.astype("float32") / 255


def keras_mlp2x512(ctx: Context) -> Any:
    """Keras ``mnist_mlp.py``: validates on the test set every epoch."""
    import keras

    x_train, y_train, x_test, y_test = _tutorial_arrays(ctx)
    xt = _float(x_test, True)
    probe = ctx.probe(xt, y_test)
    keras.utils.set_random_seed(ctx.seed)
    ctx.begin()
    x_train, x_test = _float(x_train, True), xt
    y_train_1h = keras.utils.to_categorical(y_train, 10)
    y_test_1h = keras.utils.to_categorical(y_test, 10)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(),
                  metrics=["accuracy"])
    _fit(ctx, model, x_train, y_train_1h, batch_size=128, epochs=5,
         validation_data=(x_test, y_test_1h), callbacks=[probe])
    ctx.end()
    return model, xt, y_test


def keras_mlp256(ctx: Context) -> Any:
    """Dense 256 + Adam, batch 32, 5 epochs, validated on the test set."""
    import keras

    x_train, y_train, x_test, y_test = _tutorial_arrays(ctx)
    xt = _float(x_test, True)
    probe = ctx.probe(xt, y_test)
    keras.utils.set_random_seed(ctx.seed)
    ctx.begin()
    x_train, x_test = _float(x_train, True), xt
    y_train_1h = keras.utils.to_categorical(y_train, 10)
    y_test_1h = keras.utils.to_categorical(y_test, 10)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    _fit(ctx, model, x_train, y_train_1h, batch_size=32, epochs=5,
         validation_data=(x_test, y_test_1h), callbacks=[probe])
    ctx.end()
    return model, xt, y_test


def keras_convnet(ctx: Context) -> Any:
    """The 32-32 convnet: Adam, batch 128, 5 epochs, 10% of train held out for validation."""
    import keras

    x_train, y_train, x_test, y_test = _tutorial_arrays(ctx)
    xt = _float(x_test, False)
    probe = ctx.probe(xt, y_test)
    keras.utils.set_random_seed(ctx.seed)
    ctx.begin()
    x_train = _float(x_train, False)
    y_train_1h = keras.utils.to_categorical(y_train, 10)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    _fit(ctx, model, x_train, y_train_1h, batch_size=128, epochs=5, validation_split=0.1,
         callbacks=[probe])
    ctx.end()
    return model, xt, y_test


def keras_mlp512_es(ctx: Context) -> Any:
    """Dense 512, Adam, batch 200, up to 30 epochs, best-only checkpoints, patience 10."""
    import keras

    x_train, y_train, x_test, y_test = _tutorial_arrays(ctx)
    xt = _float(x_test, True)
    probe = ctx.probe(xt, y_test)
    keras.utils.set_random_seed(ctx.seed)
    ctx.begin()
    x_train = _float(x_train, True)
    y_train_1h = keras.utils.to_categorical(y_train, 10)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(ctx.workdir / "mnist-{epoch:02d}-{val_loss:.4f}.keras"),
                                        monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=10,
                                      restore_best_weights=True),
        probe,
    ]
    _fit(ctx, model, x_train, y_train_1h, batch_size=200, epochs=30, validation_split=0.1,
         callbacks=callbacks)
    ctx.end()
    return model, xt, y_test


def keras_fashion_convnet(ctx: Context) -> Any:
    """TensorFlow blog 'Fashion-MNIST with tf.Keras': 55,000 / 5,000, batch 64, 10 epochs."""
    import keras

    x_train, y_train, x_test, y_test = _tutorial_arrays(ctx)
    xt = _float(x_test, False)
    probe = ctx.probe(xt, y_test)
    keras.utils.set_random_seed(ctx.seed)
    ctx.begin()
    x_train = _float(x_train, False)
    n_valid = 400 if ctx.quick else 5000
    (x_train, x_valid) = x_train[n_valid:], x_train[:n_valid]
    (y_train, y_valid) = y_train[n_valid:], y_train[:n_valid]
    y_train_1h = keras.utils.to_categorical(y_train, 10)
    y_valid_1h = keras.utils.to_categorical(y_valid, 10)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 2, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.3),
        layers.Conv2D(32, 2, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.3),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    best = str(ctx.workdir / "model.weights.best.weights.h5")
    checkpointer = keras.callbacks.ModelCheckpoint(best, save_best_only=True,
                                                   save_weights_only=True)
    _fit(ctx, model, x_train, y_train_1h, batch_size=64, epochs=10,
         validation_data=(x_valid, y_valid_1h), callbacks=[checkpointer, probe])
    model.load_weights(best)
    ctx.end()
    return model, xt, y_test


def _fit(ctx: Context, model: Any, x: Any, y: Any, *, epochs: int, **kwargs: Any) -> None:
    t = time.perf_counter()
    excluded = ctx.excluded
    model.fit(x, y, epochs=ctx.epochs(epochs), verbose=0, **kwargs)
    ctx.fit_s = time.perf_counter() - t - (ctx.excluded - excluded)


# --------------------------------------------------------------------------- kerasdigits


def _kd(name: str, *, epochs: int | None = None, batch_size: int | None = None,
        validation: Any = "none", checkpoints: str | None = None,
        patience: int | None = None) -> Callable[[Context], Any]:
    """A case training zoo model ``name`` with ``kerasdigits.train``."""

    def run(ctx: Context) -> Any:
        from kerasdigits import callbacks as kc
        from kerasdigits import train

        ds = ctx.data
        probe = ctx.probe(ds.test.images, ds.test.labels)
        cbs: list[Any] = []
        if checkpoints is not None:
            cbs.append(kc.checkpoint(ctx.workdir / "ckpt", filename=checkpoints))
        if patience is not None:
            cbs.append(kc.early_stopping(patience=patience))
        ctx.begin()
        result = train(name, ds, epochs=ctx.epochs(epochs), batch_size=batch_size,
                       validation=validation, callbacks=[*cbs, probe], seed=ctx.seed,
                       verbose=0)
        ctx.end()
        ctx.fit_s = result.wall_time - ctx.excluded
        return result.model, ds.test.images, ds.test.labels

    return run


def _fashion(validation_size: int) -> Callable[[Context], Any]:
    """``fashion_convnet`` through kerasdigits, on the tutorial's 55,000 / 5,000 split.

    The tutorial's split exactly: the *first* 5,000 training images validate (as
    ``keras-fashion_convnet`` does), not a stratified random 5,000 (``load_dataset(...,
    validation_size=5000)``). The validation set picks the checkpoint kept, and with the random
    split the test accuracy came out 0.26-0.51 points lower on seeds 0-2 (bench/README.md).
    """
    inner = _kd("fashion_convnet", epochs=10, batch_size=64, validation="auto",
                checkpoints="{name}-best.keras", patience=10)

    def run(ctx: Context) -> Any:
        size = 400 if ctx.quick else validation_size  # as keras_fashion_convnet
        data = ctx.data  # the same arrays keras_fashion_convnet gets
        ctx.data = dataclasses.replace(
            data, train=data.train.take(np.arange(size, len(data.train.labels))),
            validation=data.train.take(np.arange(size)))
        return inner(ctx)

    return run


def _balanced(ctx: Context) -> Any:
    """The first zoo model tagged ``balanced``, with its recipe."""
    from kerasdigits import list_models

    names = list_models(tags=BALANCED_TAG)
    if not names:
        raise RuntimeError(f"no zoo model is tagged {BALANCED_TAG!r}")
    ctx.title = f"ours: {names[0]} (the first model tagged {BALANCED_TAG!r}) with its recipe"
    return _kd(names[0])(ctx)


def balanced_model() -> str | None:
    """The model ``kd-balanced`` would train, or ``None`` when no zoo model has the tag."""
    from kerasdigits import list_models

    names = list_models(tags=BALANCED_TAG)
    return names[0] if names else None


CASES = {c.name: c for c in [
    Case("keras-mlp2x512", "512-512 MLP, dropout 0.2, RMSprop, batch 128, 5 epochs", "mnist",
         "keras", None, MLP2X512_TARGET, 4, keras_mlp2x512),
    Case("kd-mlp2x512", "the same, kerasdigits.train('mlp2x512')", "mnist", "kerasdigits",
         "keras-mlp2x512", MLP2X512_TARGET, 4,
         _kd("mlp2x512", epochs=5, batch_size=128, validation="test")),
    Case("kd-fast_mlp", "ours: fast_mlp with its recipe", "mnist", "kerasdigits",
         "keras-mlp2x512", MLP2X512_TARGET, 4, _kd("fast_mlp")),
    Case("keras-mlp256", "256 MLP, Adam, batch 32, 5 epochs", "mnist", "keras", None,
         MLP256_TARGET, 4, keras_mlp256),
    Case("kd-mlp256", "the same, kerasdigits.train('mlp256')", "mnist", "kerasdigits",
         "keras-mlp256", MLP256_TARGET, 4,
         _kd("mlp256", epochs=5, batch_size=32, validation="test")),
    Case("keras-convnet", "32-32 convnet, Adam, batch 128, 5 epochs", "mnist", "keras", None,
         CONVNET_TARGET, 2, keras_convnet),
    Case("kd-convnet", "the same, kerasdigits.train('convnet')", "mnist", "kerasdigits",
         "keras-convnet", CONVNET_TARGET, 2,
         _kd("convnet", epochs=5, batch_size=128, validation=0.1)),
    Case("kd-fast_convnet", "ours: fast_convnet with its recipe", "mnist", "kerasdigits",
         "keras-convnet", CONVNET_TARGET, 10, _kd("fast_convnet")),
    Case("kd-balanced", f"ours: the first zoo model tagged {BALANCED_TAG!r}, with its recipe",
         "mnist", "kerasdigits", "keras-convnet", CONVNET_TARGET, 2, _balanced),
    Case("kd-accurate_convnet", "ours: accurate_convnet with its recipe", "mnist",
         "kerasdigits", "keras-convnet", CONVNET_TARGET, 1, _kd("accurate_convnet")),
    Case("keras-mlp512-es", "512 MLP, Adam, batch 200, <= 30 epochs, early stopping (10)",
         "mnist", "keras", None, MLP512_TARGET, 1, keras_mlp512_es),
    Case("kd-mlp512-es", "the same, kerasdigits.train('mlp512')", "mnist", "kerasdigits",
         "keras-mlp512-es", MLP512_TARGET, 1,
         _kd("mlp512", epochs=30, batch_size=200, validation=0.1,
             checkpoints="mnist-{epoch:02d}-{val_loss:.4f}.keras", patience=10)),
    Case("keras-fashion_convnet", "Fashion-MNIST convnet, Adam, batch 64, 10 epochs",
         "fashion_mnist", "keras", None, FASHION_TARGET, 1, keras_fashion_convnet),
    Case("kd-fashion_convnet", "the same, kerasdigits.train('fashion_convnet')",
         "fashion_mnist", "kerasdigits", "keras-fashion_convnet", FASHION_TARGET, 1,
         _fashion(5000)),
    Case("kd-accurate_convnet-fashion", "ours: accurate_convnet with its recipe",
         "fashion_mnist", "kerasdigits", "keras-fashion_convnet", FASHION_TARGET, 1,
         _kd("accurate_convnet")),
    Case("kd-accurate_fashion_convnet",
         "ours: accurate_fashion_convnet (accurate_convnet, mirror images) with its recipe",
         "fashion_mnist", "kerasdigits", "keras-fashion_convnet", FASHION_TARGET, 1,
         _kd("accurate_fashion_convnet")),
]}


# --------------------------------------------------------------------------- one case


def run_case(name: str, *, quick: bool, seed: int, threads: int) -> dict[str, Any]:
    """Run one case in this process and return its measurements."""
    case = CASES[name]
    load_start = load_average()
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    host_gflops = matmul_peak(repeats=10)  # the host's speed now: it varies over a day
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        ctx = Context(case, quick=quick, seed=seed, workdir=Path(tmp))
        model, x_test, y_test = case.run(ctx)
        acc = accuracy(model, x_test, y_test)
    reached = next((p for p in ctx.curve if p["test_accuracy"] >= case.target), None)
    return {
        "case": name,
        "seed": seed,
        "title": ctx.title,
        "dataset": case.dataset + ("_sample" if quick else ""),
        "via": case.via,
        "reference": case.reference,
        "test_accuracy": acc,
        "train_s": round(ctx.stopped or 0.0, 3),
        "cpu_s": round(ctx.cpu_s or 0.0, 3),
        "fit_s": round(ctx.fit_s, 3) if ctx.fit_s is not None else None,
        "probe_s": round(ctx.excluded, 3),
        "epochs_run": ctx.epochs_run,
        "target": round(case.target, 4),
        "time_to_target_s": reached["train_s"] if reached else None,
        "epoch_at_target": reached["epoch"] if reached else None,
        "peak_rss_mb": peak_rss_mb(),
        "load_start": load_start,
        "load_end": load_average(),
        "host_gflops": round(host_gflops, 1),
        "curve": ctx.curve,
        "params": int(model.count_params()),
        "tensorflow": tf.__version__,
    }


# --------------------------------------------------------------------------- driver


def spawn(name: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one case with one seed in a fresh interpreter and return its measurements."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "case.json"
        cmd = [sys.executable, __file__, "--case", name, "--json", str(out),
               "--seed", str(seed), "--threads", str(args.threads)]
        if args.quick:
            cmd.append("--quick")
        started, t = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
        proc = subprocess.run(cmd, env={**os.environ, **QUIET}, capture_output=True,
                              text=True)
        if proc.returncode != 0 or not out.is_file():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            print(f"  {name} seed {seed}: FAILED (exit {proc.returncode})\n{tail}",
                  file=sys.stderr)
            return {"case": name, "seed": seed, "started": started,
                    "error": tail or f"exit {proc.returncode}"}
        result: dict[str, Any] = json.loads(out.read_text())
        result["started"] = started
        result["process_s"] = round(time.perf_counter() - t, 1)
        return result


def _seeds(args: argparse.Namespace) -> list[int]:
    """The seeds of the run: ``--seed-list``, else ``--seeds`` of them from ``--seed`` on."""
    if args.seed_list is not None:
        try:
            seeds = [int(x) for x in args.seed_list.split(",") if x.strip()]
        except ValueError:
            raise SystemExit(f"--seed-list wants integers separated by commas, "
                             f"not {args.seed_list!r}") from None
    else:
        if args.seeds is not None and args.seeds < 1:
            raise SystemExit("--seeds wants 1 or more")
        seeds = list(range(args.seed, args.seed + (args.seeds or 1)))
    if not seeds or len(set(seeds)) != len(seeds):
        raise SystemExit("the seeds must be distinct, and at least one")
    return seeds


def _plan(selected: list[str], seeds: list[int], seeds_for: list[str]) -> dict[str, list[int]]:
    """Each selected case's seeds: all of them, or the first N with ``--seeds-for CASE=N``."""
    caps = name_counts(seeds_for, CASES, "--seeds-for", "CASE", "--list")
    return {name: seeds[:caps.get(name, len(seeds))] for name in selected}


# --------------------------------------------------------------------------- summaries


#: What a case's summary takes from its first run as it is (the same for every seed).
_SAME = ("case", "title", "dataset", "via", "reference", "target", "params", "tensorflow")


def _median_never(values: list[float | None]) -> float | None:
    """The median of times where ``None`` (never reached) counts as infinitely long."""
    if not values:
        return None
    vals = sorted(math.inf if v is None else v for v in values)
    mid = len(vals) // 2
    med = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
    return med if math.isfinite(med) else None


def _rounded(stats: dict[str, Any], digits: int) -> dict[str, Any]:
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in stats.items()}


def summarize(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A case's figures over its seeds, with the runs themselves under ``runs``.

    The keys of a single run keep their meaning, so that a reader of single-seed files reads
    this too: ``test_accuracy`` is the mean over the seeds, ``train_s``, ``cpu_s`` and
    ``time_to_target_s`` the medians, ``peak_rss_mb`` the largest; ``stats`` has the mean,
    sample standard deviation, median, minimum and maximum of each.
    """
    ok = [r for r in runs if "error" not in r]
    failed = [r["seed"] for r in runs if "error" in r]
    if not ok:
        return {"case": name, "error": runs[-1]["error"] if runs else "not run",
                "seeds": [], "n_seeds": 0, "failed_seeds": failed, "runs": runs}
    stats = {"test_accuracy": _rounded(spread(r["test_accuracy"] for r in ok), 6)}
    for key in ("train_s", "cpu_s", "fit_s", "probe_s", "peak_rss_mb", "epochs_run"):
        stats[key] = _rounded(spread(r.get(key) for r in ok), 3)
    reached = [r["time_to_target_s"] for r in ok]
    stats["time_to_target_s"] = {**_rounded(spread(reached), 3), "of": len(ok),
                                 "median": _median_never(reached)}
    stats["load_1min_start"] = spread(r["load_start"][0] for r in ok)
    stats["load_1min_end"] = spread(r["load_end"][0] for r in ok)
    stats["load_1min_start"] = _rounded(stats["load_1min_start"], 2)
    stats["load_1min_end"] = _rounded(stats["load_1min_end"], 2)
    acc = stats["test_accuracy"]
    summary = {k: ok[0][k] for k in _SAME if k in ok[0]}
    summary.update({
        "seeds": [r["seed"] for r in ok],
        "n_seeds": len(ok),
        "failed_seeds": failed,
        "test_accuracy": acc["mean"],
        "test_accuracy_std": acc["std"],
        "test_accuracy_min": acc["min"],
        "test_accuracy_max": acc["max"],
        "train_s": stats["train_s"]["median"],
        "cpu_s": stats["cpu_s"]["median"],
        "fit_s": stats["fit_s"]["median"],
        "probe_s": stats["probe_s"]["median"],
        "epochs_run": stats["epochs_run"]["median"],
        "time_to_target_s": stats["time_to_target_s"]["median"],
        "epoch_at_target": _median_never([r["epoch_at_target"] for r in ok]),
        "peak_rss_mb": stats["peak_rss_mb"]["max"],
        "load_start": ok[0]["load_start"],  # of the first seed's run
        "load_end": ok[-1]["load_end"],  # of the last seed's run
        "stats": stats,
        "runs": runs,
    })
    return summary


def _ratios(results: dict[str, dict[str, Any]]) -> None:
    """Each case against its reference of the same run: medians of the times, mean accuracy."""
    for r in results.values():
        ref = results.get(r.get("reference") or "")
        if not ref or "error" in ref or "error" in r:
            continue
        r["speedup"] = ref["train_s"] / r["train_s"] if r["train_s"] else None
        r["accuracy_delta_points"] = 100 * (r["test_accuracy"] - ref["test_accuracy"])
        a, b = ref.get("time_to_target_s"), r.get("time_to_target_s")
        r["time_to_target_speedup"] = a / b if a and b else None
        r["memory_ratio"] = r["peak_rss_mb"] / ref["peak_rss_mb"]
        r["ratio_seeds"] = {"reference": ref["n_seeds"], "case": r["n_seeds"]}


def _runs_of(r: dict[str, Any]) -> list[dict[str, Any]]:
    """A case's successful runs, one per seed (a single-seed file's case is its own run)."""
    return [x for x in (r.get("runs") or [r]) if "error" not in x]


def _range_text(values: list[float], digits: int) -> str:
    """``1.2-2.4``: the lowest and highest of ``values``; ``-`` for none."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "-"
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return lo if lo == hi else f"{lo}-{hi}"


def _load_range(summaries: list[dict[str, Any]]) -> str:
    """``1.2-2.4``: the lowest and highest 1-minute load average at the starts and ends."""
    return _range_text([x[k][0] for r in summaries for x in _runs_of(r)
                        for k in ("load_start", "load_end")], 1)


def _host_range(summaries: list[dict[str, Any]]) -> str:
    """``215-471``: the slowest and fastest host (matmul GFLOP/s measured before each run).

    The same 2-core machine measured 471 GFLOP/s one morning and 215 that evening, so a time
    is read beside the speed of the host it was measured on.
    """
    return _range_text([x.get("host_gflops") for r in summaries for x in _runs_of(r)], 0)


def _conditions(summaries: list[dict[str, Any]]) -> dict[str, str]:
    """The load and host speed that a row of the figures table was measured under."""
    return {"load_1min": _load_range(summaries), "host_gflops": _host_range(summaries)}


# --------------------------------------------------------------------------- figures to reach


#: Seeds that issue 17's rows ask for.
FAST_SEEDS = 5
SEEDS = 3
#: Float slack for the comparisons (accuracies are counts over 10,000 images).
_EPS = 1e-9


def _acc(r: dict[str, Any]) -> str:
    std = r.get("test_accuracy_std")
    pm = f" ± {100 * std:.2f}" if std is not None else ""
    return f"mean {r['test_accuracy']:.2%}{pm}, worst {r['test_accuracy_min']:.2%}"


def _times(r: dict[str, Any]) -> str:
    st = r["stats"]["train_s"]
    rng = f" ({_fmt_s(st['min'])}-{_fmt_s(st['max'])})" if st["n"] > 1 else ""
    return f"median {_fmt_s(r['train_s'])} s{rng}"


def _tutorial_pairs() -> list[tuple[str, str]]:
    """(kerasdigits case, plain-Keras case) of each tutorial recipe."""
    return [(c.name, c.reference) for c in CASES.values() if c.reference
            and c.name.startswith("kd-") and c.name.replace("kd-", "keras-", 1) == c.reference]


def _checks(results: dict[str, dict[str, Any]], *, quick: bool = False,
            skipped: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Issue 17's figures, each checked against this run: met, not met or not run.

    A row is "not run" when a case it needs is missing from the run, failed, or ran with
    fewer seeds than the row asks for (its measured values are still shown), and in a
    ``--quick`` run (sample data).
    """
    skipped = skipped or {}
    checks: list[dict[str, Any]] = []

    def row(figure: str, needs: list[tuple[str, int]], test: Callable[..., bool],
            measure: Callable[..., str]) -> str:
        notes, found = [], []
        for name, n in needs:
            r = results.get(name)
            if name in skipped:
                notes.append(f"`{name}` not run: {skipped[name]}")
            elif r is None:
                notes.append(f"no `{name}` in this run")
            elif "error" in r:
                notes.append(f"`{name}` failed")
            else:
                found.append(r)
                if r["n_seeds"] < n:
                    failed = len(r["failed_seeds"])
                    notes.append(f"`{name}`: {r['n_seeds']} of {n} seeds"
                                 + (f" ({failed} failed)" if failed else ""))
        complete = len(found) == len(needs)
        measured = measure(*found) if complete else ""
        usable = complete and not notes and not quick
        met = ("met" if test(*found) else "not met") if usable else "not run"
        if quick:
            notes = ["quick run, sample data", *notes]
        measured = "; ".join(x for x in (*notes, measured) if x)
        checks.append({"figure": figure, "met": met, "measured": measured,
                       **_conditions(found)})
        return met

    fc, kc = "kd-fast_convnet", "keras-convnet"
    row("`fast_convnet`: MNIST test accuracy over 5 seeds, mean >= 99.15%, worst >= 99.0%",
        [(fc, FAST_SEEDS)],
        lambda r: r["test_accuracy"] >= 0.9915 - _EPS and r["test_accuracy_min"] >= 0.99 - _EPS,
        lambda r: f"{_acc(r)} ({r['n_seeds']} seeds)")
    row("`fast_convnet`: training wall time, median of 5 seeds, <= 4 s", [(fc, FAST_SEEDS)],
        lambda r: r["train_s"] <= 4, _times)
    row("`fast_convnet`: >= 20x faster than the tutorial convnet in plain Keras "
        f"(`{kc}`, medians of the same run)", [(fc, FAST_SEEDS), (kc, SEEDS)],
        lambda r, k: k["train_s"] / r["train_s"] >= 20,
        lambda r, k: (f"{k['train_s'] / r['train_s']:.1f}x ({_fmt_s(k['train_s'])} s / "
                      f"{_fmt_s(r['train_s'])} s, {k['n_seeds']} / {r['n_seeds']} seeds)"))
    row("`fast_mlp`: MNIST test accuracy over 5 seeds, mean >= 98.2%, worst >= 98.0%",
        [("kd-fast_mlp", FAST_SEEDS)],
        lambda r: r["test_accuracy"] >= 0.982 - _EPS and r["test_accuracy_min"] >= 0.98 - _EPS,
        lambda r: f"{_acc(r)} ({r['n_seeds']} seeds)")
    row("`fast_mlp`: training wall time, median of 5 seeds, <= 3 s",
        [("kd-fast_mlp", FAST_SEEDS)], lambda r: r["train_s"] <= 3, _times)
    row(f"a model tagged `{BALANCED_TAG}` (`kd-balanced`): MNIST mean of 3 seeds >= 99.5%, "
        "median wall time <= 60 s", [("kd-balanced", SEEDS)],
        lambda r: r["test_accuracy"] >= 0.995 - _EPS and r["train_s"] <= 60,
        lambda r: f"{r['title']}: {_acc(r)}, {_times(r)}")
    row("`accurate_convnet`: MNIST mean of 3 seeds >= 99.70%, every seed <= 12 min",
        [("kd-accurate_convnet", SEEDS)],
        lambda r: r["test_accuracy"] >= 0.997 - _EPS and r["stats"]["train_s"]["max"] <= 720,
        lambda r: f"{_acc(r)}, {_times(r)}, slowest {_fmt_s(r['stats']['train_s']['max'])} s")
    row("`accurate_convnet`'s Fashion recipe (`accurate_fashion_convnet`): Fashion-MNIST mean "
        "of 3 seeds >= 94.0%, every seed <= 15 min", [("kd-accurate_fashion_convnet", SEEDS)],
        lambda r: r["test_accuracy"] >= 0.94 - _EPS and r["stats"]["train_s"]["max"] <= 900,
        lambda r: f"{_acc(r)}, {_times(r)}, slowest {_fmt_s(r['stats']['train_s']['max'])} s")
    _pair_checks(results, checks, row, quick=quick)
    return checks


def _pair_checks(results: dict[str, dict[str, Any]], checks: list[dict[str, Any]],
                 row: Callable[..., str], *, quick: bool) -> None:
    """The tutorial recipes through kerasdigits vs plain Keras, one row each and all; memory."""
    pairs = []
    for kd, keras in _tutorial_pairs():
        pairs.append(row(
            f"tutorial recipe `{kd.removeprefix('kd-')}`, `kerasdigits.train` vs plain Keras "
            "(3 seeds each): >= 1.0x (medians), accuracy >= Keras - 0.3 points (means)",
            [(kd, SEEDS), (keras, SEEDS)],
            lambda r, k: r["speedup"] >= 1.0 and r["accuracy_delta_points"] >= -0.3 - _EPS,
            lambda r, k: (f"{r['speedup']:.2f}x ({_fmt_s(k['train_s'])} s / "
                          f"{_fmt_s(r['train_s'])} s), {r['accuracy_delta_points']:+.2f} "
                          f"points ({r['test_accuracy']:.2%} vs {k['test_accuracy']:.2%}, "
                          f"{r['n_seeds']} / {k['n_seeds']} seeds)")))
    every = ("not met" if "not met" in pairs else "met" if pairs and all(
        p == "met" for p in pairs) else "not run")
    checks.append({"figure": "every tutorial recipe through `kerasdigits.train`: never slower "
                   "than plain Keras, accuracy within 0.3 points (the rows above)",
                   "met": every,
                   "measured": ", ".join(f"{pairs.count(p)} {p}" for p in dict.fromkeys(pairs))
                   + f" (of {len(pairs)} pairs)",
                   **_conditions([results[n] for pair in _tutorial_pairs()
                                  for n in pair if n in results and "error" not in results[n]])})
    heavy = [r for r in results.values() if "error" not in r and r["via"] == "kerasdigits"
             and r["dataset"].removesuffix("_sample") == "mnist"]
    if heavy:
        worst = max(heavy, key=lambda r: r["peak_rss_mb"])
        checks.append({
            "figure": "training a zoo model on MNIST: < 2 GB resident (every seed)",
            "met": ("not run" if quick else "met" if worst["peak_rss_mb"] < MEMORY_BUDGET_MB
                    else "not met"),
            "measured": f"largest {worst['peak_rss_mb']:.0f} MB (`{worst['case']}`)",
            **_conditions(heavy)})


# --------------------------------------------------------------------------- tables


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _seed_text(seeds: list[int]) -> str:
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{len(seeds)} seeds, {seeds[0]}-{seeds[-1]}"
    return f"{len(seeds)} seeds, " + ", ".join(map(str, seeds))


def _main_row(r: dict[str, Any]) -> list[str]:
    n = r.get("n_seeds", 1)
    std = r.get("test_accuracy_std")
    acc = f"{r['test_accuracy']:.2%}" + (f" ± {100 * std:.2f}" if std is not None else "")
    spread_ = (f"{r['test_accuracy_min']:.2%} / {r['test_accuracy_max']:.2%}" if n > 1
               else "-")
    train = _fmt_s(r["train_s"])
    st = r.get("stats", {})
    if n > 1:
        train += f" ({_fmt_s(st['train_s']['min'])}-{_fmt_s(st['train_s']['max'])})"
    at = ("-" if r["time_to_target_s"] is None
          else f"{_fmt_s(r['time_to_target_s'])} (ep {r['epoch_at_target']:.2f})")
    if n > 1:
        at += f", {st['time_to_target_s']['n']}/{n}"
    seeds = str(n) + (f" ({len(r['failed_seeds'])} failed)" if r.get("failed_seeds") else "")
    speed = f"{r['speedup']:.2f}x" if r.get("speedup") else "-"
    ttt = r.get("time_to_target_speedup")
    delta = f"{r['accuracy_delta_points']:+.2f}" if "accuracy_delta_points" in r else "-"
    return [f"`{r['case']}`", r["title"], r["dataset"], seeds, acc, spread_, train,
            _fmt_s(r["cpu_s"]), f"{r['target']:.2%}", at, f"{r['peak_rss_mb']:.0f}", speed,
            f"{ttt:.1f}x" if ttt else "-", delta, _load_range([r]), _host_range([r])]


def render(payload: dict[str, Any]) -> str:
    results = payload["cases"]
    seeds = payload.get("seeds") or [payload.get("seed", 0)]
    header = ["case", "what", "data", "seeds", "test acc (mean ± std, pts)", "worst / best",
              "train s (median, range)", "CPU s", "target", "to target s (median)",
              "peak RSS MB", "speed-up", "to-target speed-up", "acc vs ref (pts)",
              "load 1-min", "host GFLOP/s"]
    rows = [[f"`{r['case']}`", "FAILED", *["-"] * (len(header) - 2)] if "error" in r
            else _main_row(r) for r in results.values()]
    quick = " (quick smoke test: 1 epoch on sample data)" if payload.get("quick") else ""
    out = [f"### Training: tutorials in plain Keras vs kerasdigits ({payload['date']}, "
           f"{payload['machine']}; {_seed_text(seeds)}){quick}\n",
           "Per case: test accuracy as the mean ± sample standard deviation over its seeds "
           "(in points) and the worst / best seed; times as the median over the seeds (and "
           "their range); peak RSS the largest. Speed-ups are from the medians and accuracy "
           "differences from the means, against the reference case of the same run; the load "
           "is the lowest and highest 1-minute load average at the starts and ends of the "
           "case's runs, and the host's speed the slowest and fastest 2048x2048 float32 "
           "matmul measured before them (the same machine ran at 215-471 GFLOP/s on one "
           "day: compare times measured at the same speed).\n",
           table(header, rows, right=range(3, 16))]
    if payload.get("skipped"):
        out.append("Not run: " + "; ".join(f"`{k}` ({v})" for k, v in
                                            payload["skipped"].items()) + ".\n")
    if len(seeds) > 1:
        per = []
        for r in results.values():
            by_seed = {x["seed"]: x for x in r.get("runs", [])}
            cells = []
            for seed in seeds:
                x = by_seed.get(seed)
                cells.append("" if x is None else "FAILED" if "error" in x else
                             f"{x['test_accuracy']:.2%}, {_fmt_s(x['train_s'])} s")
            per.append([f"`{r['case']}`", *cells])
        out.append("\nEach seed (test accuracy, train s), in the order run: every case with one "
                   "seed, then the next seed:\n")
        out.append(table(["case", *[f"seed {s}" for s in seeds]], per))
    if payload["checks"]:
        out.append("\nFigures to reach (issue 17):\n")
        out.append(table(["figure", "met", "measured", "load 1-min", "host GFLOP/s"],
                         [[c["figure"], c["met"], c["measured"], c.get("load_1min", "-"),
                           c.get("host_gflops", "-")] for c in payload["checks"]]))
    return "\n".join(out)


# --------------------------------------------------------------------------- the race chart


#: One colour per case, in the order of ``CASES``; dark enough for labels on white.
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#17becf", "#7f7f7f", "#a6a600", "#000000", "#393b79", "#637939", "#8c6d31",
            "#7b4173"]
_PANELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def chart(payload: dict[str, Any], path: Path, source: str | None = None) -> None:
    """Test accuracy against training wall time, every case and seed of a run: ``path``.

    One panel per dataset, time on a log scale shared by the panels. Plain-Keras tutorial
    code: open squares, dashed error bars; ``kerasdigits.train``: filled circles. Each seed
    is a small marker; the large one is the mean accuracy at the median time, with the
    sample standard deviation of the accuracy as its error bar.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    cases = [r for r in payload["cases"].values() if "error" not in r and _runs_of(r)]
    if not cases:
        raise ValueError("no case of this run finished: nothing to draw")
    order = {name: i for i, name in enumerate(CASES)}
    colour = {r["case"]: _COLOURS[order.get(r["case"], i) % len(_COLOURS)]
              for i, r in enumerate(cases)}
    panels = list(dict.fromkeys(r["dataset"] for r in cases))
    counts = [sum(r["dataset"] == d for r in cases) for d in panels]
    fig, axes = plt.subplots(
        len(panels), 1, sharex=True, squeeze=False,
        figsize=(10, 1.6 + sum(4.2 if c > 4 else 2.6 for c in counts)),
        gridspec_kw={"height_ratios": [4.2 if c > 4 else 2.6 for c in counts]})
    times = [x["train_s"] for r in cases for x in _runs_of(r)]
    xlim = (min(times) / 1.6, max(times) * 1.6)
    obstacles: dict[Any, list[tuple[float, float, float]]] = {}
    labels: list[tuple[Any, float, float, str, str]] = []
    for ax, dataset in zip(axes[:, 0], panels, strict=True):
        ys: list[float] = []
        obstacles[ax] = []
        for r in (r for r in cases if r["dataset"] == dataset):
            ys += _draw_case(ax, r, colour[r["case"]], obstacles[ax])
            labels.append((ax, r["train_s"], 100 * r["test_accuracy"], r["case"],
                           colour[r["case"]]))
        _format_panel(ax, dataset, (min(ys), max(ys)), xlim)
    several = any(len(_runs_of(r)) > 1 for r in cases)
    axes[-1, 0].set_xlabel("training wall time, seconds (log scale" + (
        "; large marker at the median over the seeds)" if several else ")"))
    seeds = payload.get("seeds") or [payload.get("seed", 0)]
    loads, host = _load_range(cases), _host_range(cases)
    fig.suptitle("Training race: test accuracy against training wall time", fontsize=13,
                 fontweight="bold", x=0.01, ha="left")
    fig.text(0.01, 1 - 0.42 / fig.get_figheight(),
             f"{'Quick smoke test, ' if payload.get('quick') else ''}run of {payload['date']}"
             f" ({_seed_text(seeds)}), {payload['machine']}, 1-minute load {loads}, "
             f"host {host} GFLOP/s"
             + (f"; {source}" if source else ""), fontsize=8.5, color="#444444")
    handles = [
        Line2D([], [], marker="s", mfc="white", mec="#333333", mew=2, ms=9, ls="none",
               label="plain Keras (the tutorial's code)"),
        Line2D([], [], marker="o", mfc="#333333", mec="#333333", ms=9, ls="none",
               label="kerasdigits.train (tutorial recipes and ours)"),
    ]
    if several:
        handles += [
            Line2D([], [], marker="o", mfc="#999999", mec="#999999", ms=5, ls="none",
                   label="one seed"),
            Line2D([], [], marker="o", mfc="#333333", mec="#333333", ms=9, ls="-",
                   color="#333333", label="mean ± std over the seeds"),
        ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8.5,
               frameon=False)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1 - 0.3 / fig.get_figheight()))
    _place_labels(fig, labels, obstacles)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _draw_case(ax: Any, r: dict[str, Any], c: str,
               obstacles: list[tuple[float, float, float]]) -> list[float]:
    """One case: each seed's point, the mean at the median time with the std as error bar.

    Appends the markers to ``obstacles`` (x, y, radius in points) and returns the accuracies
    drawn, in percent.
    """
    runs = _runs_of(r)
    keras = r["via"] == "keras"
    marker, face = ("s", "white") if keras else ("o", c)
    xs = [x["train_s"] for x in runs]
    accs = [100 * x["test_accuracy"] for x in runs]
    if len(runs) > 1:
        ax.scatter(xs, accs, s=22, marker=marker, facecolors=face, edgecolors=c,
                   linewidths=1.0, alpha=0.75, zorder=3)
    std = r.get("test_accuracy_std")
    mean, med = 100 * r["test_accuracy"], r["train_s"]
    bars = ax.errorbar([med], [mean], yerr=[100 * std] if std else None, fmt=marker, ms=10,
                       mfc=face, mec=c, mew=2, ecolor=c, elinewidth=1.5, capsize=5, zorder=4)
    obstacles += [(x, y, 4.0) for x, y in zip(xs, accs, strict=True)] + [(med, mean, 7.0)]
    if not std:
        return accs
    if keras:
        bars[2][0].set_linestyle("--")
    obstacles += [(med, mean - 100 * std, 4.0), (med, mean + 100 * std, 4.0)]
    return [*accs, mean - 100 * std, mean + 100 * std]


def _format_panel(ax: Any, dataset: str, yrange: tuple[float, float],
                  xlim: tuple[float, float]) -> None:
    """Limits (accuracy zoomed on the data), log time axis, ticks, grid and title."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    lo, hi = yrange
    pad = 0.15 * (hi - lo) + 0.08
    ax.set_ylim(lo - pad, min(hi + pad, 100.0 + pad / 4))
    ax.set_xscale("log")
    ax.set_xlim(*xlim)
    narrow = xlim[1] / xlim[0] < 20  # less than about a decade: more ticks
    ax.xaxis.set_major_locator(LogLocator(
        base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if narrow else (1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1f}%"))
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(True, which="minor", axis="x", alpha=0.1)
    sample = dataset.endswith("_sample")
    name = _PANELS.get(dataset.removesuffix("_sample"), dataset)
    ax.set_title(name + (" (bundled sample: a quick run)" if sample else ""), loc="left",
                 fontsize=11, fontweight="bold")
    ax.set_ylabel("test accuracy")


def _place_labels(fig: Any, labels: list[tuple[Any, float, float, str, str]],
                  obstacles: dict[Any, list[tuple[float, float, float]]]) -> None:
    """Put each label next to its point where it overlaps no marker and no other label."""
    from matplotlib.transforms import Bbox

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    scale = fig.dpi / 72
    taken: list[Any] = []
    for ax, points in obstacles.items():
        for x, y, radius in points:
            px, py = ax.transData.transform((x, y))
            r = radius * scale
            taken.append(Bbox([[px - r, py - r], [px + r, py + r]]))
    spots = [(dx * d, dy * d) for d in (1.0, 2.0, 3.2, 4.6)
             for dx, dy in ((1, 0), (-1, 0), (0.7, 0.7), (0.7, -0.7), (-0.7, 0.7),
                            (-0.7, -0.7), (0, 1), (0, -1))]

    def put(ax: Any, x: float, y: float, text: str, c: str, dx: float, dy: float,
            arrow: bool) -> Any:
        return ax.annotate(
            text, (x, y), xytext=(10 * dx, 10 * dy), textcoords="offset points",
            ha="left" if dx > 0.1 else "right" if dx < -0.1 else "center",
            va="bottom" if dy > 0.1 else "top" if dy < -0.1 else "center",
            fontsize=8.5, color=c, zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
            arrowprops={"arrowstyle": "-", "color": c, "lw": 0.6, "shrinkA": 0,
                        "shrinkB": 7} if arrow else None)

    for ax, x, y, text, c in sorted(labels, key=lambda item: -item[2]):
        box = ax.get_window_extent(renderer)
        chosen = None
        for dx, dy in spots:
            t = put(ax, x, y, text, c, dx, dy, arrow=False)  # the text alone, to test
            bb = t.get_window_extent(renderer).padded(1.5)
            t.remove()
            inside = (bb.x0 >= box.x0 and bb.x1 <= box.x1 and bb.y0 >= box.y0
                      and bb.y1 <= box.y1)
            if inside and chosen is None:
                chosen = (dx, dy, bb)  # nowhere free: the first place inside the panel
            if inside and not any(bb.overlaps(o) for o in taken):
                chosen = (dx, dy, bb)
                break
        dx, dy, bb = chosen or (*spots[0], None)
        put(ax, x, y, text, c, dx, dy, arrow=abs(dx) + abs(dy) > 1.5)
        if bb is not None:
            taken.append(bb)


def draw_chart(payload: dict[str, Any], out: Path) -> bool:
    """Draw ``out``'s chart (``.png``) from ``payload``; on failure, remove a stale one."""
    png = out.with_suffix(".png")
    try:
        chart(payload, png, source=f"from {out.name}")
    except Exception as exc:  # the chart is a picture of results already written
        print(f"chart not drawn: {type(exc).__name__}: {exc}", file=sys.stderr)
        png.unlink(missing_ok=True)
        return False
    return True


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--all", action="store_true", help="run every case (the default)")
    parser.add_argument("--case", action="append", default=[],
                        help="run this case (repeatable, or comma-separated)")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch on 2,000 bundled sample images (a smoke test)")
    parser.add_argument("--seed", type=int, default=0, help="the (first) seed")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, default=None, metavar="N",
                       help="run every case with N seeds, --seed to --seed + N - 1, one round "
                            "of all the cases per seed (default 1)")
    seeds.add_argument("--seed-list", default=None, metavar="S,S,...",
                       help="run every case with these seeds (comma-separated)")
    parser.add_argument("--seeds-for", action="append", default=[], metavar="CASE=N",
                        help="run CASE with only the first N seeds (repeatable, or "
                             "comma-separated)")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra/inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--out", type=Path, default=None,
                        help="result file (default bench/results/training.json for --all); "
                             "the .md and .png are written next to it")
    parser.add_argument("--chart-only", action="store_true",
                        help="redraw the chart from the result file (--out, default "
                             "bench/results/training.json) without training")
    parser.add_argument("--json", type=Path, default=None,
                        help="(internal) run the one --case in this process, write it here")
    args = parser.parse_args()
    if args.list:
        balanced = balanced_model()
        for c in CASES.values():
            ref = f" (vs {c.reference})" if c.reference else ""
            note = ""
            if c.run is _balanced:
                note = f" [{balanced}]" if balanced else " [no such model yet: skipped]"
            print(f"{c.name:30} {c.dataset:14} {c.title}{ref}{note}")
        return 0
    if args.chart_only:
        out = args.out or RESULTS / "training.json"
        if not out.is_file():
            print(f"no result file {out}", file=sys.stderr)
            return 2
        return 0 if draw_chart(json.loads(out.read_text(encoding="utf-8")), out) else 1
    names = [n for arg in args.case for n in arg.split(",") if n]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; see --list", file=sys.stderr)
        return 2
    if not args.quick and not need_data_dir():
        return 2
    if args.json is not None:
        if len(names) != 1:
            print("--json runs exactly one --case", file=sys.stderr)
            return 2
        result = run_case(names[0], quick=args.quick, seed=args.seed, threads=args.threads)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        return 0
    return drive(args, names)


def drive(args: argparse.Namespace, names: list[str]) -> int:
    """Run the selected cases, seed round by seed round, each in a fresh process."""
    selected = list(dict.fromkeys(names)) or list(CASES)
    skipped: dict[str, str] = {}
    if "kd-balanced" in selected and balanced_model() is None:
        skipped["kd-balanced"] = f"no zoo model is tagged {BALANCED_TAG!r}"
        selected.remove("kd-balanced")
        print(f"kd-balanced: skipped, {skipped['kd-balanced']}", file=sys.stderr)
        if not selected:
            return 2
    seeds = _seeds(args)
    plan = _plan(selected, seeds, args.seeds_for)
    out = args.out
    if out is None and not names and not args.quick:
        out = RESULTS / "training.json"
    partial = out.with_name(out.name + ".partial") if out is not None else None
    started, load_start = time.time(), load_average()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in selected}
    total, done = sum(len(v) for v in plan.values()), 0
    for round_, seed in enumerate(seeds):
        for name in selected:
            if seed not in plan[name]:
                continue
            done += 1
            print(f"{time.strftime('%H:%M:%S')} [{done}/{total}] {name} seed {seed} "
                  f"(load {load_average()[0]:.1f}) ...", file=sys.stderr, flush=True)
            r = spawn(name, seed, args)
            r["round"] = round_
            runs[name].append(r)
            if "error" not in r:
                print(f"  {r['test_accuracy']:.2%} in {r['train_s']:.1f} s, "
                      f"{r['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
            if partial is not None:  # what an interrupted run leaves (not a *.json)
                partial.parent.mkdir(parents=True, exist_ok=True)
                partial.write_text(json.dumps({"seeds": seeds, "runs": runs}, indent=1))
    results = {name: summarize(name, runs[name]) for name in selected}
    _ratios(results)
    versions = {r["tensorflow"] for r in results.values() if "tensorflow" in r}
    payload: dict[str, Any] = {
        "date": today(),
        "machine": machine(*sorted(versions)[:1]),
        "seed": seeds[0],
        "seeds": seeds,
        "seeds_per_case": {name: plan[name] for name in selected},
        "quick": args.quick,
        "threads": args.threads or "default",
        "wall_s": round(time.time() - started, 1),
        "load_1min_start": load_start[0],
        "load_1min_end": load_average()[0],
        "skipped": skipped,
    }
    payload["table"] = [_row(r) for r in results.values()]
    payload["checks"] = _checks(results, quick=args.quick, skipped=skipped)
    payload["cases"] = results
    markdown = render(payload)
    print("\n" + markdown)
    if out is not None:
        write_results(out, payload, markdown)
        draw_chart(payload, out)
        if partial is not None:
            partial.unlink(missing_ok=True)
    return 0 if all("error" not in r and not r["failed_seeds"] for r in results.values()) else 1


def _row(r: dict[str, Any]) -> dict[str, Any]:
    """The flat summary row of one case (what the docs' generic renderer shows)."""
    if "error" in r:
        return {"case": r["case"], "error": r["error"][:200]}
    std = r.get("test_accuracy_std")
    return {
        "case": r["case"],
        "data": r["dataset"],
        "seeds": r["n_seeds"],
        "test_accuracy": round(r["test_accuracy"], 4),
        "test_accuracy_std": round(std, 4) if std is not None else None,
        "test_accuracy_min": round(r["test_accuracy_min"], 4),
        "train_s": r["train_s"],
        "cpu_s": r["cpu_s"],
        "time_to_target_s": r["time_to_target_s"],
        "target": r["target"],
        "peak_rss_mb": r["peak_rss_mb"],
        "speedup_vs_ref": round(r["speedup"], 2) if r.get("speedup") else None,
        "accuracy_vs_ref_points": (round(r["accuracy_delta_points"], 2)
                                   if "accuracy_delta_points" in r else None),
        **_conditions([r]),
    }


if __name__ == "__main__":
    raise SystemExit(main())
