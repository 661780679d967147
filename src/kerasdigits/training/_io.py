"""Saving and loading ``.keras`` model files, with the class names that travel with them.

A ``.keras`` file is a zip archive (``config.json``, ``metadata.json``,
``model.weights.h5``). :func:`save_model` writes it atomically and adds one more member,
``kerasdigits.json``: the class names the model was trained with, the dataset's name and
the zoo name. Keras ignores that member, so the file still loads with plain Keras;
:func:`load_model` reads it back, and :func:`get_class_names` then answers for the loaded
model (``export_tflite`` and ``predict`` use it for their labels).

The saved file also needs as few kerasdigits classes as possible: a
:class:`~kerasdigits.models.layers.FastBatchNormalization` layer (a training-speed variant
with the same weights) is written as Keras's own ``BatchNormalization`` by :func:`save_model`,
and turned back into the fast class by :func:`load_model`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import weakref
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kerasdigits import _lazy, _validate
from kerasdigits._errors import KerasDigitsError
from kerasdigits._version import __version__

__all__ = [
    "INFO_MEMBER",
    "ModelFileError",
    "ModelInfo",
    "get_class_names",
    "load_model",
    "model_info",
    "save_model",
    "set_class_names",
]

#: The member of a ``.keras`` archive that holds the :class:`ModelInfo`.
INFO_MEMBER = "kerasdigits.json"
_INFO_MAX_BYTES = 1 << 20  # what a file from elsewhere may make us read
_MAX_CLASSES = 10_000


class ModelFileError(KerasDigitsError, ValueError):
    """A model file is missing or cannot be loaded."""


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What kerasdigits knows about a model beyond its Keras config.

    Attributes:
        class_names: The class names, index = output unit (``None``: unknown).
        dataset: The name of the dataset it was trained on, if known.
        model: The zoo name it was built from, if any.
    """

    class_names: tuple[str, ...] | None = None
    dataset: str | None = None
    model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored in a ``.keras`` file."""
        return {
            "kerasdigits": __version__,
            "class_names": None if self.class_names is None else list(self.class_names),
            "dataset": self.dataset,
            "model": self.model,
        }


_INFO: weakref.WeakKeyDictionary[Any, ModelInfo] = weakref.WeakKeyDictionary()


def check_class_names(names: Sequence[str], *, what: str = "class_names") -> tuple[str, ...]:
    """Return ``names`` as a tuple of non-empty one-line strings, or raise ``ValueError``."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ValueError(f"{what} must be a sequence of strings, got {type(names).__name__}")
    if not 0 < len(names) <= _MAX_CLASSES:
        raise ValueError(f"{what} must hold 1 to {_MAX_CLASSES:,} names, got {len(names):,}")
    result = tuple(names)
    for name in result:
        if _validate.class_name_problem(name):
            raise ValueError(f"{what}: every name must be a non-empty single line of at most "
                             f"{_validate.MAX_CLASS_NAME_CHARS} printable characters, got {name!r}")
    return result


def set_class_names(model: Any, class_names: Sequence[str] | None, *,
                    dataset: str | None = None, model_name: str | None = None) -> None:
    """Record the class names of ``model`` (kept with it by :func:`save_model`).

    Args:
        model: A Keras model.
        class_names: Its class names in output order, or ``None`` to forget them.
        dataset: The name of the dataset it was trained on.
        model_name: The zoo name it was built from.

    Raises:
        ValueError: ``class_names`` is not a list of one-line names matching the model's
            number of outputs.
    """
    names = None if class_names is None else check_class_names(class_names)
    outputs = _num_outputs(model)
    if names is not None and outputs is not None and len(names) != outputs:
        raise ValueError(f"{len(names)} class names given but model {model.name!r} has "
                         f"{outputs} outputs")
    _INFO[model] = ModelInfo(names, dataset, model_name)


def model_info(model: Any) -> ModelInfo:
    """Return what is known of ``model``'s classes and origin (empty if nothing is)."""
    try:
        return _INFO.get(model) or ModelInfo()
    except TypeError:  # not weak-referenceable: nothing can be known of it
        return ModelInfo()


def get_class_names(model: Any) -> tuple[str, ...] | None:
    """Return the class names ``model`` was trained with, or ``None`` when they are unknown.

    They are known for a model returned by :func:`kerasdigits.train` (the dataset's class
    names) and for one loaded with :func:`load_model` from a file written by
    :func:`save_model` (or the command line).

    Example:
        >>> import kerasdigits
        >>> from kerasdigits.training import get_class_names, set_class_names
        >>> model = kerasdigits.build("mlp256")
        >>> print(get_class_names(model))
        None
        >>> set_class_names(model, [str(i) for i in range(10)])
        >>> get_class_names(model)[:3]
        ('0', '1', '2')
    """
    return model_info(model).class_names


def _num_outputs(model: Any) -> int | None:
    try:
        return int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def save_model(model: Any, path: str | os.PathLike[str], *,
               class_names: Sequence[str] | None = None) -> Path:
    """Save ``model`` to a ``.keras`` file, atomically, with its class names.

    The file loads with :func:`load_model` (class names included) and with plain
    ``keras.saving.load_model``; see the Troubleshooting page for what a machine without
    kerasdigits needs.

    Args:
        model: A Keras model.
        path: The file to write; must end in ``.keras``. Its folder is created.
        class_names: The class names in output order; default: those recorded for the
            model (:func:`get_class_names`), if any.

    Returns:
        The path written.

    Raises:
        ModelFileError: A path not ending in ``.keras``, a folder in its place, or a write
            that failed (nothing is left at ``path`` then).
        ValueError: ``class_names`` do not match the model's outputs.
    """
    info = model_info(model)
    if class_names is not None:
        outputs = _num_outputs(model)
        names = check_class_names(class_names)
        if outputs is not None and len(names) != outputs:
            raise ValueError(f"{len(names)} class names given but model {model.name!r} has "
                             f"{outputs} outputs")
        info = dataclasses.replace(info, class_names=names)
    return _save(model, Path(path), info.as_dict())


def save_checkpoint(model: Any, path: str | os.PathLike[str], *, epoch: int,
                    history: dict[str, list[float]]) -> Path:
    """Save a training checkpoint: :func:`save_model` plus its epoch and history so far."""
    record = {**model_info(model).as_dict(), "checkpoint": _checkpoint_record(epoch, history)}
    return _save(model, Path(path), record)


def _checkpoint_record(epoch: int, history: dict[str, list[float]]) -> dict[str, Any]:
    return {"epoch": int(epoch), "history": {k: [float(x) for x in v[:epoch]]
                                             for k, v in history.items()}}


def _save(model: Any, target: Path, record: dict[str, Any]) -> Path:
    if target.suffix != ".keras":
        raise ModelFileError(f"{target}: a model file must end in '.keras'")
    if target.is_dir():
        raise ModelFileError(f"{target} is a folder, not a model file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(f"{target}: cannot create its folder: {exc.strerror}") from exc
    keras_tmp = _temp_name(target, ".tmp.keras")
    final_tmp = _temp_name(target, ".part")
    try:
        with _as_keras_layers(model) as fast:
            model.save(keras_tmp, overwrite=True)
        _rewrite_archive(keras_tmp, final_tmp, {**record, "fast_batch_normalization": fast})
        with contextlib.suppress(OSError):
            os.chmod(final_tmp, 0o644)
        os.replace(final_tmp, target)
    except OSError as exc:
        raise ModelFileError(f"{target}: cannot write the model: {exc.strerror or exc}") from exc
    finally:
        for leftover in (keras_tmp, final_tmp):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return target


def annotate_file(path: str | os.PathLike[str], model: Any, *, epoch: int,
                  history: dict[str, list[float]]) -> None:
    """Add ``model``'s record to a checkpoint Keras wrote, as :func:`save_checkpoint` would.

    Used on the checkpoints that ``keras.callbacks.ModelCheckpoint`` writes, so that they
    carry the class names, their epoch and history too. The file is replaced atomically.
    """
    target = Path(path)
    record = {**model_info(model).as_dict(), "checkpoint": _checkpoint_record(epoch, history)}
    final_tmp = _temp_name(target, ".part")
    try:
        _rewrite_archive(str(target), final_tmp, record)
        with contextlib.suppress(OSError):
            os.chmod(final_tmp, 0o644)
        os.replace(final_tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(final_tmp)


def _temp_name(target: Path, suffix: str) -> str:
    """Create an empty file with a unique name beside ``target`` (never a followed link)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    return name


def _rewrite_archive(source: str, dest: str, record: dict[str, Any]) -> None:
    """Copy the archive ``source`` to ``dest`` with the kerasdigits ``record`` added."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(dest, "w") as out:
        for item in src.infolist():
            if item.filename != INFO_MEMBER:
                out.writestr(item, src.read(item))
        out.writestr(INFO_MEMBER, json.dumps(record, indent=1).encode("utf-8"))


@contextlib.contextmanager
def _as_keras_layers(model: Any) -> Iterator[list[str]]:
    """Present FastBatchNormalization layers as Keras's BatchNormalization for saving.

    Keras derives both the saved class and the weights' paths in the archive from each
    layer's class, so for the length of the block the fast layers take the class they
    extend (they add no state to it); the block yields their names.
    """
    keras = _lazy.keras()
    fast = [layer for layer in _all_layers(model)
            if type(layer) is not keras.layers.BatchNormalization
            and type(layer).__name__ == "FastBatchNormalization"
            and type(layer).__module__ == "kerasdigits.models.layers"]
    for layer in fast:
        layer.__class__ = keras.layers.BatchNormalization
    try:
        yield [layer.name for layer in fast]
    finally:
        from kerasdigits.models.layers import FastBatchNormalization

        for layer in fast:
            layer.__class__ = FastBatchNormalization


def _read_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``kerasdigits.json`` of a ``.keras`` archive (``{}`` if it has none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                member = archive.getinfo(INFO_MEMBER)
            except KeyError:
                return {}
            if member.file_size > _INFO_MAX_BYTES:
                raise ModelFileError(f"{path}: {INFO_MEMBER} is {member.file_size:,} bytes; "
                                     f"at most {_INFO_MAX_BYTES:,} are read")
            with archive.open(member) as handle:
                raw = handle.read(_INFO_MAX_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: cannot load model: not a .keras (zip) archive ({exc})"
                             ) from exc
    try:
        record = json.loads(raw)
    except ValueError as exc:
        raise ModelFileError(f"{path}: malformed {INFO_MEMBER}: {exc}") from exc
    if not isinstance(record, dict):
        raise ModelFileError(f"{path}: malformed {INFO_MEMBER}: not a JSON object")
    return record


def read_info(path: str | os.PathLike[str]) -> tuple[ModelInfo, list[str]]:
    """Read the kerasdigits record of a ``.keras`` file (an empty one if it has none).

    Returns:
        The :class:`ModelInfo` and the names of the layers saved as ``BatchNormalization``
        that were ``FastBatchNormalization``.

    Raises:
        ModelFileError: The file is not a zip archive, or its record is too large or
            malformed.
    """
    record = _read_record(path)
    try:
        names = record.get("class_names")
        class_names = None if names is None else check_class_names(names)
        dataset = record.get("dataset")
        model = record.get("model")
        fast = record.get("fast_batch_normalization") or []
        for value, what in ((dataset, "dataset"), (model, "model")):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{what} must be a string")
        if not isinstance(fast, list) or not all(isinstance(n, str) for n in fast):
            raise ValueError("fast_batch_normalization must be a list of layer names")
    except ValueError as exc:
        raise ModelFileError(f"{path}: malformed {INFO_MEMBER}: {exc}") from exc
    return ModelInfo(class_names, dataset, model), fast


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[int, dict[str, list[float]]] | None:
    """Return the epoch count and history a checkpoint file records (``None``: not recorded).

    Raises:
        ModelFileError: The file is not a ``.keras`` archive or its record is malformed.
    """
    entry = _read_record(path).get("checkpoint")
    if entry is None:
        return None
    epoch = entry.get("epoch") if isinstance(entry, dict) else None
    history = entry.get("history") if isinstance(entry, dict) else None
    valid = (not isinstance(epoch, bool) and isinstance(epoch, int) and epoch >= 1
             and isinstance(history, dict)
             and all(isinstance(v, list) and len(v) <= epoch
                     and all(isinstance(x, (int, float)) for x in v) for v in history.values()))
    if not valid:
        raise ModelFileError(f"{path}: malformed {INFO_MEMBER}: bad checkpoint record")
    assert isinstance(epoch, int)
    assert isinstance(history, dict)
    return epoch, {str(k): [float(x) for x in v] for k, v in history.items()}


def register_serializables() -> None:
    """Import the modules that register kerasdigits' layers, losses and schedules with Keras."""
    import kerasdigits.models._schedule
    import kerasdigits.models.layers
    import kerasdigits.models.losses
    import kerasdigits.transforms.layers  # noqa: F401


def load_model(path: str | os.PathLike[str], *, compile: bool = True) -> Any:
    """Load a ``.keras`` model saved by kerasdigits (or any Keras 3 ``.keras`` file).

    The class names saved with it are recorded (see :func:`get_class_names`).

    Args:
        path: The ``.keras`` file.
        compile: Restore the optimizer and loss as saved.

    Raises:
        ModelFileError: The file is missing, not a ``.keras`` file, or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: expected a Keras 3 '.keras' model file")
    info, fast = read_info(path)
    keras = _lazy.keras()
    register_serializables()
    try:
        model = keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ModelFileError(f"{path}: cannot load model: {_load_failure(exc)}") from exc
    _restore_fast_layers(model, fast)
    _check_copy_pairs(path, model)
    if info.class_names is not None and len(info.class_names) != _num_outputs(model):
        raise ModelFileError(f"{path}: {INFO_MEMBER} names {len(info.class_names)} classes "
                             f"but the model has {_num_outputs(model)} outputs")
    _INFO[model] = info
    return model


def _load_failure(exc: BaseException) -> str:
    """Why Keras could not load a file, in at most 500 characters.

    Keras wraps the error of a layer that refuses its config in messages that quote the whole
    model config (thousands of characters), each ending in ``Exception encountered: <the
    cause>``; the innermost cause is what the user needs.
    """
    message = " ".join(str(exc).split())
    cause = message.rpartition("Exception encountered:")[2].strip() or message
    return cause if len(cause) <= 500 else cause[:497] + "..."


def _check_copy_pairs(path: Path, model: Any) -> None:
    """Check that every ``AverageCopies`` averages as many copies as its ``TestTimeCopies`` makes.

    The two layers are saved with separate configs; a file edited by hand (or made by other
    code) could pair them wrongly, and the model would then average copies of *different*
    images, or answer with several rows per image, without any error.
    """
    from kerasdigits.models.layers import AverageCopies, TestTimeCopies

    made: list[Any] = []  # TestTimeCopies layers not yet averaged, innermost last
    for layer in _all_layers(model):
        if isinstance(layer, TestTimeCopies):
            made.append(layer)
        elif isinstance(layer, AverageCopies):
            maker = made.pop() if made else None
            if maker is None or maker.copies != layer.copies:
                source = (f"layer {maker.name!r} makes {maker.copies}" if maker is not None
                          else "no TestTimeCopies layer before it makes any")
                raise ModelFileError(
                    f"{path}: layer {layer.name!r} averages {layer.copies} copies of each "
                    f"image, but {source}: the file was edited or damaged"
                )
    if made:
        raise ModelFileError(
            f"{path}: layer {made[-1].name!r} makes {made[-1].copies} copies of each image "
            "but no AverageCopies layer after it averages them: the file was edited or damaged"
        )


def _restore_fast_layers(model: Any, names: Sequence[str]) -> None:
    if not names:
        return
    from kerasdigits.models.layers import FastBatchNormalization

    keras = _lazy.keras()
    wanted = set(names)
    for layer in _all_layers(model):
        if layer.name in wanted and type(layer) is keras.layers.BatchNormalization:
            # FastBatchNormalization adds no state to BatchNormalization: only its training
            # step differs, so the loaded layer can take the class it was trained with.
            layer.__class__ = FastBatchNormalization


def _all_layers(model: Any) -> list[Any]:
    """Every layer of ``model``, nested models' layers included."""
    found = []
    for layer in getattr(model, "layers", ()):
        found.append(layer)
        found.extend(_all_layers(layer))
    return found
