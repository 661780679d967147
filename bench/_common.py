"""Helpers shared by the training and prediction benchmarks (not a benchmark itself)."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
#: Environment for child processes: TensorFlow's C++ start-up chatter off.
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def machine(tensorflow: str | None = None) -> str:
    """``x86_64, 2 cores, Python 3.11.7, TensorFlow 2.21.0``.

    The TensorFlow version is ``tensorflow``, else that of an imported TensorFlow, else left out.
    """
    tf = sys.modules.get("tensorflow")
    tensorflow = tensorflow or (tf.__version__ if tf is not None else None)
    version = f", TensorFlow {tensorflow}" if tensorflow else ""
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}{version}")


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages (NaN where unknown)."""
    if hasattr(os, "getloadavg"):
        return [round(x, 2) for x in os.getloadavg()]
    return [float("nan")] * 3


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    kb = resource.getrusage(who).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return round(kb / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def today() -> str:
    return time.strftime("%Y-%m-%d")


def need_data_dir() -> bool:
    """Whether ``KERASDIGITS_DATA_DIR`` is set; print how to set it when it is not."""
    if os.environ.get("KERASDIGITS_DATA_DIR"):
        return True
    print("set KERASDIGITS_DATA_DIR to the folder holding mnist/ and fashion-mnist/",
          file=sys.stderr)
    return False


def table(header: Sequence[str], rows: Iterable[Sequence[Any]],
          right: Iterable[int] = ()) -> str:
    """A Markdown table; columns whose index is in ``right`` are right-aligned."""
    align = set(right)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in align else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(path: Path, payload: dict[str, Any], markdown: str) -> None:
    """Write ``payload`` as JSON to ``path`` and ``markdown`` next to it (``.md``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    path.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md').name}", file=sys.stderr)


def name_counts(args: Iterable[str], known: Iterable[str], option: str, what: str,
                where: str) -> dict[str, int]:
    """Parse ``NAME=N`` options (repeatable, or comma-separated) into ``{NAME: N}``.

    Raises:
        SystemExit: An item whose NAME is not in ``known`` or whose N is not an int >= 1,
            named with the option (``--seeds-for wants CASE=N (N >= 1, CASE from --list)``).
    """
    names = set(known)
    counts: dict[str, int] = {}
    for item in (x.strip() for arg in args for x in arg.split(",") if x.strip()):
        name, _, n = item.partition("=")
        if name not in names or not n.isdigit() or int(n) < 1:
            raise SystemExit(f"{option} wants {what}=N (N >= 1, {what} from {where}), "
                             f"not {item!r}")
        counts[name] = int(n)
    return counts


def spread(values: Iterable[float | None]) -> dict[str, Any]:
    """``n``, ``mean``, sample ``std`` (``None`` below 2 values), ``median``, ``min``, ``max``.

    ``None`` values are left out; with no value left, every figure but ``n`` is ``None``.
    """
    import statistics

    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "mean": None, "std": None, "median": None, "min": None, "max": None}
    return {"n": len(vals), "mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else None,
            "median": statistics.median(vals), "min": min(vals), "max": max(vals)}


def save_figure(fig: Any, path: Path, **kwargs: Any) -> None:
    """Save a Matplotlib figure as PNG to ``path`` atomically (a temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, format="png", **kwargs)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {path}", file=sys.stderr)
