"""Callback presets: checkpoint template checks, early stopping, presets, resuming."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from kerasdigits import callbacks
from kerasdigits.callbacks import CallbackError
from kerasdigits.datasets import Dataset, load_dataset


@pytest.fixture(scope="module")
def small() -> Dataset:
    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, train=ds.train.take(slice(0, 1200)),
                               test=ds.test.take(slice(0, 300)))


# ----------------------------------------------------------------------------- checkpoint


def test_checkpoint_creates_the_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    cb = callbacks.checkpoint(target)
    assert target.is_dir()
    assert cb.filepath.endswith("{name}-{epoch:02d}-{val_loss:.4f}.keras")
    assert cb.save_best_only is True
    assert cb.monitor == "val_loss"


@pytest.mark.parametrize(
    ("filename", "weights_only", "message"),
    [
        ("model.h5", False, r"must end in '\.keras' when weights_only=False.*weights_only=True"),
        ("model.weights", False, r"must end in '\.keras'"),
        ("model.keras", True, r"must end in '\.weights\.h5' when weights_only=True"),
    ],
)
def test_checkpoint_suffix_rules_fail_early(tmp_path: Path, filename: str, weights_only: bool,
                                            message: str) -> None:
    with pytest.raises(CallbackError, match=message):
        callbacks.checkpoint(tmp_path, filename=filename, weights_only=weights_only)
    assert not any(tmp_path.iterdir())


def test_checkpoint_weights_only_accepts_weights_h5(tmp_path: Path) -> None:
    cb = callbacks.checkpoint(tmp_path, filename="w-{epoch:02d}.weights.h5", weights_only=True)
    assert cb.save_weights_only is True


def test_checkpoint_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(CallbackError, match=r"\{val_los\}.*Did you mean 'val_loss'\?"):
        callbacks.checkpoint(tmp_path, filename="m-{epoch:02d}-{val_los:.4f}.keras")


def test_checkpoint_val_fields_need_validation(tmp_path: Path) -> None:
    with pytest.raises(CallbackError, match="val_loss"):
        callbacks.checkpoint(tmp_path, validation=False, monitor="loss")


def test_checkpoint_bad_format_spec_fails_early(tmp_path: Path) -> None:
    with pytest.raises(CallbackError, match="cannot be formatted"):
        callbacks.checkpoint(tmp_path, filename="m-{val_loss:02d}.keras")


def test_checkpoint_unknown_monitor(tmp_path: Path) -> None:
    with pytest.raises(CallbackError, match=r"monitor 'val_acc' is not logged.*val_accuracy"):
        callbacks.checkpoint(tmp_path, monitor="val_acc")


def test_checkpoint_filename_must_not_be_a_path(tmp_path: Path) -> None:
    with pytest.raises(CallbackError, match="must be a file name"):
        callbacks.checkpoint(tmp_path, filename="sub/m.keras")


# ----------------------------------------------------------------------------- presets


def test_unknown_preset_suggests() -> None:
    with pytest.raises(CallbackError, match="Did you mean 'default'"):
        callbacks.preset("defualt")


def test_preset_rejects_arguments_it_does_not_take() -> None:
    with pytest.raises(CallbackError, match="preset 'quick' takes no argument 'directory'"):
        callbacks.preset("quick", directory="x")


def test_early_stopping_rejects_bad_patience() -> None:
    with pytest.raises(CallbackError, match="patience"):
        callbacks.early_stopping(patience=-1)


def test_quick_preset_is_early_stopping_only() -> None:
    cbs = callbacks.preset("quick", patience=3)
    assert [type(cb).__name__ for cb in cbs] == ["EarlyStopping"]
    assert cbs[0].patience == 3


def test_default_preset_writes_best_checkpoints_last_and_history(
    small: Dataset, tmp_path: Path
) -> None:
    from kerasdigits import train

    result = train("mlp256", small, epochs=2, batch_size=64, checkpoint_dir=tmp_path, seed=0,
                   verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    best = [n for n in names if re.fullmatch(r"mlp256-\d\d-\d\.\d{4}\.keras", n)]
    assert best, names
    assert {"last.keras", "history.json", "checkpoints.json"} <= set(names)
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["loss"]) == 2
    assert history["val_loss"] == pytest.approx(result.history["val_loss"])
    # The best-only file carries the epoch and val_loss of an epoch that was the best so far.
    epoch, val_loss = re.fullmatch(r"mlp256-(\d\d)-(\d\.\d{4})\.keras", best[-1]).groups()
    assert float(val_loss) == pytest.approx(min(history["val_loss"][: int(epoch)]), abs=1e-4)
    assert result.checkpoint_paths and all(p.is_file() for p in result.checkpoint_paths)


def test_logs_preset_writes_csv_and_tensorboard(small: Dataset, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from kerasdigits import train

    train("mlp256", small, epochs=1, batch_size=128, callbacks="logs", checkpoint_dir=tmp_path,
          verbose=0)
    csv_lines = (tmp_path / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,")
    assert len(csv_lines) == 2
    assert any((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))


def test_quick_preset_writes_no_files(small: Dataset, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdigits import train

    monkeypatch.chdir(tmp_path)
    result = train("mlp256", small, epochs=1, callbacks="quick", verbose=0)
    assert list(tmp_path.iterdir()) == []
    assert result.checkpoint_paths == ()


def test_early_stopping_triggers_on_a_plateau(small: Dataset) -> None:
    """With a zero learning rate nothing improves, so training stops after patience + 1."""
    import keras

    from kerasdigits import build, train

    model = build("mlp256", preprocessing="unit", compile=False)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    result = train(model, small, epochs=20, callbacks=callbacks.preset("quick", patience=2),
                   verbose=0)
    assert result.epochs_run == 3
    assert len(set(np.round(result.history["val_loss"], 6))) == 1


def test_resume_continues_the_epoch_count(small: Dataset, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from kerasdigits import train

    first = train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, seed=3, verbose=0)
    optimizer_steps = int(first.model.optimizer.iterations.numpy())
    second = train("mlp256", small, epochs=3, checkpoint_dir=tmp_path, seed=3, resume=True,
                   verbose=0)
    err = capsys.readouterr().err
    assert "resume: continuing from" in err and "last.keras (epoch 2 of 3)" in err
    assert second.initial_epoch == 2
    assert second.epochs_run == 1
    assert len(second.history["loss"]) == 3
    assert second.history["loss"][:2] == pytest.approx(first.history["loss"])
    # Optimizer state came back with the model: its step counter kept counting.
    assert int(second.model.optimizer.iterations.numpy()) == optimizer_steps * 3 // 2


def test_resume_without_checkpoint_starts_fresh_and_says_so(
    small: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kerasdigits import train

    result = train("mlp256", small, epochs=1, checkpoint_dir=tmp_path / "none", resume=True,
                   verbose=0)
    assert "no checkpoint in" in capsys.readouterr().err
    assert result.initial_epoch == 0 and result.epochs_run == 1


def test_resume_past_the_requested_epochs_is_an_error(small: Dataset, tmp_path: Path) -> None:
    from kerasdigits import train
    from kerasdigits.training import TrainingError

    train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, verbose=0)
    with pytest.raises(TrainingError, match="already trained 2 epochs"):
        train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, resume=True, verbose=0)


def test_a_fresh_run_in_a_used_folder_does_not_resume_the_old_one(
    small: Dataset, tmp_path: Path
) -> None:
    from kerasdigits import train

    train("mlp256", small, epochs=3, checkpoint_dir=tmp_path, seed=0, verbose=0)
    second = train("mlp256", small, epochs=1, checkpoint_dir=tmp_path, seed=5, verbose=0,
                   overwrite=True)
    assert all(p.name in ("last.keras",) or p.name.startswith("mlp256-01-")
               for p in second.checkpoint_paths), second.checkpoint_paths
    path, epoch = callbacks.latest_checkpoint(tmp_path)  # type: ignore[misc]
    assert (path.name, epoch) == ("last.keras", 1)
    third = train("mlp256", small, epochs=2, checkpoint_dir=tmp_path, seed=5, resume=True,
                  verbose=0)
    assert third.initial_epoch == 1
    assert len(third.history["loss"]) == 2
    assert third.history["loss"][0] == pytest.approx(second.history["loss"][0])


def test_explicit_checkpoint_callback_files_are_reported(small: Dataset, tmp_path: Path) -> None:
    from kerasdigits import train

    result = train("mlp256", small, epochs=1, verbose=0,
                   callbacks=[callbacks.checkpoint(tmp_path / "mine")])
    assert result.checkpoint_dir == tmp_path / "mine"
    assert [p.parent for p in result.checkpoint_paths] == [tmp_path / "mine"]
    assert result.checkpoint_paths[0].name.startswith("mlp256-01-")
