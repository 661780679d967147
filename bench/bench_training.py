"""Benchmark: the tutorials' recipes in plain Keras next to kerasdigits, and our own models.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_training.py [--all]
        [--case NAME ...] [--quick] [--seed 0] [--out bench/results/training.json]
    python bench/bench_training.py --list

Every case runs in a fresh Python process (``--case NAME --json FILE``, which is also how to run
one case by hand), so that peak memory and timings are its own. The driver runs the selected
cases one after the other and computes each case's ratios against its reference case *from the
same run*: the tutorial's recipe written in plain Keras, exactly as the tutorial does it
(``float32`` arrays in memory, one-hot labels, ``model.fit``).

Per case: test accuracy of the trained model (best weights, where the recipe keeps them),
training time (seconds from data in memory to trained model: the float conversion or the
``tf.data`` pipeline, building, compiling and ``fit`` with the recipe's own validation and
checkpoints, but not the benchmark's accuracy probes), time to reach the case's target
accuracy (the tutorial's published figure minus 0.3 points; the test set is probed at every
epoch end, and several times per epoch for short runs, with the probe time left out), peak
resident memory of the process, and the 1-minute load average before and after.

``--all`` (the default) writes ``bench/results/training.json`` and ``training.md``; a run of
some cases only (``--case``) or of ``--quick`` (1 epoch on 2,000 bundled sample images, for
smoke tests) prints its table and writes files only when ``--out`` is given. The full run takes
about an hour on two cores.
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
    need_data_dir,
    peak_rss_mb,
    table,
    today,
    write_results,
)

#: Fixed accuracy targets: the tutorial's published figure minus 0.3 points.
MLP2X512_TARGET = 0.9798 - 0.003
MLP256_TARGET = 0.9774 - 0.003
CONVNET_TARGET = 0.9887 - 0.003
MLP512_TARGET = 0.9828 - 0.003
FASHION_TARGET = 0.9069 - 0.003
#: Memory budget for training any zoo model on MNIST.
MEMORY_BUDGET_MB = 2048


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
    correct = sum(int(np.sum(fn(x[i:i + _PROBE_BATCH]).numpy() == y[i:i + _PROBE_BATCH]))
                  for i in range(0, len(x), _PROBE_BATCH))
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
    """``fashion_convnet`` through kerasdigits, on the tutorial's 55,000 / 5,000 split."""
    inner = _kd("fashion_convnet", epochs=10, batch_size=64, validation="auto",
                checkpoints="{name}-best.keras", patience=10)

    def run(ctx: Context) -> Any:
        from kerasdigits import load_dataset

        size = 400 if ctx.quick else validation_size
        if ctx.quick:
            ctx.data = load_dataset("fashion_mnist_sample", validation_size=size, seed=ctx.seed)
            ctx.data = dataclasses.replace(ctx.data, test=ctx.data.test.take(slice(0, 500)))
        else:
            ctx.data = load_dataset("fashion_mnist", download=False, progress=False,
                                    validation_size=size, seed=ctx.seed)
        return inner(ctx)

    return run


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
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        ctx = Context(case, quick=quick, seed=seed, workdir=Path(tmp))
        model, x_test, y_test = case.run(ctx)
        acc = accuracy(model, x_test, y_test)
    reached = next((p for p in ctx.curve if p["test_accuracy"] >= case.target), None)
    return {
        "case": name,
        "title": case.title,
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
        "curve": ctx.curve,
        "params": int(model.count_params()),
        "tensorflow": tf.__version__,
    }


# --------------------------------------------------------------------------- driver


def spawn(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one case in a fresh interpreter and return its measurements."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "case.json"
        cmd = [sys.executable, __file__, "--case", name, "--json", str(out),
               "--seed", str(args.seed), "--threads", str(args.threads)]
        if args.quick:
            cmd.append("--quick")
        t = time.perf_counter()
        proc = subprocess.run(cmd, env={**os.environ, **QUIET}, capture_output=True,
                              text=True)
        if proc.returncode != 0 or not out.is_file():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            print(f"  {name}: FAILED (exit {proc.returncode})\n{tail}", file=sys.stderr)
            return {"case": name, "error": tail or f"exit {proc.returncode}"}
        result: dict[str, Any] = json.loads(out.read_text())
        result["process_s"] = round(time.perf_counter() - t, 1)
        return result


def _ratios(results: dict[str, dict[str, Any]]) -> None:
    for r in results.values():
        ref = results.get(r.get("reference") or "")
        if not ref or "error" in ref or "error" in r:
            continue
        r["speedup"] = ref["train_s"] / r["train_s"] if r["train_s"] else None
        r["accuracy_delta_points"] = 100 * (r["test_accuracy"] - ref["test_accuracy"])
        a, b = ref.get("time_to_target_s"), r.get("time_to_target_s")
        r["time_to_target_speedup"] = a / b if a and b else None
        r["memory_ratio"] = r["peak_rss_mb"] / ref["peak_rss_mb"]


def _checks(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's figures, each checked against this run."""
    ok = {k: v for k, v in results.items() if "error" not in v}
    checks: list[dict[str, Any]] = []

    def add(figure: str, passed: bool, measured: str) -> None:
        checks.append({"figure": figure, "met": "yes" if passed else "NO", "measured": measured})

    if "kd-fast_convnet" in ok:
        r = ok["kd-fast_convnet"]
        add("fast_convnet: >= 99.0% MNIST in <= 20 s", r["test_accuracy"] >= 0.99
            and r["train_s"] <= 20, f"{r['test_accuracy']:.2%} in {r['train_s']:.1f} s")
        if "speedup" in r:
            add("fast_convnet vs the tutorial convnet: >= 12x faster, more accurate",
                r["speedup"] >= 12 and r["accuracy_delta_points"] > 0,
                f"{r['speedup']:.1f}x, {r['accuracy_delta_points']:+.2f} points")
    if "kd-fast_mlp" in ok:
        r = ok["kd-fast_mlp"]
        add("fast_mlp: >= 98.0% MNIST in <= 5 s", r["test_accuracy"] >= 0.98
            and r["train_s"] <= 5, f"{r['test_accuracy']:.2%} in {r['train_s']:.1f} s")
    for name, floor in (("kd-accurate_convnet", 0.996), ("kd-accurate_convnet-fashion", 0.935)):
        if name in ok:
            r = ok[name]
            add(f"accurate_convnet on {r['dataset']}: >= {floor:.1%} in <= 15 min",
                r["test_accuracy"] >= floor and r["train_s"] <= 900,
                f"{r['test_accuracy']:.2%} in {r['train_s']:.0f} s")
    for name, r in ok.items():
        if name.startswith("kd-") and "speedup" in r and r["reference"] and \
                name.replace("kd-", "keras-", 1) == r["reference"]:
            add(f"{name}: reference accuracy (within 0.3 points) in no more time",
                r["accuracy_delta_points"] >= -0.3 and r["speedup"] >= 1.0,
                f"{r['accuracy_delta_points']:+.2f} points, {r['speedup']:.2f}x")
    heavy = [r for r in ok.values() if r["via"] == "kerasdigits" and r["dataset"] == "mnist"]
    if heavy:
        worst = max(heavy, key=lambda r: r["peak_rss_mb"])
        add("training a zoo model on MNIST: < 2 GB resident",
            worst["peak_rss_mb"] < MEMORY_BUDGET_MB,
            f"largest {worst['peak_rss_mb']:.0f} MB ({worst['case']})")
    return checks


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def render(payload: dict[str, Any]) -> str:
    results = payload["cases"]
    rows = []
    for r in results.values():
        if "error" in r:
            rows.append([r["case"], "FAILED", *["-"] * 11])
            continue
        speed = f"{r['speedup']:.2f}x" if r.get("speedup") else "-"
        ttt = r.get("time_to_target_speedup")
        delta = (f"{r['accuracy_delta_points']:+.2f}" if "accuracy_delta_points" in r else "-")
        at = ("-" if r["time_to_target_s"] is None
              else f"{_fmt_s(r['time_to_target_s'])} (ep {r['epoch_at_target']:.2f})")
        rows.append([
            f"`{r['case']}`", r["title"], r["dataset"], f"{r['test_accuracy']:.2%}",
            _fmt_s(r["train_s"]), _fmt_s(r["cpu_s"]), f"{r['target']:.2%}", at,
            f"{r['peak_rss_mb']:.0f}", speed, f"{ttt:.1f}x" if ttt else "-", delta,
            f"{r['load_start'][0]:.1f} / {r['load_end'][0]:.1f}",
        ])
    out = [f"### Training: tutorials in plain Keras vs kerasdigits ({payload['date']}, "
           f"{payload['machine']})\n",
           table(["case", "what", "data", "test acc", "train s", "CPU s", "target",
                  "to target s", "peak RSS MB", "speed-up", "to-target speed-up",
                  "acc vs ref (pts)", "load 1-min start / end"], rows, right=range(3, 13))]
    if payload["checks"]:
        out.append("\nFigures to reach:\n")
        out.append(table(["figure", "met", "measured"],
                         [[c["figure"], c["met"], c["measured"]] for c in payload["checks"]]))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--all", action="store_true", help="run every case (the default)")
    parser.add_argument("--case", action="append", default=[],
                        help="run this case (repeatable, or comma-separated)")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch on 2,000 bundled sample images (a smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra/inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--out", type=Path, default=None,
                        help="result file (default bench/results/training.json for --all)")
    parser.add_argument("--json", type=Path, default=None,
                        help="(internal) run the one --case in this process, write it here")
    args = parser.parse_args()
    if args.list:
        for c in CASES.values():
            ref = f" (vs {c.reference})" if c.reference else ""
            print(f"{c.name:30} {c.dataset:14} {c.title}{ref}")
        return 0
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

    selected = list(dict.fromkeys(names)) or list(CASES)
    out = args.out
    if out is None and not names and not args.quick:
        out = RESULTS / "training.json"
    started, load_start = time.time(), load_average()
    results: dict[str, dict[str, Any]] = {}
    for name in selected:
        print(f"{time.strftime('%H:%M:%S')} {name} (load {load_average()[0]:.1f}) ...",
              file=sys.stderr, flush=True)
        r = spawn(name, args)
        results[name] = r
        if "error" not in r:
            print(f"  {r['test_accuracy']:.2%} in {r['train_s']:.1f} s, "
                  f"{r['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    _ratios(results)
    versions = {r["tensorflow"] for r in results.values() if "tensorflow" in r}
    payload: dict[str, Any] = {
        "date": today(),
        "machine": machine(*sorted(versions)[:1]),
        "seed": args.seed,
        "quick": args.quick,
        "threads": args.threads or "default",
        "wall_s": round(time.time() - started, 1),
        "load_1min_start": load_start[0],
        "load_1min_end": load_average()[0],
    }
    payload["table"] = [_row(r) for r in results.values()]
    payload["checks"] = [] if args.quick else _checks(results)
    payload["cases"] = results
    markdown = render(payload)
    print("\n" + markdown)
    if out is not None:
        write_results(out, payload, markdown)
    return 0 if all("error" not in r for r in results.values()) else 1


def _row(r: dict[str, Any]) -> dict[str, Any]:
    """The flat summary row of one case (what the docs' generic renderer shows)."""
    if "error" in r:
        return {"case": r["case"], "error": r["error"][:200]}
    return {
        "case": r["case"],
        "data": r["dataset"],
        "test_accuracy": round(r["test_accuracy"], 4),
        "train_s": r["train_s"],
        "cpu_s": r["cpu_s"],
        "time_to_target_s": r["time_to_target_s"],
        "target": r["target"],
        "peak_rss_mb": r["peak_rss_mb"],
        "speedup_vs_ref": round(r["speedup"], 2) if r.get("speedup") else None,
        "accuracy_vs_ref_points": (round(r["accuracy_delta_points"], 2)
                                   if "accuracy_delta_points" in r else None),
        "load_1min": f"{r['load_start'][0]:.1f} / {r['load_end'][0]:.1f}",
    }


if __name__ == "__main__":
    raise SystemExit(main())
