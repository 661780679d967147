"""Benchmark: what fine-tuning from an MNIST model buys on a few hundred images per class.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_finetune.py
        [--epochs 20] [--short-epochs 5] [--per-class 300] [--seeds 3] [--no-lr-study]
        [--quick]

1. Pretrains ``fast_convnet`` on the full MNIST training set with its own recipe (one epoch)
   and saves it to a ``.keras`` file, the ``init_from`` of every fine-tuned run.
2. Trains on three small targets, ``--per-class`` training images per class drawn at random
   (the same draw for every method and seed), and measures accuracy on a held-out test set:

   * ``fashion``: Fashion-MNIST, 10 classes (the head keeps its size, the classes change);
     tested on the 10,000 Fashion-MNIST test images.
   * ``restyled digits``: MNIST *test* digits (never seen in pretraining) drawn as a thick
     marker would (3x3 dilation), lowered to 14x14, enlarged 3x with a blur, printed dark on
     light paper (noise, a lighting gradient, a random place on a 64x64 page) and read back
     with ``kerasdigits.transforms.to_mnist_batch``. Training images come from the first 5,000
     test digits, the test set is the other 5,000.
   * ``fashion, 5 classes``: Fashion-MNIST's first five classes (T-shirt/top, Trouser,
     Pullover, Dress, Coat): a new 5-unit head; tested on their 5,000 test images.

   For each: from scratch, fine-tuned (``init_from``), fine-tuned with ``freeze=True``, all
   with the same budget (``--epochs`` epochs of the recipe's batch size, the recipe's cosine
   schedule spanning them), and again with ``--short-epochs``; unless ``--no-lr-study``, both
   fine-tunes with the recipe's peak learning rate divided by 10 (the learning-rate question);
   on ``fashion``, both fine-tunes from a source whose class names are forgotten, so that its
   digits head is copied instead of a fresh one (the head question). Mean and spread
   (min..max) over ``--seeds`` seeds; wall time is that of ``fit``.

Prints a Markdown table and writes bench/results/finetune.{json,md}. ``--quick`` runs a smoke
test on the bundled samples (no data folder needed, results not written).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    RESULTS,
    load_average,
    machine,
    need_data_dir,
    table,
    today,
    write_results,
)

MODEL = "fast_convnet"
DATA_SEED = 1234


@dataclass(frozen=True)
class Method:
    """One way to train a target.

    ``lr_factor`` scales the recipe's peak learning rate; ``digits_head`` fine-tunes from a
    source whose class names are forgotten, so that its (digits) head is copied into a model
    for other classes instead of being left freshly initialised.
    """

    label: str
    init: bool = True
    freeze: bool = False
    lr_factor: float = 1.0
    digits_head: bool = False


MAIN = (Method("from scratch", init=False), Method("fine-tuned"),
        Method("fine-tuned, freeze=True", freeze=True))
LR_STUDY = (Method("fine-tuned, LR / 10", lr_factor=0.1),
            Method("fine-tuned, freeze=True, LR / 10", freeze=True, lr_factor=0.1))
HEAD_STUDY = (Method("fine-tuned, digits head copied", digits_head=True),
              Method("fine-tuned, freeze=True, digits head copied", freeze=True,
                     digits_head=True))


def per_class(split: Any, count: int, classes: range, seed: int) -> Any:
    """``count`` random examples of each class in ``classes`` (sorted back into order)."""
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(split.labels == c), count, replace=False)
              for c in classes]
    return split.take(np.sort(np.concatenate(picked)))


def restyle(images: np.ndarray, seed: int) -> np.ndarray:
    """MNIST digits as thick, low-resolution, blurred marks photographed on paper, re-read."""
    rng = np.random.default_rng(seed)
    return np.concatenate([_restyle(images[i:i + 1000], rng)
                           for i in range(0, len(images), 1000)])


def _restyle(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from kerasdigits.transforms import to_mnist_batch

    n = len(images)
    ink = images.astype(np.float32) / 255.0
    windows = np.lib.stride_tricks.sliding_window_view
    thick = windows(np.pad(ink, ((0, 0), (1, 1), (1, 1))), (3, 3), axis=(1, 2)).max(axis=(3, 4))
    low = thick.reshape(n, 14, 2, 14, 2).mean(axis=(2, 4))
    big = low.repeat(3, axis=1).repeat(3, axis=2)  # 42x42, blocky
    soft = windows(np.pad(big, ((0, 0), (1, 1), (1, 1)), mode="edge"), (3, 3),
                   axis=(1, 2)).mean(axis=(3, 4))
    canvas = np.zeros((n, 64, 64), np.float32)
    for i, (row, col) in enumerate(rng.integers(0, 64 - 42 + 1, (n, 2))):
        canvas[i, row:row + 42, col:col + 42] = soft[i]
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    paper = (0.81 + 0.08 * (rng.random((n, 1, 1)) * yy + rng.random((n, 1, 1)) * xx)
             + rng.normal(0.0, 0.03, (n, 64, 64)))
    pages = np.clip(paper * (1.0 - 0.8 * canvas), 0.0, 1.0)
    return to_mnist_batch(np.rint(pages * 255).astype(np.uint8))


def targets(mnist: Any, fashion: Any, count: int) -> dict[str, tuple[Any, str]]:
    """The three small datasets, each with a one-line description."""
    from kerasdigits.datasets import Dataset, Split

    digits = Split(restyle(mnist.test.images, DATA_SEED), mnist.test.labels)
    half = len(digits) // 2
    pool, held_out = digits.take(slice(0, half)), digits.take(slice(half, None))
    five = range(5)
    return {
        "fashion": (dataclasses.replace(
            fashion, name="fashion_small", validation=None,
            train=per_class(fashion.train, count, range(10), DATA_SEED)),
            f"Fashion-MNIST, {count} per class, 10 classes"),
        "restyled digits": (Dataset(
            name="restyled_digits", train=per_class(pool, count, range(10), DATA_SEED),
            validation=None, test=held_out, class_names=mnist.class_names,
            source=mnist.source),
            f"MNIST test digits restyled and re-read with to_mnist, {count} per class"),
        "fashion, 5 classes": (Dataset(
            name="fashion_5", train=per_class(fashion.train, count, five, DATA_SEED),
            validation=None, test=fashion.test.take(fashion.test.labels < 5),
            class_names=fashion.class_names[:5], source=fashion.source),
            f"Fashion-MNIST classes 0-4, {count} per class (new head)"),
    }


def lowered_model(num_classes: int, factor: float, epochs: int, steps: int, seed: int) -> Any:
    """``fast_convnet`` compiled with its recipe, the peak learning rate times ``factor``."""
    import keras

    from kerasdigits.models import build, get_model_spec

    spec = get_model_spec(MODEL)
    recipe = spec.recipe
    assert recipe is not None
    assert recipe.learning_rate is not None
    recipe = dataclasses.replace(recipe, epochs=epochs, learning_rate=recipe.learning_rate
                                 * factor, warmup_epochs=min(recipe.warmup_epochs, epochs))
    keras.utils.set_random_seed(seed)
    extra = {"num_classes": num_classes} if num_classes != 10 else {}
    model = build(MODEL, preprocessing="unit", compile=False, **extra)
    model.compile(**spec.compile_settings.compile_kwargs(recipe.learning_rate_schedule(steps)))
    return model


def run_one(ds: Any, method: Method, source: Path, epochs: int, seed: int) -> dict[str, Any]:
    from kerasdigits import evaluate, train
    from kerasdigits.models import get_model_spec
    from kerasdigits.training import load_model, set_class_names

    model: Any = MODEL
    if method.lr_factor != 1.0:
        recipe = get_model_spec(MODEL).recipe
        assert recipe is not None
        steps = -(-len(ds.train) // recipe.batch_size)
        model = lowered_model(ds.num_classes, method.lr_factor, epochs, steps, seed)
    init: Any = source if method.init else None
    if method.digits_head:
        init = load_model(source, compile=False)
        set_class_names(init, None)  # classes unknown: the head is copied
    result = train(model, ds, epochs=epochs, seed=seed, validation="none", callbacks=None,
                   verbose=0, init_from=init, freeze=method.freeze)
    accuracy = evaluate(result.model, ds.test).accuracy
    return {"seed": seed, "accuracy": accuracy, "fit_s": result.wall_time}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    accs = [r["accuracy"] for r in runs]
    return {"mean": statistics.fmean(accs), "min": min(accs), "max": max(accs),
            "std": statistics.pstdev(accs), "fit_s": statistics.fmean(r["fit_s"] for r in runs)}


def pretrain(mnist: Any, work: Path, quick: bool) -> tuple[Path, dict[str, Any]]:
    from kerasdigits import evaluate, train

    started = time.perf_counter()
    result = train(MODEL, mnist, seed=0, validation="none", callbacks=None, verbose=0,
                   epochs=1 if quick else None)
    path = result.save(work / "source.keras")
    info = {"model": MODEL, "dataset": mnist.name, "train_images": len(mnist.train),
            "epochs": result.epochs_run, "fit_s": result.wall_time,
            "total_s": time.perf_counter() - started,
            "mnist_test_accuracy": evaluate(result.model, mnist.test).accuracy}
    print(f"pretrained {MODEL} on {mnist.name}: {info['mnist_test_accuracy']:.2%} in "
          f"{info['fit_s']:.1f} s", file=sys.stderr)
    return path, info


def zero_shot(source: Path, ds: Any) -> float | None:
    """The source model's accuracy on a target with its own classes (digits), else None."""
    from kerasdigits import evaluate
    from kerasdigits.training import get_class_names, load_model

    model = load_model(source)
    if get_class_names(model) != tuple(ds.class_names):
        return None
    return evaluate(model, ds.test).accuracy


def report(rows: list[dict[str, Any]], header_note: str) -> str:
    def cell(r: dict[str, Any]) -> str:
        s = r["summary"]
        return f"{s['mean']:.2%} ({s['min']:.2%}..{s['max']:.2%})"

    body = [(r["target"], r["epochs"], r["label"], cell(r), f"{100 * r['gain']:+.2f}",
             f"{r['summary']['fit_s']:.1f}") for r in rows]
    return (header_note + "\n\n" + table(
        ["target", "epochs", "method", "test accuracy, mean (min..max)", "vs scratch (pts)",
         "fit s"], body, right=(1, 3, 4, 5)))


def plan(name: str, epochs: int, short: int, lr_study: bool) -> list[tuple[int, Method]]:
    """The (epochs, method) pairs to run on target ``name``."""
    pairs = [(epochs, m) for m in MAIN]
    if lr_study:
        pairs += [(epochs, m) for m in LR_STUDY]
    if name == "fashion":
        pairs += [(epochs, m) for m in HEAD_STUDY]
    if short:
        pairs += [(short, m) for m in MAIN]
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--short-epochs", type=int, default=5,
                        help="a second, smaller budget for the main methods (0: none)")
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-lr-study", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test on the bundled samples; writes nothing")
    args = parser.parse_args()
    if not args.quick and not need_data_dir():
        return 2
    import tensorflow as tf

    from kerasdigits import load_dataset

    tf.get_logger().setLevel("ERROR")  # retracing notes: every run builds a new model
    started, load_start = time.time(), load_average()
    suffix = "_sample" if args.quick else ""
    mnist = load_dataset("mnist" + suffix, download=False, progress=False)
    fashion = load_dataset("fashion_mnist" + suffix, download=False, progress=False)
    count = min(args.per_class, 30) if args.quick else args.per_class
    epochs, short, seeds = (2, 1, 1) if args.quick else (args.epochs, args.short_epochs,
                                                          args.seeds)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        source, pre = pretrain(mnist, Path(tmp), args.quick)
        for name, (ds, description) in targets(mnist, fashion, count).items():
            shot = zero_shot(source, ds)
            for budget, method in plan(name, epochs, short, not args.no_lr_study):
                runs = [run_one(ds, method, source, budget, seed) for seed in range(seeds)]
                rows.append({"target": name, "description": description,
                             "train_images": len(ds.train), "test_images": len(ds.test),
                             "zero_shot_accuracy": shot, "epochs": budget,
                             **dataclasses.asdict(method), "runs": runs,
                             "summary": summarize(runs)})
                print(f"  {name} / {budget} epochs / {method.label}: "
                      f"{rows[-1]['summary']['mean']:.2%}", file=sys.stderr)
    _gains(rows)
    payload = _payload(args, pre, rows, started, load_start, epochs, seeds, count)
    markdown = _markdown(payload, rows)
    print(markdown)
    if not args.quick:
        write_results(RESULTS / "finetune.json", payload, markdown)
    return 0


def _gains(rows: list[dict[str, Any]]) -> None:
    scratch = {(r["target"], r["epochs"]): r["summary"]["mean"] for r in rows
               if not r["init"]}
    for r in rows:
        r["gain"] = r["summary"]["mean"] - scratch[r["target"], r["epochs"]]


def _payload(args: argparse.Namespace, pre: dict[str, Any], rows: list[dict[str, Any]],
             started: float, load_start: list[float], epochs: int, seeds: int,
             count: int) -> dict[str, Any]:
    import tensorflow as tf

    return {
        "command": " ".join(["python", "bench/bench_finetune.py", *sys.argv[1:]]),
        "date": today(), "machine": machine(tf.__version__),
        "load_average_start": load_start, "load_average_end": load_average(),
        "wall_s": round(time.time() - started, 1), "epochs": epochs, "seeds": seeds,
        "per_class": count, "pretrained": pre, "rows": rows,
    }


def _markdown(payload: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    pre = payload["pretrained"]
    zero = "; ".join(dict.fromkeys(f"{r['target']} {r['zero_shot_accuracy']:.2%}" for r in rows
                                   if r["zero_shot_accuracy"] is not None))
    note = (f"### Fine-tuning `{MODEL}` from MNIST: {payload['per_class']} images per class, "
            f"{payload['seeds']} seeds\n\n"
            f"`{payload['command']}`: {payload['date']}, {payload['machine']}, load average "
            f"{payload['load_average_start'][0]} at the start, "
            f"{payload['load_average_end'][0]} at the end; {payload['wall_s']:.0f} s in all.\n\n"
            f"Source: `{MODEL}` trained on {pre['train_images']:,} MNIST images "
            f"({pre['epochs']} epoch, {pre['fit_s']:.1f} s), "
            f"{pre['mnist_test_accuracy']:.2%} on the MNIST test set. The source alone, not "
            f"trained on the target (where its classes are the target's): {zero or '-'}.")
    targets = dict.fromkeys(f"- **{r['target']}**: {r['description']}; {r['train_images']:,} "
                            f"training images, {r['test_images']:,} test images." for r in rows)
    return report(rows, note + "\n\n" + "\n".join(targets))


if __name__ == "__main__":
    raise SystemExit(main())
