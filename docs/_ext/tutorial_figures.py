"""Draw the figures of one example run (kd_tutorials.py calls :func:`draw` after the run).

Usage (by hand):
    python docs/_ext/tutorial_figures.py RUN_DIR FIG_DIR DATASET

For every checkpoint folder under RUN_DIR (one holding ``checkpoints.json``, the index the
kerasdigits checkpoint callbacks write), the best checkpoint (lowest ``val_loss``) is loaded and
evaluated on DATASET's test split, and its predictions and confusion matrix are drawn with
:mod:`kerasdigits.plots`; the training curves too when the run has more than one epoch. A run
without checkpoints (an example that trains nothing) gets a grid of DATASET's training images.
Writes the PNG files and ``figures.json`` (file and caption of each, in order) into FIG_DIR.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")


def best_checkpoint(index: Path) -> dict[str, Any]:
    entries = json.loads(index.read_text(encoding="utf-8"))
    if not entries:
        raise SystemExit(f"{index}: no checkpoint recorded")
    named = [e for e in entries if e["path"] != "last.keras"] or entries
    if all(math.isfinite(e.get("metrics", {}).get("val_loss", math.nan)) for e in named):
        return min(named, key=lambda e: e["metrics"]["val_loss"])
    return named[-1]


def draw(run_dir: Path, fig_dir: Path, dataset: str) -> list[dict[str, str]]:
    """Draw the figures of the run in ``run_dir`` into ``fig_dir``; return file and caption."""
    import logging

    # Evaluating several models in one process makes TensorFlow warn about retracing.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from kerasdigits import evaluate, load_dataset, load_model
    from kerasdigits.plots import (
        plot_confusion_matrix,
        plot_history,
        show_predictions,
        show_samples,
    )

    ds = load_dataset(dataset, download=False)
    fig_dir.mkdir(parents=True, exist_ok=True)
    figures: list[dict[str, str]] = []
    indexes = sorted(run_dir.rglob("checkpoints.json"))
    if not indexes:
        show_samples(ds, n=25, save=fig_dir / "samples.png")
        figures.append({"file": "samples.png",
                        "caption": f"25 training images of ``{ds.name}`` "
                                   "(``kerasdigits.plots.show_samples``)."})
    for index in indexes:
        folder = index.parent
        entry = best_checkpoint(index)
        model = load_model(folder / entry["path"])
        evaluation = evaluate(model, ds)
        prefix = "" if len(indexes) == 1 else f"{model.name}-"
        where = folder.relative_to(run_dir) / entry["path"]
        history_file = folder / "history.json"
        if history_file.is_file():
            history = json.loads(history_file.read_text(encoding="utf-8"))
            if len(history.get("loss", [])) > 1:
                name = f"{prefix}history.png"
                plot_history(history, save=fig_dir / name)
                figures.append({"file": name, "caption": f"``{model.name}``: loss and "
                                "accuracy per epoch (``kerasdigits.plots.plot_history``)."})
        name = f"{prefix}predictions.png"
        show_predictions(model, ds, 25, save=fig_dir / name)
        figures.append({"file": name, "caption": (
            f"``{model.name}`` (best checkpoint ``{where.as_posix()}``) on the first 25 test "
            f"images of ``{ds.name}``: wrong answers in red "
            "(``kerasdigits.plots.show_predictions``).")})
        name = f"{prefix}confusion.png"
        plot_confusion_matrix(evaluation, save=fig_dir / name)
        figures.append({"file": name, "caption": (
            f"``{model.name}``: confusion matrix on the {evaluation.num_examples:,} test images, "
            f"accuracy {evaluation.accuracy:.4f} (``kerasdigits.plots.plot_confusion_matrix``).")})
    (fig_dir / "figures.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    draw(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
