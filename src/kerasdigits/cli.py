"""The ``kerasdigits`` command line.

Commands:
    ``kerasdigits datasets``                   datasets and where each is found
    ``kerasdigits summary NAME``               load a dataset and print its summary
    ``kerasdigits models [PATTERN]``           the model zoo: styles, parameters, tags, accuracy
    ``kerasdigits train MODEL --dataset D``    train, keep the best model, evaluate it
    ``kerasdigits evaluate MODEL_FILE``        evaluate a saved model on a dataset's test split
    ``kerasdigits predict MODEL_FILE IMG...``  classify PNG/JPEG pictures of one digit each
    ``kerasdigits export MODEL_FILE OUT``      export a .tflite file for LiteRT or ML Kit
    ``kerasdigits inspect FILE.tflite``        I/O, metadata, labels, ops and size of a .tflite
    ``kerasdigits serve MODEL_FILE``           a draw-a-digit web page that runs the model

Exit codes: 0 on success, 1 when the work fails (dataset not found, bad file, ...), 2 for usage
errors. Expected failures print a one-line ``kerasdigits: error: ...`` message, no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from kerasdigits._errors import KerasDigitsError, KerasDigitsWarning
from kerasdigits._quiet import filtered_stderr
from kerasdigits._version import __version__

__all__ = ["main"]


def _cmd_datasets(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.datasets import get_dataset_info, list_datasets, locate_dataset

    rows = [("name", "classes", "train", "test", "location")]
    for name in list_datasets():
        info = get_dataset_info(name)
        train, test = (f"{c:,}" for c in info.counts) if info.counts else ("?", "?")
        rows.append((name, str(info.num_classes), train, test,
                     _where(info, locate_dataset(name, data_dir=args.data_dir))))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)))
        out.write(f"  {row[4]}\n")
    return 0


def _where(info: Any, source: Any) -> str:
    """Where ``kerasdigits datasets`` says a dataset is (or would come from)."""
    from kerasdigits._config import env_mirrors
    from kerasdigits.datasets._download import mirror_url

    if info.loader is not None:
        return f"plugin of {info.registered_by} (its own loader)"
    if source is not None:
        return str(source)
    mirrors = env_mirrors() or info.mirrors
    first = mirror_url(mirrors[0], info.name, "") if mirrors else "(no mirror)"
    return f"not found; would download from {first}"


def _cmd_summary(args: argparse.Namespace, out: TextIO) -> int:
    dataset = _load_data(args, args.name, download=not args.no_download,
                         validation_size=args.validation_size, seed=args.seed)
    out.write(dataset.summary() + "\n")
    out.write(_class_table(dataset))
    if args.out is not None:
        from kerasdigits.plots import show_samples

        show_samples(dataset, n=len(_grid_indices(dataset)), indices=_grid_indices(dataset),
                     save=args.out)
        out.write(f"wrote a sample grid to {args.out}\n")
    return 0


def _class_table(dataset: Any) -> str:
    """Examples per class and split, one line per class."""
    splits = [(name, split) for name, split in (("train", dataset.train),
              ("validation", dataset.validation), ("test", dataset.test)) if split is not None]
    counts = [split.class_counts(dataset.num_classes) for _, split in splits]
    width = max(len(name) for name in dataset.class_names)
    lines = ["  " + "class".ljust(width) + "".join(f"{name:>12}" for name, _ in splits)]
    for k, name in enumerate(dataset.class_names):
        lines.append("  " + name.ljust(width) + "".join(f"{c[k]:>12,}" for c in counts))
    return "\n".join(lines) + "\n"


def _grid_indices(dataset: Any) -> list[int]:
    """Train examples for the sample grid: a few of every class, at most 100 in all."""
    import numpy as np

    per_class = max(1, min(10, 100 // dataset.num_classes))
    labels = dataset.train.labels
    chosen = [np.flatnonzero(labels == k)[:per_class] for k in range(dataset.num_classes)]
    indices = [int(i) for row in zip(*[list(c) for c in chosen if len(c)], strict=False)
               for i in row]
    if not indices:
        raise _FailureError("the train split is empty: no sample grid to draw")
    return indices


def _cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.models import build, get_model_spec, list_models

    names = list_models(args.pattern, tags=args.tag or None)
    if not names:
        raise _UsageError(f"no model matches {args.pattern!r}")
    rows = [("name", "styles", "params", "tags", "reference accuracy")]
    for name in names:
        spec = get_model_spec(name)
        # Declared at registration; only a plugin's undeclared model is built (TensorFlow).
        params = spec.params if spec.params is not None else build(
            name, compile=False).count_params()
        ref = ", ".join(f"{k} {v:.2%}" for k, v in spec.reference_accuracy.items()) or "-"
        styles = "/".join(("*" + s if s == spec.default_style else s) for s in spec.styles)
        rows.append((name, styles, f"{params:,}", ",".join(spec.tags), ref))
    _table(rows, out, right={2})
    out.write("(* = default style)\n")
    return 0


def _table(rows: Sequence[Sequence[str]], out: TextIO, right: set[int] | None = None) -> None:
    right = right or set()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        out.write("  ".join(cells).rstrip() + "\n")


def _cmd_train(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from kerasdigits.models import get_model_spec

    get_model_spec(args.model)  # fail fast on an unknown name, before loading data
    if args.resume and args.overwrite:
        raise _UsageError("--resume continues the earlier run and --overwrite replaces it: "
                          "pass one of them")
    if args.freeze and not args.init_from:
        raise _UsageError("--freeze keeps the weights of --init-from's trunk: pass --init-from")
    export_path = _export_path(args.export, Path(args.out)) if args.export else None
    out_dir = _out_folder(Path(args.out), resume=args.resume, overwrite=args.overwrite)
    from kerasdigits.training._rundir import lock_run

    with lock_run(out_dir):  # one run per --out, whatever the preset
        return _train_into(args, out, out_dir, export_path)


def _train_into(args: argparse.Namespace, out: TextIO, out_dir: Any, export_path: Any) -> int:
    import json

    from kerasdigits._files import atomic_write_bytes
    from kerasdigits.training import evaluate, is_chief, make_strategy, train

    strategy: Any = args.strategy
    if args.collective_timeout is not None:
        if args.strategy != "multi_worker":
            raise _UsageError("--collective-timeout needs --strategy multi_worker")
        strategy = make_strategy("multi_worker", collective_timeout=args.collective_timeout)
    dataset = _load_data(args, args.dataset)
    result = train(
        args.model,
        dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=args.preset,
        checkpoint_dir=out_dir / "checkpoints",
        resume=args.resume,
        overwrite=args.overwrite,
        seed=args.seed,
        validation=args.validation,
        strategy=strategy,
        init_from=args.init_from,
        freeze=args.freeze,
    )
    if not is_chief(strategy):  # under several workers only the chief writes OUT
        out.write(f"trained {args.model} on {dataset.name} as a worker; the chief writes "
                  f"{out_dir}\n")
        return 0
    result.save(out_dir / "model.keras")
    evaluation = evaluate(result.model, dataset)
    atomic_write_bytes(out_dir / "history.json",
                       json.dumps(result.history, indent=1).encode("utf-8"))
    atomic_write_bytes(out_dir / "evaluation.json",
                       json.dumps(evaluation.as_dict(), indent=1).encode("utf-8"))
    atomic_write_bytes(out_dir / "evaluation.txt", (str(evaluation) + "\n").encode("utf-8"))
    figures = _training_figures(result, dataset, evaluation, out_dir)
    written = ["model.keras", "history.json", "evaluation.json", "evaluation.txt", *figures]
    epochs = _plural(result.epochs_run, "epoch")
    out.write(f"trained {args.model} on {dataset.name} for {epochs} in "
              f"{result.wall_time:.1f} s (best epoch {result.best_epoch})\n")
    out.write(f"test accuracy {evaluation.accuracy:.4f}, loss {evaluation.loss:.4f}\n")
    if export_path is not None:
        from kerasdigits.export import export_tflite

        exported = export_tflite(result.model, export_path, target=args.target,
                                 quantization=_quantization(args.quantize),
                                 input_dtype=args.input_dtype, dataset=dataset)
        out.write(str(exported) + "\n")
        written.append(str(export_path.relative_to(out_dir)) if export_path.is_relative_to(
            out_dir) else str(export_path))
    out.write(f"wrote {', '.join(written)} to {out_dir}\n")
    return 0


#: What ``train`` writes into ``--out`` (besides ``checkpoints/``).
_RUN_FILES = ("model.keras", "history.json", "evaluation.json", "evaluation.txt")


def _out_folder(out_dir: Any, *, resume: bool, overwrite: bool) -> Any:
    """Check (and create) ``--out``: a writable folder that holds no earlier run by accident."""
    import os

    if out_dir.exists() and not out_dir.is_dir():
        raise _FailureError(f"--out {out_dir}: is a file, not a folder")
    earlier = [name for name in _RUN_FILES if (out_dir / name).exists()]
    if earlier and not (resume or overwrite):
        raise _FailureError(
            f"--out {out_dir} holds an earlier run ({', '.join(earlier)}); continue it with "
            "--resume, replace it with --overwrite, or pass another --out"
        )
    if earlier and resume:
        from kerasdigits.training._rundir import earlier_run

        if earlier_run(out_dir / "checkpoints") is None:
            raise _FailureError(
                f"--resume: --out {out_dir} holds an earlier run ({', '.join(earlier)}) but no "
                "checkpoints to continue from (was it trained with --preset quick or none?); "
                "pass --overwrite to start afresh"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _FailureError(f"--out {out_dir}: cannot create the folder: {exc.strerror}"
                            ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise _FailureError(f"--out {out_dir}: the folder is not writable")
    return out_dir


def _export_path(value: str, out_dir: Any) -> Any:
    """Where ``train --export FILE`` writes: a relative FILE goes into ``--out``."""
    from pathlib import Path

    path = Path(value)
    if path.suffix != ".tflite":
        raise _UsageError(f"--export {value}: the exported file must end in '.tflite'")
    return path if path.is_absolute() else out_dir / path


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _training_figures(result: Any, dataset: Any, evaluation: Any, out_dir: Any) -> list[str]:
    """Write history.png, predictions.png and confusion.png; warn and skip without matplotlib."""
    from kerasdigits.plots import MissingExtraError, save_training_figures

    try:
        paths = save_training_figures(result, result.model, dataset, evaluation, out_dir)
    except MissingExtraError as exc:
        sys.stderr.write(f"kerasdigits: note: no figures written: {exc}\n")
        return []
    return [p.name for p in paths]


def _quantization(value: str | None) -> str | None:
    return None if value in (None, "none") else value


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.export import export_tflite

    result = export_tflite(
        args.model_file,
        args.out,
        target=args.target,
        quantization=_quantization(args.quantize),
        input_dtype=args.input_dtype,
        labels=args.labels,
        invert=args.invert,
        metadata=not args.no_metadata,
        dataset=_dataset_arg(args),
        verify=False if args.no_verify else (args.verify if args.verify is not None else True),
    )
    out.write(str(result) + "\n")
    return 0


def _dataset_arg(args: argparse.Namespace) -> Any:
    """``--dataset`` loaded with ``--data-dir``; else the folder the model was trained on.

    ``None`` when neither is given (export then uses the dataset the model records). A folder
    is loaded here so that ``--test-size`` and ``--bad-pictures`` apply to it.
    """
    name = args.dataset
    if name is None:
        from kerasdigits.datasets._load import _as_folder
        from kerasdigits.training._io import read_info

        recorded = read_info(args.model_file)[0].dataset
        if recorded is None or _as_folder(recorded) is None:
            return None
        name = recorded
    return _load_data(args, name)


def _load_data(args: argparse.Namespace, name: str, *, download: bool = True,
               validation_size: float = 0, seed: int = 0) -> Any:
    """Load a dataset by name, or a folder of pictures with ``--test-size`` held out.

    The test split of a folder without a ``test/`` sub-folder is always drawn with seed 0, so
    that ``train`` and a later ``evaluate`` of the same folder hold out the same pictures.
    """
    from kerasdigits.datasets import load_dataset, load_image_folder
    from kerasdigits.datasets._load import _as_folder

    folder = _as_folder(name)
    if folder is None:
        return load_dataset(name, data_dir=getattr(args, "data_dir", None), download=download,
                            validation_size=validation_size, seed=seed,
                            verify=not getattr(args, "no_verify", False))
    test_size = 0 if (folder / "train").is_dir() else getattr(args, "test_size", 0.1)
    from kerasdigits.datasets._folder import _check_carved

    dataset = load_image_folder(folder, test_size=test_size, seed=0,
                                on_error=getattr(args, "bad_pictures", "raise"))
    dataset = dataset.with_validation(validation_size, seed=seed)  # after the fixed test split
    _check_carved(dataset.train, dataset.class_names, "--validation-size", validation_size)
    return dataset


def _cmd_inspect(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.export import describe_tflite

    out.write(describe_tflite(args.file).rstrip("\n") + "\n")
    return 0


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.serve import serve

    serve(args.model_file, host=args.host, port=args.port, open_browser=args.open,
          threads=args.threads, max_upload_bytes=int(args.max_upload_mb * (1 << 20)),
          access_log=args.access_log, out=out)
    return 0


def _positive_float(text: str) -> float:
    from kerasdigits._validate import number, parse

    value = parse(text, float, "a number", error=argparse.ArgumentTypeError)
    return number(value, "the size", positive=True, error=argparse.ArgumentTypeError)


def _port(text: str) -> int:
    from kerasdigits._validate import parse

    value = parse(text, int, "a port number", error=argparse.ArgumentTypeError)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def _cmd_evaluate(args: argparse.Namespace, out: TextIO) -> int:
    from kerasdigits.training import evaluate, load_model
    from kerasdigits.training._io import model_info

    model = load_model(args.model_file)
    # Default: the dataset the model was trained on (a name, or a folder's path), as export does.
    name = args.dataset or model_info(model).dataset or "mnist"
    dataset = _load_data(args, name)
    out.write(str(evaluate(model, dataset)) + "\n")
    return 0


def _cmd_predict(args: argparse.Namespace, out: TextIO) -> int:
    import numpy as np

    images = np.stack([_picture(path, args.no_preprocess) for path in args.images])
    if _is_tflite(args.model_file):
        # A .tflite file runs on LiteRT alone: TensorFlow is never imported (a fraction of a
        # second for the whole command, against seconds for TensorFlow's import).
        from kerasdigits.serve._classifier import LiteRTClassifier

        classifier = LiteRTClassifier(args.model_file)
        names: tuple[str, ...] | None = classifier.labels
        probs = np.stack([classifier.probabilities(image) for image in images])
    else:
        from kerasdigits.training import get_class_names, load_model, predict

        model = load_model(args.model_file)
        names = get_class_names(model)
        probs = predict(model, images)[1]  # every picture in one batch
    names = _checked_names(args, names)
    for path, row in zip(args.images, probs, strict=True):
        k = int(np.argmax(row))
        name = names[k] if names is not None and k < len(names) else str(k)
        out.write(f"{path}: {name} (p={float(row[k]):.3f})\n")
    return 0


def _is_tflite(path: str) -> bool:
    """Whether ``path`` is a TFLite file: by its suffix, else by its FlatBuffer identifier."""
    if path.lower().endswith(".tflite"):
        return True
    try:
        with open(path, "rb") as stream:
            return stream.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def _picture(path: str, no_preprocess: bool) -> Any:
    """One picture file as a uint8 28x28 MNIST-style image (or as it is, ``--no-preprocess``)."""
    import numpy as np

    from kerasdigits.transforms import mnist_from_file, read_picture

    if not no_preprocess:
        return mnist_from_file(path)
    picture = read_picture(path)  # transparency already composited on white
    gray = picture.mean(axis=-1) if picture.ndim == 3 else picture
    image = np.rint(gray).astype(np.uint8)
    if image.shape != (28, 28):
        raise _FailureError(f"{path}: --no-preprocess needs a 28x28 picture, got "
                            f"{image.shape[1]}x{image.shape[0]}")
    return image


def _checked_names(args: argparse.Namespace,
                   names: tuple[str, ...] | list[str] | None) -> tuple[str, ...] | None:
    """The model's class names, or ``--dataset``'s when given (they must agree)."""
    if not args.dataset:
        return tuple(names) if names is not None else None
    given = _class_names(args.dataset)
    if names is not None and tuple(given) != tuple(names):
        raise _FailureError(
            f"{args.model_file} was trained with the classes {', '.join(names[:4])}, ... "
            f"but --dataset {args.dataset} has {', '.join(given[:4])}, ...; leave "
            "--dataset out to use the model's own class names")
    return tuple(given)


def _class_names(dataset: str) -> tuple[str, ...]:
    from kerasdigits.datasets import get_dataset_info
    from kerasdigits.datasets._load import _as_folder

    if _as_folder(dataset) is not None:  # a folder's classes are its sub-folders
        from kerasdigits.datasets import load_image_folder

        return tuple(load_image_folder(dataset, progress=False).class_names)
    return get_dataset_info(dataset).class_names


class _UsageError(Exception):
    """A usage error found after parsing (exit code 2)."""


class _FailureError(KerasDigitsError):
    """An expected failure with a one-line message (exit code 1)."""


def _test_size(text: str) -> float:
    value = _validation_size(text)
    if isinstance(value, float) and not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"a fraction in [0, 1) or a count, got {text!r}")
    if isinstance(value, int) and value < 0:
        raise argparse.ArgumentTypeError(f"a count is 0 or more, got {text!r}")
    return value


def _png_path(text: str) -> str:
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"expected a .png file name, got {text!r}")
    return text


def _validation_size(text: str) -> float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count (int) or a fraction (float), got {text!r}"
        ) from None


def _validation_arg(text: str) -> str | float:
    if text in ("auto", "test", "none"):
        return text
    size = _validation_size(text)
    if isinstance(size, int) and size < 1:
        raise argparse.ArgumentTypeError(f"a count must be at least 1, got {text!r}")
    if isinstance(size, float) and not 0 < size < 1:
        raise argparse.ArgumentTypeError(
            f"a fraction must be between 0 and 1 (exclusive), got {text!r}")
    return size


def _positive_int(text: str) -> int:
    from kerasdigits._validate import parse

    value = parse(text, int, "a whole number", error=argparse.ArgumentTypeError)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    from kerasdigits._validate import parse

    value = parse(text, int, "a whole number", error=argparse.ArgumentTypeError)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to 2**32 - 1, "
                                         f"got {text!r}")
    return value


def _preset(text: str) -> str:
    from kerasdigits._validate import choice
    from kerasdigits.callbacks import PRESETS

    return choice(text, "preset", PRESETS, error=argparse.ArgumentTypeError)


_NO_CHECKSUM_HELP = ("do not check the files' sha256 against the pinned checksums (for your "
                     "own IDX files under a known dataset's names)")


_QUANTIZE = ("none", "dynamic", "float16", "int8")
_EXAMPLES = {
    "datasets": """
examples:
  kerasdigits datasets
  kerasdigits datasets --data-dir ~/data
""",
    "summary": """
examples:
  kerasdigits summary mnist_sample
  kerasdigits summary fashion_mnist --validation-size 5000
  kerasdigits summary ./my_digits/ --out samples.png
""",
    "models": """
examples:
  kerasdigits models
  kerasdigits models 'mlp*'
  kerasdigits models --tag fast
""",
    "train": """
examples:
  kerasdigits train fast_convnet --dataset mnist --out run/
  kerasdigits train fast_convnet --dataset ./my_digits/ --out run/
  kerasdigits train fast_convnet --dataset ./my_digits/ --out ft/ --init-from run/model.keras
  kerasdigits train mlp256 --dataset mnist_sample --epochs 1 --out run/
  kerasdigits train mlp256 --dataset mnist_sample --epochs 2 --out run/ --resume
  kerasdigits train fast_convnet --dataset mnist_sample --out run/ --export digits.tflite \\
      --target mlkit --quantize int8      (writes run/digits.tflite)
""",
    "evaluate": """
examples:
  kerasdigits evaluate run/model.keras --dataset mnist_sample
""",
    "predict": """
examples:
  kerasdigits predict run/model.keras photo.png more/*.png
  kerasdigits predict digits.tflite photo.png more/*.png   (LiteRT only: no TensorFlow)
  kerasdigits predict run/model.keras digit28x28.png --no-preprocess
""",
    "export": """
examples:
  kerasdigits export run/model.keras digits.tflite --target mlkit
  kerasdigits export run/model.keras digits-int8.tflite --target litert --quantize int8
  kerasdigits export run/model.keras legacy.tflite --target firebase-legacy
""",
    "inspect": """
examples:
  kerasdigits inspect digits.tflite
""",
    "serve": """
examples:
  kerasdigits serve run/digits.tflite --open
  kerasdigits serve run/model.keras --port 8080
  kerasdigits serve run/digits.tflite --host 0.0.0.0     (a phone on the same Wi-Fi can open it)
""",
}


def _add_export_options(p: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """The options that ``export`` and ``train --export`` share (same names, same defaults)."""
    from kerasdigits.export import DEFAULT_INPUT_DTYPES, INPUT_DTYPES, TARGETS

    defaults = ", ".join(f"{t} {d}" for t, d in DEFAULT_INPUT_DTYPES.items())
    p.add_argument("--target", default="litert", choices=TARGETS,
                   help=f"{prefix}who runs the file: a LiteRT interpreter (litert), ML Kit or "
                        "MediaPipe (mlkit), or the 2018 FirebaseModelInterpreter "
                        "(firebase-legacy); default: litert")
    p.add_argument("--quantize", choices=_QUANTIZE,
                   help=f"{prefix}weights quantization; default: none (float32)")
    p.add_argument("--input-dtype", choices=INPUT_DTYPES,
                   help=f"{prefix}what the app feeds: uint8 raw pixels or float32; default: "
                        f"the target's ({defaults})")


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal; keeps the examples' lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.lstrip("\n").startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _subparser(sub: Any, name: str, help: str, description: str | None = None, *,
               parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description or help[:1].upper() + help[1:] + ".",
        epilog=_EXAMPLES.get(name), formatter_class=_HelpFormatter,
        parents=list(parents))
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``kerasdigits`` command."""
    parser = argparse.ArgumentParser(
        prog="kerasdigits",
        description="From MNIST-style images to a trained Keras model running on a phone.",
        epilog="Run 'kerasdigits COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"kerasdigits {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and LiteRT's own log lines (hidden by default)")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of any error (to report a bug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # Options shared by the commands that load a dataset.
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data-dir", help="a folder to look in first for the dataset (as "
                                         "load_dataset's data_dir)")
    data.add_argument("--test-size", type=_test_size, default=0.1,
                      help="for a folder of pictures without a test/ sub-folder: the share "
                           "of each class held out as the test split, always the same "
                           "pictures (default: 0.1)")
    data.add_argument("--bad-pictures", choices=("raise", "skip"), default="raise",
                      help="for a folder of pictures: fail on a picture that cannot be read "
                           "(raise, the default) or skip it with a warning (skip)")
    checksum = argparse.ArgumentParser(add_help=False)
    checksum.add_argument("--no-verify", action="store_true", help=_NO_CHECKSUM_HELP)

    _add_data_commands(sub, data, checksum)
    _add_train_command(sub, data, checksum)
    _add_model_commands(sub, data, checksum)
    _add_file_commands(sub, data)
    return parser


def _add_data_commands(sub: Any, data: argparse.ArgumentParser,
                       checksum: argparse.ArgumentParser) -> None:
    """``datasets``, ``summary`` and ``models``."""
    p = _subparser(sub, "datasets", "list datasets and where each is found", parents=[data])
    p.set_defaults(func=_cmd_datasets)

    p = _subparser(sub, "summary", "load a dataset and print its summary",
                   parents=[data, checksum])
    p.add_argument("name", help="dataset name (e.g. mnist, fashion_mnist, emnist_letters) or "
                                "a folder of pictures, one sub-folder per class")
    p.add_argument("--no-download", action="store_true", help="never download")
    p.add_argument("--out", type=_png_path, default=None,
                   help="also write a grid of sample images, a few per class, to this PNG")
    p.add_argument("--validation-size", type=_validation_size, default=0,
                   help="carve a stratified validation split out of train (count or fraction)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the validation split")
    p.set_defaults(func=_cmd_summary)

    p = _subparser(sub, "models", "list the model zoo")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch pattern, e.g. 'mlp*'")
    p.add_argument("--tag", action="append", help="only models with this tag (repeatable)")
    p.set_defaults(func=_cmd_models)


def _add_train_command(sub: Any, data: argparse.ArgumentParser,
                       checksum: argparse.ArgumentParser) -> None:
    """``train``."""
    p = _subparser(sub, "train", "train a zoo model and keep the best one",
                   "Train a zoo model on a dataset with its recipe, keep the best epoch, "
                   "evaluate it on the test split, and write OUT/model.keras (with its class "
                   "names), history.json, evaluation.json and figures; optionally export it.",
                   parents=[data, checksum])
    p.add_argument("model", help="zoo model name (see 'kerasdigits models')")
    p.add_argument("--dataset", default="mnist",
                   help="dataset name (e.g. mnist, fashion_mnist, emnist_letters) or a folder "
                        "of pictures, one sub-folder per class (default: mnist)")
    p.add_argument("--epochs", type=_positive_int,
                   help="epochs in total (default: the model's recipe)")
    p.add_argument("--batch-size", type=_positive_int,
                   help="batch size (default: the model's recipe)")
    p.add_argument("--out", default="run", help="output folder (default: run)")
    p.add_argument("--preset", default="default", type=_preset,
                   help="callback preset: default (best checkpoints, early stopping, "
                        "last.keras for --resume), quick (no files), logs (adds CSV and "
                        "TensorBoard), none")
    p.add_argument("--validation", default="auto", type=_validation_arg,
                   help="auto, test, none, or a size to carve out of train")
    p.add_argument("--seed", type=_seed,
                   help="seed for weights, shuffling and the validation split: the same seed "
                        "gives the same run on the same machine (default: random)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in OUT from its newest checkpoint, up to --epochs "
                        "in total")
    p.add_argument("--init-from", metavar="MODEL_FILE", default=None,
                   help="fine-tune: start from the weights of this .keras model (the same "
                        "zoo model, e.g. trained on MNIST); a new head when the classes "
                        "differ. A resumed run continues from its checkpoint instead")
    p.add_argument("--freeze", action="store_true",
                   help="with --init-from, train only the head (the trunk keeps its weights)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an OUT that holds an earlier run (without it, or "
                        "--resume, such an OUT is refused)")
    p.add_argument("--strategy", choices=("mirrored", "multi_worker"),
                   help="train with tf.distribute: mirrored (all local devices) or "
                        "multi_worker (the cluster in TF_CONFIG: run the same command on every "
                        "worker, with OUT on storage they all see)")
    p.add_argument("--collective-timeout", type=float, metavar="SECONDS",
                   help="with --strategy multi_worker: fail an all-reduce that takes longer "
                        "(default: none; dead workers are detected by heartbeats)")
    p.add_argument("--export", metavar="FILE.tflite",
                   help="also export the trained model; a relative FILE goes into OUT")
    _add_export_options(p, prefix="with --export: ")
    p.set_defaults(func=_cmd_train)


def _add_model_commands(sub: Any, data: argparse.ArgumentParser,
                        checksum: argparse.ArgumentParser) -> None:
    """``evaluate`` and ``predict``: a saved model at work."""
    p = _subparser(sub, "evaluate", "evaluate a saved .keras model on a test split",
                   parents=[data, checksum])
    p.add_argument("model_file", help="a .keras file (e.g. run/model.keras)")
    p.add_argument("--dataset",
                   help="dataset whose test split to use (default: the one the model was "
                        "trained on, else mnist)")
    p.set_defaults(func=_cmd_evaluate)

    p = _subparser(sub, "predict", "classify pictures (PNG, JPEG) of one digit each",
                   "Classify pictures of one digit (or article) each with a saved model. Each "
                   "picture goes through to_mnist (grayscale, ink made light on dark, cropped, "
                   "centred, 28x28); the classes are named as the model was trained.")
    p.add_argument("model_file", help="a .keras file, or a .tflite file (run by LiteRT, "
                                      "without TensorFlow)")
    p.add_argument("images", nargs="+", help="picture files (classified in one batch)")
    p.add_argument("--dataset",
                   help="name the classes as this dataset does (default: the model's own)")
    p.add_argument("--no-preprocess", action="store_true",
                   help="feed the pixels as they are (28x28 grayscale) instead of to_mnist()")
    p.set_defaults(func=_cmd_predict)


def _add_file_commands(sub: Any, data: argparse.ArgumentParser) -> None:
    """``export``, ``inspect`` and ``serve``: the file that goes to the phone."""
    p = _subparser(sub, "export", "export a saved model to .tflite (LiteRT, ML Kit)",
                   "Export a saved model to a .tflite file for LiteRT, ML Kit or MediaPipe: "
                   "batch 1, builtin ops only, TFLite metadata with the model's class names "
                   "and normalization. The same defaults as kerasdigits.export_tflite.",
                   parents=[data])
    p.add_argument("model_file", help="a .keras file (e.g. run/model.keras)")
    p.add_argument("out", help="the .tflite file to write")
    _add_export_options(p)
    p.add_argument("--dataset",
                   help="images for int8 calibration and verification (default: the dataset "
                        "the model was trained on, else mnist_sample)")
    p.add_argument("--labels", metavar="FILE",
                   help="labels.txt (one class name per line) instead of the model's own")
    p.add_argument("--invert", action="store_true",
                   help="mlkit: the app feeds dark ink on light paper")
    p.add_argument("--no-metadata", action="store_true", help="write no TFLite metadata")
    p.add_argument("--verify", type=int, metavar="N",
                   help="verify on N test images (default: all)")
    p.add_argument("--no-verify", action="store_true", help="skip the LiteRT parity check")
    p.set_defaults(func=_cmd_export)

    p = _subparser(sub, "inspect", "describe a .tflite file",
                   "Describe a .tflite file: inputs and outputs, metadata, labels, operators "
                   "and size.")
    p.add_argument("file", help="a .tflite file")
    p.set_defaults(func=_cmd_inspect)

    p = _subparser(sub, "serve", "serve a draw-a-digit web page that runs the model",
                   "Start a local web server with a page to draw a digit on (mouse, pen or "
                   "finger) or drop a photo into, answered by the model: a .tflite file runs in "
                   "LiteRT as an app runs it, a .keras model in Keras. The page shows the 28x28 "
                   "image the model sees, the class probabilities and the latency; a JSON API "
                   "(POST /api/predict, GET /api/model) sits beside it. Needs the serve extra: "
                   'pip install "kerasdigits[serve]". Ctrl-C stops it.')
    p.add_argument("model_file", help="a .tflite file (from export) or a .keras file")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; "
                        "0.0.0.0: every interface, no authentication)")
    p.add_argument("--port", type=_port, default=8000, help="port (default: 8000; 0: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    p.add_argument("--threads", type=_positive_int,
                   help="worker threads for inference (default: CPU cores, at most 4)")
    p.add_argument("--max-upload-mb", type=_positive_float, default=10.0, metavar="MB",
                   help="largest upload accepted, in MiB (default: 10)")
    p.add_argument("--access-log", action="store_true", help="print a line per request")
    p.set_defaults(func=_cmd_serve)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    stream = out or sys.stdout
    quiet = contextlib.nullcontext() if args.verbose else filtered_stderr()
    with quiet, _our_warnings_as_lines(args.debug):
        return _run(parser, args, stream)


@contextlib.contextmanager
def _our_warnings_as_lines(debug: bool) -> Iterator[None]:
    """Show a ``KerasDigitsWarning`` as ``kerasdigits: warning: ...`` (not a source line)."""
    import warnings

    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if debug or not issubclass(category, KerasDigitsWarning):
            shown(message, category, filename, lineno, file, line)
            return
        (file or sys.stderr).write(f"kerasdigits: warning: {message}\n")

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, stream: TextIO) -> int:
    try:
        return int(args.func(args, stream))
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"kerasdigits: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("kerasdigits: interrupted\n")
        return 130
    except (KerasDigitsError, ValueError, KeyError, TypeError, OSError) as exc:
        if args.debug or not _expected(exc):
            return _unexpected(exc, args.debug)
        first, _, rest = _message(exc).partition("\n")
        sys.stderr.write(f"kerasdigits: error: {first}\n")
        if rest:
            sys.stderr.write(rest + "\n")
        return 1
    except Exception as exc:  # TensorFlow's OpError, a RuntimeError...: always a bug
        return _unexpected(exc, args.debug)


def _unexpected(exc: BaseException, debug: bool) -> int:
    """Print the traceback of an error the user cannot act on, asking for a report."""
    import traceback

    traceback.print_exception(exc)
    if not debug:
        sys.stderr.write("kerasdigits: an unexpected error inside "
                         f"{_origin(exc)}; please report it with the traceback above\n")
    return 1


def _message(exc: BaseException) -> str:
    message = (exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)).strip()
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else "a file"
        message = f"{where}: {exc.strerror}"
    return message or type(exc).__name__


def _origin(exc: BaseException) -> str:
    """The top-level package of the code that raised ``exc`` (``"kerasdigits"``, ``"keras"``)."""
    tb = exc.__traceback__
    module = "kerasdigits"
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", module))
        tb = tb.tb_next
    return module.split(".")[0]


def _expected(exc: BaseException) -> bool:
    """A failure the user can act on: kerasdigits' own errors, files, and our own checks.

    A ``ValueError``/``KeyError``/``TypeError`` raised deep inside Keras, TensorFlow or NumPy
    is a bug (ours or theirs): it gets its traceback.
    """
    if isinstance(exc, (KerasDigitsError, OSError)):
        return True
    return _origin(exc) == "kerasdigits"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
