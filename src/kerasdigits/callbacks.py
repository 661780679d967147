"""Callback presets: best-only checkpoints, early stopping and logs, as the tutorials use them.

Their mistakes (a template field that is never logged, a suffix Keras refuses) are caught
before training starts rather than after the first epoch.

Keras is imported when a callback is created, not when this module is imported.

Example:
    >>> from kerasdigits import callbacks
    >>> cbs = callbacks.preset("quick")
    >>> [type(cb).__name__ for cb in cbs]
    ['EarlyStopping']
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kerasdigits import _lazy, _validate
from kerasdigits._errors import KerasDigitsError
from kerasdigits._files import atomic_write_bytes
from kerasdigits._suggest import did_you_mean

__all__ = [
    "CHECKPOINT_INDEX",
    "DEFAULT_FILENAME",
    "PRESETS",
    "CallbackError",
    "checkpoint",
    "early_stopping",
    "forget_checkpoints",
    "last_checkpoint",
    "latest_checkpoint",
    "preset",
]

#: The default checkpoint file name template.
DEFAULT_FILENAME = "{name}-{epoch:02d}-{val_loss:.4f}.keras"
#: File (inside a checkpoint directory) listing the checkpoints written, newest last.
CHECKPOINT_INDEX = "checkpoints.json"

#: File name of the every-epoch checkpoint written by :func:`last_checkpoint`.
LAST_CHECKPOINT = "last.keras"
#: File name of the history written by :func:`last_checkpoint`.
HISTORY_FILE = "history.json"

#: Preset name -> one-line description.
PRESETS: dict[str, str] = {
    "default": (
        "best-only .keras checkpoints + early stopping (patience 10), as in the tutorials, "
        "plus last.keras and history.json every epoch (for resuming)"
    ),
    "quick": "early stopping only, no files written",
    "logs": "the default preset plus a CSV log (history.csv) and TensorBoard logs (tensorboard/)",
    "none": "no callbacks",
}


class CallbackError(KerasDigitsError, ValueError):
    """A callback was configured in a way that would fail (or silently misbehave) in training."""


def _logged_fields(metrics: Iterable[str], validation: bool) -> set[str]:
    names = set(metrics)
    if validation:
        names |= {f"val_{m}" for m in names}
    return names | {"learning_rate"}


def _validate_template(filename: str, fields: set[str]) -> None:
    try:
        parsed = list(string.Formatter().parse(filename))
    except ValueError as exc:
        raise CallbackError(
            f"checkpoint filename {filename!r} is not a valid template: {exc}"
        ) from None
    allowed = fields | {"epoch", "name"}
    sample: dict[str, Any] = {f: 0.5 for f in allowed}
    sample.update(epoch=1, name="model")
    for _, field, _, _ in parsed:
        if field is None:
            continue
        key = field.split(".")[0].split("[")[0]
        if key not in allowed:
            raise CallbackError(
                f"checkpoint filename {filename!r} uses {{{key}}}, which is not logged during "
                f"training.{did_you_mean(key, allowed)} Available fields: "
                f"{', '.join(sorted(allowed))}."
            )
    try:
        filename.format(**sample)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CallbackError(
            f"checkpoint filename {filename!r} cannot be formatted: {exc} "
            "(epoch is an int, metrics are floats: use {epoch:02d} and {val_loss:.4f})"
        ) from None


def _check_suffix(filename: str, weights_only: bool) -> None:
    if weights_only and not filename.endswith(".weights.h5"):
        raise CallbackError(
            f"checkpoint filename {filename!r} must end in '.weights.h5' when weights_only=True "
            "(Keras 3 saves weights only to .weights.h5 files)"
        )
    if not weights_only and not filename.endswith(".keras"):
        hint = " (or pass weights_only=True)" if filename.endswith(".h5") else ""
        raise CallbackError(
            f"checkpoint filename {filename!r} must end in '.keras' when weights_only=False "
            f"(Keras 3 saves whole models only as .keras files){hint}"
        )


@functools.cache
def _checkpoint_class() -> type:
    """Return kerasdigits' ``ModelCheckpoint`` class (defined once, when Keras is first needed)."""
    keras = _lazy.keras()

    class ModelCheckpoint(keras.callbacks.ModelCheckpoint):  # type: ignore[misc,name-defined]
        """``keras.callbacks.ModelCheckpoint`` that fills ``{name}`` with the model's name.

        It also records every file it writes in ``checkpoints.json`` (for resuming).
        """

        def __init__(self, filepath: str, *, history: dict[str, list[float]] | None = None,
                     **kwargs: Any) -> None:
            # A resumed run's first epoch is "best" only if it beats the earlier epochs.
            earlier = [v for v in (history or {}).get(kwargs.get("monitor", "val_loss"), [])
                       if math.isfinite(v)]
            if earlier and kwargs.get("save_best_only"):
                kwargs.setdefault("initial_value_threshold", min(earlier))
            super().__init__(filepath, **kwargs)
            self._template = str(filepath)
            #: The folder this callback writes into (read by ``train`` for its result).
            self.directory = Path(filepath).parent
            self.history = {k: list(v) for k, v in (history or {}).items()}

        def set_model(self, model: Any) -> None:
            super().set_model(model)
            self.filepath = self._template.replace("{name}", model.name)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = dict(logs or {})
            _extend_history(self.history, logs)
            try:
                path = Path(self.filepath.format(epoch=epoch + 1, **logs))
            except (KeyError, ValueError, IndexError):
                path = None
            before = _stamp(path)
            super().on_epoch_end(epoch, logs)
            if path is not None and _stamp(path) not in (None, before):
                if path.suffix == ".keras":
                    from kerasdigits.training._io import annotate_file

                    annotate_file(path, self.model, epoch=epoch + 1, history=self.history)
                _record_checkpoint(path, epoch + 1, logs)

    return ModelCheckpoint


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def read_index(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Return the entries of ``directory``'s ``checkpoints.json`` (``[]`` when there is none).

    Each entry is ``{"path": file name, "epoch": epochs done, "metrics": {...}}``.

    Raises:
        CallbackError: The index exists but cannot be read or is not a list of such entries
            (the message names the file and what is wrong).
    """
    index_path = Path(directory) / CHECKPOINT_INDEX
    try:
        raw = index_path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CallbackError(f"{index_path}: cannot read the checkpoint index: "
                            f"{exc.strerror}") from exc
    try:
        entries = json.loads(raw)
        if not isinstance(entries, list):
            raise ValueError(f"expected a list of checkpoints, got {type(entries).__name__}")
        for i, entry in enumerate(entries):
            _check_entry(entry, i)
    except ValueError as exc:
        raise CallbackError(f"{index_path}: not a valid checkpoint index ({exc}); move it "
                            "away to start afresh") from None
    return entries


def _check_entry(entry: Any, i: int) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"entry {i} is not an object")
    name, epoch, metrics = entry.get("path"), entry.get("epoch"), entry.get("metrics", {})
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"entry {i}: path must be a file name in the folder, got {name!r}")
    _validate.positive_int(epoch, f"entry {i}: epoch")
    if not isinstance(metrics, dict) or not all(map(_validate.is_number, metrics.values())):
        raise ValueError(f"entry {i}: metrics must map names to numbers")


def _record_checkpoint(path: Path, epoch: int, logs: dict[str, Any]) -> None:
    try:
        entries = read_index(path.parent)
    except CallbackError:  # a fresh run replaces an unreadable index
        entries = []
    metrics = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
    entries = [e for e in entries if e.get("path") != path.name]
    entries.append({"path": path.name, "epoch": epoch, "metrics": metrics})
    atomic_write_bytes(path.parent / CHECKPOINT_INDEX,
                       json.dumps(entries, indent=1).encode("utf-8"))


def _extend_history(history: dict[str, list[float]], logs: dict[str, Any]) -> None:
    for key, value in logs.items():
        if isinstance(value, (int, float)):
            history.setdefault(key, []).append(float(value))


@functools.cache
def _last_checkpoint_class() -> type:
    """Return the class of :func:`last_checkpoint`'s callback (defined once, lazily)."""
    keras = _lazy.keras()

    class LastCheckpoint(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
        """Save the whole model (optimizer included) and the history after every epoch."""

        def __init__(self, directory: Path, history: dict[str, list[float]]) -> None:
            super().__init__()
            self.directory = directory
            self.history = {k: list(v) for k, v in history.items()}

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = dict(logs or {})
            _extend_history(self.history, logs)
            from kerasdigits.training._io import save_checkpoint

            # The file itself records its epoch and the history up to it, so whenever the
            # process dies, a resume from it is consistent; the index and history.json
            # written next only help find it.
            path = save_checkpoint(self.model, self.directory / LAST_CHECKPOINT,
                                   epoch=epoch + 1, history=self.history)
            _record_checkpoint(path, epoch + 1, logs)
            atomic_write_bytes(self.directory / HISTORY_FILE,
                               json.dumps(self.history, indent=1).encode("utf-8"))

    return LastCheckpoint


def read_history(directory: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Return the history saved by :func:`last_checkpoint` in ``directory`` (``{}`` if none)."""
    try:
        data = json.loads((Path(directory) / HISTORY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [float(x) for x in v] for k, v in data.items()}


def last_checkpoint(directory: str | os.PathLike[str], *, history: dict[str, list[float]]
                    | None = None) -> Any:
    """Return a callback saving ``last.keras`` and ``history.json`` into ``directory`` every epoch.

    ``train(resume=True)`` continues from the newest checkpoint, which is this one: whole
    model, optimizer state and epoch count.

    Args:
        directory: The checkpoint folder (created if missing).
        history: History of earlier epochs to extend (when resuming).
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return _last_checkpoint_class()(folder, history or {})


def forget_checkpoints(directory: str | os.PathLike[str]) -> None:
    """Start a fresh run in ``directory``: drop its checkpoint index and saved history.

    Earlier checkpoint files stay on disk, but :func:`latest_checkpoint` no longer returns
    them, so a later ``resume`` continues this run, not an older one.
    """
    for name in (CHECKPOINT_INDEX, HISTORY_FILE, LAST_CHECKPOINT):
        with contextlib.suppress(FileNotFoundError):
            (Path(directory) / name).unlink()


def latest_checkpoint(directory: str | os.PathLike[str]) -> tuple[Path, int] | None:
    """Return the newest checkpoint in ``directory`` and the number of epochs it completed.

    Uses ``checkpoints.json`` written by :func:`checkpoint`; files that no longer exist are
    skipped. Returns ``None`` when there is no checkpoint.

    Raises:
        CallbackError: ``checkpoints.json`` exists but is unreadable or malformed.
    """
    entries = read_index(directory)
    # Newest epoch first; at equal epochs prefer last.keras (it is saved after the best file).
    ranked = sorted(
        entries, key=lambda e: (int(e.get("epoch", 0)), e.get("path") == LAST_CHECKPOINT)
    )
    for entry in reversed(ranked):
        path = Path(directory) / str(entry.get("path", ""))
        if path.is_file():
            return path, int(entry["epoch"])
    return None


def checkpoint(
    directory: str | os.PathLike[str],
    *,
    monitor: str = "val_loss",
    save_best_only: bool = True,
    filename: str = DEFAULT_FILENAME,
    weights_only: bool = False,
    metrics: Iterable[str] = ("loss", "accuracy"),
    validation: bool = True,
    verbose: int = 0,
    history: dict[str, list[float]] | None = None,
) -> Any:
    """Return a ``keras.callbacks.ModelCheckpoint`` writing into ``directory``.

    The directory is created. The file name template is checked now against what training will
    log (``metrics``, with ``val_`` versions when ``validation``), so that a typo or a missing
    validation split fails here, not after the first epoch.

    Args:
        directory: Folder for the checkpoint files (created if missing).
        monitor: The logged quantity that decides which checkpoint is best.
        save_best_only: Keep writing only when ``monitor`` improves.
        filename: Template; ``{name}`` is the model's name, ``{epoch}`` the 1-based epoch, and
            any logged metric may appear (``{val_loss:.4f}``). Must end in ``.keras``, or
            ``.weights.h5`` with ``weights_only=True``.
        weights_only: Save only the weights.
        metrics: The metrics the model is compiled with (``loss`` is always logged).
        validation: Whether training will have validation data (``val_*`` fields).
        verbose: Keras verbosity (1 prints a line per save).
        history: The history of earlier epochs (when resuming); each ``.keras`` checkpoint
            records its epoch and the history up to it.

    Returns:
        The configured callback.

    Raises:
        CallbackError: Bad suffix, unknown template field, or unknown ``monitor``.
    """
    fields = _logged_fields(["loss", *metrics], validation)
    _check_suffix(filename, weights_only)
    _validate_template(filename, fields)
    if monitor not in fields:
        raise CallbackError(
            f"checkpoint monitor {monitor!r} is not logged during training."
            f"{did_you_mean(monitor, fields)} Logged: {', '.join(sorted(fields))}."
        )
    if os.sep in filename or (os.altsep and os.altsep in filename):
        raise CallbackError(f"checkpoint filename {filename!r} must be a file name, not a path")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cls = _checkpoint_class()
    return cls(
        str(folder / filename),
        monitor=monitor,
        save_best_only=save_best_only,
        save_weights_only=weights_only,
        verbose=verbose,
        history=history,
    )


def early_stopping(
    *,
    monitor: str = "val_loss",
    patience: int = 10,
    restore_best_weights: bool = True,
    min_delta: float = 0,
    verbose: int = 0,
) -> Any:
    """Return a ``keras.callbacks.EarlyStopping`` (patience 10, best weights restored).

    Args:
        monitor: The logged quantity to watch.
        patience: Epochs without improvement before training stops.
        restore_best_weights: Put the best epoch's weights back when stopping.
        min_delta: Smallest change that counts as an improvement.
        verbose: Keras verbosity (1 prints a line when stopping).
    """
    patience = _validate.positive_int(patience, "early_stopping patience", allow_zero=True,
                                      error=CallbackError)
    keras = _lazy.keras()
    return keras.callbacks.EarlyStopping(
        monitor=monitor,
        patience=patience,
        restore_best_weights=restore_best_weights,
        min_delta=min_delta,
        verbose=verbose,
    )


def _tensorboard(directory: Path) -> Any:
    try:
        import tensorboard  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise CallbackError(
            "the 'logs' preset writes TensorBoard logs, which needs the tensorboard package: "
            "pip install 'kerasdigits[tensorboard]'"
        ) from None
    keras = _lazy.keras()
    return keras.callbacks.TensorBoard(log_dir=str(directory / "tensorboard"))


def preset(name: str, **overrides: Any) -> list[Any]:
    """Return the callbacks of a named preset.

    Presets: ``"default"`` (best-only checkpoints into ``directory`` + early stopping with
    patience 10), ``"quick"`` (early stopping only, no files), ``"logs"`` (the default plus
    ``history.csv`` and TensorBoard logs), ``"none"``.

    Args:
        name: The preset.
        **overrides: ``directory`` (default ``"checkpoints"``), ``history`` (earlier epochs,
            when resuming) and any argument of
            :func:`checkpoint` or :func:`early_stopping` (``patience``, ``monitor``,
            ``filename``, ...); arguments a preset does not use raise.

    Raises:
        CallbackError: Unknown preset (with suggestions) or an argument it does not take.
    """
    name = _validate.choice(name, "callback preset", PRESETS, error=CallbackError)
    ckpt_args = {"monitor", "save_best_only", "filename", "weights_only", "metrics", "validation",
                 "verbose"}
    stop_args = {"monitor", "patience", "restore_best_weights", "min_delta", "verbose"}
    files = ckpt_args | stop_args | {"directory", "history"}
    allowed = {"none": set(), "quick": stop_args, "default": files, "logs": files}[name]
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise CallbackError(
            f"preset {name!r} takes no argument {unknown[0]!r}."
            f"{did_you_mean(unknown[0], allowed)} It takes: {', '.join(sorted(allowed)) or '-'}."
        )
    if name == "none":
        return []
    stop = early_stopping(**{k: v for k, v in overrides.items() if k in stop_args})
    if name == "quick":
        return [stop]
    directory = Path(overrides.get("directory", "checkpoints"))
    ckpt = checkpoint(directory, history=overrides.get("history"),
                      **{k: v for k, v in overrides.items() if k in ckpt_args})
    result = [ckpt, last_checkpoint(directory, history=overrides.get("history")), stop]
    if name == "logs":
        keras = _lazy.keras()
        result.append(keras.callbacks.CSVLogger(str(directory / "history.csv")))
        result.append(_tensorboard(directory))
    return result
