"""Training folders survive careless and hostile use: nothing of an earlier run is lost.

Issue 13: a fresh run never deletes an earlier one implicitly; resume fails loudly on a bad
index, a bad file or another model; temporary files have unique names and are never
followed through links; one run at a time per folder; a run killed at any moment resumes
consistently; tiny datasets and misspelt monitors fail before training.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kerasdigits import callbacks, train
from kerasdigits.callbacks import CallbackError
from kerasdigits.datasets import Dataset, load_dataset
from kerasdigits.training import ModelFileError, RunInUseError, TrainingError
from kerasdigits.training._rundir import LOCK_FILE, lock_run


@pytest.fixture(scope="module")
def small() -> Dataset:
    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, train=ds.train.take(slice(0, 600)),
                               test=ds.test.take(slice(0, 200)))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()
            and p.name != LOCK_FILE}


# ------------------------------------------------------------------- earlier runs are kept


def test_a_fresh_run_into_a_used_folder_is_refused_and_keeps_the_files(
        small: Dataset, tmp_path: Path) -> None:
    train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    before = snapshot(tmp_path)
    assert {"last.keras", "checkpoints.json", "history.json"} <= set(before)
    with pytest.raises(TrainingError, match=r"holds an earlier run \(checkpoints\.json.*resume"):
        train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=1, verbose=0)
    assert snapshot(tmp_path) == before
    # Both at once is a contradiction, said before anything happens.
    with pytest.raises(TrainingError, match="pass one of them"):
        train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, resume=True, overwrite=True,
              verbose=0)
    assert snapshot(tmp_path) == before
    again = train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=1, verbose=0,
                  overwrite=True)
    assert again.initial_epoch == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[1, 2]", "entry 0 is not an object"),
        (b'{"epoch": "x"}', "expected a list of checkpoints"),
        (b'[{"path": "last.keras", "epoch": "x"}]', "epoch must be a positive int"),
        (b'[{"path": "../../etc/passwd", "epoch": 1}]', "must be a file name in the folder"),
        (b"\x00\xffnot json", "not a valid checkpoint index"),
    ],
)
def test_resume_with_a_bad_index_fails_naming_it_and_changes_nothing(
        content: bytes, problem: str, small: Dataset, tmp_path: Path) -> None:
    train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    (tmp_path / "checkpoints.json").write_bytes(content)
    before = snapshot(tmp_path)
    with pytest.raises(CallbackError, match=rf"checkpoints\.json: .*{problem}"):
        train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, resume=True, verbose=0)
    assert snapshot(tmp_path) == before


def test_resume_refuses_another_model(small: Dataset, tmp_path: Path) -> None:
    train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    with pytest.raises(TrainingError, match="holds a mlp256 model, not mlp512"):
        train("mlp512", small, epochs=2, checkpoint_dir=tmp_path, resume=True, verbose=0)


def test_resume_from_a_truncated_checkpoint_names_the_file(small: Dataset,
                                                          tmp_path: Path) -> None:
    train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    last = tmp_path / "last.keras"
    last.write_bytes(last.read_bytes()[:500])
    with pytest.raises(ModelFileError, match=r"last\.keras: cannot load model: not a \.keras"):
        train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, resume=True, verbose=0)


# ---------------------------------------------------------------- links, locks, two runs


def test_planted_links_are_never_followed(small: Dataset, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder = tmp_path / "run"
    folder.mkdir()
    for name in (".last.keras.part.keras", ".last.keras.part", LOCK_FILE):
        (folder / name).symlink_to(victim)
    with pytest.raises(TrainingError, match="lock"):
        train("mlp256", small, epochs=1, checkpoint_dir=folder, seed=0, verbose=0)
    (folder / LOCK_FILE).unlink()
    train("mlp256", small, epochs=2, checkpoint_dir=folder, seed=0, verbose=0, overwrite=True)
    assert victim.read_text() == "keep me"
    assert (folder / "last.keras").is_file() and not (folder / "last.keras").is_symlink()


def test_a_second_run_into_a_folder_in_use_fails_naming_the_process(
        small: Dataset, tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path\n"
         "from kerasdigits.training._rundir import lock_run\n"
         "with lock_run(Path(sys.argv[1])):\n"
         "    print('locked', flush=True); time.sleep(60)\n", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=rf"in use by another training run \(PID "
                                                rf"{holder.pid}\)"):
            train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    finally:
        holder.kill()
        holder.wait()
    # The lock dies with its process: the folder is usable again.
    train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)


def test_the_lock_is_released_after_a_run_and_after_a_failure(small: Dataset,
                                                             tmp_path: Path) -> None:
    with pytest.raises(TrainingError):
        train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0,
              callbacks=[callbacks.early_stopping(monitor="val_los")])
    train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    with lock_run(tmp_path):  # free again
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())


# ------------------------------------------------------------ killed at any moment


@pytest.mark.parametrize("when", ["after last.keras", "after the index"])
def test_a_run_killed_while_checkpointing_resumes_consistently(
        when: str, small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after last.keras of epoch 2 was written but before the index or history were."""
    real_record = callbacks._record_checkpoint
    real_write = callbacks.atomic_write_bytes

    def record(path: Path, epoch: int, logs: dict[str, float]) -> None:
        if path.name == "last.keras" and epoch == 2 and when == "after last.keras":
            raise KeyboardInterrupt
        real_record(path, epoch, logs)

    def write(path: Path, data: bytes) -> None:
        if Path(path).name == "history.json" and b'"loss"' in data and len(
                json.loads(data)["loss"]) == 2 and when == "after the index":
            raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(callbacks, "_record_checkpoint", record)
    monkeypatch.setattr(callbacks, "atomic_write_bytes", write)
    with pytest.raises(KeyboardInterrupt):
        train("mlp256", small, epochs=3, checkpoint_dir=tmp_path, seed=0, verbose=0)
    monkeypatch.undo()
    resumed = train("mlp256", small, epochs=3, checkpoint_dir=tmp_path, seed=0, verbose=0,
                    resume=True)
    assert resumed.initial_epoch == 2
    assert all(len(v) == 3 for v in resumed.history.values()), resumed.history
    losses = resumed.history["val_loss"]
    assert resumed.best_epoch == int(np.argmin(losses)) + 1


# --------------------------------------------------------- checks before training starts


def test_a_tiny_dataset_fails_before_training(tmp_path: Path) -> None:
    ds = load_dataset("mnist_sample")
    tiny = dataclasses.replace(ds, train=ds.train.take(slice(0, 3)))
    start = time.perf_counter()
    with pytest.raises(TrainingError, match=r"validation split .* is empty.*3 training images"):
        train("mlp256", tiny, epochs=1, checkpoint_dir=tmp_path, verbose=0)
    assert not (tmp_path / "last.keras").exists()
    assert time.perf_counter() - start < 60


def test_a_misspelt_monitor_fails_before_the_first_epoch(small: Dataset,
                                                        tmp_path: Path) -> None:
    cbs = [callbacks.early_stopping(monitor="val_los")]
    with pytest.raises(TrainingError, match=r"EarlyStopping monitors 'val_los'.*'val_loss'"):
        train("mlp256", small, epochs=1, callbacks=cbs, verbose=0)
    # Without validation, val_* is not logged: said before training too.
    cbs = [callbacks.early_stopping(monitor="val_loss")]
    with pytest.raises(TrainingError, match="monitors 'val_loss'"):
        train("mlp256", small, epochs=1, callbacks=cbs, validation="none", verbose=0)


# ------------------------------------------------------- found by an adversarial pass


def test_a_resumed_run_keeps_the_best_epoch_and_its_weights(small: Dataset, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A resumed epoch that is worse than an earlier one is not a 'best' checkpoint, and the
    returned model has the best epoch's weights, as without the resume."""
    first = train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, seed=0, verbose=0)
    best_before = first.best_epoch
    best_files = {p.name for p in tmp_path.glob("mlp256-*.keras")}
    # Make the resumed epoch worse than any earlier one: a learning rate that wrecks it.
    import keras

    real_load = keras.models.load_model

    def wrecked(*args: object, **kwargs: object) -> object:
        model = real_load(*args, **kwargs)
        if getattr(model, "optimizer", None) is not None:
            model.optimizer.learning_rate = 5.0
        return model

    monkeypatch.setattr(keras.models, "load_model", wrecked)
    resumed = train("mlp256", small, epochs=3, checkpoint_dir=tmp_path, seed=0, verbose=0,
                    resume=True)
    monkeypatch.undo()
    losses = resumed.history["val_loss"]
    assert losses[2] > min(losses[:2])
    assert resumed.best_epoch == best_before
    assert {p.name for p in tmp_path.glob("mlp256-*.keras")} == best_files
    from kerasdigits.training import load_model

    best_file = next(p for p in tmp_path.glob(f"mlp256-{best_before:02d}-*.keras"))
    expected = load_model(best_file).get_weights()
    for got, want in zip(resumed.model.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_resume_on_another_dataset_is_refused(tmp_path: Path) -> None:
    fashion = load_dataset("fashion_mnist_sample")
    fashion = dataclasses.replace(fashion, train=fashion.train.take(slice(0, 600)))
    digits = load_dataset("mnist_sample")
    digits = dataclasses.replace(digits, train=digits.train.take(slice(0, 600)))
    train("mlp256", fashion, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    before = snapshot(tmp_path)
    with pytest.raises(TrainingError, match="trained on the classes T-shirt/top"):
        train("mlp256", digits, epochs=2, checkpoint_dir=tmp_path, seed=0, verbose=0,
              resume=True)
    assert snapshot(tmp_path) == before


def test_resume_without_an_index_uses_last_keras_and_never_starts_over(
        small: Dataset, tmp_path: Path) -> None:
    train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=0, verbose=0)
    (tmp_path / "checkpoints.json").unlink()
    resumed = train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, seed=0, verbose=0,
                    resume=True)
    assert resumed.initial_epoch == 1
    # Files of an earlier run but nothing to resume from: an error, not a fresh start.
    other = tmp_path / "other"
    other.mkdir()
    (other / "history.json").write_text("{}")
    with pytest.raises(TrainingError, match="no checkpoint to continue from"):
        train("mlp256", small, epochs=1, checkpoint_dir=other, verbose=0, resume=True)


def test_preset_none_trains_without_callbacks(small: Dataset, tmp_path: Path) -> None:
    result = train("mlp256", small, epochs=1, callbacks="none", checkpoint_dir=tmp_path,
                   verbose=0)
    assert result.epochs_run == 1 and not list(tmp_path.iterdir())
