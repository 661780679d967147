"""Benchmark: `kerasdigits serve` under load, requests/s and latency of POST /api/predict.

Usage:
    python bench/bench_serve.py [--requests 800] [--clients 8] [--threads N]
        [--blas-threads N] [--out bench/results/serve.json]

Trains ``fast_convnet`` on the bundled MNIST sample for one epoch (seed 0; the weights do not
change the timings) and exports it for ML Kit twice: float32 and full-integer int8 (both with
the default ``uint8`` RGB input). For each file, a real server (``python -m kerasdigits serve
FILE --port 0``, uvicorn on 127.0.0.1, in its own process) answers ``--clients`` concurrent
clients (threads, one keep-alive ``httpx.Client`` each) sending ``--requests`` requests in all,
after a warm-up, of two kinds:

* ``png``: a 280x280 PNG of a drawn digit, what the page sends after a stroke (decoded and
  ``to_mnist``-preprocessed by the server);
* ``json``: a 28x28 MNIST image as JSON pixels (no preprocessing).

Reports requests per second (requests / wall time), the median and 99th percentile of the
client-side latency, and the median model call time the server reports. Needs no dataset.
Prints a Markdown table and writes bench/results/serve.json and serve.md. Wall-clock times on a
shared machine: the load average is recorded.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QUIET, RESULTS, load_average, machine, table, today, write_results


def export_files(folder: Path) -> dict[str, Path]:
    from kerasdigits import load_dataset, train
    from kerasdigits.export import export_tflite

    ds = load_dataset("mnist_sample")
    result = train("fast_convnet", ds, epochs=1, seed=0, callbacks=None, verbose=0)
    files = {"float32": folder / "fast_convnet.tflite",
             "int8": folder / "fast_convnet_int8.tflite"}
    export_tflite(result.model, files["float32"], target="mlkit", dataset=ds, verify=200)
    export_tflite(result.model, files["int8"], target="mlkit", quantization="int8",
                  dataset=ds, verify=200)
    return files


def payloads() -> dict[str, tuple[bytes, str]]:
    from PIL import Image

    from kerasdigits import load_dataset

    image = load_dataset("mnist_sample").test.images[0]
    png = io.BytesIO()
    Image.fromarray(image).resize((280, 280), Image.BILINEAR).save(png, "PNG")
    return {"png": (png.getvalue(), "image/png"),
            "json": (json.dumps({"image": image.tolist()}).encode(), "application/json")}


class Server:
    """``kerasdigits serve FILE --port 0`` in a child process."""

    def __init__(self, path: Path, threads: int | None, blas_threads: int | None) -> None:
        argv = [sys.executable, "-m", "kerasdigits", "serve", str(path), "--port", "0"]
        if threads:
            argv += ["--threads", str(threads)]
        env = {**os.environ, **QUIET, "PYTHONUNBUFFERED": "1"}
        if blas_threads:
            env["OPENBLAS_NUM_THREADS"] = str(blas_threads)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"at (http://\S+)", line)
        if not found:
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line}{self.proc.stderr.read()}")
        self.url = found.group(1)

    def stop(self) -> None:
        self.proc.send_signal(2)  # SIGINT: Ctrl-C
        self.proc.communicate(timeout=30)


def load(url: str, body: bytes, kind: str, requests: int, clients: int
         ) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    inference: list[float] = []
    lock = threading.Lock()
    left = [requests]

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                t = time.perf_counter()
                response = http.post(url, content=body, headers={"content-type": kind})
                elapsed = time.perf_counter() - t
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed * 1000.0)
                    inference.append(response.json()["timing"]["inference_ms"])

    workers = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    return {"requests": len(latencies), "wall_s": wall,
            "requests_per_s": len(latencies) / wall,
            "median_ms": statistics.median(latencies),
            "p99_ms": float(np.percentile(latencies, 99)),
            "inference_median_ms": statistics.median(inference)}


def render(payload: dict[str, Any]) -> str:
    rows = [[f"`{r['file']}` ({r['quantization']}, {r['size_bytes']:,} bytes)", r["payload"],
             f"{r['requests_per_s']:.0f}", f"{r['median_ms']:.1f}", f"{r['p99_ms']:.1f}",
             f"{r['inference_median_ms']:.2f}"] for r in payload["rows"]]
    return (f"### `POST /api/predict` under {payload['clients']} concurrent clients "
            f"({payload['date']}, {payload['machine']}, server threads "
            f"{payload['server_threads']}"
            + (f", OPENBLAS_NUM_THREADS={payload['blas_threads']}" if payload["blas_threads"]
               else "")
            + f", load {payload['load_1min_start']:.1f} / "
            f"{payload['load_1min_end']:.1f})\n\n"
            + table(["file", "payload", "requests/s", "median ms", "p99 ms",
                     "model call ms (median)"], rows, right={2, 3, 4, 5})
            + f"\n{payload['requests']:,} requests per row after {payload['warmup']} warm-up "
            "requests; latency measured by the clients (keep-alive connections on 127.0.0.1); "
            "the model call is the LiteRT time the server reports. `png`: a 280x280 drawing, "
            "decoded and run through `to_mnist` by the server, as the page sends it; `json`: "
            "28x28 pixels.\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None,
                        help="server worker threads (default: the server's own)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="OPENBLAS_NUM_THREADS of the server (default: not set)")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve.json")
    args = parser.parse_args()
    load_start = load_average()
    bodies = payloads()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = export_files(Path(tmp))
        for quantization, path in files.items():
            server = Server(path, args.threads, args.blas_threads)
            try:
                info = json.loads(_get(f"{server.url}/api/model"))
                threads = info["server"]["threads"]
                for name, (body, kind) in bodies.items():
                    url = f"{server.url}/api/predict"
                    load(url, body, kind, args.warmup, args.clients)
                    figures = load(url, body, kind, args.requests, args.clients)
                    rows.append({"file": path.name, "quantization": quantization,
                                 "size_bytes": path.stat().st_size, "payload": name,
                                 **figures})
                    print(f"  {path.name} {name}: {figures['requests_per_s']:.0f} req/s, "
                          f"median {figures['median_ms']:.1f} ms", file=sys.stderr)
            finally:
                server.stop()
    import tensorflow as tf

    payload = {"date": today(), "machine": machine(tf.__version__),
               "clients": args.clients, "requests": args.requests, "warmup": args.warmup,
               "server_threads": threads, "blas_threads": args.blas_threads,
               "load_1min_start": load_start[0],
               "load_1min_end": load_average()[0], "rows": rows}
    markdown = render(payload)
    print(markdown)
    write_results(args.out, payload, markdown)
    return 0


def _get(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=30).text


if __name__ == "__main__":
    raise SystemExit(main())
