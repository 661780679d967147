"""``train``: fit a zoo model (or any Keras model) on a dataset with the spec's recipe."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kerasdigits import _keras_compat, _lazy
from kerasdigits._errors import KerasDigitsWarning
from kerasdigits.datasets import Dataset, Split, load_dataset
from kerasdigits.training._errors import TrainingError
from kerasdigits.training._feeding import input_contract, prepare_images
from kerasdigits.training._finetune import FineTune, recalibrate_batch_norm
from kerasdigits.training._finetune import prepare as prepare_finetune
from kerasdigits.training._finetune import transfer as transfer_weights
from kerasdigits.training._history import best_epoch
from kerasdigits.training._run import LocalRun, Run
from kerasdigits.training._rundir import (
    check_fresh_start,
    check_same_model,
    earlier_run,
    lock_run,
    resume_point,
)

if TYPE_CHECKING:
    from kerasdigits.models import ModelSpec

__all__ = ["TrainResult", "TrainingError", "train"]

Validation = Literal["auto", "test", "none"] | float | Split | None
_DEFAULT_VALIDATION_FRACTION = 0.1


@dataclass(frozen=True, eq=False)
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: The trained Keras model (with the best weights restored when early stopping
            was on).
        history: Per-epoch metrics as plain lists (``{"loss": [...], "val_accuracy": [...]}``),
            including the epochs of a run that was resumed.
        best_epoch: The 1-based epoch with the lowest validation loss (training loss when there
            was no validation).
        wall_time: Seconds spent in ``fit`` in this call.
        epochs_run: Epochs trained in this call.
        initial_epoch: Epochs already done before this call (non-zero when resuming).
        checkpoint_dir: Where checkpoints were written, or ``None``.
        checkpoint_paths: The checkpoint files written, oldest first.
        validation: Which data was used for validation (``"validation split"``,
            ``"carved from train"``, ``"test split"`` or ``"none"``).
        class_names: The dataset's class names, index = output unit; they travel with the
            model (:meth:`save`, :func:`~kerasdigits.training.get_class_names`).
        init_from: What the weights of this call started from: the path of the ``.keras``
            file or ``"keras.Model 'name'"`` given as ``init_from``; ``None`` when training
            started from scratch or continued from a checkpoint (``resume``).
    """

    model: Any
    history: dict[str, list[float]]
    best_epoch: int
    wall_time: float
    epochs_run: int
    initial_epoch: int = 0
    checkpoint_dir: Path | None = None
    checkpoint_paths: tuple[Path, ...] = field(default=())
    validation: str = "none"
    class_names: tuple[str, ...] = ()
    init_from: str | None = None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the trained model to a ``.keras`` file with its class names.

        See :func:`~kerasdigits.training.save_model`; the file loads with
        :func:`~kerasdigits.load_model` in another process.

        Returns:
            The path written.
        """
        from kerasdigits.training._io import save_model

        return save_model(self.model, path, class_names=self.class_names or None)

    def __repr__(self) -> str:
        return (f"TrainResult(model={self.model.name!r}, epochs_run={self.epochs_run}, "
                f"best_epoch={self.best_epoch}, wall_time={self.wall_time:.1f}s)")


def _pick_validation(dataset: Dataset, validation: Validation, fraction: float, seed: int
                     ) -> tuple[Dataset, Split | None, str]:
    if isinstance(validation, Split):
        return dataset, validation, "given split"
    if validation is None or validation == "none":
        return dataset, None, "none"
    if validation == "test":
        return dataset, dataset.test, "test split"
    if validation == "auto":
        if dataset.validation is not None:
            return dataset, dataset.validation, "validation split"
        carved = dataset.with_validation(fraction, seed=seed)
        return carved, carved.validation, "carved from train"
    if isinstance(validation, (int, float)) and not isinstance(validation, bool):
        if dataset.validation is not None:
            raise TrainingError("the dataset already has a validation split; pass "
                                "validation='auto' to use it")
        carved = dataset.with_validation(validation, seed=seed)
        return carved, carved.validation, "carved from train"
    raise TrainingError(
        f"validation must be 'auto', 'test', 'none', a size (int or fraction) or a Split, "
        f"got {validation!r}"
    )


def _pipeline(split: Split, model: Any, batch_size: int, *, shuffle: bool,
              seed: int | None) -> Any:
    """A tf.data pipeline of uint8 batches, adapted on the fly to the model's input."""
    tf = _lazy.tensorflow()
    data = split.to_tf(batch_size, shuffle=shuffle, seed=seed, prefetch=False)
    contract = input_contract(model)
    if contract.dtype != "uint8" or contract.shape != split.images.shape[1:]:
        target, dtype, factor = contract.shape, contract.dtype, contract.pixel_factor

        def adapt(x: Any, y: Any) -> tuple[Any, Any]:
            x = tf.reshape(x, (-1, *target))
            if dtype != "uint8":
                x = tf.cast(x, dtype)
                if factor != 1.0:
                    x = x * factor
            return x, y

        data = data.map(adapt, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


def _resolve_model(model_or_name: Any, num_classes: int, **build_kwargs: Any
                   ) -> tuple[Any, ModelSpec | None]:
    if isinstance(model_or_name, str):
        from kerasdigits.models import build, get_model_spec

        spec = get_model_spec(model_or_name)
        build_kwargs.setdefault("preprocessing", "unit")
        if num_classes != 10:
            build_kwargs.setdefault("num_classes", num_classes)
        return build(model_or_name, **build_kwargs), spec
    if build_kwargs:
        raise TrainingError(
            f"build arguments {sorted(build_kwargs)} only apply when a model name is given"
        )
    if not hasattr(model_or_name, "fit"):
        raise TrainingError(
            f"train() takes a zoo model name or a Keras model, got {type(model_or_name).__name__}"
        )
    from kerasdigits.models import get_model_spec

    try:
        return model_or_name, get_model_spec(model_or_name.name)
    except KeyError:
        return model_or_name, None


def _callbacks(callbacks: str | Sequence[Any] | None, directory: Path, has_validation: bool,
               patience: int | None, metrics: Sequence[str],
               history: dict[str, list[float]]) -> list[Any]:
    from kerasdigits import callbacks as presets

    if callbacks is None or callbacks == "none":
        return []
    if not isinstance(callbacks, str):
        return list(callbacks)
    monitor = "val_loss" if has_validation else "loss"
    overrides: dict[str, Any] = {"monitor": monitor}
    if patience is not None:
        overrides["patience"] = patience
    if callbacks in ("default", "logs"):
        overrides["directory"] = directory
        overrides["validation"] = has_validation
        overrides["metrics"] = tuple(metrics)
        overrides["history"] = history
        if not has_validation:
            overrides["filename"] = "{name}-{epoch:02d}-{loss:.4f}.keras"
    return presets.preset(callbacks, **overrides)


def _compiled_metrics(model: Any) -> list[str]:
    names = [metric if isinstance(metric, str) else getattr(metric, "name", "metric")
             for metric in _keras_compat.compiled_metrics(model)]
    return names or ["accuracy"]


def train(
    model_or_name: Any,
    dataset: Dataset | str,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    validation: Validation = "auto",
    callbacks: str | Sequence[Any] | None = "default",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    seed: int | None = None,
    verbose: int | Literal["auto"] = "auto",
    strategy: Any = None,
    init_from: Any = None,
    freeze: bool = False,
    **build_kwargs: Any,
) -> TrainResult:
    """Train a model on a dataset.

    Defaults (epochs, batch size, learning-rate schedule, early-stopping patience, how much of
    train to hold out for validation) come from the model's spec recipe. Images stay ``uint8``
    in a ``tf.data`` pipeline and are normalized inside the model, so no float copy of the
    dataset is made.

    Args:
        model_or_name: A zoo name (built with ``preprocessing="unit"``, so it takes raw
            pixels) or a Keras model (used as compiled; compiled with Adam if it is not).
        dataset: A :class:`~kerasdigits.datasets.Dataset` or a dataset name.
        epochs: Epochs to train (in total, when resuming); default from the recipe.
        batch_size: Default from the recipe.
        validation: ``"auto"`` (the dataset's validation split, else a stratified part of
            train carved out with the recipe's ``validation_size`` or 10%), a size (int or
            fraction) to carve, a :class:`~kerasdigits.datasets.Split`, ``"test"`` (the test
            split, as the tutorials did: a shortcut that leaks the test set into model
            selection), or ``"none"``.
        callbacks: A preset name (see :func:`kerasdigits.callbacks.preset`; ``"default"``:
            best-only checkpoints and early stopping), a list of Keras callbacks, or ``None``.
        checkpoint_dir: Folder for checkpoints (default ``checkpoints/<model name>``).
        resume: Continue from the newest checkpoint in ``checkpoint_dir`` (weights, optimizer
            state, epoch count and history, as recorded in the checkpoint file); starts
            fresh, saying so, if there is none. The checkpoint must hold the same model.
        overwrite: With the ``"default"`` or ``"logs"`` preset, start afresh in a
            ``checkpoint_dir`` that holds an earlier run (its index, history and
            ``last.keras`` are removed). Without it (or ``resume``) such a folder is refused,
            so that nothing of an earlier run is lost by accident. A folder is used by one run
            at a time: a second run into it fails at once, naming the process that holds it.
        seed: Seed for weights, shuffling and the validation split; the same seed gives the
            same history on the same machine.
        verbose: Keras verbosity: ``"auto"`` (progress bar on a terminal, a line per epoch
            otherwise), 0, 1 or 2.
        strategy: ``None`` (one device), ``"mirrored"`` (every local GPU, else every logical
            CPU device), ``"multi_worker"`` (``MultiWorkerMirroredStrategy`` over the cluster in
            ``TF_CONFIG``; run the same call on every machine) or a
            ``tf.distribute.Strategy``. ``batch_size`` stays the global batch (it must be a
            multiple of the replicas) and the recipe's learning rate is used unchanged; only
            the chief writes into ``checkpoint_dir``, which must be shared by all workers for
            ``resume``; a backup in ``checkpoint_dir/backup`` lets ``resume=True`` continue
            an interrupted run. A Keras model given with a strategy must be created in
            ``strategy.scope()``. Under several workers the returned model is a
            single-process copy. See the "Scaling out" page of the documentation.
        init_from: Fine-tune: start from the weights of a trained model, a Keras model or
            the path of a ``.keras`` file saved by kerasdigits (``TrainResult.save``, the
            command line, checkpoints). The model to train is built as usual (with the
            dataset's class count), then every layer's weights are copied from it: the two
            must have the same layers, except the classification head (the last layer with
            weights), which is copied when the source was trained on the dataset's classes
            (or its classes are unknown) and freshly initialised otherwise: another class
            count (a 5-class subset, EMNIST's 47 classes) or other classes (Fashion-MNIST on
            a digits model). A file that records another zoo model than ``model_or_name`` is
            refused. The recipe's learning-rate schedule applies unchanged (a tenth of it
            did no better, frozen or not: ``bench/bench_finetune.py``). With ``resume=True``
            and a checkpoint to continue from, the checkpoint wins: ``init_from`` only sets
            the starting weights of a fresh run (it is still loaded and checked).
        freeze: With ``init_from``: train only the head; every other layer is made
            non-trainable (batch normalization then runs in inference mode, with the
            source's statistics), and stays so in the returned model and its checkpoints.
            Twice as fast per epoch, but only for data like the source's: an MNIST trunk
            frozen on Fashion-MNIST lost 10-16 points against training it too.
        **build_kwargs: Passed to :func:`kerasdigits.build` with a model name (``style``,
            ``dropout``...).

    Returns:
        A :class:`TrainResult`.

    Raises:
        TrainingError: Bad arguments, a dataset split too small to train or validate on, a
            callback monitoring a quantity that is not logged, a checkpoint folder holding an
            earlier run (without ``resume`` or ``overwrite``) or in use by another run, or a
            checkpoint of another model to resume from; ``init_from`` of another
            architecture (the message names the first layer that differs), ``freeze``
            without ``init_from``.
        ModelFileError: ``init_from`` names a file that cannot be loaded.
        WorkerFailureError: Under several workers, a worker died or stopped responding.
    """

    def body(run: Run) -> TrainResult:
        return _train(model_or_name, dataset, epochs=epochs, batch_size=batch_size,
                      validation=validation, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                      resume=resume, overwrite=overwrite, seed=seed, verbose=verbose, run=run,
                      init_from=init_from, freeze=freeze, **build_kwargs)

    if strategy is None:
        return body(LocalRun())
    from kerasdigits.training._run import run_distributed
    from kerasdigits.training._strategy import resolve_strategy

    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs anything else.
    result: TrainResult = run_distributed(resolve_strategy(strategy), body)
    return result


def _train(
    model_or_name: Any,
    dataset: Dataset | str,
    *,
    epochs: int | None,
    batch_size: int | None,
    validation: Validation,
    callbacks: str | Sequence[Any] | None,
    checkpoint_dir: str | os.PathLike[str] | None,
    resume: bool,
    overwrite: bool,
    seed: int | None,
    verbose: int | Literal["auto"],
    run: Run,
    init_from: Any = None,
    freeze: bool = False,
    **build_kwargs: Any,
) -> TrainResult:
    dataset = _as_dataset(dataset)
    source = prepare_finetune(init_from, freeze, model_or_name)
    if seed is not None:
        _lazy.keras().utils.set_random_seed(int(seed))
    model, spec = _resolve_model(model_or_name, dataset.num_classes, **build_kwargs)
    run.check_model(model)  # a zoo name was just built in the strategy's scope
    _warn_if_mirrored_digits(spec, dataset)
    # Before compiling: Keras reads the trainable flags (freeze) when it compiles.
    tuned = (transfer_weights(source, model, dataset.class_names) if source is not None
             else None)
    recipe = spec.recipe if spec is not None else None
    epochs, batch_size = _epochs_and_batch_size(epochs, batch_size, recipe)
    run.per_replica_batch_size(batch_size)
    fraction = (recipe.validation_size if recipe and recipe.validation_size
                else _DEFAULT_VALIDATION_FRACTION)
    dataset, val_split, val_note = _pick_validation(dataset, validation, fraction,
                                                    seed if seed is not None else 0)
    _check_split_sizes(dataset, val_split, val_note)
    _compile(model, spec, model_or_name, steps=-(-len(dataset.train) // batch_size),
             epochs=epochs)
    directory = (Path(checkpoint_dir) if checkpoint_dir is not None
                 else Path("checkpoints") / model.name)
    # Under a strategy only the chief writes into `directory`; the others write elsewhere.
    write_dir = run.write_dir(directory)
    manages_folder = isinstance(callbacks, str) and callbacks in ("default", "logs")
    with lock_run(write_dir) if manages_folder else contextlib.nullcontext():
        model, initial_epoch, previous = _starting_point(
            model, model_or_name, directory, write_dir, epochs, resume=resume,
            overwrite=overwrite, manages_folder=manages_folder, run=run,
            class_names=dataset.class_names)
        _record_classes(model, dataset, model_or_name)
        initial_epoch, previous, backup = run.backup(
            directory, write_dir, callbacks, resume=resume, initial_epoch=initial_epoch,
            previous=previous, epochs=epochs)
        tuned = _report_init(tuned, initial_epoch)
        patience = recipe.early_stopping_patience if recipe else None
        metrics = _compiled_metrics(model)
        cbs = _callbacks(callbacks, write_dir, val_split is not None, patience, metrics,
                         previous)
        _check_monitors(cbs, metrics, val_split is not None)
        if not isinstance(callbacks, str):
            run.redirect(cbs, write_dir)
        if backup is not None:
            cbs.append(backup)
        history, wall = _fit(model, dataset.train, val_split, batch_size, epochs, initial_epoch,
                             cbs, seed=seed, verbose=verbose, run=run)
    new = {k: [float(v) for v in values] for k, values in history.history.items()}
    merged = {k: previous.get(k, []) + new.get(k, []) for k in new}
    directory, paths = _written_checkpoints(cbs, directory, write_dir)
    if manages_folder:
        _restore_earlier_best(model, merged, initial_epoch, write_dir)
    if tuned is not None and len(new.get("loss", [])):
        # The moving statistics of a short fine-tune lag behind its weights: re-estimate them.
        recalibrate_batch_norm(model, prepare_images(model, dataset.train.images)[0],
                               batch_size)
    return TrainResult(model=model, history=merged, best_epoch=best_epoch(merged), wall_time=wall,
                       epochs_run=len(new.get("loss", [])), initial_epoch=initial_epoch,
                       checkpoint_dir=directory if paths else None, checkpoint_paths=paths,
                       validation=val_note, class_names=dataset.class_names,
                       init_from=tuned.source if tuned is not None else None)


def _report_init(tuned: FineTune | None, initial_epoch: int) -> FineTune | None:
    """Say where the weights start from; ``None`` when a checkpoint replaced ``init_from``."""
    if tuned is None:
        return None
    if initial_epoch:
        print(f"resume: the checkpoint wins; init_from ({tuned.source}) only sets the "
              "weights of a fresh run", file=sys.stderr)
        return None
    print(tuned, file=sys.stderr)
    return tuned


def _as_dataset(dataset: Dataset | str) -> Dataset:
    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    if not isinstance(dataset, Dataset):
        raise TrainingError(f"dataset must be a Dataset or a name, got {type(dataset).__name__}")
    return dataset


def _epochs_and_batch_size(epochs: int | None, batch_size: int | None, recipe: Any
                           ) -> tuple[int, int]:
    from kerasdigits._validate import positive_int

    epochs = epochs if epochs is not None else (recipe.epochs if recipe else 10)
    batch_size = batch_size if batch_size is not None else (recipe.batch_size if recipe else 128)
    return (positive_int(epochs, "epochs", error=TrainingError),
            positive_int(batch_size, "batch_size", error=TrainingError))


def _check_split_sizes(dataset: Dataset, val_split: Split | None, val_note: str) -> None:
    """Fail before training on splits too small to train or validate on."""
    if len(dataset.train) == 0:
        raise TrainingError(f"the train split of {dataset.name!r} is empty: nothing to train on")
    if val_split is not None and len(val_split) == 0:
        raise TrainingError(
            f"the validation split ({val_note}) of {dataset.name!r} is empty: with only "
            f"{len(dataset.train)} training images, pass validation='none' or a larger dataset"
        )


def _warn_if_mirrored_digits(spec: ModelSpec | None, dataset: Dataset) -> None:
    """Warn when a model that trains on mirror images (tag ``mirror``) is given digits."""
    if spec is None or "mirror" not in spec.tags:
        return
    if all(name.isdigit() for name in dataset.class_names):
        warnings.warn(
            f"{spec.name} trains on left-right mirror images, but the classes of "
            f"{dataset.name!r} are digits, and a mirrored 2 is not a 2: pick a model without "
            "the 'mirror' tag",
            KerasDigitsWarning,
            stacklevel=5,  # the caller of train()
        )


def _compile(model: Any, spec: ModelSpec | None, model_or_name: Any, *, steps: int,
             epochs: int) -> None:
    """Compile a zoo model with its recipe's schedule; a bare Keras model with Adam.

    The schedule spans the ``epochs`` asked for (a cosine decay reaches zero at the end of
    them, not at the end of the recipe's own epoch count).
    """
    if spec is not None and isinstance(model_or_name, str):
        recipe = spec.recipe
        if recipe is not None and recipe.epochs != epochs:
            recipe = dataclasses.replace(recipe, epochs=epochs,
                                         warmup_epochs=min(recipe.warmup_epochs, epochs))
        base = spec.compile_settings.learning_rate or 0.001
        lr = recipe.learning_rate_schedule(steps, base) if recipe else None
        model.compile(**spec.compile_settings.compile_kwargs(lr))
    elif getattr(model, "optimizer", None) is None:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])


def _restore_earlier_best(model: Any, history: dict[str, list[float]], initial_epoch: int,
                          folder: Path) -> None:
    """After a resumed run, put back the best epoch's weights if it was an earlier one.

    Early stopping restores the best weights of *this* run; when the best epoch overall came
    before the resume, its best-only checkpoint holds them.
    """
    best = best_epoch(history)
    if not 0 < best <= initial_epoch:
        return
    from kerasdigits.callbacks import LAST_CHECKPOINT, CallbackError, read_index
    from kerasdigits.training._io import load_model

    try:
        entries = read_index(folder)
    except CallbackError:
        return
    for entry in entries:
        path = folder / entry["path"]
        if (entry["epoch"] == best and entry["path"] != LAST_CHECKPOINT
                and path.suffix == ".keras" and path.is_file()):
            model.set_weights(load_model(path, compile=False).get_weights())
            print(f"resume: the best epoch is still {best}; its weights are restored from "
                  f"{path}", file=sys.stderr)
            return


def _starting_point(model: Any, model_or_name: Any, directory: Path, write_dir: Path,
                    epochs: int, *, resume: bool, overwrite: bool, manages_folder: bool,
                    run: Run, class_names: Sequence[str]
                    ) -> tuple[Any, int, dict[str, list[float]]]:
    """Return ``(model, initial_epoch, history so far)``: resumed, or a fresh start."""
    if not resume:
        if manages_folder:
            check_fresh_start(write_dir, overwrite=overwrite)
        return model, 0, {}
    if overwrite:
        raise TrainingError("resume=True continues the earlier run and overwrite=True "
                            "replaces it: pass one of them")
    from kerasdigits.training._io import load_model

    point = resume_point(directory)
    run.agree(point.epoch if point else 0, "the checkpoint to resume from")
    if point is None:
        earlier = earlier_run(directory)
        if earlier is not None:
            raise TrainingError(f"resume: {directory} holds files of an earlier run ({earlier}) "
                                "but no checkpoint to continue from; pass overwrite=True "
                                "(--overwrite) to start afresh there")
        print(f"resume: no checkpoint in {directory}; starting from epoch 1", file=sys.stderr)
        return model, 0, {}
    if point.epoch >= epochs:
        raise TrainingError(f"resume: {point.path} has already trained {point.epoch} epochs; "
                            f"ask for more than {point.epoch} epochs")
    loaded = load_model(point.path, compile=True)
    check_same_model(point.path, loaded, model_or_name)
    from kerasdigits.training._io import get_class_names

    own = get_class_names(loaded)
    if own is not None and tuple(own) != tuple(class_names):
        raise TrainingError(
            f"resume: {point.path} was trained on the classes {', '.join(own[:4])}, ... but "
            f"this dataset has {', '.join(tuple(class_names)[:4])}, ...; resume on the same "
            "dataset, or train into another folder"
        )
    print(f"resume: continuing from {point.path} (epoch {point.epoch} of {epochs})",
          file=sys.stderr)
    return loaded, point.epoch, point.history


def _check_monitors(cbs: Sequence[Any], metrics: Sequence[str], has_validation: bool) -> None:
    """Check each callback's ``monitor`` against what training logs, before training."""
    from kerasdigits._suggest import did_you_mean

    logged = {"loss", *metrics, "learning_rate"}
    if has_validation:
        logged |= {f"val_{m}" for m in ("loss", *metrics)}
    for cb in cbs:
        monitor = getattr(cb, "monitor", None)
        if isinstance(monitor, str) and monitor not in logged:
            raise TrainingError(
                f"{type(cb).__name__} monitors {monitor!r}, which training does not log."
                f"{did_you_mean(monitor, logged)} Logged: {', '.join(sorted(logged))}."
            )


def _fit(model: Any, train: Split, val_split: Split | None, batch_size: int, epochs: int,
         initial_epoch: int, cbs: list[Any], *, seed: int | None,
         verbose: int | Literal["auto"], run: Run) -> tuple[Any, float]:
    """Build the pipelines and run ``model.fit``; return Keras's history and the wall time."""
    train_data = _pipeline(train, model, batch_size, shuffle=True, seed=run.shuffle_seed(seed))
    val_data = (_pipeline(val_split, model, max(batch_size, 256), shuffle=False, seed=None)
                if val_split is not None else None)
    train_data, val_data = run.shard(train_data), run.shard(val_data)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    start = time.perf_counter()
    with run.fitting(model, train_data.element_spec):
        history = model.fit(train_data, validation_data=val_data, epochs=epochs, shuffle=False,
                            initial_epoch=initial_epoch, callbacks=cbs, verbose=verbose)
    return history, time.perf_counter() - start


def _written_checkpoints(cbs: Sequence[Any], directory: Path, write_dir: Path
                         ) -> tuple[Path, tuple[Path, ...]]:
    """The checkpoint folder to report and the checkpoint files written, oldest first."""
    # Every folder a kerasdigits checkpoint callback wrote into (presets or an explicit list).
    folders = list(dict.fromkeys(Path(cb.directory) for cb in cbs if hasattr(cb, "directory")))
    if write_dir != directory:  # a non-chief worker: report the chief's
        folders = [directory if f == write_dir else f for f in folders
                   if f == write_dir or write_dir not in f.parents]
    paths = tuple(p for folder in folders for p in _checkpoint_files(folder))
    return (folders[0] if folders else directory), paths


def _record_classes(model: Any, dataset: Dataset, model_or_name: Any) -> None:
    """Remember the dataset's class names with the model (saved with its checkpoints)."""
    from kerasdigits.training._io import model_info, set_class_names

    try:
        outputs = int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return
    if outputs != dataset.num_classes:
        return
    zoo = model_or_name if isinstance(model_or_name, str) else model_info(model).model
    # A folder of pictures is recorded by its path, so that evaluate and export find it again.
    folder = dataset.source.kind == "folder" and dataset.source.path is not None
    reference = str(dataset.source.path) if folder else dataset.name
    set_class_names(model, dataset.class_names, dataset=reference, model_name=zoo)


def _checkpoint_files(directory: Path) -> tuple[Path, ...]:
    from kerasdigits.callbacks import CallbackError, read_index

    try:
        entries = read_index(directory)
    except CallbackError:
        return ()
    files = [directory / e["path"] for e in sorted(entries, key=lambda e: e["epoch"])]
    return tuple(p for p in files if p.is_file())
