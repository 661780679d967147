"""A user's own pictures, from a folder to a phone file, each step in its own process.

The folder holds 300 real MNIST test digits (the bundled sample's), written as a user's
pictures would be: PNG and JPEG, 40 to 160 pixels, coloured ink on coloured paper, some light
on dark, with margins of every size and a slight rotation, one sub-folder per class named
with words (``zero`` ... ``nine``), plus a few broken files and the clutter a folder collects
(``.DS_Store``, ``notes.txt``). The journey: summary, train ``fast_convnet`` (from scratch and
fine-tuned from an MNIST model), evaluate, export for ML Kit with the folder's class names,
inspect, and classify a picture with the exported file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _journey_helpers import Ran, kerasdigits, python_c
from kerasdigits import load_dataset

Image = pytest.importorskip("PIL.Image")

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
N_PICTURES = 300
BROKEN = ("three/truncated.png", "five/not-a-picture.jpg", "eight/empty.png")


def _picture(image: np.ndarray, rng: np.random.Generator) -> Any:
    side = int(rng.integers(40, 161))
    margin = int(rng.integers(0, side // 3 + 1))
    ink = np.array(rng.integers(0, 90, 3))
    paper = np.array(rng.integers(170, 256, 3))
    if rng.random() < 0.25:  # chalk on a board: light on dark
        ink, paper = 255 - ink, 255 - paper
    alpha = np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR),
                       float)[..., None] / 255
    rgb = paper * (1 - alpha) + ink * alpha
    canvas = np.tile(paper.astype(np.uint8), (side + 2 * margin, side + 2 * margin, 1))
    canvas[margin:margin + side, margin:margin + side] = np.clip(rgb, 0, 255).astype(np.uint8)
    angle = float(rng.uniform(-10, 10))
    picture = Image.fromarray(canvas).rotate(angle, resample=Image.BILINEAR,
                                             fillcolor=tuple(int(c) for c in paper))
    return picture


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("folder-journey")
    digits = root / "my_digits"
    test = load_dataset("mnist_sample").test
    rng = np.random.default_rng(0)
    for i in range(N_PICTURES):
        folder = digits / NAMES[int(test.labels[i])]
        folder.mkdir(parents=True, exist_ok=True)
        picture = _picture(test.images[i], rng)
        if i % 3:
            picture.save(folder / f"img{i:03d}.png")
        else:
            picture.save(folder / f"IMG_{i:03d}.JPG", quality=int(rng.integers(60, 95)))
    good = (digits / "three").glob("*.png").__next__().read_bytes()
    (digits / BROKEN[0]).write_bytes(good[: len(good) // 2])
    (digits / BROKEN[1]).write_text("not a picture\n")
    (digits / BROKEN[2]).write_bytes(b"")
    (digits / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (digits / "notes.txt").write_text("digits from the class\n")
    (digits / "seven" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    return root


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import os

    root = tmp_path_factory.mktemp("folder-journey-env")
    environ = {k: v for k, v in os.environ.items()
               if k not in ("KERASDIGITS_DATA_DIR", "TF_CPP_MIN_LOG_LEVEL")}
    environ.update(KERASDIGITS_HOME=str(root / "home"), KERAS_HOME=str(root / "keras"),
                   KERASDIGITS_MIRROR="http://127.0.0.1:9/unreachable/")
    return environ


class Steps:
    """Each step run once, when first asked for."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env, self.done = cwd, env, {}

    def run(self, name: str, *args: str, writes: tuple[str, ...] = ()) -> Ran:
        if name not in self.done:
            self.done[name] = kerasdigits(*args, cwd=self.cwd, env=self.env, writes=writes)
        return self.done[name]

    def train(self) -> Ran:
        return self.run("train", "train", "fast_convnet", "--dataset", "my_digits/",
                        "--bad-pictures", "skip", "--epochs", "3", "--seed", "0", "--out",
                        "run", "--export", "digits.tflite", "--target", "mlkit",
                        writes=("run",))

    def fine_tune(self) -> Ran:
        self.run("pretrain", "train", "fast_convnet", "--dataset", "mnist_sample", "--epochs",
                 "1", "--seed", "0", "--out", "mnist_run", writes=("mnist_run",))
        return self.run("fine-tune", "train", "fast_convnet", "--dataset", "my_digits",
                        "--bad-pictures", "skip", "--epochs", "3", "--seed", "0", "--out",
                        "tuned", "--init-from", "mnist_run/model.keras", writes=("tuned",))


@pytest.fixture(scope="module")
def steps(work: Path, env: dict[str, str]) -> Steps:
    return Steps(work, env)


def _ok(ran: Ran) -> None:
    assert ran.returncode == 0, ran.describe()
    assert not ran.stray, f"stray files: {ran.stray}"


def test_a_broken_picture_is_named(steps: Steps) -> None:
    ran = steps.run("strict", "summary", "./my_digits/")
    assert ran.returncode == 1, ran.describe()
    line = ran.stderr.strip().splitlines()[-1]
    assert line.startswith("kerasdigits: error: ") and "Traceback" not in ran.stderr
    assert any(name.split("/")[1] in line for name in BROKEN), line


def test_summary_counts_each_class_and_draws_samples(steps: Steps, work: Path) -> None:
    ran = steps.run("summary", "summary", "./my_digits/", "--bad-pictures", "skip", "--out",
                    "samples.png", writes=("samples.png",))
    _ok(ran)
    labels = load_dataset("mnist_sample").test.labels[:N_PICTURES]
    counts = np.bincount(labels, minlength=10)
    for k, name in enumerate(NAMES):
        row = re.search(rf"^\s+{name}\s+(\d+)\s+(\d+)$", ran.stdout, re.MULTILINE)
        assert row, f"no row for {name}:\n{ran.stdout}"
        broken = sum(b.startswith(name + "/") for b in BROKEN)
        assert int(row[1]) + int(row[2]) == counts[k], (name, row.groups(), counts[k])
        assert broken == 0 or "skipped 3" in ran.stderr.lower() or "3 " in ran.stderr
    assert "Dataset 'my_digits': 10 classes" in ran.stdout
    with Image.open(work / "samples.png") as grid:
        assert grid.size[0] > 500


def test_train_evaluate_export_with_the_folders_names(steps: Steps, work: Path) -> None:
    ran = steps.train()
    _ok(ran)
    evaluation = json.loads((work / "run" / "evaluation.json").read_text())
    assert evaluation["num_examples"] == pytest.approx(N_PICTURES * 0.1, abs=2)
    # Three epochs on 240 pictures from scratch: well above chance (10 %).
    assert evaluation["accuracy"] >= 0.3, evaluation["accuracy"]
    again = steps.run("evaluate", "evaluate", "run/model.keras", "--bad-pictures", "skip")
    _ok(again)
    found = re.search(r"accuracy\s*[:=]?\s*([0-9.]+)\s*%?", again.stdout)
    assert found, again.stdout
    value = float(found[1]) / (100 if "%" in found[0] else 1)
    assert value == pytest.approx(evaluation["accuracy"], abs=1e-3), "another test split?"
    labels = python_c("from kerasdigits.export import read_metadata; import sys; "
                      "print(list(read_metadata(sys.argv[1]).labels))", "run/digits.tflite",
                      cwd=work, env=steps.env)
    _ok(labels)
    # Sorted folder names, as load_image_folder orders classes without class_names=.
    assert labels.stdout.strip().splitlines()[-1] == str(sorted(NAMES))


def test_the_exported_file_classifies_a_picture(steps: Steps, work: Path) -> None:
    steps.train()
    pictures = sorted((work / "my_digits" / "seven").glob("*.png"))[:3]
    ran = steps.run("predict", "predict", "run/digits.tflite",
                    *(str(p.relative_to(work)) for p in pictures))
    _ok(ran)
    answers = re.findall(r": (\w+) \(p=", ran.stdout)
    assert len(answers) == 3 and set(answers) <= set(NAMES), ran.stdout


def test_fine_tuning_from_mnist_beats_training_from_scratch(steps: Steps, work: Path) -> None:
    scratch = steps.train()
    tuned = steps.fine_tune()
    _ok(tuned)
    assert "init_from" in tuned.stderr, tuned.describe()
    before = json.loads((work / "run" / "evaluation.json").read_text())["accuracy"]
    after = json.loads((work / "tuned" / "evaluation.json").read_text())["accuracy"]
    assert after >= 0.8, after
    assert after >= before, (before, after, scratch.describe())


def test_export_later_finds_the_folder_and_skips_its_broken_pictures(steps: Steps,
                                                                      work: Path) -> None:
    """``kerasdigits export`` of a folder-trained model, without --dataset, as a later step."""
    steps.train()
    ran = steps.run("export", "export", "run/model.keras", "later.tflite", "--target",
                    "mlkit", "--bad-pictures", "skip", writes=("later.tflite",))
    _ok(ran)
    assert "parity OK" in ran.stdout, ran.describe()
    strict = steps.run("export strict", "export", "run/model.keras", "strict.tflite")
    assert strict.returncode == 1 and "bad-pictures" not in strict.stdout
    assert any(name.split("/")[1] in strict.stderr for name in BROKEN), strict.describe()
    assert not (work / "strict.tflite").exists()
