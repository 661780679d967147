"""Helpers of tests/test_journey.py: running ``kerasdigits`` as separate processes.

Every command runs as its own process (``python -m kerasdigits ...``) in a given working
folder, with a given environment; :func:`run` records its exit code, output and the files it
created or changed in that folder, and :class:`Checks` collects every broken expectation of a
step so that a failing test lists all of them at once.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The lines TensorFlow, absl and XLA print on their own; the CLI must not show them.
NOISE_PREFIXES = ("I0000", "E0000", "W0000", "WARNING: All log messages before absl")
#: What the TFLite converter prints for a full-integer export (on stdout or stderr).
QUANTIZER_PREFIX = "fully_quantize:"
#: Marks the JSON line :data:`CLASSIFY_SCRIPT` prints.
REPORT_MARK = "JOURNEY-REPORT "
_TIMEOUT = 420  # seconds for one command; a 1-epoch sample run takes about 10


@dataclass
class Ran:
    """One finished command."""

    argv: list[str]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    #: Files and folders created or changed in ``cwd`` that the command was not asked to write.
    stray: list[str]
    #: What the journey read after the command (history.json, a report...).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        """Stdout and stderr together."""
        return self.stdout + self.stderr

    def noise(self) -> list[str]:
        """TensorFlow's log lines in stdout or stderr."""
        return [line for line in self.output.splitlines() if line.startswith(NOISE_PREFIXES)]

    def quantizer_lines(self) -> list[str]:
        """The converter's ``fully_quantize:`` lines in stdout or stderr."""
        return [line for line in self.output.splitlines()
                if line.lstrip().startswith(QUANTIZER_PREFIX)]

    def describe(self) -> str:
        """The command and its output (without TensorFlow's log lines), for failure messages."""
        shown = [a if len(a) < 200 else a[:60] + "...(script)" for a in self.argv]
        noise = self.noise()

        def tail(text: str) -> str:
            kept = "\n".join(line for line in text.splitlines()
                             if not line.startswith(NOISE_PREFIXES))
            return kept[-2500:] if len(kept) > 2500 else kept

        return (f"$ cd {self.cwd} && {shlex.join(shown)}\n"
                f"exit code {self.returncode} after {self.seconds:.1f} s"
                f"{f'; {len(noise)} TensorFlow log lines not shown' if noise else ''}\n"
                f"--- stdout\n{tail(self.stdout)}\n--- stderr\n{tail(self.stderr)}")


def snapshot(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every file (size, mtime) and folder (``None``) under ``folder``, by relative path."""
    found: dict[str, tuple[int, int] | None] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in dirnames:
            found[(base / name).relative_to(folder).as_posix() + "/"] = None
        for name in filenames:
            path = base / name
            try:
                st = path.stat()
            except FileNotFoundError:  # pragma: no cover - removed while walking
                continue
            found[path.relative_to(folder).as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


def _asked_for(path: str, expected: Sequence[str]) -> bool:
    path = path.rstrip("/")
    return any(path == e or path.startswith(e.rstrip("/") + "/") for e in expected)


def run(argv: Sequence[str], *, cwd: Path, env: dict[str, str], writes: Sequence[str] = (),
        timeout: float = _TIMEOUT) -> Ran:
    """Run ``argv`` in ``cwd``; ``writes`` are the paths (files or folders, relative to
    ``cwd``) it was asked to write: anything else new or changed in ``cwd`` is stray."""
    before = snapshot(cwd)
    start = time.monotonic()
    proc = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    seconds = time.monotonic() - start
    after = snapshot(cwd)
    stray = sorted(p for p, v in after.items()
                   if (p not in before or before[p] != v) and not _asked_for(p, writes))
    return Ran(list(argv), cwd, proc.returncode, proc.stdout, proc.stderr, seconds, stray)


def kerasdigits(*args: str, cwd: Path, env: dict[str, str], writes: Sequence[str] = ()) -> Ran:
    """Run ``python -m kerasdigits ARGS`` (a fresh process: nothing shared with pytest)."""
    return run([sys.executable, "-m", "kerasdigits", *args], cwd=cwd, env=env, writes=writes)


def python_c(code: str, *args: str, cwd: Path, env: dict[str, str],
             writes: Sequence[str] = ()) -> Ran:
    """Run ``python -c CODE ARGS``."""
    return run([sys.executable, "-c", code, *args], cwd=cwd, env=env, writes=writes)


class Checks:
    """Collects broken expectations; :meth:`verify` fails with all of them and the output."""

    def __init__(self, *ran: Ran | None) -> None:
        self.ran = [r for r in ran if r is not None]
        self.failures: list[str] = []

    def __call__(self, ok: object, message: str) -> bool:
        if not ok:
            self.failures.append(message)
        return bool(ok)

    def succeeded(self, ran: Ran, code: int = 0) -> bool:
        return self(ran.returncode == code, f"exit code {ran.returncode}, expected {code}")

    def quiet(self, ran: Ran) -> None:
        """No TensorFlow log lines and no converter chatter."""
        noise = ran.noise()
        self(not noise, f"{len(noise)} TensorFlow log lines, e.g. {noise[:2]}")
        quantizer = ran.quantizer_lines()
        self(not quantizer, f"converter output {quantizer[:2]}")

    def says_epoch_right(self, ran: Ran) -> None:
        wrong = re.findall(r".*\b1 epochs\b.*", ran.output)
        self(not wrong, f"'1 epochs' printed: {wrong[:2]}")

    def no_stray_files(self, ran: Ran) -> None:
        self(not ran.stray, f"wrote files it was not asked for into {ran.cwd}: {ran.stray}")

    def verify(self) -> None:
        if self.failures:
            details = "\n\n".join(r.describe() for r in self.ran)
            raise AssertionError(
                f"{len(self.failures)} broken expectation(s):\n  - "
                + "\n  - ".join(self.failures) + ("\n\n" + details if details else "")
            )


def write_photo(image: np.ndarray, path: Path) -> None:
    """Save a 28x28 dataset image as a phone photo would show it: dark on white, 112x112 RGB."""
    from PIL import Image

    paper = (255 - image.astype(np.int32)) * 235 // 255 + 10   # ink ~10, paper ~245
    big = Image.fromarray(paper.astype(np.uint8)).resize((112, 112), Image.BILINEAR)
    big.convert("RGB").save(path)


def read_report(ran: Ran) -> dict[str, Any] | None:
    """The JSON report :data:`CLASSIFY_SCRIPT` printed, or ``None``."""
    for line in ran.stdout.splitlines():
        if line.startswith(REPORT_MARK):
            report: dict[str, Any] = json.loads(line[len(REPORT_MARK):])
            return report
    return None


#: ``python -c CLASSIFY_SCRIPT JSON``: JSON is {"model": RUN/model.keras, "picture": PNG,
#: "tflite": [files], "mediapipe": [files]}. First, in a process that imported nothing else,
#: ``import kerasdigits, keras`` and plain ``keras.saving.load_model``; then the picture through
#: ``to_mnist``, the Keras model's answer, and each .tflite file through LiteRT's Interpreter
#: (input laid out and scaled as the file says) and, for the listed files, MediaPipe's
#: ImageClassifier. Prints one REPORT_MARK line of JSON.
CLASSIFY_SCRIPT = r'''
import json, sys
args = json.loads(sys.argv[1])
report = {"files": {}}
try:
    import kerasdigits, keras
    model = keras.saving.load_model(args["model"])
    report["keras_load"] = None
except Exception as exc:
    model = None
    report["keras_load"] = f"{type(exc).__name__}: {str(exc)[:600]}"

import numpy as np
from PIL import Image
from kerasdigits.transforms import to_mnist

with Image.open(args["picture"]) as img:
    image = to_mnist(np.asarray(img.convert("RGB")))
try:
    if model is None:
        model = kerasdigits.load_model(args["model"])
        report["keras_via"] = "kerasdigits.load_model"
    label, probs = kerasdigits.predict(model, image)
    report["keras_top"] = int(label)
    report["keras_probs"] = [float(p) for p in np.asarray(probs).reshape(-1)]
except Exception as exc:
    report["keras_error"] = f"{type(exc).__name__}: {str(exc)[:600]}"

from ai_edge_litert.interpreter import Interpreter
from kerasdigits.export import read_metadata

for path in args["tflite"]:
    entry = report["files"][path] = {}
    try:
        meta = read_metadata(path)
        entry["labels_file"] = meta.files["labels.txt"].decode("utf-8").splitlines()
        interpreter = Interpreter(model_path=path)
        interpreter.allocate_tensors()
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        shape = [int(n) for n in inp["shape"]]
        dtype = np.dtype(inp["dtype"]).name
        entry.update(shape=shape, dtype=dtype,
                     out_shape=[int(n) for n in out["shape"]],
                     out_dtype=np.dtype(out["dtype"]).name)
        pixels = image
        if len(shape) == 4 and shape[-1] == 3:        # mlkit: an RGB picture, R = G = B
            pixels = np.repeat(image[..., None], 3, axis=-1)
        pixels = pixels.reshape(shape)                # [1, 784], [1, 28, 28, 1] or RGB
        if dtype == "uint8":
            x = pixels.astype(np.uint8)               # raw pixel bytes
        else:
            mean, std = meta.inputs[0].mean[0], meta.inputs[0].std[0]
            entry["mean_std"] = [mean, std]
            x = ((pixels.astype(np.float32) - mean) / std).astype(dtype)
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        probs = interpreter.get_tensor(out["index"]).reshape(-1)
        entry["probs"] = [float(p) for p in probs]
        entry["top"] = int(np.argmax(probs))
    except Exception as exc:
        entry["error"] = f"{type(exc).__name__}: {str(exc)[:600]}"

if args["mediapipe"]:
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core import base_options

    rgb = np.ascontiguousarray(np.repeat(image[..., None], 3, axis=-1))
    for path in args["mediapipe"]:
        entry = report["files"].setdefault(path, {})
        try:
            options = vision.ImageClassifierOptions(
                base_options=base_options.BaseOptions(model_asset_path=path), max_results=3)
            with vision.ImageClassifier.create_from_options(options) as classifier:
                result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            entry["mediapipe"] = [[c.index, c.category_name, float(c.score)]
                                  for c in result.classifications[0].categories]
        except Exception as exc:
            entry["mediapipe_error"] = f"{type(exc).__name__}: {str(exc)[:600]}"

print("JOURNEY-REPORT " + json.dumps(report), flush=True)
'''
