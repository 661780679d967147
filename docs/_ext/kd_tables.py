"""Generated fragments: the model-zoo table, the benchmark tables, the dataset sample figures."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- model zoo


def zoo_markdown() -> str:
    """The zoo table (every built-in registered model) and the references of its figures."""
    from kerasdigits.models import build, get_model_spec, list_models

    specs = [get_model_spec(n) for n in list_models()]
    specs = [s for s in specs if s.registered_by in ("kerasdigits", "")]
    rows, refs = [], []
    for spec in specs:
        params = build(spec.name, compile=False).count_params()
        styles = ", ".join(f"**{s}**" if s == spec.default_style else s for s in spec.styles)
        cs, recipe = spec.compile_settings, spec.recipe
        rate = f", lr {recipe.learning_rate or cs.learning_rate:g}" if (
            recipe.learning_rate or cs.learning_rate) else ""
        sched = "" if recipe.schedule == "constant" else f", {recipe.schedule}"
        epochs = f"{recipe.epochs} epoch{'s' if recipe.epochs != 1 else ''}"
        stop = (f" (early stopping, patience {recipe.early_stopping_patience})"
                if recipe.early_stopping_patience else "")
        train = f"{cs.optimizer}{rate}{sched}, {epochs}{stop}, batch {recipe.batch_size}"
        acc = ", ".join(f"{ds} {v:.2%}" for ds, v in spec.reference_accuracy.items()) or "-"
        rows.append([f"`{spec.name}`", spec.description, f"{spec.input_kind} "
                     f"`{spec.input_shape}`", styles, f"{params:,}", ", ".join(spec.tags),
                     train, acc])
        if spec.reference or spec.recipe.notes:
            refs.append([f"`{spec.name}`", spec.reference or "-", spec.recipe.notes or "-"])
    out = _table(["name", "description", "input", "styles (default in bold)", "params",
                  "tags", "default recipe", "reference accuracy"], rows, right={4})
    out += ("\nParameters counted with `build(name, compile=False).count_params()`; the "
            "recipe is `get_model_spec(name).recipe` with the optimizer of "
            "`compile_settings`.\n\n")
    if refs:
        out += "Where the reference accuracies come from:\n\n"
        out += _table(["name", "reference", "recipe notes"], refs)
    return out


# --------------------------------------------------------------------------- datasets


def datasets_markdown() -> str:
    """The datasets table (every built-in registered dataset) and where its checksums come from."""
    from kerasdigits.datasets import get_dataset_info, list_datasets

    infos = [get_dataset_info(n) for n in list_datasets()]
    infos = [i for i in infos if i.registered_by == "kerasdigits"]
    rows, sums = [], []
    for info in infos:
        names = ", ".join(f"`{n}`" for n in (info.name, *info.aliases))
        counts = f"{info.counts[0]:,} / {info.counts[1]:,}" if info.counts else "-"
        classes = ", ".join(info.class_names)
        if len(classes) > 60:
            classes = classes[:57].rsplit(",", 1)[0] + ", ..."
        if info.bundled:
            files = "bundled in the package"
        elif info.archive:
            member = f"{info.archive_prefix}{info.files['train_images']}.gz"
            files = f"`{info.archive}` (members `{member}`, ...)"
        else:
            files = f"`{info.files['train_images']}.gz` and the other three"
        rows.append([names, info.title, f"{info.num_classes}: {classes}", counts, files,
                     info.license or "-"])
        if info.sha256:
            checked = "sha256 of the decompressed files"
        elif info.gz_md5 or info.gz_sha256:
            checked = "md5 and sha256 of the official `.gz` files"
        elif info.archive_md5:
            checked = f"md5 of the official `{info.archive}`"
        else:
            checked = "-"
        sums.append([f"`{info.name}`", checked, info.checksum_source or "computed from the "
                     "official files (`SHA256SUMS-decompressed.txt`)" if not info.bundled
                     else "computed when the sample was cut from the official files"])
    out = _table(["name (aliases)", "title", "classes", "train / test", "files", "license"],
                 rows, right={3})
    out += ("\nGenerated from the registry (`list_datasets()`, `get_dataset_info(name)`).\n\n"
            "What `verify=True` checks, and where the pinned values come from:\n\n")
    out += _table(["name", "checked", "source of the pinned values"], sums)
    return out


# --------------------------------------------------------------------------- benchmarks


def _usage(script: Path) -> str:
    """The command lines of a script's ``Usage:`` docstring section."""
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    match = re.search(r"^Usage:\n((?:[ \t]+.*\n?)+)", doc, re.MULTILINE)
    if not match:
        return f"python bench/{script.name}"
    lines = match.group(1).splitlines()
    indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
    return "\n".join(x[indent:] for x in lines).strip()


def _ms(v: float) -> str:
    return f"{v:,.1f}" if v < 10 else f"{v:,.0f}"


def _datasets(data: dict[str, Any]) -> str:
    rows = [[r["case"], _ms(r["ms"]), r.get("note", "")] for r in data["rows"]]
    return _table(["case", "ms (median)", "note"], rows, right={1})


def _export(data: dict[str, Any]) -> str:
    out = (f"**Export parity and quantization** ({data['epochs']} training epochs, every "
           f"file run with LiteRT on all {data['test_images']:,} MNIST test images, fed as "
           "an app would):\n\n")
    rows = []
    for r in data["parity"]:
        parity = ("yes" if r["parity"] else "NO") if r["quantization"] == "none" else "-"
        rows.append([r["model"], r["target"], f"`{r['input']}`", r["quantization"],
                     f"{r['size']:,}", f"{r['size_ratio']:.1%}", f"{r['keras_accuracy']:.2%}",
                     f"{r['tflite_accuracy']:.2%}", f"{100 * r['accuracy_drop']:+.2f}",
                     f"{r['max_abs_diff']:.1e}", f"{r['argmax_agreement']:.2%}", parity])
    out += _table(["model", "target", "input", "quantization", "bytes", "vs float",
                   "Keras acc.", "TFLite acc.", "drop (pts)", "max abs dp", "argmax agree",
                   "parity"], rows, right=set(range(4, 11)))
    quants = list(dict.fromkeys(r["quantization"] for r in data["latency"]))
    models = list(dict.fromkeys(r["model"] for r in data["latency"]))
    load = data.get("load_average")
    noisy = (f", load average {load:.1f} during the run: noisy"
             if isinstance(load, float) and math.isfinite(load) else "")
    out += (f"\n**Single-image LiteRT latency**, `litert` target, one thread, median / 99th "
            f"percentile of {data['runs']:,} runs in microseconds{noisy}:\n\n")
    rows = []
    for model in models:
        cells = [f"`{model}`"]
        for q in quants:
            r = next((r for r in data["latency"]
                      if r["model"] == model and r["quantization"] == q), None)
            cells.append(f"{r['median_us']:.0f} / {r['p99_us']:.0f}" if r else "-")
        rows.append(cells)
    out += _table(["model", *quants], rows, right=set(range(1, len(quants) + 1)))
    return out


def _seed_text(seeds: list[int]) -> str:
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{len(seeds)} seeds, {seeds[0]}-{seeds[-1]}"
    return f"{len(seeds)} seeds, {', '.join(map(str, seeds))}"


def _loads(cases: list[dict[str, Any]]) -> str:
    """The lowest and highest 1-minute load average at the starts and ends of the runs."""
    loads = [x[k][0] for r in cases for x in (r.get("runs") or [r]) if "error" not in x
             for k in ("load_start", "load_end") if x.get(k)]
    loads = [v for v in loads if isinstance(v, int | float) and math.isfinite(v)]
    if not loads:
        return "-"
    lo, hi = f"{min(loads):.1f}", f"{max(loads):.1f}"
    return lo if lo == hi else f"{lo}-{hi}"


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _training(data: dict[str, Any]) -> str:
    """The training benchmark: the race chart, mean ± std over the seeds, figures to reach.

    Reads both layouts of ``training.json``: one run per case (a single-seed run, before
    ``--seeds``) and per-case summaries over several seeds with the runs under ``runs``.
    """
    cases = data["cases"]
    seeds = data.get("seeds") or [data.get("seed", 0)]
    ok = [r for r in cases.values() if "error" not in r]
    several = any(r.get("n_seeds", 1) > 1 for r in ok)
    out = []
    png = BENCH / "results" / "training.png"
    if png.is_file():
        rel = Path("..") / png.relative_to(ROOT)  # from docs/benchmarks.md
        spread = ("small markers: single seeds; large: the mean accuracy ± its standard "
                  "deviation, at the median time" if several else "one point per case")
        quick = "quick smoke test (sample data), " if data.get("quick") else ""
        out.append(f"```{{figure}} {rel.as_posix()}\n"
                   ":alt: Test accuracy against training wall time, every case of the training "
                   "benchmark\n:width: 100%\n\n"
                   f"The race: test accuracy against training wall time (log scale), every case "
                   f"of the {quick}run of {data.get('date', '?')} ({_seed_text(seeds)}, "
                   f"1-minute load {_loads(ok)}) in `bench/results/training.json`, drawn by "
                   "`bench_training.py`. Open squares: plain Keras (the tutorials' code); "
                   f"filled circles: `kerasdigits.train`; {spread}.\n```\n")
    rows = []
    for r in cases.values():
        if "error" in r:
            rows.append([f"`{r['case']}`", "failed", *["-"] * 11])
            continue
        n = r.get("n_seeds", 1)
        std = r.get("test_accuracy_std")
        acc = f"{r['test_accuracy']:.2%}" + (f" ± {100 * std:.2f}" if std is not None else "")
        worst = f"{r['test_accuracy_min']:.2%}" if n > 1 and "test_accuracy_min" in r else "-"
        at = r.get("time_to_target_s")
        speed = f"{r['speedup']:.2f}x" if r.get("speedup") else "-"
        delta = (f"{r['accuracy_delta_points']:+.2f}"
                 if r.get("accuracy_delta_points") is not None else "-")
        rows.append([f"`{r['case']}`", r.get("title", ""), r.get("dataset", ""), str(n), acc,
                     worst, _secs(r.get("train_s")), _secs(r.get("cpu_s")), _secs(at),
                     f"{r['peak_rss_mb']:.0f}", speed, delta, _loads([r])])
    if several:
        out.append(f"Over {_seed_text(seeds)}, each case run once per seed in a fresh process, "
                   "round by round. Test accuracy: mean ± sample standard deviation (points) "
                   "and the worst seed; times: medians; peak RSS: the largest. Speed-up (from "
                   "the medians) and accuracy vs reference (from the means) are against the "
                   "case's reference in the same run.\n")
    else:
        out.append(f"A single run of each case, {_seed_text(seeds)}: no spread measured. "
                   "Speed-up and accuracy vs reference are against the case's reference in "
                   "the same run.\n")
    out.append(_table(["case", "what", "data", "seeds", "test acc", "worst", "train s",
                       "CPU s", "to target s", "peak RSS MB", "speed-up", "acc vs ref (pts)",
                       "load 1-min"], rows, right=set(range(3, 13))))
    if data.get("skipped"):
        out.append("\nNot run: " + "; ".join(f"`{k}` ({v})" for k, v in
                                             data["skipped"].items()) + ".\n")
    checks = data.get("checks") or []
    if checks:
        extra = [(key, name) for key, name in (("load_1min", "load 1-min"),
                                               ("host_gflops", "host GFLOP/s"))
                 if any(key in c for c in checks)]  # older runs lack the host's speed
        when = ("checked against this run" if "seeds" in data else "as the benchmark "
                "checked them when this run was made")
        out.append(f"\n**Figures to reach**, {when}:\n")
        out.append(_table(["figure", "met", "measured", *(name for _, name in extra)],
                          [[c["figure"], c["met"], c["measured"],
                            *(c.get(key, "-") for key, _ in extra)] for c in checks]))
    return "\n".join(out)


def _generic(data: dict[str, Any]) -> str:
    out = []
    scalars = [[k, str(v)] for k, v in data.items()
               if not isinstance(v, list | dict) and k not in ("date", "machine")]
    if scalars:
        out.append(_table(["key", "value"], scalars))
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            header = list(dict.fromkeys(k for r in value for k in r))
            rows = [[_fmt(r.get(k, "")) for k in header] for r in value]
            out.append(f"**{key}**\n\n" + _table(header, rows))
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


RENDERERS = {"datasets": _datasets, "export": _export, "training": _training}


def benchmarks_markdown() -> str:
    """One section per ``bench/results/*.json``: the tables, where and how it was measured."""
    files = sorted((BENCH / "results").glob("*.json"))
    if not files:
        return "No benchmark results in `bench/results/` yet.\n"
    out = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        stem = path.stem
        script = BENCH / f"bench_{stem}.py"
        title = _title(script) if script.is_file() else stem
        out.append(f"## {title}\n")
        where = ", ".join(str(data[k]) for k in ("date", "machine") if k in data)
        if where:
            out.append(f"Measured {where}; from `bench/results/{path.name}`.\n")
        render = RENDERERS.get(stem)
        table = path.with_suffix(".md")  # the tables a script writes itself, if any
        try:
            if render:
                out.append(render(data))
            elif table.is_file():
                out.append(_demote(table.read_text(encoding="utf-8")))
            else:
                out.append(_generic(data))
        except (KeyError, TypeError, ValueError):
            out.append(_generic(data))  # an older or newer layout: show it as it is
        if script.is_file():
            out.append(f"\nReproduce (writes `bench/results/{path.name}`):\n\n```sh\n"
                       f"{_usage(script)}\n```\n")
    return "\n".join(out)


def _demote(markdown: str) -> str:
    """Shift the headings of an included Markdown file so that its top level is 3."""
    levels = [len(m.group(1)) for m in re.finditer(r"^(#{1,6}) ", markdown, re.MULTILINE)]
    if not levels:
        return markdown
    shift = 3 - min(levels)
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * max(1, min(6, len(m.group(1)) + shift)) + " ",
                  markdown, flags=re.MULTILINE)


def _title(script: Path) -> str:
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or script.stem
    first = doc.split("\n\n")[0].replace("\n", " ").strip().rstrip(".")
    first = first.removeprefix("Benchmark: ")
    return first[:1].upper() + first[1:] if first else script.stem


# --------------------------------------------------------------------------- figures


def dataset_figures() -> dict[str, bytes]:
    """PNG bytes of a 25-image grid of each bundled sample, by file name."""
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    from kerasdigits import load_dataset
    from kerasdigits.plots import show_samples

    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("mnist_sample", "fashion_mnist_sample"):
            path = Path(tmp) / f"{name}.png"
            show_samples(load_dataset(name, download=False), n=25, save=path)
            files[path.name] = path.read_bytes()
    return files
