"""Benchmark: TFLite export parity, int8 accuracy drop and size, and LiteRT latency.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_export.py [--epochs 2]
        [--runs 1000] [--models mlp2x512,convnet,...]

1. Trains mlp2x512 and convnet on the real MNIST training set (``--epochs``, with
   ``kerasdigits.train``), exports each to every target (litert float32 input, mlkit uint8 RGB
   input, firebase-legacy float32 [1, 784]) with every quantization mode (none, dynamic,
   float16, int8), and runs every file with LiteRT on all 10,000 MNIST test images, one image
   at a time, fed as an app would (RGB for mlkit): float parity (max |dp|, argmax agreement),
   accuracy, accuracy drop against Keras, size and size ratio against the float file.
2. Exports every zoo model (untrained weights: latency does not depend on them) to the litert
   target in each quantization mode and times ``--runs`` single-image inferences
   (``set_tensor`` + ``invoke`` + ``get_tensor``, one thread, after 50 warm-up runs).

Prints Markdown tables and writes bench/results/export.json. Latency is wall-clock on a shared
2-core machine: other work running at the same time inflates it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TRAINED = ("mlp2x512", "convnet")
TARGETS = (("litert", "float32"), ("mlkit", "uint8"), ("firebase-legacy", "float32"))
QUANTS: tuple[str | None, ...] = (None, "dynamic", "float16", "int8")


def latency(path: Path, image: np.ndarray, runs: int) -> dict[str, float]:
    from kerasdigits.export._verify import feeding_for, make_interpreter

    data = path.read_bytes()
    x = feeding_for(data)(image)
    interpreter = make_interpreter(data, num_threads=1)
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    for _ in range(50):
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        interpreter.get_tensor(out)
    times = np.empty(runs)
    for i in range(runs):
        t = time.perf_counter_ns()
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        interpreter.get_tensor(out)
        times[i] = time.perf_counter_ns() - t
    return {"median_us": float(np.median(times) / 1e3),
            "p99_us": float(np.percentile(times, 99) / 1e3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--models", default="", help="comma-separated zoo models for latency "
                        "(default: all)")
    args = parser.parse_args()
    if not os.environ.get("KERASDIGITS_DATA_DIR"):
        print("set KERASDIGITS_DATA_DIR to the folder holding mnist/", file=sys.stderr)
        return 2
    import keras

    from kerasdigits import build, list_models, load_dataset, train
    from kerasdigits.export import export_tflite

    ds = load_dataset("mnist", download=False, progress=False)
    started = time.time()
    parity_rows: list[dict[str, Any]] = []
    latency_rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in TRAINED:
            t = time.perf_counter()
            result = train(name, ds, epochs=args.epochs, seed=0, validation="none",
                           callbacks=None, checkpoint_dir=work / "ckpt" / name, verbose=0)
            train_s = time.perf_counter() - t
            print(f"trained {name}: {args.epochs} epochs in {train_s:.0f} s", file=sys.stderr)
            for target, dtype in TARGETS:
                float_size = None
                for quant in QUANTS:
                    t = time.perf_counter()
                    res = export_tflite(result.model, work / f"{name}-{target}-{quant}.tflite",
                                        target=target, input_dtype=dtype, quantization=quant,
                                        dataset=ds)
                    seconds = time.perf_counter() - t
                    if quant is None:
                        float_size = res.size
                    rep = res.verification
                    assert rep is not None
                    assert float_size is not None
                    parity_rows.append({
                        "model": name, "target": target, "input": f"{res.input.dtype} "
                        f"{list(res.input.shape)}", "quantization": quant or "none",
                        "size": res.size, "size_ratio": res.size / float_size,
                        "export_and_verify_s": seconds, "train_s": train_s, **rep.as_dict(),
                    })
                    print(f"  {name} {target} {quant}: {rep}", file=sys.stderr)
        names = [n for n in args.models.split(",") if n] or list_models()
        image = ds.test.images[0]
        for name in names:
            keras.utils.set_random_seed(0)
            model = build(name, preprocessing="unit", compile=False)
            for quant in QUANTS:
                path = work / f"lat-{name}-{quant}.tflite"
                res = export_tflite(model, path, quantization=quant, dataset=ds, verify=False)
                timing = latency(path, image, args.runs)
                latency_rows.append({"model": name, "quantization": quant or "none",
                                     "size": res.size, **timing})
                print(f"  latency {name} {quant}: {timing}", file=sys.stderr)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n### Export parity and quantization, full MNIST test set ({len(ds.test):,} "
          f"images; {time.strftime('%Y-%m-%d')}, {machine})\n")
    print("| model | target | input | quant | size | vs float | keras acc | tflite acc "
          "| drop (pts) | max abs dp | argmax agree | parity |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in parity_rows:
        parity = ("yes" if r["parity"] else "NO") if r["quantization"] == "none" else "-"
        print(f"| {r['model']} | {r['target']} | {r['input']} | {r['quantization']} "
              f"| {r['size']:,} | {r['size_ratio']:.1%} | {r['keras_accuracy']:.2%} "
              f"| {r['tflite_accuracy']:.2%} | {100 * r['accuracy_drop']:+.2f} "
              f"| {r['max_abs_diff']:.1e} | {r['argmax_agreement']:.2%} | {parity} |")
    print(f"\n### Single-image LiteRT latency, litert target, 1 thread, {args.runs} runs "
          f"(load average {load:.1f}: noisy)\n")
    print("| model | " + " | ".join(f"{q or 'none'} median / p99 (us)" for q in QUANTS)
          + " |")
    print("|---|" + "---:|" * len(QUANTS))
    for name in names:
        cells = [next(r for r in latency_rows if r["model"] == name
                      and r["quantization"] == (q or "none")) for q in QUANTS]
        print(f"| {name} | " + " | ".join(f"{c['median_us']:.0f} / {c['p99_us']:.0f}"
                                          for c in cells) + " |")
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine,
        "load_average": load,
        "epochs": args.epochs,
        "runs": args.runs,
        "wall_s": time.time() - started,
        "test_images": len(ds.test),
        "parity": parity_rows,
        "latency": latency_rows,
    }
    (RESULTS / "export.json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
