""":func:`export_tflite`: a trained Keras model to a ``.tflite`` file that runs on a phone."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kerasdigits import _validate
from kerasdigits._files import atomic_write_bytes
from kerasdigits._suggest import did_you_mean
from kerasdigits._version import __version__
from kerasdigits.export._convert import (
    GRAY_WEIGHTS,
    INPUT_DTYPES,
    QUANTIZATIONS,
    TARGETS,
    InputPlan,
    ModelPlan,
    analyze_model,
    convert,
    plan_input,
)
from kerasdigits.export._errors import ExportError
from kerasdigits.export._metadata import (
    AssociatedFileInfo,
    ModelMetadataInfo,
    TensorMetadataInfo,
    encode_metadata,
)
from kerasdigits.export._pack import (
    EXPORT_INFO_NAME,
    METADATA_NAME,
    TensorSummary,
    pack_model,
    summarize_model,
)
from kerasdigits.export._verify import VerifyReport, feeding_for, verify_bytes

if TYPE_CHECKING:
    from kerasdigits.datasets import Dataset, Split

__all__ = [
    "DEFAULT_INPUT_DTYPES",
    "LABELS_FILE",
    "OUTPUT_NAME",
    "ExportResult",
    "ModelCard",
    "TensorInfo",
    "export_tflite",
]

#: Name of the packed label file (``TENSOR_AXIS_LABELS`` of the output).
LABELS_FILE = "labels.txt"
#: Name of the output tensor of every export.
OUTPUT_NAME = "probabilities"
_DEFAULT_DATASET = "mnist_sample"
#: The input dtype of each target when ``input_dtype`` is not given: what its apps most easily
#: feed. A camera frame or a ``Bitmap`` is bytes, so LiteRT and ML Kit get raw ``uint8``
#: pixels (no normalization to get wrong, a quarter of the bytes); the 2018 Firebase API took
#: float32 only.
DEFAULT_INPUT_DTYPES: Mapping[str, str] = {
    "litert": "uint8",
    "mlkit": "uint8",
    "firebase-legacy": "float32",
}
_REPRESENTATIVE_COUNT = 300
_REPRESENTATIVE_SEED = 0
_TARGET_TITLES = {
    "litert": "a plain LiteRT (TensorFlow Lite) Interpreter",
    "mlkit": "ML Kit custom image labeling / object detection and MediaPipe ImageClassifier",
    "firebase-legacy": "the 2018 Firebase ML Kit FirebaseModelInterpreter",
}


@dataclass(frozen=True)
class ModelCard:
    """What an export's metadata says of the model (ML Kit and Netron show it).

    Attributes:
        name: The model's name (default: the Keras model's name).
        description: What it does (default: generated from the classes, the target and the
            quantization).
        version: Its version.
        author: Who made it.
        license: Its license.

    Example:
        >>> from kerasdigits.export import ModelCard
        >>> ModelCard(name="Meter digits", version="2", author="Ada", license="MIT").version
        '2'
    """

    name: str | None = None
    description: str | None = None
    version: str = "1"
    author: str = "kerasdigits"
    license: str = "unspecified"

    def __post_init__(self) -> None:
        for field_name in ("name", "description", "version", "author", "license"):
            value = getattr(self, field_name)
            if value is not None and not isinstance(value, str):
                raise ExportError(f"ModelCard.{field_name} must be a string, got "
                                  f"{type(value).__name__}")


@dataclass(frozen=True)
class TensorInfo:
    """An input or output tensor of an exported model.

    Attributes:
        name: The tensor's name (``"pixels"``, ``"image"`` or ``"probabilities"``).
        shape: Its shape; the batch is always 1.
        shape_signature: The shape signature (equal to ``shape``: no dynamic axis).
        dtype: ``"float32"`` or ``"uint8"``.
        scale: Quantization scale (``real = scale * (q - zero_point)``), or ``None``.
        zero_point: Quantization zero point, or ``None``.
    """

    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    @property
    def nbytes(self) -> int:
        """The size of the tensor's buffer in bytes (what an app allocates)."""
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def __str__(self) -> str:
        text = f"{self.name}: {self.dtype} {list(self.shape)} ({self.nbytes:,} bytes)"
        if self.scale is not None:
            text += f", scale {self.scale:g}, zero point {self.zero_point}"
        return text

    @classmethod
    def _from(cls, t: TensorSummary) -> TensorInfo:
        return cls(t.name, t.shape, t.shape_signature, t.dtype, t.scale, t.zero_point)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_tflite` wrote.

    Attributes:
        path: The ``.tflite`` file.
        size: Its size in bytes.
        target: ``"litert"``, ``"mlkit"`` or ``"firebase-legacy"``.
        quantization: ``None``, ``"dynamic"``, ``"float16"`` or ``"int8"``.
        input: The input tensor (name, shape, dtype, quantization).
        output: The output tensor: ``float32 [1, num_classes]`` probabilities.
        labels: The class names, in output order.
        invert: The graph inverts pixels (the app feeds dark ink on light paper).
        input_mean: Float input: the app feeds ``(pixel - input_mean) / input_std``.
        input_std: See ``input_mean``.
        ops: The TFLite operators and how often each occurs.
        metadata: The TFLite metadata written (``None`` with ``metadata=False``).
        verification: Parity with Keras on real test images (``None`` with ``verify=False``).
        model_name: The Keras model's name.
    """

    path: Path
    size: int
    target: str
    quantization: str | None
    input: TensorInfo
    output: TensorInfo
    labels: tuple[str, ...]
    invert: bool
    input_mean: float
    input_std: float
    ops: Mapping[str, int] = field(default_factory=dict)
    metadata: ModelMetadataInfo | None = None
    verification: VerifyReport | None = None
    model_name: str = ""

    @property
    def num_classes(self) -> int:
        """Number of classes (the output's last dimension)."""
        return int(self.output.shape[-1])

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (for ``bench/`` and the command line)."""
        return {
            "path": str(self.path),
            "size": self.size,
            "target": self.target,
            "quantization": self.quantization,
            "input": {**vars(self.input), "nbytes": self.input.nbytes},
            "output": {**vars(self.output), "nbytes": self.output.nbytes},
            "labels": list(self.labels),
            "invert": self.invert,
            "input_mean": self.input_mean,
            "input_std": self.input_std,
            "ops": dict(self.ops),
            "metadata": self.metadata is not None,
            "verification": None if self.verification is None else self.verification.as_dict(),
        }

    def __str__(self) -> str:
        lines = [
            f"wrote {self.path} ({self.size:,} bytes): {self.model_name} for {self.target}, "
            f"quantization {self.quantization or 'none (float32)'}",
            f"  input  {self.input}",
            f"  output {self.output}",
            f"  labels {', '.join(self.labels)}",
        ]
        if self.input.dtype == "float32":
            lines.append(f"  feed   (pixel - {self.input_mean:g}) / {self.input_std:g}"
                         + (" of inverted pixels (255 - pixel)" if self.invert else ""))
        if self.verification is not None:
            lines.append(f"  verify {self.verification}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------ arguments


def _check_path(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    if out.suffix != ".tflite":
        raise ExportError(f"{out}: the output file must end in '.tflite'")
    if out.is_dir():
        raise ExportError(f"{out} is a directory")
    return out


def _check_choice(what: str, value: object, choices: Sequence[str]) -> str:
    return _validate.choice(value, what, choices, error=ExportError)


def _check_quantization(value: object) -> str | None:
    if isinstance(value, str) and value.lower() in ("none", "float32", ""):
        return None
    return _validate.choice(value, "quantization", (None, *QUANTIZATIONS), error=ExportError)


def _resolve_model(model: Any, weights: str | os.PathLike[str] | None) -> Any:
    if hasattr(model, "inputs") and hasattr(model, "layers"):
        if weights is not None:
            _load_weights(model, weights)
        return model
    if not isinstance(model, str | os.PathLike):
        raise ExportError(
            f"model must be a Keras model, a '.keras' file or a zoo name, got "
            f"{type(model).__name__}"
        )
    from kerasdigits.models import build, list_models
    from kerasdigits.training import load_model

    text = os.fspath(model)
    if text.endswith(".keras") or Path(text).is_file():
        try:
            loaded = load_model(text, compile=False)
        except Exception as exc:  # ModelFileError and whatever Keras raises
            raise ExportError(str(exc)) from exc
        if weights is not None:
            _load_weights(loaded, weights)
        return loaded
    names = list_models()
    if text not in names:
        raise ExportError(
            f"{text!r} is neither a '.keras' file nor a zoo model name." + did_you_mean(
                text, names)
        )
    if weights is None:
        raise ExportError(
            f"exporting the zoo model {text!r} needs its trained weights: pass weights= (a "
            "'.weights.h5' or '.keras' file), or pass the trained model or its '.keras' file"
        )
    built = build(text, preprocessing="unit", compile=False)
    _load_weights(built, weights)
    return built


def _load_weights(model: Any, weights: str | os.PathLike[str]) -> None:
    path = Path(weights)
    if not path.is_file():
        raise ExportError(f"{path}: weights file not found")
    try:
        if path.suffix == ".keras":
            from kerasdigits.training import load_model

            model.set_weights(load_model(path, compile=False).get_weights())
        else:
            model.load_weights(path)
    except ExportError:
        raise
    except Exception as exc:  # Keras raises ValueError, KeyError, OSError...
        message = " ".join(str(exc).split())
        raise ExportError(f"{path}: cannot load these weights into {model.name!r}: "
                          f"{message[:500]}") from exc


def _resolve_dataset(dataset: Dataset | str | None) -> Dataset:
    from kerasdigits.datasets import Dataset, load_dataset

    if isinstance(dataset, Dataset):
        return dataset
    if dataset is None or isinstance(dataset, str):
        return load_dataset(dataset or _DEFAULT_DATASET)
    raise ExportError(f"dataset must be a name or a Dataset, got {type(dataset).__name__}")


def _preview(names: Sequence[str]) -> str:
    return ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")


class _LazyDataset:
    """Loads the dataset only if something needs it (labels, calibration, verification).

    Without ``dataset=``, the images come from the dataset the model was trained on (recorded
    with it), else from the bundled ``mnist_sample``.
    """

    def __init__(self, dataset: Dataset | str | None, trained_on: str | None = None) -> None:
        self._arg = dataset
        self._trained_on = trained_on
        self._loaded: Dataset | None = None

    @property
    def given(self) -> bool:
        return self._arg is not None

    def get(self) -> Dataset:
        if self._loaded is None:
            if self._arg is None and self._trained_on is not None:
                from kerasdigits._errors import DatasetError

                try:
                    self._loaded = _resolve_dataset(self._trained_on)
                except DatasetError as exc:
                    # The whole reason: a "not found" lists every place searched on its
                    # following lines, and its first line alone ends in "Searched, in order:".
                    raise ExportError(
                        f"the model was trained on {self._trained_on!r}, whose images the "
                        "export uses for calibration and verification, but it cannot be "
                        "loaded: pass dataset= (for example 'mnist_sample') or verify=False, "
                        f"or make it loadable.\n{exc}"
                    ) from exc
            else:
                self._loaded = _resolve_dataset(self._arg)
        return self._loaded


def _resolve_labels(
    labels: Sequence[str] | str | os.PathLike[str] | None,
    num_classes: int,
    dataset: _LazyDataset,
    known: tuple[str, ...] | None,
) -> tuple[str, ...]:
    if labels is None:
        if known is not None:
            if dataset.given and tuple(dataset.get().class_names) != known:
                raise ExportError(
                    f"the model was trained with the classes {_preview(known)} but the dataset "
                    f"{dataset.get().name!r} has {_preview(dataset.get().class_names)}; pass "
                    "labels= to say which names the export carries"
                )
            return known
        if not dataset.given:
            raise ExportError(
                "the model's class names are unknown (it was not trained by kerasdigits.train "
                "nor saved by kerasdigits.save_model): pass labels= (or --labels FILE), or "
                "dataset= naming the dataset it was trained on"
            )
        names = dataset.get().class_names
        if len(names) != num_classes:
            raise ExportError(
                f"the model has {num_classes} classes but the dataset "
                f"{dataset.get().name!r} has {len(names)} class names; pass labels="
            )
        return tuple(names)
    if isinstance(labels, str | os.PathLike):
        file = Path(labels)
        if not file.is_file():
            raise ExportError(f"labels: {file} is not a file (pass a list of names, or a text "
                              "file with one label per line)")
        result = tuple(line.strip() for line in file.read_text("utf-8").splitlines()
                       if line.strip())
    else:
        result = tuple(str(label) for label in labels)
    if len(result) != num_classes:
        raise ExportError(
            f"{len(result)} labels given but the model has {num_classes} classes"
        )
    bad = [label for label in result if not label.strip()
           or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in label)]
    if bad:
        raise ExportError(f"labels must be non-empty single lines of printable characters, "
                          f"got {bad[:3]!r}")
    return result


def _representative(
    data: npt.ArrayLike | Split | Dataset | str | None,
    plan: ModelPlan,
    dataset: _LazyDataset,
) -> npt.NDArray[np.uint8]:
    from kerasdigits.datasets import Dataset, Split, load_dataset
    from kerasdigits.training._feeding import PixelError, check_pixels, to_uint8

    if data is None:
        images = dataset.get().train.images
    elif isinstance(data, str):
        images = load_dataset(data).train.images
    elif isinstance(data, Dataset):
        images = data.train.images
    elif isinstance(data, Split):
        images = data.images
    else:
        images = np.asarray(data)
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if images.ndim == 2 and images.shape[1] == plan.height * plan.width:
            images = images.reshape(-1, plan.height, plan.width)
    try:  # predict's pixel contract: uint8, other integers in 0..255, or floats in [0, 1]
        check_pixels(images, "representative_data")
    except PixelError as exc:
        raise ExportError(str(exc)) from exc
    images = to_uint8(images)
    if images.ndim != 3 or len(images) == 0:
        raise ExportError(
            "int8 quantization needs representative images: got "
            f"{'none' if images.size == 0 else f'an array of shape {images.shape}'}; pass "
            "representative_data= (a dataset name, a Dataset or Split, or uint8 images "
            "(N, h, w)) with at least one image"
        )
    if images.shape[1:] != (plan.height, plan.width):
        raise ExportError(
            f"representative images are {images.shape[1]}x{images.shape[2]} but the model "
            f"takes {plan.height}x{plan.width}"
        )
    rng = np.random.default_rng(_REPRESENTATIVE_SEED)
    count = min(_REPRESENTATIVE_COUNT, len(images))
    chosen = np.sort(rng.choice(len(images), size=count, replace=False))
    return np.ascontiguousarray(images[chosen], dtype=np.uint8)


# -------------------------------------------------------------------------------- metadata


def _input_description(source: InputPlan, plan: ModelPlan) -> str:
    h, w = plan.height, plan.width
    if source.channels == 3:
        what = (f"RGB image {h}x{w}; the model converts it to grayscale "
                f"({GRAY_WEIGHTS[0]} R + {GRAY_WEIGHTS[1]} G + {GRAY_WEIGHTS[2]} B)")
    elif source.layout == "flat":
        what = f"grayscale image {h}x{w} flattened row by row to {h * w} values"
    else:
        what = f"grayscale image {h}x{w}x1"
    if source.dtype == "uint8":
        values = "uint8 pixels 0..255"
    elif source.scale == "unit":
        values = "float32 pixel / 255, in [0, 1]"
    else:
        values = "float32 pixels 0..255"
    ink = ("dark ink on light paper (the model inverts it)" if source.invert
           else "light ink on a dark background, as in MNIST")
    return f"{what}; {values}; {ink}."


def _metadata_info(
    plan: ModelPlan,
    source: InputPlan,
    labels: Sequence[str],
    *,
    target: str,
    quantization: str | None,
    card: ModelCard,
) -> ModelMetadataInfo:
    c = source.channels
    low, high = source.value_range
    image = source.layout == "image"
    tensor_in = TensorMetadataInfo(
        name=source.name,
        description=_input_description(source, plan),
        content="image" if image else "feature",
        color_space=("RGB" if c == 3 else "GRAYSCALE") if image else None,
        image_size=(plan.width, plan.height) if image else None,
        mean=(source.mean,) * c,
        std=(source.std,) * c,
        stats_min=(low,) * c,
        stats_max=(high,) * c,
    )
    tensor_out = TensorMetadataInfo(
        name=OUTPUT_NAME,
        description=f"Probability of each of the {len(labels)} classes (softmax), in the order "
                    f"of {LABELS_FILE}.",
        content="feature",
        stats_min=(0.0,),
        stats_max=(1.0,),
        associated_files=(AssociatedFileInfo(
            name=LABELS_FILE,
            description="Class names, one per line; line i names output i.",
            type="TENSOR_AXIS_LABELS",
        ),),
    )
    default_description = (
        f"Classifies a {plan.height}x{plan.width} image into {len(labels)} classes "
        f"({', '.join(labels[:10])}{', ...' if len(labels) > 10 else ''}). Keras model "
        f"{plan.name!r} exported by kerasdigits {__version__} for "
        f"{_TARGET_TITLES[target]}; weights "
        f"{'int8, full-integer' if quantization == 'int8' else quantization or 'float32'}."
    )
    return ModelMetadataInfo(
        name=card.name or plan.name,
        description=card.description or default_description,
        version=card.version,
        author=card.author,
        license=card.license,
        inputs=(tensor_in,),
        outputs=(tensor_out,),
        subgraph_name=plan.name,
        files={LABELS_FILE: ("\n".join(labels) + "\n").encode("utf-8")},
    )


def _check_contract(model: bytes, source: InputPlan, plan: ModelPlan, name: str) -> None:
    """The promises of every export, checked on the converted FlatBuffer."""
    s = summarize_model(model)
    problems = []
    if len(s.inputs) != 1 or len(s.outputs) != 1:
        problems.append(f"{len(s.inputs)} inputs and {len(s.outputs)} outputs")
    else:
        i, o = s.inputs[0], s.outputs[0]
        if i.shape != source.shape or i.shape_signature != source.shape:
            problems.append(f"input shape {i.shape} / signature {i.shape_signature}, expected "
                            f"{source.shape}")
        if i.dtype != source.dtype:
            problems.append(f"input dtype {i.dtype}, expected {source.dtype}")
        expected_out = (1, plan.num_classes)
        if o.shape != expected_out or o.shape_signature != expected_out or o.dtype != "float32":
            problems.append(f"output {o.dtype} {o.shape} / signature {o.shape_signature}, "
                            f"expected float32 {expected_out}")
    if s.custom_ops:
        problems.append(f"non-builtin ops {', '.join(s.custom_ops)}")
    if s.has_variables:
        problems.append("resource variables")
    if s.subgraphs != 1:
        problems.append(f"{s.subgraphs} subgraphs")
    if problems:
        raise ExportError(f"the converted model breaks the export contract ({name}): "
                          + "; ".join(problems))


# ---------------------------------------------------------------------------------- export


def export_tflite(
    model: Any,
    path: str | os.PathLike[str],
    *,
    target: str = "litert",
    quantization: str | None = None,
    input_dtype: str | None = None,
    labels: Sequence[str] | str | os.PathLike[str] | None = None,
    representative_data: npt.ArrayLike | Split | Dataset | str | None = None,
    invert: bool = False,
    metadata: bool = True,
    dataset: Dataset | str | None = None,
    weights: str | os.PathLike[str] | None = None,
    verify: bool | int = True,
    card: ModelCard | None = None,
) -> ExportResult:
    """Export a Keras classifier to a ``.tflite`` file that an app can use as it is.

    Every export has one input and one output, batch fixed to 1 (in ``shape`` and
    ``shape_signature``), TFLite builtin ops only (no Flex/Select-TF ops, no resource
    variables), and outputs ``float32 [1, num_classes]`` class probabilities. Dropout and batch
    normalization run in inference mode.

    Targets:

    - ``"litert"``: the model's own layout, ``[1, 784]`` for the MLPs or ``[1, 28, 28, 1]``
      for the convnets; ``float32`` pixels in the model's range (pixel / 255 in [0, 1], or raw
      0..255 for a model with in-model preprocessing such as ``build(..., preprocessing=
      "unit")``), or ``uint8`` raw pixels.
    - ``"mlkit"``: what ML Kit custom image labeling / object detection and MediaPipe's
      ``ImageClassifier`` accept: ``[1, 28, 28, 3]`` RGB, ``uint8`` 0..255 or ``float32``
      pixel / 255 (the metadata says ``NormalizationOptions`` mean 0, std 255). The graph turns
      RGB into gray with ``0.299 R + 0.587 G + 0.114 B`` (and ``255 - gray`` with
      ``invert=True``) before the network.
    - ``"firebase-legacy"``: ``float32 [1, 784]`` pixel / 255, as the 2018 "From Keras to ML
      Kit" article fed ``FirebaseModelInterpreter``.

    ``mlkit`` and ``firebase-legacy`` files load in TensorFlow Lite 2.4.0 or newer (dense
    weights are quantized per tensor); ``litert`` files may use the converter's newest
    kernels. :func:`~kerasdigits.export.describe_tflite` shows each operator's version and the
    file's minimum runtime. Quantized (``int8``) files end in a float softmax, so their
    probabilities sum to 1 as exactly as a float model's.

    The file carries TFLite metadata (``metadata_schema.fbs``): name, description, version,
    author, license; the input's image properties (RGB or GRAYSCALE; flat inputs are feature
    vectors), normalization and value range; and the output's ``labels.txt``
    (``TENSOR_AXIS_LABELS``), packed as a zip after the model. The file is written atomically
    and only after it passed verification: on any error, nothing is left at ``path``.

    Args:
        model: A Keras model, the path of a ``.keras`` file, or a zoo name (with ``weights``;
            it is built with ``preprocessing="unit"``, as :func:`kerasdigits.train` does).
        path: The output file; must end in ``.tflite``.
        target: ``"litert"``, ``"mlkit"`` or ``"firebase-legacy"``.
        quantization: ``None`` (float32), ``"dynamic"`` (int8 weights, float activations),
            ``"float16"`` (float16 weights) or ``"int8"`` (full integer, calibrated on
            ``representative_data``; input stays ``float32`` or becomes ``uint8`` raw pixels
            with scale 1 and zero point 0, output stays ``float32`` probabilities).
        input_dtype: ``"uint8"`` (raw pixels 0..255) or ``"float32"``; default: the
            target's (:data:`DEFAULT_INPUT_DTYPES`: ``uint8`` for ``litert`` and ``mlkit``,
            ``float32`` for ``firebase-legacy``, which takes nothing else). The command
            line's ``kerasdigits export`` has the same defaults.
        labels: Class names in output order, or a text file with one per line; default: the
            class names the model was trained with (recorded by :func:`kerasdigits.train`
            and saved in its ``.keras`` file by :func:`kerasdigits.save_model`), else those
            of ``dataset``. When neither is known, the export fails rather than guess.
        representative_data: Calibration images for ``"int8"``: a dataset name, a
            :class:`~kerasdigits.datasets.Dataset` (its train split) or
            :class:`~kerasdigits.datasets.Split`, or ``uint8`` images ``(N, h, w)``; default
            the train split of ``dataset``. A seeded sample of 300 is used.
        invert: The app feeds dark ink on light paper (a photo of a written digit); the graph
            inverts it to the light-on-dark MNIST convention.
        metadata: Write TFLite metadata and pack ``labels.txt``. A small kerasdigits export
            record (JSON, in the model's metadata list) is always written.
        dataset: The dataset the model was trained on, by name or as a ``Dataset``: its
            train split is the default calibration data, its test split the verification
            images, and its class names the labels of a model whose own are unknown (they
            must agree with the model's when both are known). Default: the dataset recorded
            with the model, else ``"mnist_sample"`` (bundled).
        weights: Weights to load into ``model`` (``.weights.h5`` or ``.keras``).
        verify: Run the file with LiteRT on the test images and compare with Keras (``True``:
            every test image; an int: that many; ``False``: skip). An unquantized export must
            match within 1e-5 with the same predicted class, or nothing is written.
        card: What the metadata says of the model: name, description, version, author,
            license (a :class:`ModelCard`; default: the Keras model's name, a generated
            description, version ``"1"``, author ``"kerasdigits"``, license
            ``"unspecified"``).

    Returns:
        An :class:`ExportResult` with the file's I/O tensors, metadata and parity figures.

    Raises:
        ExportError: A bad argument (unknown target or quantization, a path not ending in
            ``.tflite``, labels that do not match the number of classes, int8 without
            representative images...), a model the converter cannot turn into builtin ops, or
            a float export that does not match its Keras model, or a model whose operators
            would need a newer TensorFlow Lite runtime than the target promises. Nothing is
            written then.

    Example:
        >>> from kerasdigits import train
        >>> from kerasdigits.export import export_tflite
        >>> result = train("convnet", "mnist", epochs=2)  # doctest: +SKIP
        >>> export_tflite(result.model, "digits.tflite", target="mlkit",
        ...               quantization="int8", input_dtype="uint8")  # doctest: +SKIP
    """
    request = _check_arguments(path, target=target, quantization=quantization,
                               input_dtype=input_dtype, invert=invert, verify=verify,
                               representative_data=representative_data, dataset=dataset,
                               metadata=metadata, card=card)
    keras_model = _resolve_model(model, weights)
    plan = analyze_model(keras_model)
    images, class_names = _labels_and_images(keras_model, plan, labels, dataset)
    source = plan_input(plan, request.target, request.input_dtype, request.invert)
    converted = _convert(plan, source, request, representative_data, images)
    packed, meta = _pack(converted, plan, source, class_names, request)
    report = _verify(packed, keras_model, plan, images, request)
    atomic_write_bytes(request.path, packed)
    return _result(packed, request, plan, source, class_names, meta, report)


@dataclass(frozen=True)
class _Request:
    """The checked arguments of one :func:`export_tflite` call."""

    path: Path
    target: str
    quantization: str | None
    input_dtype: str
    invert: bool
    verify: bool | int
    metadata: bool
    card: ModelCard

    def describe(self, plan: ModelPlan) -> str:
        return (f"{plan.name} -> {self.target}, {self.input_dtype} input, quantization "
                f"{self.quantization}")


def _check_arguments(path: str | os.PathLike[str], *, target: str, quantization: str | None,
                     input_dtype: str | None, invert: bool, verify: bool | int,
                     representative_data: Any, dataset: Any, metadata: bool,
                     card: ModelCard | None) -> _Request:
    """Stage 1: check every argument before any work."""
    out = _check_path(path)
    target = _check_choice("target", target, TARGETS)
    quant = _check_quantization(quantization)
    if input_dtype is None:
        input_dtype = DEFAULT_INPUT_DTYPES[target]
    input_dtype = _check_choice("input_dtype", input_dtype, INPUT_DTYPES)
    if target == "firebase-legacy" and input_dtype != "float32":
        raise ExportError("target 'firebase-legacy' takes float32 [1, 784] input only (as "
                          "FirebaseModelInterpreter did); use target='litert' for uint8")
    invert = _validate.boolean(invert, "invert", error=ExportError)
    if not isinstance(verify, bool | int) or verify < 0:
        raise ExportError(f"verify must be True, False or a number of images, got {verify!r}")
    if quant != "int8" and representative_data is not None:
        raise ExportError("representative_data calibrates quantization='int8'; it has no use "
                          f"with quantization={quant!r}")
    if dataset is not None and not isinstance(dataset, str):
        from kerasdigits.datasets import Dataset as _Dataset

        if not isinstance(dataset, _Dataset):
            raise ExportError(f"dataset must be a name or a Dataset, got "
                              f"{type(dataset).__name__}")
    if card is not None and not isinstance(card, ModelCard):
        raise ExportError(f"card must be a ModelCard, got {type(card).__name__}")
    return _Request(out, target, quant, input_dtype, bool(invert), verify,
                    _validate.boolean(metadata, "metadata", error=ExportError),
                    card or ModelCard())


def _labels_and_images(keras_model: Any, plan: ModelPlan, labels: Any, dataset: Any
                       ) -> tuple[_LazyDataset, tuple[str, ...]]:
    """Stage 2: the labels the file carries, and where calibration and test images come from."""
    from kerasdigits.training._io import model_info

    known = model_info(keras_model)
    images = _LazyDataset(dataset, known.dataset)
    return images, _resolve_labels(labels, plan.num_classes, images, known.class_names)


def _convert(plan: ModelPlan, source: InputPlan, request: _Request,
             representative_data: Any, images: _LazyDataset) -> bytes:
    """Stage 3: convert (and quantize) to builtin-ops TFLite, checked against the contract."""
    representative = (_representative(representative_data, plan, images)
                      if request.quantization == "int8" else None)
    converted = convert(plan, source, request.quantization, representative)
    _check_contract(converted, source, plan, request.describe(plan))
    return converted


def _pack(converted: bytes, plan: ModelPlan, source: InputPlan, class_names: tuple[str, ...],
          request: _Request) -> tuple[bytes, ModelMetadataInfo | None]:
    """Stage 4: write the TFLite metadata, the labels file and the kerasdigits record."""
    meta = None
    entries = {}
    files: dict[str, bytes] = {}
    if request.metadata:
        meta = _metadata_info(plan, source, class_names, target=request.target,
                              quantization=request.quantization, card=request.card)
        entries[METADATA_NAME] = encode_metadata(meta)
        files = dict(meta.files)
    record = {
        "kerasdigits": __version__,
        "model": plan.name,
        "target": request.target,
        "quantization": request.quantization,
        "input_dtype": request.input_dtype,
        "input_mean": source.mean,
        "input_std": source.std,
        "invert": request.invert,
        "gray_weights": list(GRAY_WEIGHTS) if source.channels == 3 else None,
        "softmax_added": plan.add_softmax,
        "labels": list(class_names),
    }
    entries[EXPORT_INFO_NAME] = json.dumps(record, sort_keys=True).encode("utf-8")
    packed = pack_model(converted, entries=entries, files=files, input_name=source.name,
                        output_name=OUTPUT_NAME)
    return packed, meta


def _verify(packed: bytes, keras_model: Any, plan: ModelPlan, images: _LazyDataset,
            request: _Request) -> VerifyReport | None:
    """Stage 5: run the file with LiteRT on test images and compare it with Keras."""
    if request.verify is False or request.verify == 0:
        return None
    test = images.get().test
    count = len(test) if request.verify is True else min(int(request.verify), len(test))
    if test.images.shape[1:] != (plan.height, plan.width):
        raise ExportError(
            f"the {images.get().name} test images are {test.images.shape[1:]} but the model "
            f"takes {(plan.height, plan.width)}; pass dataset= or verify=False"
        )
    report = verify_bytes(packed, keras_model, test.images[:count], test.labels[:count],
                          feeding=feeding_for(packed), quantized=request.quantization is not None)
    if not report.passed:
        raise ExportError(f"the exported model does not match its Keras model "
                          f"({request.describe(plan)}): {report}; nothing was written")
    return report


def _result(packed: bytes, request: _Request, plan: ModelPlan, source: InputPlan,
            class_names: tuple[str, ...], meta: ModelMetadataInfo | None,
            report: VerifyReport | None) -> ExportResult:
    """Stage 6: what was written, read back from the bytes."""
    summary = summarize_model(packed)
    return ExportResult(
        path=request.path,
        size=len(packed),
        target=request.target,
        quantization=request.quantization,
        input=TensorInfo._from(summary.inputs[0]),
        output=TensorInfo._from(summary.outputs[0]),
        labels=class_names,
        invert=request.invert,
        input_mean=source.mean,
        input_std=source.std,
        ops=summary.ops,
        metadata=meta,
        verification=report,
        model_name=plan.name,
    )
