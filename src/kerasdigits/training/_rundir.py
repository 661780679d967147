"""A training run's checkpoint folder: one run at a time, nothing of an earlier run lost.

- :func:`lock_run` holds an exclusive lock on the folder while a run writes into it; a second
  run into the same folder fails at once, naming the process that holds it.
- :func:`check_fresh_start` refuses a fresh run into a folder that holds an earlier run,
  unless ``overwrite=True`` says to replace it (``resume=True`` continues it instead).
- :func:`resume_point` finds the checkpoint to continue from, and the epoch and history
  recorded inside that file, so that a run killed at any moment resumes consistently.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasdigits.training._errors import RunInUseError, TrainingError

__all__ = ["LOCK_FILE", "ResumePoint", "check_fresh_start", "check_same_model", "earlier_run",
           "lock_run", "resume_point"]

#: The lock file inside a checkpoint folder (it holds the PID of the run using the folder).
LOCK_FILE = ".kerasdigits.lock"


@contextlib.contextmanager
def lock_run(directory: Path) -> Iterator[None]:
    """Hold the folder's lock for the block; raise :class:`RunInUseError` if it is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE,
                     os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except FileExistsError as exc:
        raise TrainingError(f"{directory}: exists and is not a folder") from exc
    except OSError as exc:
        raise TrainingError(f"{directory / LOCK_FILE}: cannot open the run's lock: "
                               f"{exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise RunInUseError(f"{directory}: in use by another training run (PID {holder}); "
                                "wait for it or train into another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def earlier_run(directory: Path) -> str | None:
    """Describe the earlier run whose files are in ``directory``, or ``None``."""
    from kerasdigits.callbacks import CHECKPOINT_INDEX, HISTORY_FILE, LAST_CHECKPOINT

    names = (CHECKPOINT_INDEX, HISTORY_FILE, LAST_CHECKPOINT)
    found = [n for n in names if (directory / n).exists()]
    if not directory.is_dir():
        return None
    found += sorted(p.name for p in directory.glob("*.keras") if p.name not in found)
    if not found:
        return None
    shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
    return shown


def check_fresh_start(directory: Path, *, overwrite: bool) -> None:
    """Make room for a fresh run in ``directory``, refusing to drop an earlier one silently.

    Raises:
        TrainingError: ``directory`` holds an earlier run and ``overwrite`` is false.
    """
    earlier = earlier_run(directory)
    if earlier is None:
        return
    if not overwrite:
        raise TrainingError(
            f"{directory} holds an earlier run ({earlier}); continue it with resume=True "
            "(--resume), replace it with overwrite=True (--overwrite), or train into another "
            "folder"
        )
    from kerasdigits.callbacks import forget_checkpoints

    print(f"overwrite: starting afresh in {directory}; the earlier run's index, history and "
          "last.keras are removed", file=sys.stderr)
    forget_checkpoints(directory)


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run continues from.

    Attributes:
        path: The checkpoint file.
        epoch: Epochs it has completed.
        history: The per-epoch history up to ``epoch``.
    """

    path: Path
    epoch: int
    history: dict[str, list[float]]


def resume_point(directory: Path) -> ResumePoint | None:
    """Return the newest checkpoint of ``directory`` to resume from, or ``None``.

    The epoch and history come from the checkpoint file itself when it records them (every
    file kerasdigits writes does), else from ``checkpoints.json`` and ``history.json``.

    Raises:
        kerasdigits.callbacks.CallbackError: ``checkpoints.json`` is unreadable or malformed.
        kerasdigits.training.ModelFileError: The checkpoint file is not a ``.keras`` archive.
        TrainingError: The history is shorter than the checkpoint's epochs.
    """
    from kerasdigits.callbacks import latest_checkpoint, read_history
    from kerasdigits.training._io import read_checkpoint

    found = latest_checkpoint(directory)
    if found is None:
        # No usable index: last.keras records its own epoch and history.
        from kerasdigits.callbacks import LAST_CHECKPOINT

        last = directory / LAST_CHECKPOINT
        recorded = read_checkpoint(last) if last.is_file() else None
        if recorded is None:
            return None
        found = (last, recorded[0])
    path, epoch = found
    recorded = read_checkpoint(path) if path.suffix == ".keras" else None
    if recorded is not None:
        epoch, history = recorded
    else:
        history = {k: v[:epoch] for k, v in read_history(directory).items()}
    short = [k for k, v in history.items() if len(v) < epoch]
    if short:
        raise TrainingError(
            f"{directory}: the history of {path.name} has fewer than its {epoch} epochs "
            f"({', '.join(short[:3])}); the run cannot be resumed consistently"
        )
    return ResumePoint(path, epoch, history)


def check_same_model(path: Path, loaded: Any, wanted: Any) -> None:
    """Refuse to resume ``wanted`` (a zoo name or a model) from a checkpoint of another model.

    Raises:
        TrainingError: The checkpoint holds another model.
    """
    from kerasdigits.training._io import model_info

    recorded = model_info(loaded).model or loaded.name
    if isinstance(wanted, str):
        same = recorded == wanted
        asked = wanted
    else:
        same = loaded.name == wanted.name and loaded.count_params() == wanted.count_params()
        asked = f"{wanted.name} ({wanted.count_params():,} parameters)"
        recorded = f"{loaded.name} ({loaded.count_params():,} parameters)"
    if not same:
        raise TrainingError(
            f"resume: {path} holds a {recorded} model, not {asked}; resume with the same "
            "model, or train into another folder"
        )
