"""Benchmark: what `to_mnist`'s MNIST-like ink buys on digits the models never saw.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_to_mnist.py
        [--models fast_mlp,fast_convnet] [--seeds 0,1,2] [--digits 500]
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_to_mnist.py --measure

1. Three sets of pictures no model was trained on, made with a fixed seed:
   - **fonts**: the digits 0-9 typed with every TrueType font of ``FONTS`` found on the
     machine (DejaVu, Liberation, matplotlib's STIX and Computer Modern; at least 6), at 3
     sizes and 2 random places each, dark ink on light grey paper of random shades, with
     Gaussian noise (sigma 1-5), on a 100x100 canvas;
   - **low-res**: ``--digits`` MNIST *test* digits shrunk to 8x8, 10x10 and 12x12 (box
     filter), enlarged again to 96x96 with Pillow's NEAREST, BILINEAR, BICUBIC and LANCZOS
     filters, and inverted (dark on light);
   - **thick pen**: ``--digits`` other MNIST test digits enlarged to 112x112 (bilinear),
     their strokes thickened by a 7x7 and an 11x11 maximum filter (by about 1.5 and 2.5
     pixels at MNIST's scale), inverted.
2. Each picture is converted to 28x28 by: the previous ``to_mnist`` (``old_to_mnist`` below, a
   copy kept for comparison); the current one; the current one without its step 6 (faint
   strokes brightened), 7 (thick strokes thinned) or 9 (MNIST's contrast), one at a time (with
   the share of pictures whose result the step changes); and a naive resize (Pillow
   grayscale, bilinear resize to 28x28, inverted).
3. ``--models`` are trained on the real MNIST training set with their zoo recipe, once per
   seed of ``--seeds``, and classify every converted set; the MNIST test set itself is
   classified as it is and through both conversions.
4. The ink of every converted set is measured as the module measures MNIST's: the mean of
   the pixels above 0 and the fraction of them at 200 or above (pooled over the set), and
   the median stroke width (``_stroke_width``).

``--measure`` only prints MNIST's own figures, from which the constants of
``kerasdigits/transforms/_mnistify.py`` were taken. Prints Markdown tables and writes
bench/results/to_mnist.json and to_mnist.md. About 1-2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, load_average, machine, need_data_dir, table, today, write_results

from kerasdigits.transforms import _mnistify as mm

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LIBERATION = Path("/usr/share/fonts/truetype/liberation")
#: (label, file name, where to look): matplotlib's own fonts are found through matplotlib.
FONTS = (
    ("DejaVu Sans", "DejaVuSans.ttf", DEJAVU),
    ("DejaVu Serif", "DejaVuSerif.ttf", DEJAVU),
    ("DejaVu Sans Mono", "DejaVuSansMono.ttf", DEJAVU),
    ("DejaVu Sans Bold", "DejaVuSans-Bold.ttf", DEJAVU),
    ("DejaVu Sans Oblique", "DejaVuSans-Oblique.ttf", DEJAVU),
    ("DejaVu Serif Bold Italic", "DejaVuSerif-BoldItalic.ttf", DEJAVU),
    ("DejaVu Sans ExtraLight", "DejaVuSans-ExtraLight.ttf", DEJAVU),
    ("Liberation Sans", "LiberationSans-Regular.ttf", LIBERATION),
    ("Liberation Serif", "LiberationSerif-Regular.ttf", LIBERATION),
    ("Liberation Mono", "LiberationMono-Regular.ttf", LIBERATION),
    ("STIX General", "STIXGeneral.ttf", None),
    ("Computer Modern Roman", "cmr10.ttf", None),
    ("Computer Modern Sans", "cmss10.ttf", None),
)
FONT_SIZES = (30, 45, 64)
CANVAS = 100
SMALL_SIDES = (8, 10, 12)
FILTERS = ("NEAREST", "BILINEAR", "BICUBIC", "LANCZOS")
BIG_SIDE = 96
THICK_SIDE = 112
PEN_FILTERS = ((7, "stroke +1.5 px"), (11, "stroke +2.5 px"))
SEED = 0

# The conversions compared; the ablations switch one step of the current to_mnist off by
# setting its constants so that the step never applies.
ABLATIONS: dict[str, dict[str, float]] = {
    "to_mnist without step 6": {"_DIM_INK": -np.inf},
    "to_mnist without step 7": {"_CORE_WIDTH_P95": np.inf},
    "to_mnist without step 9": {"_CONTRAST_TOLERANCE": np.inf},
}
OLD, NEW, NAIVE, AS_IS = "old to_mnist", "to_mnist", "naive resize", "as is"


# --------------------------------------------------------------------------------------------
# the previous to_mnist, kept for comparison


def old_to_mnist(picture: np.ndarray) -> np.ndarray:
    """The previous ``to_mnist`` (before MNIST's ink statistics were matched), steps 1-7.

    A copy of its ``_mnistify`` with ``invert="auto"``; it uses the module's helpers for the
    steps that did not change (grayscale, border, despeckle, resize, center of mass).
    """
    gray = mm._grayscale(mm._as_unit_float(picture, "image"))
    border = mm._border(gray)
    middle = (float(gray.min()) + float(gray.max())) / 2
    if float(np.mean(border > middle)) + float(np.mean(gray > middle)) > 1.0:
        gray, border, middle = 1.0 - gray, 1.0 - border, 1.0 - middle
    sample = border if np.median(border) <= middle else mm._subsample(gray)
    background = float(np.median(sample))
    noise = 1.4826 * float(np.median(np.abs(sample - background)))
    ink = gray - background
    ink -= max(mm._NOISE_SIGMAS * noise, mm._MIN_CONTRAST * float(ink.max()))
    mask = mm._despeckle(ink > 0)
    ink = np.where(mask, ink, 0.0)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = ink.shape
    scale = mm.MNIST_BOX / max(h, w)
    new_h = min(mm.MNIST_BOX, max(1, round(h * scale)))
    new_w = min(mm.MNIST_BOX, max(1, round(w * scale)))
    digit = mm._resize(ink, (new_h, new_w))
    cy, cx = mm._center_of_mass(digit)
    top = min(max(round(mm.MNIST_CENTER[0] - cy), 0), mm.MNIST_SIZE - new_h)
    left = min(max(round(mm.MNIST_CENTER[1] - cx), 0), mm.MNIST_SIZE - new_w)
    frame = np.zeros((mm.MNIST_SIZE, mm.MNIST_SIZE))
    frame[top : top + new_h, left : left + new_w] = digit
    frame *= 255.0 / float(frame.max())
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def naive_resize(picture: np.ndarray) -> np.ndarray:
    """What one does without ``to_mnist``: grayscale, squeeze to 28x28, invert."""
    from PIL import Image

    small = Image.fromarray(picture).convert("L").resize((28, 28), Image.Resampling.BILINEAR)
    return 255 - np.asarray(small)


@contextlib.contextmanager
def patched(constants: dict[str, float]) -> Iterator[None]:
    saved = {name: getattr(mm, name) for name in constants}
    try:
        for name, value in constants.items():
            setattr(mm, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(mm, name, value)


# --------------------------------------------------------------------------------------------
# the pictures


def font_files() -> list[tuple[str, Path]]:
    import matplotlib

    bundled = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    found = []
    for label, name, folder in FONTS:
        for where in ([folder] if folder else []) + [bundled]:
            if (where / name).is_file():
                found.append((label, where / name))
                break
    if len(found) < 6:
        raise SystemExit(f"only {len(found)} of the fonts found; need at least 6")
    return found


def typed_digits(rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Every digit in every font, size and 2 places: dark on light paper, with noise."""
    from PIL import Image, ImageDraw, ImageFont

    pictures, labels, groups = [], [], []
    for label, path in font_files():
        for size in FONT_SIZES:
            font = ImageFont.truetype(str(path), size)
            for digit in range(10):
                for _ in range(2):
                    sheet = Image.new("L", (CANVAS, CANVAS), 0)
                    draw = ImageDraw.Draw(sheet)
                    left, top, right, bottom = (
                        int(v) for v in draw.textbbox((0, 0), str(digit), font=font))
                    x = int(rng.integers(0, max(1, CANVAS - (right - left)))) - left
                    y = int(rng.integers(0, max(1, CANVAS - (bottom - top)))) - top
                    draw.text((x, y), str(digit), fill=255, font=font)
                    ink = np.asarray(sheet, dtype=np.float64) / 255.0
                    paper, pen = rng.uniform(200, 245), rng.uniform(10, 70)
                    grey = paper + ink * (pen - paper)
                    grey += rng.normal(0.0, rng.uniform(1.0, 5.0), grey.shape)
                    pictures.append(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
                    labels.append(digit)
                    groups.append(label)
    return pictures, np.array(labels), groups


def low_res_digits(
    images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """MNIST test digits shrunk, enlarged again with each filter, dark on light."""
    from PIL import Image

    chosen = rng.choice(len(images), size=min(count, len(images)), replace=False)
    pictures, out_labels, groups = [], [], []
    for side in SMALL_SIDES:
        for name in FILTERS:
            resample = getattr(Image.Resampling, name)
            for i in chosen:
                small = Image.fromarray(images[i]).resize((side, side), Image.Resampling.BOX)
                big = np.asarray(small.resize((BIG_SIDE, BIG_SIDE), resample))
                pictures.append(255 - big)
                out_labels.append(int(labels[i]))
                groups.append(f"{side}x{side} {name.lower()}")
    return pictures, np.array(out_labels), groups


def thick_digits(
    images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """MNIST test digits written with a thicker pen (a maximum filter), dark on light."""
    from PIL import Image, ImageFilter

    chosen = rng.choice(len(images), size=min(count, len(images)), replace=False)
    pictures, out_labels, groups = [], [], []
    for size, label in PEN_FILTERS:
        for i in chosen:
            big = Image.fromarray(images[i]).resize((THICK_SIDE, THICK_SIDE),
                                                    Image.Resampling.BILINEAR)
            pictures.append(255 - np.asarray(big.filter(ImageFilter.MaxFilter(size))))
            out_labels.append(int(labels[i]))
            groups.append(label)
    return pictures, np.array(out_labels), groups


# --------------------------------------------------------------------------------------------
# measuring


def ink_figures(batch: np.ndarray) -> dict[str, float]:
    """Mean of the ink pixels (> 0) and fraction at 200 or above, pooled; median width."""
    ink = batch[batch > 0].astype(np.float64)
    widths = [mm._stroke_width(image.astype(np.float64)) for image in batch]
    return {"mean_ink": float(ink.mean()), "bright_fraction": float(np.mean(ink >= 200)),
            "stroke_width": float(np.median(widths))}


def mnist_figures(images: np.ndarray) -> dict[str, Any]:
    """MNIST's ink, as the module's constants record it: pooled and per-image percentiles."""
    x = images.astype(np.float64)
    ink = x > 0
    count = ink.sum(axis=(1, 2))
    per_mean = x.sum(axis=(1, 2)) / count
    per_bright = (x >= 200).sum(axis=(1, 2)) / count
    width = np.array([mm._stroke_width(image) for image in x])
    core = np.array([mm._core_width(image) for image in x])

    def pct(values: np.ndarray, qs: Sequence[int]) -> dict[str, float]:
        return {f"p{q}": round(float(np.percentile(values, q)), 3) for q in qs}

    return {"images": len(images), "mean_ink": round(float(x[ink].mean()), 2),
            "bright_fraction": round(float(np.mean(x[ink] >= 200)), 4),
            "mean_ink_per_image": pct(per_mean, (10, 50, 90)),
            "bright_fraction_per_image": pct(per_bright, (10, 50, 90)),
            "stroke_width": pct(width, (10, 50, 90)),
            "core_width": pct(core, (50, 90, 95, 99))}


def convert(method: str, pictures: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """The pictures converted by ``method``, and the mean time per picture in microseconds."""
    one: Callable[[np.ndarray], np.ndarray]
    if method == OLD:
        one = old_to_mnist
    elif method == NAIVE:
        one = naive_resize
    else:
        one = mm.to_mnist
    with patched(ABLATIONS.get(method, {})):
        start = time.perf_counter()
        batch = np.stack([one(p) for p in pictures])
        seconds = time.perf_counter() - start
    return batch, seconds / len(pictures) * 1e6


def train_models(names: Sequence[str], seeds: Sequence[int], dataset: Any,
                 work: Path) -> dict[tuple[str, int], Any]:
    from kerasdigits import train

    models = {}
    for name in names:
        for seed in seeds:
            start = time.perf_counter()
            result = train(name, dataset, seed=seed, validation="none", callbacks=None,
                           checkpoint_dir=work / f"{name}-{seed}", verbose=0)
            models[name, seed] = result.model
            print(f"trained {name} seed {seed} in {time.perf_counter() - start:.0f} s",
                  file=sys.stderr)
    return models


def accuracies(models: dict[tuple[str, int], Any], batch: np.ndarray,
               labels: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Per model name, one boolean array of hits per seed."""
    hits: dict[str, list[np.ndarray]] = {}
    for (name, _seed), model in models.items():
        predicted = np.asarray(model.predict(batch, batch_size=1000, verbose=0)).argmax(axis=1)
        hits.setdefault(name, []).append(predicted == labels)
    return hits


# --------------------------------------------------------------------------------------------
# the run


def evaluate_set(name: str, pictures: Sequence[np.ndarray], labels: np.ndarray,
                 groups: Sequence[str], methods: Sequence[str],
                 models: dict[tuple[str, int], Any]) -> list[dict[str, Any]]:
    rows = []
    group_array = np.array(groups)
    current = None
    for method in methods:
        if method == AS_IS:
            batch, micros = np.stack(pictures), 0.0
        else:
            batch, micros = convert(method, pictures)
        if method == NEW:
            current = batch
        hits = accuracies(models, batch, labels)
        row: dict[str, Any] = {"set": name, "method": method, "images": len(pictures),
                               "input": f"{pictures[0].shape[1]}x{pictures[0].shape[0]}",
                               "us_per_image": round(micros, 1), **ink_figures(batch)}
        if method in ABLATIONS and current is not None:
            row["changed_by_step"] = float(np.mean(np.any(batch != current, axis=(1, 2))))
        for model, per_seed in hits.items():
            accs = [float(h.mean()) for h in per_seed]
            row[f"{model}_accuracy"] = float(np.mean(accs))
            row[f"{model}_accuracy_std"] = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
            row[f"{model}_accuracy_per_seed"] = accs
            row[f"{model}_by_group"] = {
                g: float(np.mean([h[group_array == g].mean() for h in per_seed]))
                for g in dict.fromkeys(groups)}
        row["mean_ink_by_group"] = {
            g: float(batch[group_array == g][batch[group_array == g] > 0].mean())
            for g in dict.fromkeys(groups)}
        rows.append(row)
        print(f"  {name} / {method}: "
              + ", ".join(f"{m} {row[f'{m}_accuracy']:.4f}" for m in hits), file=sys.stderr)
    return rows


def command() -> str:
    """The command line as run, with the environment variables it depends on."""
    env = " ".join(f"{k}={os.environ[k]}" for k in ("KERASDIGITS_DATA_DIR", "PYTHONPATH")
                   if os.environ.get(k))
    return f"{env} python {' '.join(sys.argv)}".strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="fast_mlp,fast_convnet")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--digits", type=int, default=500,
                        help="MNIST test digits in the low-res set (x 12 pictures each)")
    parser.add_argument("--measure", action="store_true",
                        help="only print MNIST's own ink figures (the module's constants)")
    parser.add_argument("--out", type=Path, default=RESULTS / "to_mnist.json")
    args = parser.parse_args()
    if not need_data_dir():
        return 2
    from kerasdigits import load_dataset

    dataset = load_dataset("mnist", download=False, progress=False)
    if args.measure:
        for split in ("train", "test"):
            print(split, mnist_figures(getattr(dataset, split).images))
        return 0
    load_start, started = load_average(), time.perf_counter()
    names = [n for n in args.models.split(",") if n]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    rng = np.random.default_rng(SEED)
    fonts = typed_digits(rng)
    low_res = low_res_digits(dataset.test.images, dataset.test.labels, args.digits, rng)
    thick = thick_digits(dataset.test.images, dataset.test.labels, args.digits, rng)
    figures = {"train": mnist_figures(dataset.train.images),
               "test": mnist_figures(dataset.test.images)}
    with tempfile.TemporaryDirectory() as tmp:
        models = train_models(names, seeds, dataset, Path(tmp))
    test = dataset.test
    methods = [NAIVE, OLD, NEW, *ABLATIONS]
    rows = evaluate_set("MNIST test", list(test.images), test.labels,
                        ["MNIST test"] * len(test), [AS_IS, OLD, NEW], models)
    rows += evaluate_set("fonts", *fonts, methods, models)
    rows += evaluate_set("low-res", *low_res, methods, models)
    rows += evaluate_set("thick pen", *thick, methods, models)
    import tensorflow as tf

    payload = {"date": today(), "machine": machine(tf.__version__),
               "command": command(),
               "load_1min_start": load_start[0], "load_1min_end": load_average()[0],
               "wall_s": round(time.perf_counter() - started, 1), "models": names,
               "seeds": seeds, "seed": SEED, "fonts": [label for label, _ in font_files()],
               "mnist": figures, "rows": rows}
    markdown = render(payload)
    print("\n" + markdown)
    write_results(args.out, payload, markdown)
    return 0


# --------------------------------------------------------------------------------------------
# the tables


def render(payload: dict[str, Any]) -> str:
    rows, names = payload["rows"], payload["models"]
    train_fig = payload["mnist"]["train"]

    def acc(row: dict[str, Any], model: str) -> str:
        std = row[f"{model}_accuracy_std"]
        return f"{row[f'{model}_accuracy']:.2%}" + (f" ± {100 * std:.2f}" if std else "")

    seeds = ", ".join(str(s) for s in payload["seeds"])
    out = [f"### What `to_mnist` buys on digits the models never saw ({payload['date']}, "
           f"{payload['machine']}, load {payload['load_1min_start']:.1f} / "
           f"{payload['load_1min_end']:.1f})\n",
           f"`{payload['command']}`: {len(payload['fonts'])} fonts; models trained on MNIST "
           f"with their zoo recipe, seeds {seeds}; accuracy: mean ± sample standard deviation "
           "(points) over the seeds. Ink over the pixels above 0, pooled over the set; stroke "
           "width: median over the images. µs: time per picture of the conversion alone.\n"]
    body = [["MNIST training set (the targets)", "-", *["-"] * len(names),
             f"{train_fig['mean_ink']:.1f}", f"{train_fig['bright_fraction']:.1%}",
             f"{train_fig['stroke_width']['p50']:.2f}", "-", "-"]]
    for r in rows:
        changed = r.get("changed_by_step")
        body.append([f"{r['set']} ({r['images']:,}, {r['input']})", r["method"],
                     *[acc(r, m) for m in names], f"{r['mean_ink']:.1f}",
                     f"{r['bright_fraction']:.1%}", f"{r['stroke_width']:.2f}",
                     f"{r['us_per_image']:.0f}" if r["us_per_image"] else "-",
                     "-" if changed is None else f"{changed:.0%}"])
    out.append(table(["set (pictures, size)", "conversion", *[f"`{m}`" for m in names],
                      "mean ink", "ink ≥ 200", "stroke width", "µs", "step changes"], body,
                     right=range(2, 8 + len(names))))
    out.append("\n*step changes*: for the rows without a step, the share of pictures whose "
               "28x28 result that step changes.\n")
    for set_name, what in (("low-res", "Low-res digits by size and filter"),
                           ("thick pen", "Thick-pen digits"),
                           ("fonts", "Typed digits by font")):
        old = next(r for r in rows if r["set"] == set_name and r["method"] == OLD)
        new = next(r for r in rows if r["set"] == set_name and r["method"] == NEW)
        groups = list(old[f"{names[0]}_by_group"])
        out.append(f"\n{what}: accuracy (mean over the seeds) and mean ink, old `to_mnist` → "
                   "current:\n")
        out.append(table(["pictures", *[f"`{m}`" for m in names], "mean ink"], [
            [g, *[f"{old[f'{m}_by_group'][g]:.1%} → {new[f'{m}_by_group'][g]:.1%}"
                  for m in names],
             f"{old['mean_ink_by_group'][g]:.0f} → {new['mean_ink_by_group'][g]:.0f}"]
            for g in groups], right=range(1, 2 + len(names))))
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
