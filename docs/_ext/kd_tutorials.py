"""The tutorial pages: every script in ``examples/`` run with ``--quick`` during the build.

Each example runs in a fresh interpreter, in an empty temporary folder, offline (no
``KERASDIGITS_DATA_DIR``, private ``KERASDIGITS_HOME`` and ``KERAS_HOME``), on the bundled
samples; its standard output is captured, and then ``tutorial_figures.py`` draws the figures of
the run in the docs build's own process (predictions and confusion matrix of the best
checkpoint, or sample images). A command-line
session (``kerasdigits train`` / ``export`` / ``inspect``) is run the same way and keeps the
figures ``kerasdigits train`` writes. Up to ``KERASDIGITS_DOCS_JOBS`` runs (default 2) go in
parallel.

Results are cached in ``docs/_generated/tutorials/<page>/``, keyed by the example, the
package's sources and data, this code and the versions of Python, TensorFlow, Keras, NumPy and
matplotlib; delete ``docs/_generated`` to force fresh runs. ``KERASDIGITS_DOCS_REUSE_TUTORIALS=1``
keeps earlier results even when they are stale (to iterate on the docs' text quickly).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SRC = ROOT / "src" / "kerasdigits"
HERE = Path(__file__).resolve().parent

#: Preferred order of the example pages; examples not listed follow, sorted.
ORDER = (
    "load_dataset",
    "mnist_mlp",
    "mnist_dense256",
    "mnist_dnn_and_cnn",
    "mnist_checkpoint_early_stopping",
    "fashion_mnist_cnn",
)
TIMEOUT = 600


@dataclass
class Job:
    """One tutorial page: commands run in order in one scratch folder."""

    name: str
    title: str
    commands: list[list[str]]  # argv, with "python" / "kerasdigits" as the first word
    intro: str = ""
    script: Path | None = None
    figures: str = "checkpoints"  # "checkpoints" (tutorial_figures.draw) or "run" (run/*.png)


def _docstring(path: Path) -> str:
    import ast

    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def example_jobs() -> list[Job]:
    scripts = {p.stem: p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    names = [n for n in ORDER if n in scripts] + sorted(set(scripts) - set(ORDER))
    jobs = []
    for name in names:
        doc = _docstring(scripts[name])
        first, _, rest = doc.partition("\n\n")
        first = " ".join(first.split())
        head, sep, tail = first.partition(": ")
        if sep:
            title = f"{head[0].upper()}{head[1:]}"
            summary = f"{tail[0].upper()}{tail[1:]}"
        else:
            title, summary = first.rstrip("."), ""
        intro = "\n\n".join(part for part in (summary, _usage_as_literal(rest)) if part)
        jobs.append(Job(name=name, title=title, intro=intro, script=scripts[name],
                        commands=[["python", f"examples/{name}.py", "--quick"]]))
    return jobs


def _usage_as_literal(text: str) -> str:
    # "Usage:" followed by an indented block becomes a literal block.
    return re.sub(r"^Usage:\n(?=[ \t])", "Usage::\n\n", text, flags=re.MULTILINE)


def cli_job() -> Job:
    return Job(
        name="command_line",
        title="From the command line: train, export, inspect",
        intro=(
            "The ``kerasdigits`` command trains a zoo model, keeps the best epoch, evaluates "
            "it and draws its figures; ``export`` writes a ``.tflite`` file checked against "
            "the Keras model, and ``inspect`` describes it. Here on the bundled sample, so it "
            "runs offline in seconds; use ``--dataset mnist`` for the real thing."
        ),
        commands=[
            ["kerasdigits", "train", "fast_convnet", "--dataset", "mnist_sample", "--epochs",
             "3", "--seed", "0", "--out", "run"],
            ["kerasdigits", "export", "run/model.keras", "digits.tflite", "--target", "mlkit",
             "--input-dtype", "uint8", "--quantize", "int8", "--dataset", "mnist_sample"],
            ["kerasdigits", "inspect", "digits.tflite"],
        ],
        figures="run",
    )


def all_jobs() -> list[Job]:
    return [*example_jobs(), cli_job()]


# --------------------------------------------------------------------------- running


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _versions() -> str:
    parts = [sys.version]
    for dist in ("tensorflow", "keras", "numpy", "matplotlib"):
        try:
            parts.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} missing")
    return ";".join(parts)


def base_key() -> str:
    digest = hashlib.sha256()
    # What a run depends on: the package, the libraries, and how runs are made (not how the
    # pages are written, so that editing the page layout does not re-run every example).
    import inspect

    runner = "".join(inspect.getsource(f)
                     for f in (_argv, _env, _clean, run_commands, finish, _figures))
    for part in (_tree_digest(SRC), _versions(), runner,
                 (HERE / "tutorial_figures.py").read_text(encoding="utf-8")):
        digest.update(part.encode())
    return digest.hexdigest()


def job_key(job: Job, base: str) -> str:
    digest = hashlib.sha256(base.encode())
    digest.update(json.dumps(job.commands).encode())
    if job.script is not None:
        digest.update(job.script.read_bytes())
    return digest.hexdigest()


def _argv(command: list[str]) -> list[str]:
    if command[0] == "python":
        return [sys.executable, *(str(ROOT / a) if a.startswith("examples/") else a
                                  for a in command[1:])]
    if command[0] == "kerasdigits":
        return [sys.executable, "-m", "kerasdigits", *command[1:]]
    raise ValueError(f"unsupported command {command!r}")


def _env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("KERASDIGITS_DATA_DIR", "KERASDIGITS_MIRROR"):
        env.pop(var, None)  # quick mode runs on the bundled samples, offline
    env.update({
        "KERASDIGITS_HOME": str(scratch / ".kerasdigits-home"),
        "KERAS_HOME": str(scratch / ".keras-home"),
        "MPLCONFIGDIR": str(scratch / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONIOENCODING": "utf-8",
        "COLUMNS": "100",
    })
    return env


def _clean(text: str, scratch: Path) -> str:
    text = text.replace(str(scratch) + os.sep, "").replace(str(scratch), ".")
    text = text.replace(str(SRC), "…/kerasdigits")
    return text.rstrip() + "\n"


class TutorialError(RuntimeError):
    pass


@dataclass
class Run:
    """The outcome of a job's commands, in a scratch folder that lives until it is cleaned."""

    job: Job
    key: str
    tmp: tempfile.TemporaryDirectory[str]
    outputs: list[str]
    seconds: float

    @property
    def scratch(self) -> Path:
        return Path(self.tmp.name) / "work"


def run_commands(job: Job, key: str) -> Run:
    """Run ``job``'s commands in a fresh scratch folder (a worker thread; subprocesses)."""
    tmp = tempfile.TemporaryDirectory(prefix=f"kd-docs-{job.name}-")
    try:
        scratch = Path(tmp.name) / "work"
        scratch.mkdir()
        env = _env(Path(tmp.name))
        started = time.perf_counter()
        outputs = []
        for command in job.commands:
            proc = subprocess.run(_argv(command), cwd=scratch, env=env, capture_output=True,
                                  text=True, encoding="utf-8", errors="replace",
                                  timeout=TIMEOUT, check=False)
            if proc.returncode != 0:
                raise TutorialError(
                    f"{' '.join(command)} (for docs page {job.name!r}) exited with "
                    f"{proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n"
                    f"{proc.stderr[-3000:]}")
            outputs.append(_clean(proc.stdout, scratch))
        return Run(job, key, tmp, outputs, time.perf_counter() - started)
    except BaseException:
        tmp.cleanup()
        raise


def finish(run: Run, dest: Path) -> None:
    """Draw the figures of ``run`` (in this process) and move everything into ``dest``."""
    new = Path(tempfile.mkdtemp(prefix=f"{run.job.name}.", dir=dest.parent))
    try:
        figures = _figures(run, new)
        for i, text in enumerate(run.outputs, 1):
            (new / f"output-{i}.txt").write_text(text, encoding="utf-8")
        (new / "stamp.json").write_text(json.dumps({
            "key": run.key, "seconds": round(run.seconds, 1), "date": time.strftime("%Y-%m-%d"),
            "figures": figures,
        }, indent=1) + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        new.rename(dest)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    finally:
        run.tmp.cleanup()


RUN_FIGURES = {
    "history.png": "Loss and accuracy per epoch, the best epoch marked (``run/history.png``).",
    "predictions.png": "Predictions on the first 25 test images, wrong ones in red "
                       "(``run/predictions.png``).",
    "confusion.png": "The confusion matrix on the test split (``run/confusion.png``).",
}


def _figures(run: Run, dest: Path) -> list[dict[str, str]]:
    if run.job.figures == "run":
        figures = []
        for name, caption in RUN_FIGURES.items():
            path = run.scratch / "run" / name
            if not path.is_file():
                raise TutorialError(f"docs page {run.job.name!r}: the run wrote no {path.name}")
            shutil.copy2(path, dest / name)
            figures.append({"file": name, "caption": caption})
        return figures
    match = re.search(r"^Dataset '([^']+)'", "".join(run.outputs), re.MULTILINE)
    if not match:  # the example does not print ds.summary(): no dataset to draw with
        return []
    import tutorial_figures

    try:
        return tutorial_figures.draw(run.scratch, dest, match.group(1))
    except Exception as exc:
        raise TutorialError(f"figures of docs page {run.job.name!r} failed: {exc!r}") from exc


def run_all(outdir: Path, log=print, reuse: bool = False) -> list[Job]:
    """Run every job whose cached results are stale; return the jobs.

    The commands run in subprocesses, ``KERASDIGITS_DOCS_JOBS`` (default 2) at a time; the
    figures are drawn in this process afterwards (TensorFlow is imported once, not per page).
    With ``reuse`` (or ``KERASDIGITS_DOCS_REUSE_TUTORIALS=1``), earlier results are kept even
    if stale, and only missing ones are made.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    jobs = all_jobs()
    base = base_key()
    reuse = reuse or os.environ.get("KERASDIGITS_DOCS_REUSE_TUTORIALS", "") not in ("", "0")
    todo = []
    for job in jobs:
        key = job_key(job, base)
        stamp = outdir / job.name / "stamp.json"
        try:
            fresh = json.loads(stamp.read_text(encoding="utf-8"))["key"] == key or reuse
        except (OSError, ValueError, KeyError):
            fresh = False
        if not fresh:
            todo.append((job, key))
    if not todo:
        return jobs
    workers = max(1, int(os.environ.get("KERASDIGITS_DOCS_JOBS", "2")))
    log(f"kerasdigits docs: running {len(todo)} tutorial(s) with --quick "
        f"({workers} at a time): {', '.join(j.name for j, _ in todo)}")
    started = time.perf_counter()
    runs: list[Run] = []
    errors: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(run_commands, job, key): job for job, key in todo}
        for future in concurrent.futures.as_completed(futures):
            try:
                runs.append(future.result())
            except Exception as exc:
                errors.append(str(exc))
            else:
                log(f"kerasdigits docs: ran {futures[future].name} "
                    f"({runs[-1].seconds:.0f} s)")
    try:
        if errors:
            raise TutorialError("\n\n".join(errors))
        for run in runs:
            finish(run, outdir / run.job.name)
    finally:
        for run in runs:
            run.tmp.cleanup()
    log(f"kerasdigits docs: tutorials and their figures done in "
        f"{time.perf_counter() - started:.0f} s")
    return jobs


# --------------------------------------------------------------------------- pages


def _readme_rows() -> dict[str, dict[str, str]]:
    """The rows of examples/README.md's table, by example name: {column header: cell}."""
    readme = EXAMPLES / "README.md"
    if not readme.is_file():
        return {}
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in readme.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None if not line.strip() else header
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        match = re.search(r"`([A-Za-z0-9_]+)\.py`", cells[0])
        if match:
            rows[match.group(1)] = dict(zip(header, cells, strict=False))
    return rows


def _md_to_rst(text: str) -> str:
    # The README cells use Markdown code spans and links; keep them readable in reST.
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    return re.sub(r"`([^`]+)`", r"``\1``", text)


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def page(job: Job, outdir: Path) -> str:
    stamp = json.loads((outdir / job.name / "stamp.json").read_text(encoding="utf-8"))
    lines = [".. This page is generated by docs/_ext/kd_tutorials.py; do not edit.", ""]
    lines.append(_heading(job.title, "="))
    if job.script is not None:
        lines.append(f"``examples/{job.script.name}``\n")
    if job.intro:
        lines.append(job.intro + "\n")
    row = _readme_rows().get(job.name)
    if row:
        for key, label in (("replaces", "Replaces"), ("measured", "Full run, measured")):
            cell = next((v for k, v in row.items() if k.startswith(key)), "")
            if cell and cell != "-":
                lines.append(f"**{label}:** {_md_to_rst(cell)}\n")
    if job.script is not None:
        lines.append(_heading("The script", "-"))
        rel = os.path.relpath(job.script, outdir).replace(os.sep, "/")
        lines.append(f".. literalinclude:: {rel}\n   :language: python\n   :linenos:\n")
    lines.append(_heading("Output", "-"))
    lines.append(
        f"Captured while these pages were built ({stamp['date']}; {stamp['seconds']:.0f} s in "
        "all), on the bundled sample: ``--quick`` trains one epoch, so the accuracy is far "
        "below a full run's." if job.script is not None else
        f"Captured while these pages were built ({stamp['date']}; {stamp['seconds']:.0f} s in "
        "all)."
    )
    lines.append("")
    for i, command in enumerate(job.commands, 1):
        lines.append(f".. code-block:: console\n\n   $ {' '.join(command)}\n")
        lines.append(f".. literalinclude:: {job.name}/output-{i}.txt\n   :language: text\n")
    if stamp["figures"]:
        lines.append(_heading("Figures", "-"))
        for fig in stamp["figures"]:
            lines.append(f".. figure:: {job.name}/{fig['file']}\n   :alt: {fig['file']}\n"
                         f"   :width: 100%\n\n   {fig['caption']}\n")
    return "\n".join(lines)


def generate(outdir: Path, log=print, reuse: bool = False) -> dict[str, str]:
    """Run what is stale; return ``{file name under outdir: page text}``."""
    jobs = run_all(outdir, log, reuse)
    files = {f"{job.name}.rst": page(job, outdir) for job in jobs}
    files["toctree.inc"] = (
        "```{toctree}\n:maxdepth: 1\n\n"
        + "".join(f"_generated/tutorials/{job.name}\n" for job in jobs) + "```\n"
    )
    return files
