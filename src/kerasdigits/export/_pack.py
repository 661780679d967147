"""The ``.tflite`` container: metadata buffers, associated files, and a summary of the graph.

A ``.tflite`` file is a FlatBuffer of TFLite's model schema (identifier ``"TFL3"``). Its
``metadata`` list maps names to buffers; the TFLite metadata FlatBuffer goes under
``TFLITE_METADATA``, and the associated files it names (``labels.txt``) are appended after the
FlatBuffer as an uncompressed zip archive, as ``metadata_schema.fbs`` specifies. TFLite ignores
both; ML Kit, MediaPipe and the Task Library read them.

The model schema comes from ``ai_edge_litert.schema_py_generated`` when ai-edge-litert is
installed, else from ``tensorflow.lite.python.schema_py_generated``; reading never imports
TensorFlow when ai-edge-litert is there.
"""

from __future__ import annotations

import importlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

import flatbuffers  # type: ignore[import-untyped]
import numpy as np

from kerasdigits.export._errors import ExportError

__all__ = [
    "EXPORT_INFO_NAME",
    "METADATA_NAME",
    "ModelSummary",
    "TensorSummary",
    "float_softmax",
    "model_entries",
    "pack_model",
    "packed_files",
    "schema",
    "summarize_model",
]

#: Name of the model-level buffer that holds the TFLite metadata FlatBuffer.
METADATA_NAME = "TFLITE_METADATA"
#: Name of the model-level buffer with kerasdigits's own export record (JSON).
EXPORT_INFO_NAME = "kerasdigits_export"
_TFLITE_IDENTIFIER = b"TFL3"
_BUFFER_ALIGNMENT = 16  # the schema's force_align for Buffer.data; the Python API drops it


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


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def model_entries(model: bytes) -> dict[str, bytes]:
    """Return the model-level metadata buffers of a ``.tflite`` file, by name.

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer.
    """
    _check_identifier(model)
    root = schema().Model.GetRootAs(model, 0)
    entries = {}
    for i in range(root.MetadataLength()):
        meta = root.Metadata(i)
        buffer = root.Buffers(meta.Buffer())
        if buffer.DataLength():
            data = buffer.DataAsNumpy().tobytes()
        elif buffer.Size():  # stored outside the FlatBuffer, after it
            data = model[buffer.Offset() : buffer.Offset() + buffer.Size()]
        else:
            data = b""
        entries[_text(meta.Name())] = data
    return entries


def packed_files(model: bytes) -> dict[str, bytes]:
    """Return the associated files appended to a ``.tflite`` file as a zip (none: ``{}``)."""
    stream = io.BytesIO(model)
    if not zipfile.is_zipfile(stream):
        return {}
    try:
        with zipfile.ZipFile(stream) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportError(f"the zip of associated files is corrupt: {exc}") from exc


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


def summarize_model(model: bytes) -> ModelSummary:
    """Describe the I/O tensors and operators of a ``.tflite`` FlatBuffer (first subgraph).

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer.
    """
    _check_identifier(model)
    root = schema().Model.GetRootAs(model, 0)
    op_names = _enum_names("BuiltinOperator")
    type_names = _enum_names("TensorType")
    codes: list[tuple[str, int]] = []
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        number = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        name = op_names.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM":
            name = f"CUSTOM:{_text(code.CustomCode())}"
        codes.append((name, int(code.Version())))
    ops: dict[str, int] = {}
    op_versions: dict[tuple[str, int], int] = {}
    has_variables = False
    for s in range(root.SubgraphsLength()):
        subgraph = root.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            name, version = codes[subgraph.Operators(o).OpcodeIndex()]
            ops[name] = ops.get(name, 0) + 1
            op_versions[name, version] = op_versions.get((name, version), 0) + 1
            has_variables = has_variables or name in _VARIABLE_OPS
        for t in range(subgraph.TensorsLength()):
            has_variables = has_variables or type_names.get(
                subgraph.Tensors(t).Type()) == "RESOURCE"
    main = root.Subgraphs(0)

    def tensor(index: int) -> TensorSummary:
        t = main.Tensors(index)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        signature = (tuple(int(d) for d in t.ShapeSignatureAsNumpy())
                     if t.ShapeSignatureLength() else shape)
        q = t.Quantization()
        scale = zero_point = None
        if q is not None and q.ScaleLength():
            scale = float(q.Scale(0))
            zero_point = int(q.ZeroPoint(0)) if q.ZeroPointLength() else 0
        return TensorSummary(
            name=_text(t.Name()),
            shape=shape,
            shape_signature=signature,
            dtype=type_names.get(t.Type(), str(t.Type())).lower(),
            scale=scale,
            zero_point=zero_point,
        )

    return ModelSummary(
        inputs=tuple(tensor(int(i)) for i in main.InputsAsNumpy()),
        outputs=tuple(tensor(int(i)) for i in main.OutputsAsNumpy()),
        ops=ops,
        subgraphs=int(root.SubgraphsLength()),
        has_variables=has_variables,
        entries=tuple(_text(root.Metadata(i).Name()) for i in range(root.MetadataLength())),
        op_versions=op_versions,
    )
