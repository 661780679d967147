"""Benchmark: `import kerasdigits` time and dataset loading time.

Usage:
    KERASDIGITS_DATA_DIR=../shared/datasets python bench/bench_datasets.py [--repeat N]

Prints a Markdown table and writes bench/results/datasets.json. Each figure is the median of
N runs (default 5); `import kerasdigits` is timed in fresh interpreters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

IMPORT_PROBE = (
    "import time, sys; t = time.perf_counter(); import kerasdigits; "
    "dt = time.perf_counter() - t; "
    "print(dt, 'tensorflow' in sys.modules or 'keras' in sys.modules)"
)


def time_import(repeat: int) -> tuple[float, bool]:
    times, heavy = [], False
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True,
                             text=True, check=True).stdout.split()
        times.append(float(out[0]))
        heavy = heavy or out[1] == "True"
    return statistics.median(times), heavy


def time_load(repeat: int, **kwargs: object) -> float:
    from kerasdigits import load_dataset

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        load_dataset("mnist", download=False, progress=False, **kwargs)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data_dir = os.environ.get("KERASDIGITS_DATA_DIR")
    if not data_dir:
        print("set KERASDIGITS_DATA_DIR to the folder holding mnist/", file=sys.stderr)
        return 2
    rows: list[tuple[str, float, str]] = []
    import_s, heavy = time_import(args.repeat)
    rows.append(("import kerasdigits", import_s * 1e3,
                 "TensorFlow imported!" if heavy else "TensorFlow not imported"))

    with tempfile.TemporaryDirectory() as home:
        os.environ["KERASDIGITS_HOME"] = str(Path(home) / "kd")
        from kerasdigits import load_dataset

        t = time.perf_counter()
        ds = load_dataset("mnist", download=False, progress=False)
        first = time.perf_counter() - t
        rows.append(("load_mnist(), gzip IDX, first load (hashes verified)", first * 1e3,
                     str(ds.source)))
        rows.append(("load_mnist(), gzip IDX, later loads", time_load(args.repeat) * 1e3,
                     "verification record trusted"))
        keras_home = Path(home) / "keras"
        (keras_home / "datasets").mkdir(parents=True)
        np.savez(keras_home / "datasets" / "mnist.npz", x_train=ds.train.images,
                 y_train=ds.train.labels, x_test=ds.test.images, y_test=ds.test.labels)
        os.environ["KERAS_HOME"] = str(keras_home)
        del os.environ["KERASDIGITS_DATA_DIR"]
        t = time.perf_counter()
        load_dataset("mnist", download=False, progress=False)
        rows.append(("load_mnist(), Keras mnist.npz, first load", (time.perf_counter() - t) * 1e3,
                     "hashes verified"))
        rows.append(("load_mnist(), Keras mnist.npz, later loads",
                     time_load(args.repeat) * 1e3, "verification record trusted"))

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\n### Datasets and import ({time.strftime('%Y-%m-%d')}, {machine})\n")
    print("| case | ms | note |\n|---|---:|---|")
    for case, ms, note in rows:
        print(f"| {case} | {ms:.1f} | {note} |")
    RESULTS.mkdir(exist_ok=True)
    payload = {"date": time.strftime("%Y-%m-%d"), "machine": machine,
               "rows": [{"case": c, "ms": round(ms, 2), "note": n} for c, ms, n in rows]}
    (RESULTS / "datasets.json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
