"""TFLite model metadata (``metadata_schema.fbs``), written and read with plain ``flatbuffers``.

The metadata is a FlatBuffer of the published schema (namespace ``tflite``, file identifier
``"M001"``) that is stored inside the ``.tflite`` file as the buffer named ``TFLITE_METADATA``
(see :mod:`kerasdigits.export._pack`). ML Kit, MediaPipe Tasks, the TFLite Task Library and
Android Studio read it for the label names and for how to turn pixels into the input tensor.

No maintained package writes it next to TensorFlow 2.21 (``tflite-support`` pins
``protobuf < 4``), so this module builds the tables it needs by hand, field by field, from the
schema; the field numbers below are the declaration order in ``metadata_schema.fbs`` (schema
1.5.0). Only fields of schema 1.0.0 are written, so ``min_parser_version`` is ``"1.0.0"``.

Example:
    >>> from kerasdigits.export._metadata import (
    ...     ModelMetadataInfo, TensorMetadataInfo, decode_metadata, encode_metadata)
    >>> info = ModelMetadataInfo(name="digits", inputs=(TensorMetadataInfo(name="image"),),
    ...                          outputs=(TensorMetadataInfo(name="probabilities"),))
    >>> decode_metadata(encode_metadata(info)) == info
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import flatbuffers  # type: ignore[import-untyped]
from flatbuffers import number_types
from flatbuffers.table import Table  # type: ignore[import-untyped]

from kerasdigits.export._errors import ExportError

__all__ = [
    "ASSOCIATED_FILE_TYPES",
    "COLOR_SPACES",
    "FILE_IDENTIFIER",
    "MIN_PARSER_VERSION",
    "AssociatedFileInfo",
    "ModelMetadataInfo",
    "TensorMetadataInfo",
    "decode_metadata",
    "encode_metadata",
]

#: The metadata FlatBuffer's file identifier.
FILE_IDENTIFIER = b"M001"
#: The oldest metadata parser that understands every field this module writes.
MIN_PARSER_VERSION = "1.0.0"

#: ``AssociatedFileType`` enum values by name.
ASSOCIATED_FILE_TYPES: Mapping[str, int] = {
    "UNKNOWN": 0,
    "DESCRIPTIONS": 1,
    "TENSOR_AXIS_LABELS": 2,
    "TENSOR_VALUE_LABELS": 3,
    "TENSOR_AXIS_SCORE_CALIBRATION": 4,
    "VOCABULARY": 5,
    "SCANN_INDEX_FILE": 6,
}
#: ``ColorSpaceType`` enum values by name.
COLOR_SPACES: Mapping[str, int] = {"UNKNOWN": 0, "RGB": 1, "GRAYSCALE": 2}

# union ContentProperties: NONE, FeatureProperties, ImageProperties, BoundingBoxProperties,
# AudioProperties
_CONTENT_FEATURE = 1
_CONTENT_IMAGE = 2
_CONTENT_KINDS = {_CONTENT_FEATURE: "feature", _CONTENT_IMAGE: "image"}
# union ProcessUnitOptions: NONE, NormalizationOptions, ...
_OPTIONS_NORMALIZATION = 1


def _name_of(table: Mapping[str, int], value: int) -> str:
    for name, number in table.items():
        if number == value:
            return name
    return f"UNKNOWN({value})"


@dataclass(frozen=True)
class AssociatedFileInfo:
    """An ``AssociatedFile`` table: a file packed into the model (in its appended zip).

    Attributes:
        name: The file name inside the zip, such as ``"labels.txt"``.
        description: What the file holds.
        type: An ``AssociatedFileType`` name (see :data:`ASSOCIATED_FILE_TYPES`);
            ``"TENSOR_AXIS_LABELS"`` is a label per line, line *i* naming class *i*.
        locale: Optional locale of the file's text, such as ``"en"``.
    """

    name: str
    description: str = ""
    type: str = "TENSOR_AXIS_LABELS"
    locale: str = ""


@dataclass(frozen=True)
class TensorMetadataInfo:
    """A ``TensorMetadata`` table: what one input or output tensor holds.

    Attributes:
        name: The tensor's name in the metadata (not necessarily its name in the graph).
        description: A sentence for people.
        content: ``"image"`` (``ImageProperties``), ``"feature"`` (``FeatureProperties``) or
            ``None`` (no ``Content`` table).
        color_space: For images: ``"RGB"`` or ``"GRAYSCALE"``.
        image_size: For images: the default ``(width, height)``, or ``None``.
        mean: ``NormalizationOptions.mean``: a consumer feeds ``(pixel - mean) / std`` to a
            float tensor. One value, or one per channel. Empty: no normalization unit.
        std: ``NormalizationOptions.std``.
        stats_min: ``Stats.min``: the smallest value the tensor holds (one, or per channel).
        stats_max: ``Stats.max``.
        associated_files: Files attached to this tensor, such as its labels.
    """

    name: str
    description: str = ""
    content: str | None = None
    color_space: str | None = None
    image_size: tuple[int, int] | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    stats_min: tuple[float, ...] = ()
    stats_max: tuple[float, ...] = ()
    associated_files: tuple[AssociatedFileInfo, ...] = ()


@dataclass(frozen=True)
class ModelMetadataInfo:
    """The ``ModelMetadata`` of a ``.tflite`` file (one subgraph), and its packed files.

    :func:`kerasdigits.export.read_metadata` returns this record.

    Attributes:
        name: The model's name.
        description: What the model does, and how to feed it.
        version: The model's version.
        author: Who made the model.
        license: The model's license.
        inputs: Metadata of each input tensor, in the graph's order.
        outputs: Metadata of each output tensor.
        subgraph_name: ``SubGraphMetadata.name``.
        min_parser_version: The oldest metadata parser that understands every field.
        files: The associated files packed in the model, by name (filled by
            :func:`~kerasdigits.export.read_metadata`; not part of the FlatBuffer).
    """

    name: str
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    inputs: tuple[TensorMetadataInfo, ...] = ()
    outputs: tuple[TensorMetadataInfo, ...] = ()
    subgraph_name: str = ""
    min_parser_version: str = MIN_PARSER_VERSION
    files: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def labels(self) -> tuple[str, ...]:
        """The class names, from the first output's ``TENSOR_AXIS_LABELS`` file, line by line.

        Empty when there is no such file (or it was not packed).
        """
        for tensor in self.outputs[:1]:
            for file in tensor.associated_files:
                if file.type == "TENSOR_AXIS_LABELS" and file.name in self.files:
                    text = self.files[file.name].decode("utf-8")
                    return tuple(line.rstrip("\r") for line in text.split("\n") if line.strip())
        return ()


# --------------------------------------------------------------------------------- writing


def encode_metadata(info: ModelMetadataInfo) -> bytes:
    """Serialize ``info`` to a ``metadata_schema.fbs`` FlatBuffer (identifier ``"M001"``).

    Args:
        info: The metadata; ``info.files`` is not part of the FlatBuffer (see
            :func:`kerasdigits.export._pack.pack_model`).

    Returns:
        The FlatBuffer bytes.

    Raises:
        ExportError: An unknown color space or associated-file type, or normalization
            ``mean`` and ``std`` of different lengths.
    """
    b = flatbuffers.Builder(1024)
    inputs = [_tensor(b, t) for t in info.inputs]
    outputs = [_tensor(b, t) for t in info.outputs]
    sub_name = b.CreateString(info.subgraph_name)
    in_vec = _offsets(b, inputs)
    out_vec = _offsets(b, outputs)
    b.StartObject(10)  # SubGraphMetadata
    b.PrependUOffsetTRelativeSlot(0, sub_name, 0)
    b.PrependUOffsetTRelativeSlot(2, in_vec, 0)
    b.PrependUOffsetTRelativeSlot(3, out_vec, 0)
    subgraph = b.EndObject()

    name = b.CreateString(info.name)
    description = b.CreateString(info.description)
    version = b.CreateString(info.version)
    subgraphs = _offsets(b, [subgraph])
    author = b.CreateString(info.author)
    license_ = b.CreateString(info.license)
    parser = b.CreateString(info.min_parser_version)
    b.StartObject(8)  # ModelMetadata
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, description, 0)
    b.PrependUOffsetTRelativeSlot(2, version, 0)
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(4, author, 0)
    b.PrependUOffsetTRelativeSlot(5, license_, 0)
    b.PrependUOffsetTRelativeSlot(7, parser, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def _offsets(b: flatbuffers.Builder, items: Sequence[int]) -> int:
    b.StartVector(4, len(items), 4)
    for item in reversed(items):
        b.PrependUOffsetTRelative(item)
    return int(b.EndVector())


def _floats(b: flatbuffers.Builder, values: Sequence[float]) -> int:
    b.StartVector(4, len(values), 4)
    for value in reversed(values):
        b.PrependFloat32(float(value))
    return int(b.EndVector())


def _associated_file(b: flatbuffers.Builder, info: AssociatedFileInfo) -> int:
    if info.type not in ASSOCIATED_FILE_TYPES:
        raise ExportError(
            f"unknown associated file type {info.type!r}; use one of "
            f"{', '.join(ASSOCIATED_FILE_TYPES)}"
        )
    name = b.CreateString(info.name)
    description = b.CreateString(info.description)
    locale = b.CreateString(info.locale) if info.locale else None
    b.StartObject(5)  # AssociatedFile
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, description, 0)
    b.PrependInt8Slot(2, ASSOCIATED_FILE_TYPES[info.type], 0)
    if locale is not None:
        b.PrependUOffsetTRelativeSlot(3, locale, 0)
    return int(b.EndObject())


def _content(b: flatbuffers.Builder, t: TensorMetadataInfo) -> int | None:
    if t.content is None:
        return None
    if t.content == "image":
        size = None
        if t.image_size is not None:
            b.StartObject(2)  # ImageSize
            b.PrependUint32Slot(0, int(t.image_size[0]), 0)
            b.PrependUint32Slot(1, int(t.image_size[1]), 0)
            size = b.EndObject()
        space = t.color_space or "UNKNOWN"
        if space not in COLOR_SPACES:
            raise ExportError(
                f"unknown color space {space!r}; use one of {', '.join(COLOR_SPACES)}"
            )
        b.StartObject(2)  # ImageProperties
        b.PrependInt8Slot(0, COLOR_SPACES[space], 0)
        if size is not None:
            b.PrependUOffsetTRelativeSlot(1, size, 0)
        properties, kind = b.EndObject(), _CONTENT_IMAGE
    elif t.content == "feature":
        b.StartObject(0)  # FeatureProperties
        properties, kind = b.EndObject(), _CONTENT_FEATURE
    else:
        raise ExportError(f"unknown tensor content {t.content!r}; use 'image', 'feature' or None")
    b.StartObject(3)  # Content
    b.PrependUint8Slot(0, kind, 0)
    b.PrependUOffsetTRelativeSlot(1, properties, 0)
    return int(b.EndObject())


def _tensor(b: flatbuffers.Builder, t: TensorMetadataInfo) -> int:
    if len(t.mean) != len(t.std):
        raise ExportError(
            f"tensor {t.name!r}: normalization mean {t.mean} and std {t.std} differ in length"
        )
    if len(t.stats_min) != len(t.stats_max):
        raise ExportError(
            f"tensor {t.name!r}: stats min {t.stats_min} and max {t.stats_max} differ in length"
        )
    name = b.CreateString(t.name)
    description = b.CreateString(t.description)
    content = _content(b, t)
    units = None
    if t.mean:
        mean = _floats(b, t.mean)
        std = _floats(b, t.std)
        b.StartObject(2)  # NormalizationOptions
        b.PrependUOffsetTRelativeSlot(0, mean, 0)
        b.PrependUOffsetTRelativeSlot(1, std, 0)
        options = b.EndObject()
        b.StartObject(2)  # ProcessUnit
        b.PrependUint8Slot(0, _OPTIONS_NORMALIZATION, 0)
        b.PrependUOffsetTRelativeSlot(1, options, 0)
        units = _offsets(b, [b.EndObject()])
    stats = None
    if t.stats_min:
        high = _floats(b, t.stats_max)
        low = _floats(b, t.stats_min)
        b.StartObject(2)  # Stats
        b.PrependUOffsetTRelativeSlot(0, high, 0)
        b.PrependUOffsetTRelativeSlot(1, low, 0)
        stats = b.EndObject()
    files = None
    if t.associated_files:
        files = _offsets(b, [_associated_file(b, f) for f in t.associated_files])
    b.StartObject(7)  # TensorMetadata
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, description, 0)
    for slot, value in ((3, content), (4, units), (5, stats), (6, files)):
        if value is not None:
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
    return int(b.EndObject())


# --------------------------------------------------------------------------------- reading


class _Reader:
    """Field access on one FlatBuffer table, by field number."""

    def __init__(self, buf: bytes | bytearray, pos: int) -> None:
        self.tab = Table(buf, pos)

    def _offset(self, slot: int) -> int:
        return int(self.tab.Offset(4 + 2 * slot))

    def string(self, slot: int) -> str:
        o = self._offset(slot)
        if not o:
            return ""
        return bytes(self.tab.String(o + self.tab.Pos)).decode("utf-8", errors="replace")

    def scalar(self, slot: int, flags: Any, default: int = 0) -> int:
        o = self._offset(slot)
        return int(self.tab.Get(flags, o + self.tab.Pos)) if o else default

    def table(self, slot: int) -> _Reader | None:
        o = self._offset(slot)
        if not o:
            return None
        return _Reader(self.tab.Bytes, self.tab.Indirect(o + self.tab.Pos))

    def tables(self, slot: int) -> list[_Reader]:
        o = self._offset(slot)
        if not o:
            return []
        start = self.tab.Vector(o)
        return [
            _Reader(self.tab.Bytes, self.tab.Indirect(start + 4 * i))
            for i in range(self.tab.VectorLen(o))
        ]

    def floats(self, slot: int) -> tuple[float, ...]:
        o = self._offset(slot)
        if not o:
            return ()
        start = self.tab.Vector(o)
        return tuple(
            float(self.tab.Get(number_types.Float32Flags, start + 4 * i))
            for i in range(self.tab.VectorLen(o))
        )


def decode_metadata(buf: bytes | bytearray) -> ModelMetadataInfo:
    """Parse a ``metadata_schema.fbs`` FlatBuffer.

    Tables and union members that kerasdigits does not write (bounding boxes, tokenizers, score
    calibration...) are skipped; everything :func:`encode_metadata` writes reads back equal.

    Args:
        buf: The FlatBuffer (the ``TFLITE_METADATA`` buffer of a model).

    Returns:
        The metadata, with an empty ``files`` mapping.

    Raises:
        ExportError: The buffer is not a metadata FlatBuffer (wrong file identifier) or is
            truncated.
    """
    data = bytes(buf)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ExportError(
            f"not a TFLite metadata buffer (file identifier {data[4:8]!r}, expected "
            f"{FILE_IDENTIFIER!r})"
        )
    try:
        root = _Reader(data, int(number_types.UOffsetTFlags.py_type.from_bytes(data[:4], "little")))
        subgraphs = root.tables(3)
        inputs: tuple[TensorMetadataInfo, ...] = ()
        outputs: tuple[TensorMetadataInfo, ...] = ()
        subgraph_name = ""
        if subgraphs:
            sub = subgraphs[0]
            subgraph_name = sub.string(0)
            inputs = tuple(_read_tensor(t) for t in sub.tables(2))
            outputs = tuple(_read_tensor(t) for t in sub.tables(3))
        return ModelMetadataInfo(
            name=root.string(0),
            description=root.string(1),
            version=root.string(2),
            author=root.string(4),
            license=root.string(5),
            inputs=inputs,
            outputs=outputs,
            subgraph_name=subgraph_name,
            min_parser_version=root.string(7),
        )
    except (IndexError, ValueError, UnicodeDecodeError) as exc:  # a truncated buffer
        raise ExportError(f"corrupt TFLite metadata buffer: {exc}") from exc


def _read_tensor(t: _Reader) -> TensorMetadataInfo:
    content = color_space = None
    image_size = None
    c = t.table(3)
    if c is not None:
        kind = c.scalar(0, number_types.Uint8Flags)
        content = _CONTENT_KINDS.get(kind)
        props = c.table(1)
        if kind == _CONTENT_IMAGE and props is not None:
            color_space = _name_of(COLOR_SPACES, props.scalar(0, number_types.Int8Flags))
            size = props.table(1)
            if size is not None:
                width = size.scalar(0, number_types.Uint32Flags)
                image_size = (width, size.scalar(1, number_types.Uint32Flags))
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    for unit in t.tables(4):
        options = unit.table(1)
        kind = unit.scalar(0, number_types.Uint8Flags)
        if kind == _OPTIONS_NORMALIZATION and options is not None:
            mean, std = options.floats(0), options.floats(1)
    stats_min: tuple[float, ...] = ()
    stats_max: tuple[float, ...] = ()
    stats = t.table(5)
    if stats is not None:
        stats_max, stats_min = stats.floats(0), stats.floats(1)
    files = tuple(
        AssociatedFileInfo(
            name=f.string(0),
            description=f.string(1),
            type=_name_of(ASSOCIATED_FILE_TYPES, f.scalar(2, number_types.Int8Flags)),
            locale=f.string(3),
        )
        for f in t.tables(6)
    )
    return TensorMetadataInfo(
        name=t.string(0),
        description=t.string(1),
        content=content,
        color_space=color_space,
        image_size=image_size,
        mean=mean,
        std=std,
        stats_min=stats_min,
        stats_max=stats_max,
        associated_files=files,
    )
