"""Benchmark: which test-time copies pay, on the same trained weights.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_tta.py train
        [--model accurate_fashion_convnet] [--dataset fashion_mnist] [--seeds 3,4,5]
        [--parallel 3] [--threads 1] [--dir bench/results/tta_models]
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_tta.py evaluate
        [--dir bench/results/tta_models] [--out bench/results/tta.json]

Test-time copies (:class:`kerasdigits.models.layers.TestTimeCopies`) change nothing in
training: a model trains the same whatever copies it answers over. So ``train`` trains the
zoo model with its recipe (``kerasdigits.train``, ``validation="none"``, as
``bench_training.py`` does), one fresh process per seed (``--parallel`` of them at a time,
``--threads`` each), and saves each trained model; ``evaluate`` then answers the test set with
each saved model's network over every pattern of copies below, and prints the test accuracy
per seed and its mean and spread:

- ``plain``: the image alone; ``mirror``: and its left-right mirror image;
- ``shift5``: the image and its 4 one-pixel shifts (up, down, left, right); ``shift9``: with
  the 4 diagonal shifts too;
- ``mirror_shift10`` / ``mirror_shift18``: the same for the image and its mirror image.

The mirror patterns are left out when the classes are digits (a mirrored 2 is not a 2).

The copies are made, and the network's logits averaged over them, by the shipped
``TestTimeCopies`` and ``AverageCopies`` layers.
The model files are large (3.5 MB each) and stay out of git (``bench/results/tta_models`` is
ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QUIET, RESULTS, machine, need_data_dir, spread, table, today, write_results

#: Copy patterns: name -> ``TestTimeCopies`` options (``None``: the image alone).
PATTERNS: dict[str, dict[str, Any] | None] = {
    "plain": None,
    "mirror": {"mirror": True},
    "shift5": {"shift": 1},
    "shift9": {"shift": 1, "diagonals": True},
    "mirror_shift10": {"shift": 1, "mirror": True},
    "mirror_shift18": {"shift": 1, "mirror": True, "diagonals": True},
}


def patterns_for(class_names: Any) -> dict[str, dict[str, Any] | None]:
    """The copy patterns worth scoring: no mirror images for digits (a mirrored 2 is not a 2)."""
    if all(str(name).isdigit() for name in class_names):
        return {k: v for k, v in PATTERNS.items() if not (v or {}).get("mirror")}
    return PATTERNS


def train_one(model: str, dataset: str, seed: int, threads: int, path: Path) -> dict[str, Any]:
    """Train ``model`` with its recipe and seed in this process; save it to ``path``."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from kerasdigits import load_dataset, save_model, train

    data = load_dataset(dataset, download=False, progress=False)
    started = time.perf_counter()
    result = train(model, data, validation="none", seed=seed, verbose=0,
                   checkpoint_dir=path.parent / f"checkpoints-{path.stem}")
    wall = time.perf_counter() - started
    save_model(result.model, path)
    return {"model": model, "dataset": dataset, "seed": seed, "threads": threads,
            "train_s": round(wall, 1), "file": path.name}


def network(model: Any) -> Any:
    """The layers between the preprocessing (and copies) and the logits: the network on one image.

    A model without a ``logits`` layer ends in a softmax ``Dense``: the network then ends in
    a ``Dense`` with the same weights and no softmax, so that its logits are averaged as in a
    model with copies.
    """
    import keras

    names = [layer.name for layer in model.layers]
    kinds = [type(layer).__name__ for layer in model.layers]
    first = 0  # past the model's own preprocessing, augmentation and copies
    while kinds[first] in ("Normalize", "AddChannel", "RandomShift", "RandomAffine",
                           "TestTimeCopies"):
        first += 1
    last = names.index("logits") if "logits" in names else len(names) - 1
    shape = model.layers[first].input.shape[1:]  # (28, 28, 1): after the model's own reshape
    head = model.layers[last]
    layers = model.layers[first:last]
    if getattr(head, "activation", None) is keras.activations.softmax:
        # A softmax Dense head: the same weights without the softmax give the logits.
        logits = keras.layers.Dense(head.units, name="logits_of_head")
        layers.append(logits)
        net = keras.Sequential([keras.Input(shape), *layers])
        logits.set_weights(head.get_weights())
        return net
    return keras.Sequential([keras.Input(shape), *layers, head])


def evaluate_dir(directory: Path) -> dict[str, Any]:
    """Test accuracy of every saved model of ``directory`` under every copy pattern."""
    from kerasdigits import load_dataset, load_model, predict
    from kerasdigits.models.layers import AverageCopies, TestTimeCopies

    runs = sorted((json.loads(p.read_text()) for p in directory.glob("*.json")),
                  key=lambda run: run["seed"])
    if not runs:
        raise SystemExit(f"{directory}: no trained model (run `train` first)")
    results = []
    for run in runs:
        model = load_model(directory / run["file"])
        data = load_dataset(run["dataset"], download=False, progress=False)
        x = data.test.images.astype(np.float32)[..., None] / 255.0  # preprocessing="unit"
        y = data.test.labels
        net = network(model)
        accuracy = {}
        for name, options in patterns_for(data.class_names).items():
            # The shipped layers make the copies and average the logits, as in the model.
            copies = TestTimeCopies(**options) if options else None
            inputs = np.asarray(copies(x)) if copies else x
            logits = np.asarray(net.predict(inputs, batch_size=500, verbose=0))
            mean = np.asarray(AverageCopies(copies.copies)(logits)) if copies else logits
            accuracy[name] = float(np.mean(np.argmax(mean, axis=1) == y))
        own = float(np.mean(predict(model, data.test.images)[0] == y))  # the saved model's
        results.append({**run, "own": own, "accuracy": accuracy})
        print(f"  seed {run['seed']}: " + ", ".join(f"{k} {v:.2%}" for k, v in accuracy.items()),
              file=sys.stderr, flush=True)
    summary = {name: spread(r["accuracy"][name] for r in results)
               for name in results[0]["accuracy"]}
    return {"date": today(), "machine": machine(), "model": runs[0]["model"],
            "dataset": runs[0]["dataset"], "runs": results, "summary": summary}


def render(payload: dict[str, Any]) -> str:
    seeds = [r["seed"] for r in payload["runs"]]
    header = ["copies", *[f"seed {s}" for s in seeds], "mean ± std (pts)", "worst"]
    rows = []
    for name in payload["summary"]:
        s = payload["summary"][name]
        std = f" ± {100 * s['std']:.2f}" if s["std"] is not None else ""
        rows.append([name, *[f"{r['accuracy'][name]:.2%}" for r in payload["runs"]],
                     f"{s['mean']:.2%}{std}", f"{s['min']:.2%}"])
    own = ", ".join(f"{r['own']:.2%}" for r in payload["runs"])
    times = ", ".join(f"{r['train_s']:.0f} s ({r['threads']} thread(s))" for r in payload["runs"])
    return (f"### Test-time copies of `{payload['model']}` on {payload['dataset']} "
            f"({payload['date']}, {payload['machine']})\n\n"
            "Test accuracy of the same trained weights answering over each pattern of copies "
            f"(the mean of the logits). The saved models' own answers: {own}. Training: "
            f"{times}.\n\n" + table(header, rows, right=range(1, len(header))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train and save one model per seed")
    t.add_argument("--model", default="accurate_fashion_convnet")
    t.add_argument("--dataset", default="fashion_mnist")
    t.add_argument("--seeds", default="3,4,5")
    t.add_argument("--parallel", type=int, default=3)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--dir", type=Path, default=RESULTS / "tta_models")
    t.add_argument("--child", type=int, help=argparse.SUPPRESS)
    e = sub.add_parser("evaluate", help="test accuracy of the saved models per copy pattern")
    e.add_argument("--dir", type=Path, default=RESULTS / "tta_models")
    e.add_argument("--out", type=Path, default=RESULTS / "tta.json")
    args = parser.parse_args()
    need_data_dir()
    if args.command == "evaluate":
        payload = evaluate_dir(args.dir)
        markdown = render(payload)
        print("\n" + markdown)
        write_results(args.out, payload, markdown)
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.child is not None:
        path = args.dir / f"{args.model}-seed{args.child}.keras"
        record = train_one(args.model, args.dataset, args.child, args.threads, path)
        (args.dir / f"{path.stem}.json").write_text(json.dumps(record))
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    pending, running, failed = list(seeds), [], 0
    while pending or running:
        while pending and len(running) < args.parallel:
            seed = pending.pop(0)
            cmd = [sys.executable, __file__, "train", "--model", args.model, "--dataset",
                   args.dataset, "--threads", str(args.threads), "--dir", str(args.dir),
                   "--child", str(seed)]
            print(f"training {args.model} seed {seed}", file=sys.stderr, flush=True)
            running.append((seed, subprocess.Popen(cmd, env={**os.environ, **QUIET},
                                                   stderr=subprocess.PIPE, text=True)))
        time.sleep(5)
        for seed, proc in list(running):
            if proc.poll() is not None:
                running.remove((seed, proc))
                err = proc.stderr.read() if proc.stderr else ""
                if proc.returncode:
                    failed += 1
                    tail = "\n".join(err.strip().splitlines()[-10:])
                    print(f"  seed {seed}: FAILED (exit {proc.returncode})\n{tail}",
                          file=sys.stderr, flush=True)
                else:
                    print(f"  seed {seed}: done", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
