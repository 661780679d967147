"""Benchmark: where a zoo model's training time goes, and the floor under it on this machine.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_floor.py
        [--models fast_mlp,fast_convnet,balanced_convnet,accurate_convnet] [--repeats 3]
        [--epochs fast_convnet=2,...] [--out bench/results/floor.json]

Issue 17 asks, where a time target is out of reach, for the floor under it, measured: the
FLOP count against this machine's peak, and where the rest of the time goes. Per model, in a
fresh process each:

1. **FLOPs per training example**, counted from the built model: every ``Conv2D`` and
   ``Dense`` does ``prod(kernel shape) x output positions`` multiply-adds forward; training
   does that three times (forward, gradient of the weights, gradient of the inputs), except
   that the first weighted layer needs no input gradient. One multiply-add is 2 FLOPs.
   Batch normalization, pooling and activations are not counted (they move memory, and are a
   few percent of the multiply-adds).
2. **Fixed cost of a ``train`` call**: ``kerasdigits.train`` on 16 batches (one call into
   the compiled training function, ``steps_per_execution=16``): building and compiling the
   model, the ``tf.data`` pipeline, tracing the training function and running it once. The
   first call in the process is the one a user (and ``bench_training.py``) pays; the later
   ones show how much of it is first-call work (tracing, graph optimization).
3. **Time per step**: ``train`` on 16 + 96 batches minus ``train`` on 16 (both after a first
   call), divided by 96: the steady state of the recipe's batch size.

From these: the model's achieved GFLOP/s against the machine's peak (a 2048x2048 float32
matmul in TensorFlow, both cores: what oneDNN gets out of the cores at best), the predicted
wall time of the recipe (first-call fixed cost + steps x time per step) next to the floor
(the recipe's FLOPs at peak, with no fixed cost at all), and for ``--epochs MODEL=N`` the same
for N epochs (a recipe that was measured to be more accurate but slower).
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    QUIET,
    RESULTS,
    load_average,
    machine,
    name_counts,
    need_data_dir,
    table,
    today,
    write_results,
)
from _flops import matmul_peak, train_flops

DEFAULT_MODELS = "fast_mlp,fast_convnet,balanced_convnet,accurate_convnet"
FIXED_STEPS = 16  # one call into the compiled training function
MEASURED_STEPS = 96
TRAIN_IMAGES = 60_000


# --------------------------------------------------------------------------- in the child


def measure(name: str, repeats: int) -> dict[str, Any]:
    """The fixed cost and time per step of ``train(name, ...)`` in this (fresh) process."""
    import numpy as np

    import kerasdigits as kd

    data = kd.load_dataset("mnist", download=False, progress=False)
    recipe = kd.get_model_spec(name).recipe
    batch = recipe.batch_size

    def subset(steps: int) -> Any:
        return dataclasses.replace(data, train=data.train.take(np.arange(steps * batch)))

    small, large = subset(FIXED_STEPS), subset(FIXED_STEPS + MEASURED_STEPS)

    def timed(ds: Any) -> float:
        t = time.perf_counter()
        kd.train(name, ds, epochs=1, validation="none", callbacks=None, seed=0, verbose=0)
        return time.perf_counter() - t

    first = timed(small)  # what a fresh process pays
    fixed, step = [], []
    for _ in range(repeats):
        f = timed(small)
        g = timed(large)
        fixed.append(f)
        step.append((g - f) / MEASURED_STEPS)
    model = kd.build(name)
    forward, flops = train_flops(model)
    import tensorflow as tf

    return {
        "model": name,
        "params": int(model.count_params()),
        "batch_size": batch,
        "recipe_epochs": recipe.epochs,
        "forward_macs_per_example": forward,
        "train_flops_per_example": flops,
        "fixed_first_s": round(first, 3),
        "fixed_warm_s": round(sorted(fixed)[len(fixed) // 2], 3),
        "step_ms": round(1000 * sorted(step)[len(step) // 2], 3),
        "step_ms_all": [round(1000 * s, 3) for s in step],
        "peak_gflops": round(matmul_peak(), 1),
        "load": load_average(),
        "tensorflow": tf.__version__,
    }


# --------------------------------------------------------------------------- the driver


def spawn(name: str, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.json"
        cmd = [sys.executable, __file__, "--child", name, "--json", str(out),
               "--repeats", str(repeats)]
        proc = subprocess.run(cmd, env={**os.environ, **QUIET}, capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise SystemExit(f"{name}: failed (exit {proc.returncode})\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def derive(r: dict[str, Any], epochs: int) -> dict[str, Any]:
    """Predicted and floor wall times of ``epochs`` epochs of ``r``'s recipe."""
    steps = epochs * math.ceil(TRAIN_IMAGES / r["batch_size"])
    flops_step = r["train_flops_per_example"] * r["batch_size"]
    achieved = flops_step / (r["step_ms"] / 1000) / 1e9
    return {
        "epochs": epochs,
        "steps": steps,
        "gflop_per_step": flops_step / 1e9,
        "achieved_gflops": achieved,
        "share_of_peak": achieved / r["peak_gflops"],
        "predicted_s": r["fixed_first_s"] + steps * r["step_ms"] / 1000,
        "compute_s": steps * r["step_ms"] / 1000,
        "floor_s": steps * flops_step / (r["peak_gflops"] * 1e9),
    }


def render(payload: dict[str, Any]) -> str:
    rows = []
    for r in payload["models"]:
        for d in r["derived"]:
            rows.append([
                f"`{r['model']}`", f"{r['params']:,}", d["epochs"], d["steps"],
                f"{r['train_flops_per_example'] / 1e6:.1f}", f"{d['gflop_per_step']:.2f}",
                f"{r['step_ms']:.1f}", f"{d['achieved_gflops']:.0f}",
                f"{d['share_of_peak']:.0%}", f"{r['fixed_first_s']:.2f} / {r['fixed_warm_s']:.2f}",
                f"{d['compute_s']:.1f}", f"{d['predicted_s']:.1f}", f"{d['floor_s']:.1f}",
                f"{r['load'][0]:.1f}"])
    head = (f"### Where training time goes, and the floor ({payload['date']}, "
            f"{payload['machine']})\n\n"
            f"Matmul peak (2048x2048 float32, both cores, best of 20): "
            f"{payload['peak_gflops']:.0f} GFLOP/s. Training FLOPs count Conv2D and Dense "
            "layers only (3 multiply-adds per forward one, 2 for the first layer). Fixed: "
            "a 16-step `train` call, first in a fresh process / later. Compute: steps x the "
            "measured time per step. Predicted: fixed (first) + compute. Floor: the recipe's "
            "FLOPs at the matmul peak, no fixed cost.\n\n")
    return head + table(
        ["model", "params", "epochs", "steps", "train MFLOP / example", "GFLOP / step",
         "ms / step", "achieved GFLOP/s", "of peak", "fixed s (first / later)", "compute s",
         "predicted s", "floor s", "load"],
        rows, right=range(1, 14))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", action="append", default=[], metavar="MODEL=N",
                        help="also derive N epochs of MODEL's recipe (repeatable, or "
                             "comma-separated)")
    parser.add_argument("--out", type=Path, default=RESULTS / "floor.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not need_data_dir():
        return 2
    if args.child:
        args.json.write_text(json.dumps(measure(args.child, args.repeats)))
        return 0
    from kerasdigits import list_models  # light: no TensorFlow

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in list_models()]
    if unknown or not names:
        raise SystemExit("--models wants zoo model names (kerasdigits models), "
                         f"not {args.models!r}")
    extra = name_counts(args.epochs, names, "--epochs", "MODEL", "--models")
    models = []
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        r = spawn(name, args.repeats)
        epochs = [r["recipe_epochs"], extra.get(name, r["recipe_epochs"])]
        r["derived"] = [derive(r, e) for e in dict.fromkeys(epochs)]
        models.append(r)
    payload = {"date": today(), "machine": machine(models[0]["tensorflow"]),
               "peak_gflops": max(r["peak_gflops"] for r in models), "models": models}
    text = render(payload)
    print(text)
    write_results(args.out, payload, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
