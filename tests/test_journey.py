"""The journey of issue 12, as a user runs it: separate ``kerasdigits`` processes, end to end.

For one model of each family, in a working folder of its own and with relative paths as a
user types them::

    kerasdigits train MODEL --dataset SAMPLE --epochs 1 --out run --seed 0
    kerasdigits evaluate run/model.keras --dataset SAMPLE
    kerasdigits predict run/model.keras digit.png          # a real test image, as a photo
    kerasdigits train MODEL --dataset SAMPLE --epochs 2 --out run --resume --seed 0
    kerasdigits export run/model.keras TARGET-QUANT.tflite --target TARGET [--quantize int8]
    kerasdigits inspect TARGET-QUANT.tflite

then, in one fresh ``python -c`` process per model: plain ``keras.saving.load_model`` after
``import kerasdigits``, and the picture classified by every exported file through LiteRT's
``Interpreter`` (fed as the file's own metadata says) and, for the ``mlkit`` exports, by
MediaPipe's ``ImageClassifier``, each compared with the Keras model's answer.

No step shares Python state with pytest or with another step; exports get no ``--dataset``
and no ``--labels``: the class names travel inside the ``.keras`` file. Each model's steps
run once per module run, in the journey's order, whichever test asks first (``Journey.get``);
each test then checks one step and lists every broken expectation at once. Every run is also
checked for TensorFlow's log noise, for "1 epochs", and, last, for files written into its
working folder that it was not asked to write.

Cost: about 50 processes; the 35 that import TensorFlow take 5-15 s each (4-5 minutes in all
on 2 cores); ``inspect`` needs no TensorFlow.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _journey_helpers import (
    CLASSIFY_SCRIPT,
    Checks,
    Ran,
    kerasdigits,
    python_c,
    read_report,
    write_photo,
)

pytestmark = pytest.mark.slow

FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot")
DIGITS = tuple(str(i) for i in range(10))
TARGETS = ("litert", "mlkit", "firebase-legacy")
#: The input dtype an export gets when none is asked for.
DEFAULT_INPUT_DTYPE = {"litert": "uint8", "mlkit": "uint8", "firebase-legacy": "float32"}
#: The input shapes each target may have (litert: the model's own layout).
INPUT_SHAPES = {
    "litert": ([1, 784], [1, 28, 28, 1]),
    "mlkit": ([1, 28, 28, 3],),
    "firebase-legacy": ([1, 784],),
}
ALL_EXPORTS = tuple((t, q) for t in TARGETS for q in (None, "int8"))
SOME_EXPORTS = (("mlkit", None), ("litert", "int8"))


@dataclass(frozen=True)
class Case:
    """One model of the journey."""

    model: str
    sample: str
    image_index: int  # an easy test image of the sample: the picture fed to predict
    exports: tuple[tuple[str, str | None], ...]
    python_export: bool = False  # also export from Python, to compare with the CLI's files

    def __str__(self) -> str:
        return self.model


CASES = (
    Case("mlp256", "mnist_sample", 0, SOME_EXPORTS),                  # a tutorial MLP
    Case("fashion_convnet", "fashion_mnist_sample", 2, SOME_EXPORTS),  # a tutorial convnet
    Case("fast_convnet", "mnist_sample", 0, ALL_EXPORTS, python_export=True),  # schedule, layers
    Case("fast_mlp", "mnist_sample", 0, SOME_EXPORTS),                # schedule
)
#: This export runs as ``kerasdigits --verbose export ...``: it may show TensorFlow's logs.
VERBOSE_EXPORT = ("fast_convnet", "firebase-legacy", "int8")
PY_EXPORTS = {"mlkit": "py-mlkit.tflite", "litert": "py-litert.tflite"}
PY_EXPORT_CODE = (
    "from kerasdigits import export_tflite; "
    f"export_tflite('run/model.keras', {PY_EXPORTS['mlkit']!r}, target='mlkit'); "
    f"export_tflite('run/model.keras', {PY_EXPORTS['litert']!r}, target='litert')"
)


def tflite_name(target: str, quantization: str | None) -> str:
    return f"{target}-{quantization or 'float'}.tflite"


EXPORT_CASES = [pytest.param(case, t, q, id=f"{case.model}-{t}-{q or 'float'}")
                for case in CASES for t, q in case.exports]
MLKIT_CASES = [p for p in EXPORT_CASES if p.values[1] == "mlkit"]


@functools.cache
def class_names(sample: str) -> tuple[str, ...]:
    from kerasdigits import load_dataset

    return tuple(load_dataset(sample).class_names)


class Journey:
    """The steps of one model's journey, each run once, in order, when first asked for."""

    def __init__(self, case: Case, cwd: Path, env: dict[str, str]) -> None:
        self.case = case
        self.cwd = cwd
        self.env = env
        self.results: dict[str, Ran] = {}
        steps: list[tuple[str, Callable[[], Ran]]] = [
            ("train", self._train),
            ("evaluate", lambda: self._cli("evaluate", "run/model.keras", "--dataset",
                                           case.sample)),
            ("predict", lambda: self._cli("predict", "run/model.keras", "digit.png")),
            ("resume", self._resume),
        ]
        for target, quant in case.exports:
            steps.append((f"export {target} {quant}", self._exporter(target, quant)))
        if case.python_export:
            steps.append(("python export", lambda: python_c(
                PY_EXPORT_CODE, cwd=self.cwd, env=self.env, writes=list(PY_EXPORTS.values()))))
        for target, quant in case.exports:
            steps.append((f"inspect {target} {quant}",
                          lambda t=target, q=quant: self._cli("inspect", tflite_name(t, q))))
        steps.append(("classify", self._classify))
        self.steps = steps

    def get(self, step: str) -> Ran:
        """The result of ``step``, running it and every step before it first if needed."""
        if not (self.cwd / "digit.png").exists():
            self.cwd.mkdir(parents=True, exist_ok=True)
            from kerasdigits import load_dataset

            test = load_dataset(self.case.sample).test
            write_photo(test.images[self.case.image_index], self.cwd / "digit.png")
        for name, action in self.steps:
            if name not in self.results:
                self.results[name] = action()
            if name == step:
                return self.results[name]
        raise KeyError(step)

    @property
    def label(self) -> int:
        """The true class of the picture."""
        from kerasdigits import load_dataset

        return int(load_dataset(self.case.sample).test.labels[self.case.image_index])

    def _cli(self, *args: str, writes: tuple[str, ...] = ()) -> Ran:
        return kerasdigits(*args, cwd=self.cwd, env=self.env, writes=writes)

    def _read_run(self, ran: Ran) -> Ran:
        for name in ("history.json", "evaluation.json"):
            path = self.cwd / "run" / name
            if path.is_file():
                ran.extra[name] = json.loads(path.read_text("utf-8"))
        return ran

    def _train(self) -> Ran:
        return self._read_run(self._cli("train", self.case.model, "--dataset", self.case.sample,
                                        "--epochs", "1", "--out", "run", "--seed", "0",
                                        writes=("run",)))

    def _resume(self) -> Ran:
        return self._read_run(self._cli("train", self.case.model, "--dataset", self.case.sample,
                                        "--epochs", "2", "--out", "run", "--resume", "--seed",
                                        "0", writes=("run",)))

    def _exporter(self, target: str, quant: str | None) -> Callable[[], Ran]:
        def export() -> Ran:
            name = tflite_name(target, quant)
            args = ["export", "run/model.keras", name, "--target", target]
            if quant:
                args += ["--quantize", quant]
            if (self.case.model, target, quant) == VERBOSE_EXPORT:
                args.insert(0, "--verbose")
            return self._cli(*args, writes=(name,))
        return export

    def _classify(self) -> Ran:
        files = [tflite_name(t, q) for t, q in self.case.exports]
        if self.case.python_export:
            files += list(PY_EXPORTS.values())
        spec = {
            "model": "run/model.keras",
            "picture": "digit.png",
            "tflite": files,
            "mediapipe": [tflite_name(t, q) for t, q in self.case.exports if t == "mlkit"],
        }
        ran = python_c(CLASSIFY_SCRIPT, json.dumps(spec), cwd=self.cwd, env=self.env)
        ran.extra["report"] = read_report(ran)
        return ran


@pytest.fixture(scope="module")
def journey_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every process: caches in tmp, no data dirs, no reachable mirror.

    Module-scoped fixtures run before conftest's per-test isolation, so this sets the same
    variables itself. TensorFlow's log level is left unset: the CLI must quiet it.
    """
    root = tmp_path_factory.mktemp("journey-env")
    env = os.environ.copy()
    env.update(
        KERASDIGITS_HOME=str(root / "kerasdigits_home"),
        KERAS_HOME=str(root / "keras_home"),
        KERASDIGITS_MIRROR="http://127.0.0.1:9/unreachable/",  # the samples are bundled
    )
    for name in ("KERASDIGITS_DATA_DIR", "TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL"):
        env.pop(name, None)
    base = tmp_path_factory.getbasetemp().resolve()
    for name in ("KERASDIGITS_HOME", "KERAS_HOME"):
        assert Path(env[name]).resolve().is_relative_to(base), (name, env[name])
    return env


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory,
             journey_env: dict[str, str]) -> dict[str, Journey]:
    root = tmp_path_factory.mktemp("journey")
    return {case.model: Journey(case, root / case.model, journey_env) for case in CASES}


def test_fashion_class_names_are_the_datasets() -> None:
    assert class_names("fashion_mnist_sample") == FASHION_NAMES
    assert class_names("mnist_sample") == DIGITS


def test_help_has_examples_and_a_verbose_option(journey_env: dict[str, str],
                                                tmp_path: Path) -> None:
    train_help = kerasdigits("train", "--help", cwd=tmp_path, env=journey_env)
    top_help = kerasdigits("--help", cwd=tmp_path, env=journey_env)
    check = Checks(train_help, top_help)
    check.succeeded(train_help)
    check.succeeded(top_help)
    check(re.search(r"^examples?:", train_help.stdout, re.I | re.M),
          "'kerasdigits train --help' has no 'examples:' section")
    check("--verbose" in top_help.stdout, "'kerasdigits --help' lists no global --verbose")
    for ran in (train_help, top_help):
        check.says_epoch_right(ran)
        check.no_stray_files(ran)
    check.verify()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_train(case: Case, journeys: dict[str, Journey]) -> None:
    ran = journeys[case.model].get("train")
    check = Checks(ran)
    check.succeeded(ran)
    run_dir = ran.cwd / "run"
    for name in ("model.keras", "history.json", "evaluation.json"):
        check((run_dir / name).is_file(), f"run/{name} not written")
    history = ran.extra.get("history.json", {})
    check(len(history.get("loss", ())) == 1, f"history.json: {len(history.get('loss', ()))} "
          "epochs, expected 1")
    check(re.search(r"\b1 epoch\b", ran.stdout), "the summary does not say '1 epoch'")
    check.says_epoch_right(ran)
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_evaluate(case: Case, journeys: dict[str, Journey]) -> None:
    journey = journeys[case.model]
    ran = journey.get("evaluate")
    check = Checks(ran)
    check.succeeded(ran)
    expected = journey.results["train"].extra.get("evaluation.json", {}).get("accuracy")
    found = re.match(r"accuracy (\d\.\d+)", ran.stdout)
    check(found and expected is not None and abs(float(found[1]) - expected) <= 0.002,
          f"accuracy printed {found and found[1]}, train's evaluation.json says {expected}")
    rows = ran.stdout.splitlines()
    missing = [n for n in class_names(case.sample)
               if not any(re.match(re.escape(n) + r"\s+\d", row) for row in rows)]
    check(not missing, f"the per-class table has no row for {missing}")
    check.says_epoch_right(ran)
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_predict_names_the_class_of_a_photo(case: Case, journeys: dict[str, Journey]) -> None:
    journey = journeys[case.model]
    ran = journey.get("predict")
    check = Checks(ran)
    check.succeeded(ran)
    names = class_names(case.sample)
    lines = ran.stdout.splitlines()
    found = re.fullmatch(r"digit\.png: (.+) \(p=([0-9.]+)\)", lines[-1]) if lines else None
    if check(found and len(lines) == 1, f"expected one 'digit.png: NAME (p=...)' line, got "
                                        f"{lines}"):
        assert found is not None
        check(found[1] in names, f"predicted {found[1]!r}, not one of the class names {names}")
        check(0.0 <= float(found[2]) <= 1.0, f"p={found[2]}")
        if case.sample == "mnist_sample":  # an easy digit: one epoch gets it right
            check(found[1] == names[journey.label],
                  f"predicted {found[1]!r} for a picture of {names[journey.label]!r}")
    check.says_epoch_right(ran)
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_resume_continues_from_epoch_1(case: Case, journeys: dict[str, Journey]) -> None:
    ran = journeys[case.model].get("resume")
    check = Checks(ran)
    check.succeeded(ran)
    check(re.search(r"continu\w*\s+from\b.*\bepoch 1\b", ran.output, re.I),
          "does not say it continued from epoch 1")
    history = ran.extra.get("history.json", {})
    check(len(history.get("loss", ())) == 2, f"history.json: {len(history.get('loss', ()))} "
          "epochs after resuming, expected 2")
    check((ran.cwd / "run" / "model.keras").is_file(), "run/model.keras missing")
    check.says_epoch_right(ran)
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_model_file_loads_with_plain_keras(case: Case, journeys: dict[str, Journey]) -> None:
    """``import kerasdigits, keras; keras.saving.load_model(...)`` in a fresh process."""
    ran = journeys[case.model].get("classify")
    report = ran.extra["report"]
    check = Checks(ran)
    if check(report is not None, "the classify script printed no report"):
        check(report["keras_load"] is None,
              f"keras.saving.load_model failed: {report['keras_load']}")
        check("keras_error" not in report,
              f"no Keras prediction either: {report.get('keras_error')}")
    check.verify()


@pytest.mark.parametrize(("case", "target", "quant"), EXPORT_CASES)
def test_export(case: Case, target: str, quant: str | None,
                journeys: dict[str, Journey]) -> None:
    ran = journeys[case.model].get(f"export {target} {quant}")
    name = tflite_name(target, quant)
    check = Checks(ran)
    check.succeeded(ran)
    check((ran.cwd / name).is_file(), f"{name} not written")
    check(name in ran.stdout, f"the output does not name {name}")
    check.says_epoch_right(ran)
    if (case.model, target, quant) != VERBOSE_EXPORT:
        check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


@pytest.mark.parametrize(("case", "target", "quant"), EXPORT_CASES)
def test_inspect(case: Case, target: str, quant: str | None,
                 journeys: dict[str, Journey]) -> None:
    ran = journeys[case.model].get(f"inspect {target} {quant}")
    names = class_names(case.sample)
    check = Checks(journeys[case.model].results[f"export {target} {quant}"], ran)
    if check.succeeded(ran):
        out = ran.stdout
        check(f"labels ({len(names)}): {', '.join(names)}\n" in out + "\n",
              f"labels printed are not {names}: "
              f"{re.findall(r'^labels.*', out, re.M)}")
        ops = re.search(r"^operators \(\d+\): (.*)$", out, re.M)
        check(ops and "SOFTMAX" in ops[1] and re.match(r"[A-Z][A-Z0-9_]+\b", ops[1]),
              f"operators not listed: {ops and ops[0]!r}")
        tensor = re.search(r"^inputs:\n  \S+: (\w+) \[([\d, ]+)\]", out, re.M)
        if check(tensor, "no input tensor listed"):
            assert tensor is not None
            shape = [int(n) for n in tensor[2].split(", ")]
            check(tensor[1] == DEFAULT_INPUT_DTYPE[target],
                  f"input dtype {tensor[1]}, the default for {target} is "
                  f"{DEFAULT_INPUT_DTYPE[target]}")
            check(shape in INPUT_SHAPES[target], f"input shape {shape} for {target}")
    check.says_epoch_right(ran)
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


def _classified(journey: Journey, name: str, check: Checks) -> dict[str, Any] | None:
    report = journey.get("classify").extra["report"]
    if not check(report is not None, "the classify script printed no report"):
        return None
    entry: dict[str, Any] = report["files"].get(name, {})
    check("error" not in entry, f"{name}: {entry.get('error')}")
    check("keras_top" in report, f"no Keras answer: {report.get('keras_error')}")
    return report


@pytest.mark.parametrize(("case", "target", "quant"), EXPORT_CASES)
def test_litert_classifies_the_photo_as_keras_does(case: Case, target: str,
                                                   quant: str | None,
                                                   journeys: dict[str, Journey]) -> None:
    journey = journeys[case.model]
    ran = journey.get("classify")
    name = tflite_name(target, quant)
    check = Checks(ran)
    report = _classified(journey, name, check)
    names = class_names(case.sample)
    entry = (report or {}).get("files", {}).get(name, {})
    if "top" in entry and "keras_top" in (report or {}):
        assert report is not None
        check(entry["labels_file"] == list(names),
              f"labels.txt in {name} is {entry['labels_file']}, expected {list(names)}")
        check(entry["dtype"] == DEFAULT_INPUT_DTYPE[target],
              f"input {entry['dtype']}, expected {DEFAULT_INPUT_DTYPE[target]}")
        check(entry["shape"] in INPUT_SHAPES[target], f"input shape {entry['shape']}")
        check(entry["out_shape"] == [1, len(names)] and entry["out_dtype"] == "float32",
              f"output {entry['out_dtype']} {entry['out_shape']}")
        check(entry["top"] == report["keras_top"],
              f"LiteRT says {names[entry['top']]!r}, Keras {names[report['keras_top']]!r} "
              f"(LiteRT {np.round(entry['probs'], 3).tolist()}, Keras "
              f"{np.round(report['keras_probs'], 3).tolist()})")
        if quant is None:
            gap = np.abs(np.subtract(entry["probs"], report["keras_probs"])).max()
            check(gap <= 1e-4, f"float export differs from Keras by {gap:.2e}")
    check.no_stray_files(ran)
    check.verify()


PREDICT_WITHOUT_TF = """
import sys
from kerasdigits.cli import main
code = main(["predict", *sys.argv[1:]])
print("tensorflow imported:", "tensorflow" in sys.modules,
      "keras imported:", "keras" in sys.modules)
sys.exit(code)
"""


@pytest.mark.parametrize(("case", "target", "quant"), EXPORT_CASES)
def test_predict_runs_the_tflite_file_without_tensorflow(case: Case, target: str,
                                                         quant: str | None,
                                                         journeys: dict[str, Journey]) -> None:
    """``kerasdigits predict FILE.tflite`` needs LiteRT only, and agrees with the .keras model."""
    journey = journeys[case.model]
    keras_line = journey.get("predict").stdout.strip().splitlines()[-1:]
    journey.get(f"export {target} {quant}")
    name = tflite_name(target, quant)
    ran = python_c(PREDICT_WITHOUT_TF, name, "digit.png", "digit.png", cwd=journey.cwd,
                   env=journey.env)
    check = Checks(ran)
    check.succeeded(ran)
    lines = ran.stdout.strip().splitlines()
    check(lines[-1:] == ["tensorflow imported: False keras imported: False"],
          f"TensorFlow or Keras was imported to run {name}: {lines[-1:]}")
    answers = [re.fullmatch(r"digit\.png: (.+) \(p=([0-9.]+)\)", line) for line in lines[:-1]]
    if check(len(answers) == 2 and all(answers), f"expected two answers, got {lines}"):
        wanted = re.fullmatch(r"digit\.png: (.+) \(p=([0-9.]+)\)", keras_line[0]) \
            if keras_line else None
        check(wanted is not None and answers[0] is not None and answers[0][1] == wanted[1],
              f"{name} says {lines[0]!r}, the .keras model {keras_line}")
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


@pytest.mark.parametrize(("case", "target", "quant"), MLKIT_CASES)
def test_mediapipe_names_the_datasets_classes(case: Case, target: str, quant: str | None,
                                              journeys: dict[str, Journey]) -> None:
    journey = journeys[case.model]
    ran = journey.get("classify")
    name = tflite_name(target, quant)
    check = Checks(ran)
    report = _classified(journey, name, check)
    names = class_names(case.sample)
    entry = (report or {}).get("files", {}).get(name, {})
    categories = entry.get("mediapipe")
    if check(categories, f"MediaPipe: {entry.get('mediapipe_error', 'no result')}"):
        reported = [c[1] for c in categories]
        check(set(reported) <= set(names),
              f"MediaPipe's category names {reported} are not the class names {names}")
        if report is not None and "keras_top" in report:
            check(categories[0][1] == names[report["keras_top"]],
                  f"MediaPipe's top category {categories[0][1]!r}, Keras says "
                  f"{names[report['keras_top']]!r}")
        if "top" in entry:
            check(categories[0][0] == entry["top"], "MediaPipe and LiteRT disagree")
    check.verify()


def test_cli_and_python_exports_take_the_same_input(journeys: dict[str, Journey]) -> None:
    """Default ``kerasdigits export`` and default ``export_tflite`` write the same input."""
    journey = journeys["fast_convnet"]
    py = journey.get("python export")
    ran = journey.get("classify")
    report = ran.extra["report"] or {"files": {}}
    check = Checks(py, ran)
    check.succeeded(py)
    for target, py_name in PY_EXPORTS.items():
        cli = report["files"].get(tflite_name(target, None), {})
        ours = report["files"].get(py_name, {})
        check("dtype" in cli and "dtype" in ours,
              f"{target}: cannot read both inputs ({cli.get('error')}; {ours.get('error')})")
        check((cli.get("dtype"), cli.get("shape")) == (ours.get("dtype"), ours.get("shape")),
              f"{target}: CLI input {cli.get('dtype')} {cli.get('shape')}, Python "
              f"{ours.get('dtype')} {ours.get('shape')}")
        check(ours.get("dtype") == DEFAULT_INPUT_DTYPE[target],
              f"{target}: Python default input {ours.get('dtype')}, expected "
              f"{DEFAULT_INPUT_DTYPE[target]}")
    check.no_stray_files(py)
    check.verify()


def test_export_of_a_model_without_class_names_asks_for_labels(
        journey_env: dict[str, str], tmp_path: Path) -> None:
    """A plain ``model.save()`` has no class names: the export must not guess digits."""
    from kerasdigits import build

    build("mlp256").save(tmp_path / "plain.keras")
    ran = kerasdigits("export", "plain.keras", "plain.tflite", cwd=tmp_path, env=journey_env)
    check = Checks(ran)
    check.succeeded(ran, 1)
    first = next((line for line in ran.stderr.splitlines() if line.startswith("kerasdigits:")),
                 "")
    check(first.startswith("kerasdigits: error: ") and "label" in first.lower(),
          f"the one-line error does not mention labels: {first!r}")
    check("Traceback" not in ran.stderr, "a traceback was printed")
    check(not (tmp_path / "plain.tflite").exists(), "plain.tflite was written")
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()


def test_train_export_writes_into_out(journey_env: dict[str, str], tmp_path: Path) -> None:
    """``train --export model.tflite`` writes run/model.tflite, with export's options."""
    ran = kerasdigits("train", "mlp256", "--dataset", "mnist_sample", "--epochs", "1",
                      "--out", "run", "--seed", "0", "--preset", "quick",
                      "--export", "model.tflite", "--target", "mlkit", "--quantize", "int8",
                      "--input-dtype", "uint8", cwd=tmp_path, env=journey_env, writes=("run",))
    check = Checks(ran)
    check.succeeded(ran)
    written = tmp_path / "run" / "model.tflite"
    check(not (tmp_path / "model.tflite").exists(), "model.tflite written into the current "
          "folder, not into --out")
    if check(written.is_file(), "run/model.tflite not written"):
        from ai_edge_litert.interpreter import Interpreter

        from kerasdigits.export import read_metadata

        (tensor,) = Interpreter(model_path=str(written)).get_input_details()
        check((np.dtype(tensor["dtype"]).name, tensor["shape"].tolist()) ==
              ("uint8", [1, 28, 28, 3]),
              f"input {np.dtype(tensor['dtype']).name} {tensor['shape'].tolist()}, expected "
              "uint8 [1, 28, 28, 3]")
        check(read_metadata(written).labels == DIGITS, "labels are not the digits")
    check.says_epoch_right(ran)
    check.quiet(ran)
    check.no_stray_files(ran)
    check.verify()
