"""Benchmark: loading 10,000 PNG digits with load_image_folder: cold, cached, after changes.

Usage:
    KERASDIGITS_DATA_DIR=/work/shared/datasets python bench/bench_image_folder.py
        [--images 10000] [--photos 200] [--repeat 5] [--out bench/results/image_folder.json]

Writes the MNIST test digits as PNG files into a temporary ``root/<label>/`` folder, each
upscaled from 28x28 to a random size between 56 and 112 pixels, every third one inverted
(dark ink on white paper), and times ``load_image_folder(root)`` (``preprocess="mnist"``,
the cache in a temporary ``KERASDIGITS_HOME``):

1. the first load, without a cache, with the pictures decoded in this process, in threads
   and in worker processes (one per core), and with the default choice (the median and best
   of ``--repeat`` loads each, the four interleaved, the cache file removed before each);
2. a load from the cache (median of 5);
3. a load after touching 1% of the files (their modification time changed: they are decoded
   again; median of ``--repeat``, other files each time).

Then the same three ways of decoding on ``--photos`` phone-sized JPEG photos of digits
(1600x1200 pixels, noisy, dark ink on white), where decoding the file rather than converting
a small picture is most of the work. Prints Markdown tables and writes
bench/results/image_folder.json and image_folder.md. Wall-clock times on a shared 2-core
machine: the load average is recorded.
"""

from __future__ import annotations

import argparse
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
from _common import RESULTS, load_average, machine, need_data_dir, table, today, write_results

WORKERS = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1, 8)
POOLS = (("serial", "this process"), ("thread", f"{WORKERS} threads"),
         ("process", f"{WORKERS} processes"))


def write_digits(root: Path, images: np.ndarray, labels: np.ndarray) -> list[Path]:
    """Each digit as ``root/<label>/<index>.png``, upscaled to 56..112 px, every third inverted."""
    from PIL import Image

    rng = np.random.default_rng(0)
    sides = rng.integers(56, 113, len(images))
    paths = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        picture = Image.fromarray(255 - image if i % 3 == 0 else image)
        path = root / str(int(label)) / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.resize((int(sides[i]),) * 2, Image.Resampling.BILINEAR).save(path)
        paths.append(path)
    return paths


def write_photos(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Each digit dark on a noisy white 1600x1200 "photo", as a JPEG."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        ink = Image.fromarray(255 - image).resize((800, 800), Image.Resampling.BILINEAR)
        paper = Image.new("L", (1600, 1200), 235)
        paper.paste(ink, (400, 200))
        rgb = np.asarray(paper.convert("RGB")).astype(np.int16)
        rgb += rng.integers(-15, 16, rgb.shape, dtype=np.int16)
        path = root / str(int(label)) / f"{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path, quality=90)


def timed(load: Callable[[], Any], repeat: int, before: Callable[[int], None]) -> list[float]:
    times = []
    for k in range(repeat):
        before(k)
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return times


def clear_cache(_: int = 0) -> None:
    from kerasdigits.datasets import _folder_cache

    folder = _folder_cache.cache_dir()
    for path in folder.glob("*.npz") if folder.exists() else ():
        path.unlink()


def pools(root: Path, repeat: int, n: int, what: str) -> list[dict[str, Any]]:
    """The first load of ``root``, decoding in this process, in threads and in processes.

    The ways are interleaved (one load of each, ``repeat`` times over), so that other work on
    the machine slows them alike.
    """
    from kerasdigits.datasets import _folder

    default = (_folder._POOL, _folder._PARALLEL_MIN_FILES)
    cases = (*POOLS, ("default", "default choice"))
    times: dict[str, list[float]] = {pool: [] for pool, _ in cases}
    for _ in range(repeat):
        for pool, _label in cases:
            _folder._POOL, _folder._PARALLEL_MIN_FILES = (
                default if pool == "default" else (pool, 1))  # type: ignore[assignment]
            times[pool] += timed(lambda: _folder.load_image_folder(root, progress=False), 1,
                                 clear_cache)
    _folder._POOL, _folder._PARALLEL_MIN_FILES = default
    return [row(what, f"first load, {label}", times[pool], n) for pool, label in cases]


def row(what: str, case: str, times: list[float], n: int) -> dict[str, Any]:
    median, best = statistics.median(times), min(times)
    print(f"  {what}: {case}: median {median:.3f} s, best {best:.3f} s "
          f"({n / median:,.0f} images/s)", file=sys.stderr)
    return {"pictures": what, "case": case, "seconds": round(median, 4),
            "best_seconds": round(best, 4), "images_per_s": round(n / median, 1),
            "runs": [round(t, 4) for t in times]}


def digits_rows(work: Path, count: int, repeat: int) -> list[dict[str, Any]]:
    from kerasdigits.datasets import load_dataset
    from kerasdigits.datasets._folder import load_image_folder

    test = load_dataset("mnist", download=False, progress=False).test
    root = work / "digits"
    paths = write_digits(root, test.images[:count], test.labels[:count])
    n = len(paths)
    what = f"{n:,} PNG digits"
    rows = pools(root, repeat, n, what)
    load_image_folder(root, progress=False)  # fills the cache
    rows.append(row(what, "cached load", timed(
        lambda: load_image_folder(root, progress=False), 5, lambda k: None), n))
    touched = max(1, n // 100)
    rng = np.random.default_rng(2)

    def touch(k: int) -> None:
        for i in rng.choice(n, touched, replace=False):
            stat = paths[i].stat()
            os.utime(paths[i], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000 * (k + 1)))

    rows.append(row(what, f"after touching 1% ({touched} files)", timed(
        lambda: load_image_folder(root, progress=False), repeat, touch), n))
    return rows


def photos_rows(work: Path, count: int, repeat: int) -> list[dict[str, Any]]:
    from kerasdigits.datasets import load_dataset

    test = load_dataset("mnist", download=False, progress=False).test
    root = work / "photos"
    write_photos(root, test.images[:count], test.labels[:count])
    return pools(root, repeat, count, f"{count:,} JPEG photos 1600x1200")


def git_state() -> str:
    """``git describe --always --dirty`` of the checkout (``to_mnist`` may have changed)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def render(payload: dict[str, Any]) -> str:
    load = f"load {payload['load_1min_start']:.1f} / {payload['load_1min_end']:.1f}"
    out = [f"### `load_image_folder`, `preprocess=\"mnist\"` ({payload['date']}, "
           f"{payload['machine']}, {load})\n"]
    rows = [[r["pictures"], r["case"], f"{r['seconds']:.3f}", f"{r['best_seconds']:.3f}",
             f"{r['images_per_s']:,.0f}"] for r in payload["rows"]]
    out.append(table(["pictures", "case", "seconds (median)", "best", "images/s (median)"],
                     rows, right={2, 3, 4}))
    out.append(
        f"\nCommand: `{payload['command']}` (checkout {payload['git']}). The digits are "
        "MNIST's test images as PNG files of 56 to 112 pixels, a third of them inverted; the "
        "photos are 1600x1200 JPEGs. \"First load\" has no cache file (it writes one); "
        "\"this process\", threads and processes force that way of decoding (one worker per "
        "core); the default decodes in worker processes (forked, on Linux, one OpenBLAS "
        f"thread each) from {payload['parallel_min_files']:,} pictures to decode on, in this "
        "process below.\n")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "image_folder.json")
    args = parser.parse_args()
    if not need_data_dir():
        return 2
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-image-folder-") as tmp:
        work = Path(tmp)
        os.environ["KERASDIGITS_HOME"] = str(work / "home")
        rows = digits_rows(work, args.images, args.repeat)
        if args.photos:
            rows += photos_rows(work, args.photos, args.repeat)
    from kerasdigits.datasets import _folder

    payload = {"date": today(), "machine": machine(),
               "command": " ".join(["python bench/bench_image_folder.py", *sys.argv[1:]]),
               "git": git_state(),
               "images": args.images, "photos": args.photos, "repeat": args.repeat,
               "parallel_min_files": _folder._PARALLEL_MIN_FILES,
               "load_1min_start": load_start[0], "load_1min_end": load_average()[0],
               "rows": rows}
    markdown = render(payload)
    print(markdown)
    write_results(args.out, payload, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
