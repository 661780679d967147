"""Benchmark: single-image prediction latency, and `kerasdigits predict` on a PNG.

Usage:
    python bench/bench_predict.py [--runs 1000] [--models fast_mlp,fast_convnet,...]
        [--out bench/results/predict.json]

1. For each zoo model (built with ``preprocessing="unit"``, untrained: latency does not depend
   on the weights), one MNIST-sized ``uint8`` image at a time, after warm-up, median and 99th
   percentile of ``--runs`` calls (fewer for the slow ones) of: ``kerasdigits.predict``; a
   plain traced ``tf.function`` of ``model(x, training=False)``; Keras ``model(x)`` (eager);
   ``model.predict_on_batch``; ``model.predict``; and LiteRT (the exported ``litert`` file, one
   thread, ``set_tensor`` + ``invoke`` + ``get_tensor``). Also a whole batch of 10,000 images
   through ``kerasdigits.predict``, the same without freezing (its live ``tf.function``, same
   chunks), ``model.predict`` as a user calls it (batches of 32) and
   ``model.predict(batch_size=1024)`` (best of 3 each, alternated; the largest difference
   between kerasdigits' and ``model.predict``'s probabilities), and the share of this
   machine's float32 matmul peak that ``kerasdigits.predict`` reaches on the model's forward
   FLOPs (``_flops.py``), next to the share that 2x ``model.predict`` would need: the floor
   under
   the issue-17 target.
2. ``kerasdigits predict MODEL.keras digit.png``: the whole command (median of 5 fresh
   processes), the same for an exported ``.tflite`` (LiteRT only, 1 and 10 pictures) and, in
   one fresh process, the ``.keras`` command's phases: interpreter start-up, ``import
   kerasdigits``, importing TensorFlow/Keras, loading the model, reading and
   ``to_mnist``-preprocessing the picture, and the first and later ``predict`` calls.

Prints Markdown tables and writes bench/results/predict.json and predict.md. Needs no
dataset (the picture is drawn). Wall-clock times on a shared machine: the load average is
recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QUIET, RESULTS, load_average, machine, table, today, write_results
from _flops import matmul_peak, train_flops

DEFAULT_MODELS = ("fast_mlp", "fast_convnet", "balanced_convnet", "accurate_convnet")

PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
import kerasdigits
t1 = time.perf_counter()
import keras, tensorflow
t2 = time.perf_counter()
from kerasdigits.transforms import read_picture as _read_picture
from kerasdigits.training import load_model, predict
from kerasdigits.transforms import to_mnist
model = load_model(sys.argv[1])
t3 = time.perf_counter()
image = to_mnist(_read_picture(sys.argv[2]))
t4 = time.perf_counter()
label, probs = predict(model, image)
t5 = time.perf_counter()
times = []
for _ in range(20):
    t = time.perf_counter()
    predict(model, to_mnist(_read_picture(sys.argv[2])))
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"import_kerasdigits": t1 - t0, "import_tensorflow_keras": t2 - t1,
                  "load_model": t3 - t2, "read_and_to_mnist": t4 - t3,
                  "first_predict": t5 - t4, "later_read_to_mnist_predict": times[10],
                  "label": int(label)}))
"""


def timed(fn: Callable[[], Any], runs: int, warmup: int = 20) -> dict[str, float]:
    """Median and 99th percentile of ``runs`` calls of ``fn``, in microseconds."""
    for _ in range(warmup):
        fn()
    times = np.empty(runs)
    for i in range(runs):
        t = time.perf_counter_ns()
        fn()
        times[i] = time.perf_counter_ns() - t
    return {"median_us": float(np.median(times) / 1e3),
            "p99_us": float(np.percentile(times, 99) / 1e3), "runs": runs}


def latencies(name: str, runs: int, image: np.ndarray, batch: np.ndarray,
              work: Path) -> list[dict[str, Any]]:
    import keras
    import tensorflow as tf

    from kerasdigits import build, predict
    from kerasdigits.export import export_tflite
    from kerasdigits.export._verify import feeding_for, make_interpreter
    from kerasdigits.training._feeding import prepare_images

    keras.utils.set_random_seed(0)
    model = build(name, preprocessing="unit")
    x, _ = prepare_images(model, image)
    spec = tf.TensorSpec((None, *x.shape[1:]), x.dtype)
    fn = tf.function(lambda b: model(b, training=False), input_signature=[spec])
    xt = tf.constant(x)
    slow = max(20, runs // 20)
    rows = [
        ("kerasdigits.predict", timed(lambda: predict(model, image), runs)),
        ("tf.function(model)", timed(lambda: fn(xt).numpy(), runs)),
        ("model(x) eager", timed(lambda: model(x, training=False).numpy(), slow, 5)),
        ("model.predict_on_batch", timed(lambda: model.predict_on_batch(x), slow, 5)),
        ("model.predict", timed(lambda: model.predict(x, verbose=0), slow, 3)),
    ]
    path = work / f"{name}.tflite"
    res = export_tflite(model, path, labels=[str(d) for d in range(10)], verify=False)
    data = path.read_bytes()
    feed = feeding_for(data)(image)
    interpreter = make_interpreter(data, num_threads=1)
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]

    def invoke() -> None:
        interpreter.set_tensor(inp, feed)
        interpreter.invoke()
        interpreter.get_tensor(out)

    rows.append(("LiteRT (float32 .tflite, 1 thread)", timed(invoke, runs, 50)))
    xb, _ = prepare_images(model, batch)
    from kerasdigits.training import _predict

    runs_10k: dict[str, list[float]] = {"kd": [], "live": [], "keras": [], "keras_1024": []}
    frozen_from = _predict._FROZEN_FROM
    for _ in range(3):  # alternated, best of 3 each: the machine is shared
        t = time.perf_counter()
        kd_probs = predict(model, batch)[1]
        runs_10k["kd"].append(time.perf_counter() - t)
        _predict._FROZEN_FROM = len(batch) + 1  # the same chunks through the live function
        t = time.perf_counter()
        predict(model, batch)
        runs_10k["live"].append(time.perf_counter() - t)
        _predict._FROZEN_FROM = frozen_from
        t = time.perf_counter()
        keras_probs = model.predict(xb, verbose=0)  # what a user gets: batches of 32
        runs_10k["keras"].append(time.perf_counter() - t)
        t = time.perf_counter()
        model.predict(xb, verbose=0, batch_size=1024)  # Keras at a large batch
        runs_10k["keras_1024"].append(time.perf_counter() - t)
    gap = float(np.abs(kd_probs - keras_probs).max())
    forward_macs, _ = train_flops(model)
    return [{"model": name, "method": method, **timing, "tflite_bytes": res.size,
             "batch_10k_kerasdigits_s": min(runs_10k["kd"]),
             "batch_10k_live_function_s": min(runs_10k["live"]),
             "batch_10k_model_predict_s": min(runs_10k["keras"]),
             "batch_10k_model_predict_1024_s": min(runs_10k["keras_1024"]),
             "batch_10k_max_abs_diff": gap, "forward_macs_per_example": forward_macs}
            for method, timing in rows]


def draw_png(path: Path, image: np.ndarray) -> None:
    """Save ``image`` as a phone-photo-like picture: 280x280 RGB, dark ink on white."""
    from PIL import Image

    big = np.kron(255 - image, np.ones((10, 10), np.uint8))
    Image.fromarray(np.stack([big] * 3, axis=-1)).save(path)


def tflite_cli_times(model: Any, work: Path, png: Path, repeat: int) -> dict[str, Any]:
    """``kerasdigits predict FILE.tflite`` (LiteRT only), one picture and ten, whole command."""
    from kerasdigits.export import export_tflite

    path = work / "cli.tflite"
    export_tflite(model, path, target="mlkit", labels=[str(d) for d in range(10)],
                  verify=False)
    env = {**os.environ, **QUIET}
    out: dict[str, Any] = {}
    for count in (1, 10):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kerasdigits", "predict", str(path),
                            *[str(png)] * count], check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - t)
        out[f"tflite_{count}_pictures_s"] = statistics.median(times)
    return out


def cli_times(model_file: Path, png: Path, repeat: int) -> dict[str, Any]:
    env = {**os.environ, **QUIET}
    startup, whole = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        startup.append(time.perf_counter() - t)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "kerasdigits", "predict", str(model_file),
                               str(png)], check=True, env=env, capture_output=True, text=True)
        whole.append(time.perf_counter() - t)
    phases = json.loads(subprocess.run([sys.executable, "-c", PHASES, str(model_file), str(png)],
                                       check=True, env=env, capture_output=True,
                                       text=True).stdout.strip().splitlines()[-1])
    return {"python_startup_s": statistics.median(startup),
            "whole_command_s": statistics.median(whole), "output": proc.stdout.strip(),
            **{f"{k}_s" if k != "label" else k: v for k, v in phases.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--cli-repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "predict.json")
    args = parser.parse_args()
    from kerasdigits import build, load_dataset

    load_start = load_average()
    sample = load_dataset("mnist_sample", download=False, progress=False)
    image = sample.test.images[0]
    batch = np.resize(sample.test.images, (10_000, 28, 28))
    names = [n for n in args.models.split(",") if n]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in names:
            rows += latencies(name, args.runs, image, batch, work)
            print(f"  {name}: done", file=sys.stderr)
        model_file = work / "mlp2x512.keras"
        build("mlp2x512", preprocessing="unit").save(model_file)
        png = work / "digit.png"
        draw_png(png, image)
        cli = cli_times(model_file, png, args.cli_repeat)
        cli.update(tflite_cli_times(build("fast_convnet"), work, png, args.cli_repeat))
    import tensorflow as tf

    payload = {"date": today(), "machine": machine(tf.__version__), "runs": args.runs,
               "peak_gflops": round(matmul_peak(), 1),
               "load_1min_start": load_start[0], "load_1min_end": load_average()[0],
               "latency": rows, "cli": [{"model": "mlp2x512", **cli}]}
    markdown = render(payload)
    print("\n" + markdown)
    write_results(args.out, payload, markdown)
    return 0


def batch_table(payload: dict[str, Any]) -> str:
    """10,000 images in one call, against ``model.predict`` and against the machine's peak."""
    peak = payload.get("peak_gflops")
    first_per_model: dict[str, dict[str, Any]] = {}
    for r in payload["latency"]:  # one row per method; the batch figures are on each
        first_per_model.setdefault(r["model"], r)
    rows = []
    for r in first_per_model.values():
        kd, keras = r["batch_10k_kerasdigits_s"], r["batch_10k_model_predict_s"]
        keras_1024 = r.get("batch_10k_model_predict_1024_s")
        gap = r.get("batch_10k_max_abs_diff")
        live = r.get("batch_10k_live_function_s")
        row = [f"`{r['model']}`", f"{kd * 1e3:.0f}",
               "-" if live is None else f"{live * 1e3:.0f}", f"{keras * 1e3:.0f}",
               f"{keras / kd:.2f}x",
               "-" if keras_1024 is None else f"{keras_1024 * 1e3:.0f} ({keras_1024 / kd:.2f}x)",
               "-" if gap is None else f"{gap:.1e}", f"{r['tflite_bytes']:,}"]
        macs = r.get("forward_macs_per_example")
        if peak and macs:
            gflop = 2 * macs * 10_000 / 1e9
            row[6:6] = [f"{gflop:.1f}", f"{gflop / kd / peak:.0%}",
                        f"{gflop / (keras / 2) / peak:.0%}"]
        rows.append(row)
    head = ["model", "kerasdigits.predict ms", "live function ms (not frozen)",
            "model.predict ms (batch 32)", "speed-up",
            "model.predict(batch_size=1024) ms (speed-up)"]
    note = ""
    if peak:
        head += ["GFLOP", "kerasdigits: share of peak", "2x model.predict needs"]
        note = (f" GFLOP: the forward multiply-adds of Conv2D and Dense layers x 2 x 10,000. "
                f"Share of peak: kerasdigits' GFLOP/s against this machine's float32 matmul "
                f"peak ({peak:.0f} GFLOP/s, 2048x2048, both cores). A speed-up of 2x over "
                f"`model.predict` needs the share in the last column: above about 100% it is "
                f"out of reach in float32 here.")
    head += ["max abs prob. diff", ".tflite bytes"]
    return (f"\n10,000 images in one call (best of 3 each, alternated), and the exported "
            f"file.{note}\n\n" + table(head, rows, right=range(1, len(head))))


def render(payload: dict[str, Any]) -> str:
    rows = payload["latency"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))

    def cell(model: str, method: str) -> str:
        r = next(r for r in rows if r["model"] == model and r["method"] == method)
        med, p99 = r["median_us"], r["p99_us"]
        if med >= 1000:
            return f"{med / 1e3:.1f} / {p99 / 1e3:.1f} ms"
        return f"{med:.0f} / {p99:.0f} µs"

    out = [f"### Single-image prediction, median / p99 ({payload['date']}, {payload['machine']}, "
           f"load {payload['load_1min_start']:.1f} / {payload['load_1min_end']:.1f})\n",
           table(["method", *[f"`{m}`" for m in models]],
                 [[m, *[cell(model, m) for model in models]] for m in methods],
                 right=range(1, len(models) + 1))]
    out.append(batch_table(payload))
    c = payload["cli"][0]
    own = (c["load_model_s"] + c["read_and_to_mnist_s"] + c["first_predict_s"])
    out.append(f"\n`kerasdigits predict {c['model']}.keras digit.png` (280x280 RGB picture):\n")
    out.append(table(["phase", "ms"], [
        ["whole command (median of fresh processes)", f"{c['whole_command_s'] * 1e3:.0f}"],
        ["  Python start-up alone", f"{c['python_startup_s'] * 1e3:.0f}"],
        ["  import kerasdigits", f"{c['import_kerasdigits_s'] * 1e3:.0f}"],
        ["  import TensorFlow + Keras", f"{c['import_tensorflow_keras_s'] * 1e3:.0f}"],
        ["  load the model", f"{c['load_model_s'] * 1e3:.0f}"],
        ["  read the PNG + to_mnist", f"{c['read_and_to_mnist_s'] * 1e3:.1f}"],
        ["  first predict (traces the function)", f"{c['first_predict_s'] * 1e3:.0f}"],
        ["own work (load + preprocess + first predict)", f"{own * 1e3:.0f}"],
        ["later pictures (read + to_mnist + predict)",
         f"{c['later_read_to_mnist_predict_s'] * 1e3:.1f}"],
    ], right=[1]))
    if "tflite_1_pictures_s" in c:
        out.append("\n`kerasdigits predict fast_convnet.tflite digit.png` (LiteRT only, no "
                   "TensorFlow), whole command, median of fresh processes:\n")
        out.append(table(["pictures", "ms"], [
            ["1", f"{c['tflite_1_pictures_s'] * 1e3:.0f}"],
            ["10", f"{c['tflite_10_pictures_s'] * 1e3:.0f}"]], right=[1]))
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
