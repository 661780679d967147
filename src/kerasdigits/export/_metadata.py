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

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import flatbuffers  # type: ignore[import-untyped]

from kerasdigits.export._errors import ExportError
from kerasdigits.export._pack import FlatBufferReader, FlatTable

__all__ = [
    "ASSOCIATED_FILE_TYPES",
    "COLOR_SPACES",
    "FILE_IDENTIFIER",
    "MAX_LABELS",
    "MAX_LABEL_LENGTH",
    "MAX_METADATA_BYTES",
    "MIN_PARSER_VERSION",
    "AssociatedFileInfo",
    "ModelMetadataInfo",
    "TensorMetadataInfo",
    "decode_metadata",
    "encode_metadata",
    "parse_labels",
]

#: The metadata FlatBuffer's file identifier.
FILE_IDENTIFIER = b"M001"
#: The oldest metadata parser that understands every field this module writes.
MIN_PARSER_VERSION = "1.0.0"
#: Largest metadata FlatBuffer :func:`decode_metadata` reads: 1 MiB (kerasdigits writes
#: about 1 KB; names, descriptions and normalization values are all it holds).
MAX_METADATA_BYTES = 2**20
#: Most lines a labels file may have (:func:`parse_labels`).
MAX_LABELS = 100_000
#: Longest label, in characters (:func:`parse_labels`).
MAX_LABEL_LENGTH = 1_000

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

        Empty when there is no such file (or it was not packed). See :func:`parse_labels`
        for the limits.
        """
        for tensor in self.outputs[:1]:
            for file in tensor.associated_files:
                if file.type == "TENSOR_AXIS_LABELS" and file.name in self.files:
                    return parse_labels(self.files[file.name], file.name)
        return ()


def parse_labels(content: bytes, name: str) -> tuple[str, ...]:
    """Split a labels file (one label per line, UTF-8) into labels; blank lines are skipped.

    Args:
        content: The file's bytes.
        name: Its name in the zip, for the messages.

    Returns:
        The labels, without their line endings.

    Raises:
        ExportError: The file is not UTF-8, has more than :data:`MAX_LABELS` lines (100,000)
            or a line longer than :data:`MAX_LABEL_LENGTH` characters (1,000).
    """
    where = f"associated file {name!r}"
    if content.count(b"\n") > MAX_LABELS:
        raise ExportError(f"{where} has more than {MAX_LABELS:,} lines, the limit for labels")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{where} is not UTF-8 text (byte {exc.start:,}: {exc.reason})"
                          ) from exc
    labels = []
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LABEL_LENGTH:
            raise ExportError(f"{where}: line {number:,} has {len(line):,} characters; the "
                              f"limit for a label is {MAX_LABEL_LENGTH:,}")
        if line.strip():
            labels.append(line.rstrip("\r"))
    if len(labels) > MAX_LABELS:
        raise ExportError(f"{where} has more than {MAX_LABELS:,} labels, the limit")
    return tuple(labels)


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


def decode_metadata(buf: bytes | bytearray) -> ModelMetadataInfo:
    """Parse a ``metadata_schema.fbs`` FlatBuffer.

    Tables and union members that kerasdigits does not write (bounding boxes, tokenizers, score
    calibration...) are skipped; everything :func:`encode_metadata` writes reads back equal.
    The buffer is read through a bounds-checked
    :class:`~kerasdigits.export._pack.FlatBufferReader`: every offset, vector and string is
    checked, and at most about twice the buffer's size is read in all.

    Args:
        buf: The FlatBuffer (the ``TFLITE_METADATA`` buffer of a model), at most
            :data:`MAX_METADATA_BYTES` (1 MiB).

    Returns:
        The metadata, with an empty ``files`` mapping.

    Raises:
        ExportError: The buffer is not a metadata FlatBuffer (wrong file identifier), is
            larger than :data:`MAX_METADATA_BYTES`, or is truncated or corrupt.
    """
    data = bytes(buf)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ExportError(
            f"not a TFLite metadata buffer (file identifier {data[4:8]!r}, expected "
            f"{FILE_IDENTIFIER!r})"
        )
    if len(data) > MAX_METADATA_BYTES:
        raise ExportError(f"the TFLite metadata buffer has {len(data):,} bytes; the limit is "
                          f"{MAX_METADATA_BYTES:,}")
    root = FlatBufferReader(data, "TFLite metadata buffer").root(FILE_IDENTIFIER)
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


_U8 = struct.Struct("<B")
_I8 = struct.Struct("<b")
_U32 = struct.Struct("<I")


def _read_floats(t: FlatTable, slot: int) -> tuple[float, ...]:
    return tuple(float(v) for v in t.numbers(slot, "f"))


def _read_tensor(t: FlatTable) -> TensorMetadataInfo:
    content = color_space = None
    image_size = None
    c = t.table(3)
    if c is not None:
        kind = int(c.scalar(0, _U8))
        content = _CONTENT_KINDS.get(kind)
        props = c.table(1)
        if kind == _CONTENT_IMAGE and props is not None:
            color_space = _name_of(COLOR_SPACES, int(props.scalar(0, _I8)))
            size = props.table(1)
            if size is not None:
                image_size = (int(size.scalar(0, _U32)), int(size.scalar(1, _U32)))
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    for unit in t.tables(4):
        options = unit.table(1)
        kind = int(unit.scalar(0, _U8))
        if kind == _OPTIONS_NORMALIZATION and options is not None:
            mean, std = _read_floats(options, 0), _read_floats(options, 1)
    stats_min: tuple[float, ...] = ()
    stats_max: tuple[float, ...] = ()
    stats = t.table(5)
    if stats is not None:
        stats_max, stats_min = _read_floats(stats, 0), _read_floats(stats, 1)
    files = tuple(
        AssociatedFileInfo(
            name=f.string(0),
            description=f.string(1),
            type=_name_of(ASSOCIATED_FILE_TYPES, int(f.scalar(2, _I8))),
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
