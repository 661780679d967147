"""The ``.tflite`` container: metadata buffers, associated files, and a summary of the graph.

A ``.tflite`` file is a FlatBuffer of TFLite's model schema (identifier ``"TFL3"``). Its
``metadata`` list maps names to buffers; the TFLite metadata FlatBuffer goes under
``TFLITE_METADATA``, and the associated files it names (``labels.txt``) are appended after the
FlatBuffer as an uncompressed zip archive, as ``metadata_schema.fbs`` specifies. TFLite ignores
both; ML Kit, MediaPipe and the Task Library read them.

The model schema comes from ``ai_edge_litert.schema_py_generated`` when ai-edge-litert is
installed, else from ``tensorflow.lite.python.schema_py_generated``; reading never imports
TensorFlow when ai-edge-litert is there.

Reading treats a file as hostile (it may come from anywhere): :func:`read_tflite` refuses
files over :data:`MAX_FILE_BYTES`; :func:`summarize_model` and :func:`model_entries` read the
FlatBuffer through :class:`FlatBufferReader`, which checks every offset, vtable, vector and
string against the buffer before following it (and the indices between tables: operator
codes, tensors, buffers) and reads at most about twice the buffer's size in all, so shared or
overlapping tables cannot make a small file expensive; :func:`packed_files` checks each
associated file's declared size against :data:`MAX_PACKED_FILE_BYTES` and
:data:`MAX_PACKED_TOTAL_BYTES` before decompressing it and reads at most the limit anyway.
Every problem is an :class:`ExportError`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import flatbuffers  # type: ignore[import-untyped]
import numpy as np

from kerasdigits.export._errors import ExportError

__all__ = [
    "EXPORT_INFO_NAME",
    "MAX_FILE_BYTES",
    "MAX_PACKED_FILES",
    "MAX_PACKED_FILE_BYTES",
    "MAX_PACKED_TOTAL_BYTES",
    "METADATA_NAME",
    "FlatBufferReader",
    "FlatTable",
    "ModelSummary",
    "TensorSummary",
    "float_softmax",
    "model_entries",
    "pack_model",
    "packed_files",
    "read_tflite",
    "reading",
    "schema",
    "summarize_model",
]

#: Name of the model-level buffer that holds the TFLite metadata FlatBuffer.
METADATA_NAME = "TFLITE_METADATA"
#: Name of the model-level buffer with kerasdigits's own export record (JSON).
EXPORT_INFO_NAME = "kerasdigits_export"
_TFLITE_IDENTIFIER = b"TFL3"
_BUFFER_ALIGNMENT = 16  # the schema's force_align for Buffer.data; the Python API drops it

#: Largest ``.tflite`` file the readers (``read_metadata``, ``describe_tflite``,
#: ``verify_tflite``) accept: 512 MiB. The file is read into memory whole.
MAX_FILE_BYTES = 512 * 2**20
#: Largest associated file (``labels.txt``...) read from the appended zip, once decompressed:
#: 16 MiB. A labels file of 100,000 classes is about 2 MB.
MAX_PACKED_FILE_BYTES = 16 * 2**20
#: Largest total of the associated files read from one ``.tflite`` file: 64 MiB.
MAX_PACKED_TOTAL_BYTES = 64 * 2**20
#: Most associated files one ``.tflite`` file may pack.
MAX_PACKED_FILES = 64
# Largest zip central directory parsed (64 entries with long names fit many times over).
_MAX_ZIP_DIRECTORY_BYTES = 2**20


@cache
def schema() -> ModuleType:
    """Return the generated Python module of TFLite's model schema."""
    for name in ("ai_edge_litert.schema_py_generated",
                 "tensorflow.lite.python.schema_py_generated"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ExportError(  # pragma: no cover - TensorFlow is a dependency
        "reading .tflite files needs ai-edge-litert (pip install ai-edge-litert) or TensorFlow"
    )


def _check_identifier(data: bytes) -> None:
    if len(data) < 8 or data[4:8] != _TFLITE_IDENTIFIER:
        raise ExportError(
            f"not a TFLite model (file identifier {data[4:8]!r}, expected {_TFLITE_IDENTIFIER!r})"
        )


def _aligned_buffer_type(fb: ModuleType) -> type:
    """``BufferT`` whose ``data`` vector keeps the 16-byte alignment TFLite writes."""

    class AlignedBufferT(fb.BufferT):  # type: ignore[misc,name-defined]
        def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 - schema API
            data_offset = None
            if self.data is not None:
                raw = np.ascontiguousarray(self.data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(raw), _BUFFER_ALIGNMENT)
                builder.head = builder.head - len(raw)
                builder.Bytes[builder.head : builder.head + len(raw)] = raw
                data_offset = builder.EndVector()
            fb.BufferStart(builder)
            if data_offset is not None:
                fb.BufferAddData(builder, data_offset)
            fb.BufferAddOffset(builder, self.offset)
            fb.BufferAddSize(builder, self.size)
            return int(fb.BufferEnd(builder))

    return AlignedBufferT


def pack_model(
    model: bytes,
    *,
    entries: Mapping[str, bytes] | None = None,
    files: Mapping[str, bytes] | None = None,
    input_name: str | None = None,
    output_name: str | None = None,
) -> bytes:
    """Return ``model`` with named metadata buffers set and associated files appended.

    Args:
        model: A ``.tflite`` FlatBuffer (any zip already appended to it is dropped).
        entries: Model-level metadata buffers by name, such as ``{"TFLITE_METADATA": ...}``;
            an entry of the same name is replaced.
        files: Associated files to append as a zip archive (stored, not compressed).
        input_name: New name of the (single) input tensor and of its signature key.
        output_name: New name of the (single) output tensor and of its signature key.

    Returns:
        The new ``.tflite`` bytes.

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer.
    """
    _check_identifier(model)
    fb = schema()
    obj = fb.ModelT.InitFromObj(fb.Model.GetRootAs(model, 0))
    aligned = _aligned_buffer_type(fb)
    obj.metadata = list(obj.metadata or [])
    for name, data in (entries or {}).items():
        buffer = aligned()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        existing = [m for m in obj.metadata if _text(m.name) == name]
        if existing:
            obj.buffers[existing[0].buffer] = buffer
        else:
            obj.buffers.append(buffer)
            entry = fb.MetadataT()
            entry.name = name
            entry.buffer = len(obj.buffers) - 1
            obj.metadata.append(entry)
    _rename(obj, input_name, output_name)
    out = _finish(obj, len(model))
    if files:
        stream = io.BytesIO()
        stream.write(out)
        with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as archive:
            for name, content in files.items():
                # A fixed timestamp: the same export gives the same bytes.
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, content)
        out = stream.getvalue()
    return out


def _finish(obj: Any, size_hint: int) -> bytes:
    """Serialize a ``ModelT``, keeping the 16-byte alignment of every buffer's data."""
    aligned = _aligned_buffer_type(schema())
    buffers = []
    for buffer in obj.buffers or []:
        copy = aligned()
        copy.data, copy.offset, copy.size = buffer.data, buffer.offset, buffer.size
        buffers.append(copy)
    obj.buffers = buffers
    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(obj.Pack(builder), file_identifier=_TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def float_softmax(model: bytes) -> bytes:
    """Move a quantized model's final softmax to float: exact probabilities that sum to 1.

    A full-integer model ends in ``SOFTMAX`` (int8 in, int8 out, scale 1/256) and a
    ``DEQUANTIZE`` to the float output, so each probability is rounded to a multiple of 1/256
    and their sum is off by up to ``num_classes / 512``. This rewires the end of the graph to
    ``DEQUANTIZE`` (of the int8 logits) followed by a float ``SOFTMAX`` (version 1, same beta)
    writing the same output tensor. Other graphs are returned unchanged.

    Args:
        model: A ``.tflite`` FlatBuffer without appended files.

    Returns:
        The rewired FlatBuffer, or ``model`` itself when its graph does not end in
        ``SOFTMAX -> DEQUANTIZE`` on a quantized tensor.

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer.
    """
    _check_identifier(model)
    fb = schema()
    obj = fb.ModelT.InitFromObj(fb.Model.GetRootAs(model, 0))
    if not obj.subgraphs or len(obj.subgraphs) != 1:
        return model
    graph = obj.subgraphs[0]
    operators = list(graph.operators or [])
    if graph.outputs is None or len(graph.outputs) != 1:
        return model

    def code(op: Any) -> int:
        c = obj.operatorCodes[op.opcodeIndex]
        return max(int(c.builtinCode), int(c.deprecatedBuiltinCode))

    def indices(values: Any) -> list[int]:  # a numpy array, a list or None
        return [] if values is None else [int(v) for v in values]

    def producer(tensor: int) -> int | None:
        found = [i for i, op in enumerate(operators) if tensor in indices(op.outputs)]
        return found[0] if len(found) == 1 else None

    def readers(tensor: int) -> int:
        return sum(t == tensor for op in operators for t in indices(op.inputs))

    output = int(graph.outputs[0])
    last = producer(output)
    if last is None or code(operators[last]) != fb.BuiltinOperator.DEQUANTIZE:
        return model
    probs = int(operators[last].inputs[0])
    soft = producer(probs)
    if soft is None or code(operators[soft]) != fb.BuiltinOperator.SOFTMAX or soft > last:
        return model
    logits = int(operators[soft].inputs[0])
    quantized = (fb.TensorType.INT8, fb.TensorType.UINT8)
    if (graph.tensors[probs].type not in quantized or graph.tensors[logits].type not in quantized
            or readers(probs) != 1 or output in indices(graph.inputs)):
        return model
    dequantize, softmax = operators[last], operators[soft]
    dequantize.inputs, dequantize.outputs = [logits], [probs]
    softmax.inputs, softmax.outputs = [probs], [output]
    # The int8 probabilities tensor becomes the float logits between the two ops.
    middle = graph.tensors[probs]
    middle.type = fb.TensorType.FLOAT32
    middle.quantization = None
    taken = {_text(t.name) for t in graph.tensors}
    name = "float_logits"
    while name in taken:
        name += "_"
    middle.name = name
    operators[soft], operators[last] = dequantize, softmax
    graph.operators = operators
    # Float SOFTMAX is version 1; give it its own operator code if another op shares one.
    shared = sum(op.opcodeIndex == softmax.opcodeIndex for op in operators) > 1
    float_code = fb.OperatorCodeT()
    original = obj.operatorCodes[softmax.opcodeIndex]
    float_code.builtinCode = original.builtinCode
    float_code.deprecatedBuiltinCode = original.deprecatedBuiltinCode
    float_code.version = 1
    if shared:
        obj.operatorCodes.append(float_code)
        softmax.opcodeIndex = len(obj.operatorCodes) - 1
    else:
        obj.operatorCodes[softmax.opcodeIndex] = float_code
    return _finish(obj, len(model))


def _rename(obj: Any, input_name: str | None, output_name: str | None) -> None:
    subgraph = obj.subgraphs[0]
    for indices, new in ((subgraph.inputs, input_name), (subgraph.outputs, output_name)):
        if new is None:
            continue
        taken = {_text(t.name) for t in subgraph.tensors}
        index = int(indices[0])
        if new in taken and _text(subgraph.tensors[index].name) != new:
            continue  # another tensor has the name; keep the converter's
        subgraph.tensors[index].name = new
        for signature in obj.signatureDefs or []:
            maps = signature.inputs if indices is subgraph.inputs else signature.outputs
            for tensor_map in maps or []:
                if tensor_map.tensorIndex == index:
                    tensor_map.name = new


@dataclass(frozen=True)
class TensorSummary:
    """One input or output tensor as the FlatBuffer declares it."""

    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int | None


@dataclass(frozen=True)
class ModelSummary:
    """What a ``.tflite`` FlatBuffer holds: I/O, operators, tensors, buffers.

    ``ops`` counts the operators by name; ``op_versions`` by ``(name, version)``.
    """

    inputs: tuple[TensorSummary, ...]
    outputs: tuple[TensorSummary, ...]
    ops: dict[str, int]
    subgraphs: int
    has_variables: bool
    entries: tuple[str, ...]
    op_versions: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def custom_ops(self) -> tuple[str, ...]:
        """Operators that are not TFLite builtins (Flex/Select-TF ops and custom ops)."""
        return tuple(op for op in self.ops if op.startswith("CUSTOM:"))


@cache
def _enum_names(enum_class: str) -> dict[int, str]:
    cls = getattr(schema(), enum_class)
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


_VARIABLE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}


# ------------------------------------------------------------------------- reading files


def read_tflite(path: str | os.PathLike[str]) -> bytes:
    """Read a ``.tflite`` file from disk, refusing one larger than :data:`MAX_FILE_BYTES`.

    The size the file system reports is checked first, and at most ``MAX_FILE_BYTES + 1``
    bytes are read anyway (a file may grow, or report no size, as ``/proc`` files do).

    Args:
        path: The file.

    Returns:
        Its bytes.

    Raises:
        ExportError: The file is missing or larger than :data:`MAX_FILE_BYTES`.
    """
    file = Path(path)
    if not file.is_file():
        raise ExportError(f"{file}: no such file")
    limit = MAX_FILE_BYTES
    with file.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size > limit:
            raise ExportError(f"{file}: the file has {size:,} bytes, over the {limit:,}-byte "
                              "limit for reading .tflite files")
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ExportError(f"{file}: the file holds more than the {limit:,}-byte limit for "
                          "reading .tflite files")
    return data


# Errors flatbuffers' generated code raises on bad bytes, turned into ExportError by ``reading``.
_STRAY_ERRORS = (struct.error, IndexError, UnicodeDecodeError, ValueError)


@contextlib.contextmanager
def reading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Put ``path`` in front of every error raised while reading it, on one line.

    The readers check what they read and raise :class:`ExportError`; as a last resort, the
    errors flatbuffers' generated code raises on bytes the checks let through
    (``struct.error``, ``IndexError``, ``UnicodeDecodeError``, ``ValueError``) become an
    :class:`ExportError` too.

    Args:
        path: The file being read, for the messages.

    Yields:
        Nothing; the body reads the file.

    Raises:
        ExportError: The body raised one of those errors.
    """
    try:
        yield
    except ExportError as exc:
        raise ExportError(f"{path}: {_one_line(str(exc))}") from exc
    except _STRAY_ERRORS as exc:
        raise ExportError(f"{path}: malformed .tflite file ({type(exc).__name__}: "
                          f"{_one_line(str(exc))})") from exc


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


# ------------------------------------------------------------------ bounds-checked FlatBuffers

_I8 = struct.Struct("<b")
_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_F32 = struct.Struct("<f")
_READ_SLACK = 4096  # bytes of the reading budget on top of twice the buffer's size


class FlatBufferReader:
    """Bounds-checked reading of one FlatBuffer, table by table.

    Every position is checked against the buffer before it is read, and every table, string
    and vector read is charged to a budget of twice the buffer's size (plus 4 KiB): a
    FlatBuffer whose tables are not shared reads each byte once, while a forged one whose
    vectors all point to the same big table would otherwise cost far more than its size.
    Problems raise :class:`ExportError` ``"corrupt <what>: ..."``.

    Args:
        data: The FlatBuffer.
        what: What it is, for the messages (``"TFLite model"``).
    """

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what
        self._budget = 2 * len(data) + _READ_SLACK

    def fail(self, message: str) -> NoReturn:
        """Raise :class:`ExportError` ``"corrupt <what>: <message>"``."""
        raise ExportError(f"corrupt {self.what}: {message}")

    def check(self, pos: int, size: int, what: str) -> None:
        """Fail unless ``size`` bytes at ``pos`` lie inside the buffer."""
        if pos < 0 or size < 0 or pos + size > len(self.data):
            self.fail(f"{what} lies outside the {len(self.data):,}-byte buffer (bytes "
                      f"{pos:,} to {pos + size:,})")

    def spend(self, nbytes: int) -> None:
        """Charge ``nbytes`` read to the budget; fail when it runs out."""
        self._budget -= nbytes
        if self._budget < 0:
            self.fail(f"it references more data than its {len(self.data):,} bytes hold "
                      "(shared or overlapping tables)")

    def get(self, fmt: struct.Struct, pos: int, what: str = "a value") -> Any:
        """Unpack one scalar of ``fmt`` at ``pos``."""
        self.check(pos, fmt.size, what)
        return fmt.unpack_from(self.data, pos)[0]

    def follow(self, pos: int) -> int:
        """Return the position the ``uoffset`` at ``pos`` points to (checked)."""
        target = pos + int(self.get(_U32, pos, "an offset"))
        self.check(target, 4, f"the object the offset at byte {pos:,} points to")
        return target

    def root(self, identifier: bytes) -> FlatTable:
        """The root table, after checking the 4-byte file identifier."""
        if len(self.data) < 8 or self.data[4:8] != identifier:
            self.fail(f"file identifier {self.data[4:8]!r}, expected {identifier!r}")
        return FlatTable(self, self.follow(0))


class FlatTable:
    """One table of a FlatBuffer read through a :class:`FlatBufferReader`.

    Fields are addressed by number (their declaration order in the schema); an absent field
    reads as its default, as in the generated code.

    Args:
        reader: The buffer's reader.
        pos: The table's position.
    """

    __slots__ = ("_reader", "_vtable", "_vtable_size", "pos")

    def __init__(self, reader: FlatBufferReader, pos: int) -> None:
        reader.spend(4)
        self._reader = reader
        self.pos = pos
        vtable = pos - int(reader.get(_I32, pos, "a table"))
        size = int(reader.get(_U16, vtable, f"the vtable of the table at byte {pos:,}"))
        if size < 4 or size % 2:
            reader.fail(f"the vtable of the table at byte {pos:,} has a bad size ({size})")
        reader.check(vtable, size, f"the vtable of the table at byte {pos:,}")
        self._vtable, self._vtable_size = vtable, size

    def _field(self, slot: int, size: int) -> int:
        """Position of field ``slot`` (``size`` bytes, checked), or 0 when absent."""
        entry = 4 + 2 * slot
        if entry >= self._vtable_size:
            return 0
        offset = int(self._reader.get(_U16, self._vtable + entry))
        if not offset:
            return 0
        self._reader.check(self.pos + offset, size, f"field {slot} of the table at byte "
                                                    f"{self.pos:,}")
        return self.pos + offset

    def scalar(self, slot: int, fmt: struct.Struct, default: Any = 0) -> Any:
        """A scalar field (``fmt`` such as ``struct.Struct("<i")``)."""
        pos = self._field(slot, fmt.size)
        return self._reader.get(fmt, pos) if pos else default

    def _target(self, slot: int) -> int:
        pos = self._field(slot, 4)
        return self._reader.follow(pos) if pos else 0

    def table(self, slot: int) -> FlatTable | None:
        """A table field, or ``None``."""
        target = self._target(slot)
        return FlatTable(self._reader, target) if target else None

    def raw_string(self, slot: int) -> bytes:
        """A string field's bytes (``b""`` when absent)."""
        target = self._target(slot)
        if not target:
            return b""
        length = int(self._reader.get(_U32, target))
        self._reader.check(target + 4, length, "a string")
        self._reader.spend(4 + length)
        return self._reader.data[target + 4 : target + 4 + length]

    def string(self, slot: int) -> str:
        """A string field, decoded as UTF-8 (bad bytes replaced)."""
        return self.raw_string(slot).decode("utf-8", errors="replace")

    def vector(self, slot: int, item_size: int) -> tuple[int, int]:
        """``(start, length)`` of a vector field of ``item_size``-byte items (checked).

        Nothing is charged to the budget: the caller reads what it needs.
        """
        target = self._target(slot)
        if not target:
            return 0, 0
        length = int(self._reader.get(_U32, target))
        self._reader.check(target + 4, length * item_size, "a vector")
        return target + 4, length

    def numbers(self, slot: int, code: str) -> tuple[Any, ...]:
        """A vector of scalars (``code`` a ``struct`` format character such as ``"i"``)."""
        size = struct.calcsize(f"<{code}")
        start, length = self.vector(slot, size)
        self._reader.spend(4 + length * size)
        return struct.unpack_from(f"<{length}{code}", self._reader.data, start)

    def tables(self, slot: int) -> list[FlatTable]:
        """A vector of tables."""
        start, length = self.vector(slot, 4)
        self._reader.spend(4 + 4 * length)
        return [FlatTable(self._reader, self._reader.follow(start + 4 * i))
                for i in range(length)]


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


@dataclass(frozen=True)
class _Graph:
    tensors: tuple[TensorSummary, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    opcodes: tuple[int, ...]  # the operator code index of each operator


@dataclass(frozen=True)
class _Model:
    codes: tuple[tuple[str, int], ...]  # (operator name, version)
    graphs: tuple[_Graph, ...]
    entries: tuple[tuple[str, bytes], ...]


def _read_model(model: bytes) -> _Model:
    """Read the parts of a ``.tflite`` FlatBuffer kerasdigits uses, checking everything.

    Besides the structure (every offset, vtable, vector and string inside the buffer), the
    indices between tables are checked: operator codes, tensors of each operator and of the
    subgraph's inputs and outputs, buffers of tensors and metadata entries, and the bytes an
    external buffer points to. What flatbuffers' generated code later reads of these parts
    (``_opversions``) is then safe.
    """
    _check_identifier(model)
    reader = FlatBufferReader(model, "TFLite model")
    root = reader.root(_TFLITE_IDENTIFIER)
    op_names = _enum_names("BuiltinOperator")
    type_names = _enum_names("TensorType")
    codes = []
    for code in root.tables(1):
        number = max(int(code.scalar(3, _I32)), int(code.scalar(0, _I8)))
        name = op_names.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM":
            name = f"CUSTOM:{code.string(1)}"
        codes.append((name, int(code.scalar(2, _I32, 1))))
    buffers = root.tables(4)
    spans = []
    for b, buffer in enumerate(buffers):
        start, length = buffer.vector(0, 1)
        offset, size = int(buffer.scalar(1, _U64)), int(buffer.scalar(2, _U64))
        if not length and size:  # stored after the FlatBuffer, at an offset into the file
            if offset + size > len(model):
                reader.fail(f"buffer {b} ({size:,} bytes at offset {offset:,}) lies outside "
                            f"the file ({len(model):,} bytes)")
            start, length = offset, size
        spans.append((start, length))
    graphs = []
    for s, graph in enumerate(root.tables(2)):
        tensors = tuple(_read_tensor(reader, tensor, f"tensor {t} of subgraph {s}",
                                     len(buffers), type_names)
                        for t, tensor in enumerate(graph.tables(0)))

        def check_tensors(indices: tuple[int, ...], what: str, optional: bool = False,
                          count: int = len(tensors)) -> tuple[int, ...]:
            for index in indices:
                if not (-1 if optional else 0) <= index < count:
                    reader.fail(f"{what} refers to tensor {index} of {count}")
            return indices

        inputs = check_tensors(graph.numbers(1, "i"), f"an input of subgraph {s}")
        outputs = check_tensors(graph.numbers(2, "i"), f"an output of subgraph {s}")
        opcodes = []
        for o, op in enumerate(graph.tables(3)):
            index = int(op.scalar(0, _U32))
            if index >= len(codes):
                reader.fail(f"operator {o} of subgraph {s} uses operator code {index} of "
                            f"{len(codes)}")
            for slot in (1, 2):
                check_tensors(op.numbers(slot, "i"), f"operator {o} of subgraph {s}",
                              optional=True)
            opcodes.append(index)
        graphs.append(_Graph(tensors, inputs, outputs, tuple(opcodes)))
    if not graphs:
        reader.fail("the model has no subgraph")
    entries = []
    for entry in root.tables(6):
        name = entry.string(0)
        b = int(entry.scalar(1, _U32))
        if b >= len(buffers):
            reader.fail(f"metadata entry {name!r} refers to buffer {b} of {len(buffers)}")
        start, length = spans[b]
        reader.spend(length)
        entries.append((name, model[start : start + length]))
    return _Model(tuple(codes), tuple(graphs), tuple(entries))


def _read_tensor(reader: FlatBufferReader, tensor: FlatTable, what: str, buffers: int,
                 type_names: dict[int, str]) -> TensorSummary:
    buffer = int(tensor.scalar(2, _U32))
    if buffer >= buffers and (buffers or buffer):
        reader.fail(f"{what} refers to buffer {buffer} of {buffers}")
    shape = tuple(int(d) for d in tensor.numbers(0, "i"))
    signature = tuple(int(d) for d in tensor.numbers(7, "i")) or shape
    type_number = int(tensor.scalar(1, _I8))
    scale = zero_point = None
    quantization = tensor.table(4)
    if quantization is not None:
        start, count = quantization.vector(2, 4)
        points, point_count = quantization.vector(3, 8)
        if count:
            scale = float(reader.get(_F32, start))
            zero_point = int(reader.get(_I64, points)) if point_count else 0
    return TensorSummary(
        name=tensor.string(3),
        shape=shape,
        shape_signature=signature,
        dtype=type_names.get(type_number, str(type_number)).lower(),
        scale=scale,
        zero_point=zero_point,
    )


def model_entries(model: bytes) -> dict[str, bytes]:
    """Return the model-level metadata buffers of a ``.tflite`` file, by name.

    The whole FlatBuffer is checked on the way (see :class:`FlatBufferReader`).

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer, or is corrupt.
    """
    return dict(_read_model(model).entries)


_END_OF_ZIP = b"PK\x05\x06"
_END_RECORD = struct.Struct("<4s4H2LH")  # zipfile's end of central directory record
_ZIP64_LOCATOR = b"PK\x06\x07"


def _check_zip_directory(data: bytes) -> None:
    """Refuse a zip whose central directory is too big, before ``zipfile`` parses it.

    Finds the end record the way ``zipfile`` does (at the very end, else the last one in the
    final 64 KiB); zip64 archives are refused (a ``.tflite`` file never needs one).
    """
    size = _END_RECORD.size
    pos = len(data) - size
    if not (pos >= 0 and data[pos : pos + 4] == _END_OF_ZIP and data[-2:] == b"\0\0"):
        pos = data.rfind(_END_OF_ZIP, max(0, len(data) - size - (1 << 16)))
        if pos < 0 or pos + size > len(data):
            return
    record = _END_RECORD.unpack_from(data, pos)
    count, directory = int(record[4]), int(record[5])
    if pos >= 20 and data[pos - 20 : pos - 16] == _ZIP64_LOCATOR:
        raise ExportError("the zip of associated files is a zip64 archive, which is not "
                          "supported")
    if count > MAX_PACKED_FILES:
        raise ExportError(f"the zip of associated files holds {count:,} files; the limit is "
                          f"{MAX_PACKED_FILES}")
    if directory > _MAX_ZIP_DIRECTORY_BYTES:
        raise ExportError(f"the zip of associated files has a {directory:,}-byte directory; "
                          f"the limit is {_MAX_ZIP_DIRECTORY_BYTES:,}")


# What zipfile raises on a corrupt archive.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error,
               NotImplementedError, UnicodeDecodeError)


def packed_files(model: bytes) -> dict[str, bytes]:
    """Return the associated files appended to a ``.tflite`` file as a zip (none: ``{}``).

    Reading is bounded: at most :data:`MAX_PACKED_FILES` files, each stored or deflated (not
    encrypted), each at most :data:`MAX_PACKED_FILE_BYTES` and all together at most
    :data:`MAX_PACKED_TOTAL_BYTES` once decompressed. A file's declared size is checked
    before it is decompressed, and no more than the limit is decompressed whatever its header
    says.

    Raises:
        ExportError: The zip is corrupt, or breaks one of these limits (the message names the
            file and the limit).
    """
    stream = io.BytesIO(model)
    try:
        if not zipfile.is_zipfile(stream):
            return {}
        _check_zip_directory(model)
        with zipfile.ZipFile(stream) as archive:
            return _read_members(archive)
    except ExportError:
        raise
    except _ZIP_ERRORS as exc:
        raise ExportError(f"the zip of associated files is corrupt: {exc}") from exc


def _read_members(archive: zipfile.ZipFile) -> dict[str, bytes]:
    infos = archive.infolist()
    if len(infos) > MAX_PACKED_FILES:
        raise ExportError(f"the zip of associated files holds {len(infos):,} files; the limit "
                          f"is {MAX_PACKED_FILES}")
    files: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = info.filename
        where = f"associated file {name!r} in the zip"
        if name in files:
            raise ExportError(f"{where} appears twice")
        if info.flag_bits & 0x1:
            raise ExportError(f"{where} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ExportError(f"{where} uses compression method {info.compress_type}; only "
                              "stored and deflated files are read")
        if info.file_size > MAX_PACKED_FILE_BYTES:
            raise ExportError(f"{where} declares {info.file_size:,} bytes; the limit is "
                              f"{MAX_PACKED_FILE_BYTES:,} bytes per file")
        if total + info.file_size > MAX_PACKED_TOTAL_BYTES:
            raise ExportError(f"{where} ({info.file_size:,} bytes) would bring the files to "
                              f"{total + info.file_size:,} bytes; the limit is "
                              f"{MAX_PACKED_TOTAL_BYTES:,} bytes in all")
        limit = min(MAX_PACKED_FILE_BYTES, MAX_PACKED_TOTAL_BYTES - total)
        with archive.open(info) as member:
            content = member.read(limit + 1)  # never trust the header
        if len(content) > limit:
            raise ExportError(f"{where} holds more than the {limit:,} bytes it may have "
                              f"(its header says {info.file_size:,})")
        total += len(content)
        files[name] = content
    return files


def summarize_model(model: bytes) -> ModelSummary:
    """Describe the I/O tensors and operators of a ``.tflite`` FlatBuffer (first subgraph).

    The whole FlatBuffer is checked on the way (see :class:`FlatBufferReader`).

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer, or is corrupt.
    """
    read = _read_model(model)
    ops: dict[str, int] = {}
    op_versions: dict[tuple[str, int], int] = {}
    has_variables = False
    for graph in read.graphs:
        for index in graph.opcodes:
            name, version = read.codes[index]
            ops[name] = ops.get(name, 0) + 1
            op_versions[name, version] = op_versions.get((name, version), 0) + 1
            has_variables = has_variables or name in _VARIABLE_OPS
        has_variables = has_variables or any(t.dtype == "resource" for t in graph.tensors)
    main = read.graphs[0]
    return ModelSummary(
        inputs=tuple(main.tensors[i] for i in main.inputs),
        outputs=tuple(main.tensors[i] for i in main.outputs),
        ops=ops,
        subgraphs=len(read.graphs),
        has_variables=has_variables,
        entries=tuple(name for name, _ in read.entries),
        op_versions=op_versions,
    )
