"""Reading a ``.tflite`` file back: its metadata, and the report ``kerasdigits inspect`` prints.

:func:`read_metadata` returns the TFLite metadata and packed files; :func:`describe_tflite` the
text report. Neither imports TensorFlow when ai-edge-litert is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasdigits.export._errors import ExportError
from kerasdigits.export._metadata import ModelMetadataInfo, TensorMetadataInfo, decode_metadata
from kerasdigits.export._opversions import TARGET_RUNTIMES, runtime_report
from kerasdigits.export._pack import (
    METADATA_NAME,
    TensorSummary,
    model_entries,
    packed_files,
    summarize_model,
)
from kerasdigits.export._verify import export_record

__all__ = ["describe_tflite", "read_metadata"]


def _read(path: str | os.PathLike[str]) -> bytes:
    file = Path(path)
    if not file.is_file():
        raise ExportError(f"{file}: no such file")
    return file.read_bytes()


def _metadata_of(data: bytes) -> ModelMetadataInfo | None:
    raw = model_entries(data).get(METADATA_NAME)
    if not raw:
        return None
    meta = decode_metadata(raw)
    return ModelMetadataInfo(
        name=meta.name,
        description=meta.description,
        version=meta.version,
        author=meta.author,
        license=meta.license,
        inputs=meta.inputs,
        outputs=meta.outputs,
        subgraph_name=meta.subgraph_name,
        min_parser_version=meta.min_parser_version,
        files=packed_files(data),
    )


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadataInfo:
    """Read the TFLite metadata (``TFLITE_METADATA``) and packed files of a ``.tflite`` file.

    Works on any file with ``metadata_schema.fbs`` metadata, not only kerasdigits exports.

    Args:
        path: The ``.tflite`` file.

    Returns:
        The metadata; ``.files`` holds the associated files packed in the model
        (``labels.txt``) and ``.labels`` the class names.

    Raises:
        ExportError: The file is missing, is not a TFLite model, or has no metadata.

    Example:
        >>> meta = read_metadata("digits_mlkit.tflite")  # doctest: +SKIP
        >>> meta.labels[:3], meta.inputs[0].color_space, meta.inputs[0].std  # doctest: +SKIP
        (('0', '1', '2'), 'RGB', (255.0, 255.0, 255.0))
    """
    data = _read(path)
    meta = _metadata_of(data)
    if meta is None:
        raise ExportError(f"{path}: the model has no TFLite metadata ({METADATA_NAME})")
    return meta


def _tensor_line(t: TensorSummary) -> str:
    shape = "[" + ", ".join(map(str, t.shape)) + "]"
    text = f"{t.name}: {t.dtype} {shape}"
    if t.shape_signature != t.shape:
        text += " (signature [" + ", ".join(map(str, t.shape_signature)) + "])"
    if t.scale is not None:
        text += f", quantized scale {t.scale:g} zero point {t.zero_point}"
    nbytes = int(np.prod(t.shape)) * np.dtype(t.dtype).itemsize if t.dtype in (
        "float32", "uint8", "int8", "float16", "int32") else None
    if nbytes is not None:
        text += f", {nbytes:,} bytes"
    return text


def _tensor_meta_lines(t: TensorMetadataInfo, meta: ModelMetadataInfo) -> list[str]:
    lines = [f"  {t.name}: {t.description}" if t.description else f"  {t.name}"]
    if t.content == "image":
        size = f", {t.image_size[0]}x{t.image_size[1]}" if t.image_size else ""
        lines.append(f"    content: image, {t.color_space}{size}")
    elif t.content:
        lines.append(f"    content: {t.content}")
    if t.mean:
        lines.append(f"    normalization: mean {list(t.mean)}, std {list(t.std)}")
    if t.stats_min:
        lines.append(f"    value range: min {list(t.stats_min)}, max {list(t.stats_max)}")
    for f in t.associated_files:
        packed = "packed" if f.name in meta.files else "NOT PACKED"
        lines.append(f"    file: {f.name} ({f.type}, {packed})")
    return lines


def describe_tflite(path: str | os.PathLike[str]) -> str:
    """Describe a ``.tflite`` file: I/O, metadata, labels, operators and size.

    This is the text ``kerasdigits inspect model.tflite`` prints. Each operator is listed
    with its version and the first TensorFlow Lite release that has that kernel (``unknown``
    for a pair not in kerasdigits's table), followed by the file's minimum runtime: the newest
    of those releases (and the converter's own ``min_runtime_version`` figure when present).

    Args:
        path: The ``.tflite`` file.

    Returns:
        A multi-line report.

    Raises:
        ExportError: The file is missing or is not a TFLite model.
    """
    data = _read(path)
    summary = summarize_model(data)
    meta = _metadata_of(data)
    record = export_record(data)
    lines = [f"{path}: {len(data):,} bytes"]
    if record:
        quant = record.get("quantization") or "none (float32)"
        lines.append(
            f"exported by kerasdigits {record.get('kerasdigits', '?')} from "
            f"{record.get('model', '?')!r}: target {record.get('target')}, quantization {quant}"
            f", input {record.get('input_dtype')}"
            + (", inverted (dark ink on light paper)" if record.get("invert") else "")
        )
    lines.append("inputs:")
    lines += [f"  {_tensor_line(t)}" for t in summary.inputs]
    lines.append("outputs:")
    lines += [f"  {_tensor_line(t)}" for t in summary.outputs]
    runtime = runtime_report(data)
    ops = ", ".join(
        f"{name} v{version} x{count} ({'needs ' + needs if needs else 'unknown'})"
        for name, version, count, needs in runtime.ops
    )
    lines.append(f"operators ({sum(summary.ops.values())}): {ops}")
    promised = TARGET_RUNTIMES.get(str(record.get("target"))) if record else None
    lines.append(f"minimum runtime: {runtime.summary}"
                 + (f"; target {record.get('target')} promises {promised}" if promised else ""))
    builtin = not summary.custom_ops
    lines.append(
        "builtin ops only: " + ("yes" if builtin else "NO: " + ", ".join(summary.custom_ops))
        + f"; resource variables: {'YES' if summary.has_variables else 'none'}"
        + f"; subgraphs: {summary.subgraphs}"
    )
    if meta is None:
        lines.append("metadata: none")
    else:
        lines.append(f"metadata (min parser {meta.min_parser_version}):")
        for key in ("name", "description", "version", "author", "license"):
            lines.append(f"  {key}: {getattr(meta, key)}")
        lines.append("input metadata:")
        for t in meta.inputs:
            lines += _tensor_meta_lines(t, meta)
        lines.append("output metadata:")
        for t in meta.outputs:
            lines += _tensor_meta_lines(t, meta)
        if meta.labels:
            lines.append(f"labels ({len(meta.labels)}): " + ", ".join(meta.labels))
        if meta.files:
            lines.append("packed files: " + ", ".join(
                f"{name} ({len(content):,} bytes)" for name, content in meta.files.items()))
    others = [name for name in summary.entries if name != METADATA_NAME]
    if others:
        lines.append("other metadata entries: " + ", ".join(others))
    return "\n".join(lines)
