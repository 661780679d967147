"""Run every tutorial example end to end in quick mode (bundled sample, 1 epoch, offline)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> {label printed before "test accuracy:": lowest acceptable accuracy}.
# Measured with --quick --seed 0 on 2 cores (seeds 1-3 in brackets): mnist_mlp 0.882
# (0.82-0.85), mnist_dense256 0.892 (0.89), checkpoint 0.856 (0.85-0.86), fashion 0.694
# (0.68-0.73), DNN 0.301 (0.25-0.32: four sigmoid layers barely start in 42 steps),
# CNN 0.895 (0.87-0.89). The bounds leave room for other machines but fail on a model that
# did not learn (chance is 0.1).
EXPECTED: dict[str, dict[str, float]] = {
    "mnist_mlp": {"": 0.75},
    "mnist_dense256": {"": 0.8},
    "mnist_checkpoint_early_stopping": {"": 0.75},
    "fashion_mnist_cnn": {"": 0.55},
    "mnist_dnn_and_cnn": {"DNN (sigmoid4x256) ": 0.15, "CNN (convnet) ": 0.8},
}
ACCURACY_LINE = re.compile(r"^(.*)test accuracy: (\S+)$")
CHECKPOINT_NAME = re.compile(r"^mnist-\d\d-\d+\.\d{4}\.keras$")

pytestmark = pytest.mark.slow


def run_example(name: str, out: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("KERASDIGITS_DATA_DIR", None)  # quick mode must work offline with the sample
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, (
        f"{name} exited with {result.returncode}\n--- stdout\n{result.stdout[-3000:]}"
        f"\n--- stderr\n{result.stderr[-3000:]}"
    )
    return result


def accuracies(stdout: str) -> dict[str, float]:
    found = {}
    for line in stdout.splitlines():
        match = ACCURACY_LINE.match(line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def check_checkpoint_files(out: Path, stdout: str) -> None:
    """mnist_checkpoint_early_stopping: tutorial file names, and the best one is reported."""
    written = [p.name for p in out.iterdir() if p.suffix == ".keras"]
    assert written, "no checkpoint written"
    assert all(CHECKPOINT_NAME.match(name) for name in written), written

    reported = re.search(r"^best checkpoint: (.+?\.keras) ", stdout, re.MULTILINE)
    assert reported, stdout[-2000:]
    best = Path(reported.group(1))
    assert best.parent == out
    assert best.is_file()
    assert CHECKPOINT_NAME.match(best.name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_quick(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_example(name, out, cwd=tmp_path)
    lines = result.stdout.rstrip().splitlines()

    found = accuracies(result.stdout)
    assert found.keys() == EXPECTED[name].keys(), result.stdout[-2000:]
    # The accuracy lines close the output, in order.
    assert lines[-len(found):] == [f"{k}test accuracy: {v:.4f}" for k, v in found.items()]
    for label, minimum in EXPECTED[name].items():
        assert minimum < found[label] <= 1.0, f"{name}: {label}test accuracy {found[label]}"

    # Checkpoints go to --out, and nothing is written to the working directory.
    assert list(out.rglob("*.keras")), f"{name} wrote no checkpoint into --out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    if name == "mnist_checkpoint_early_stopping":
        check_checkpoint_files(out, result.stdout)
