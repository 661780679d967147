"""Reading a ``.tflite`` file back: its metadata, and the report ``kerasdigits inspect`` prints.

:func:`read_metadata` returns the TFLite metadata and packed files; :func:`describe_tflite` the
text report. Neither imports TensorFlow when ai-edge-litert is installed.

Both read files from anywhere as hostile: sizes are bounded (see
:func:`~kerasdigits.export._pack.read_tflite`, :func:`~kerasdigits.export._pack.packed_files`
and :func:`~kerasdigits.export._metadata.parse_labels`), every offset is checked, every problem
is a one-line :class:`ExportError` naming the file, and :func:`describe_tflite` escapes the
control characters of every string it prints from the file (:func:`printable`).
"""

from __future__ import annotations

import math
import os

import numpy as np

from kerasdigits.export._errors import ExportError
from kerasdigits.export._metadata import (
    ModelMetadataInfo,
    TensorMetadataInfo,
    decode_metadata,
    parse_labels,
)
from kerasdigits.export._opversions import TARGET_RUNTIMES, runtime_report
from kerasdigits.export._pack import (
    METADATA_NAME,
    TensorSummary,
    model_entries,
    packed_files,
    read_tflite,
    reading,
    summarize_model,
)
from kerasdigits.export._verify import export_record

__all__ = ["describe_tflite", "printable", "read_metadata"]

# Bidirectional formatting characters: they reorder what the terminal shows (U+202E "RIGHT-TO-
# LEFT OVERRIDE" turns "txt.exe" into "exe.txt" on screen).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


_ESCAPES = str.maketrans({
    char: _escape(char)
    for char in [*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), *_BIDI, "\u2028",
                 "\u2029"]
})


def printable(text: str) -> str:
    r"""Escape what a terminal would act on instead of showing, Python style.

    C0 controls (``\n``, ``\r``, ``\t``, ``\x1b``...), DEL, C1 controls (``\x85``,
    ``\x9b``...), the line and paragraph separators U+2028/U+2029 and the bidirectional
    overrides, embeddings and isolates (``\u202e``...) become escapes, so a string from a
    file can neither start a new line, move the cursor, recolor or clear the screen, nor
    reorder what is shown. Other characters, non-ASCII letters included, are kept.
    Backslashes are kept as they are.

    Args:
        text: A string read from a file.

    Returns:
        ``text`` with those characters escaped.

    Example:
        >>> print(printable("7\n  builtin ops only: yes\x1b[2J"))
        7\n  builtin ops only: yes\x1b[2J
    """
    return text.translate(_ESCAPES)


_LABEL_FILE_TYPES = ("TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS")


def _metadata_of(data: bytes) -> ModelMetadataInfo | None:
    raw = model_entries(data).get(METADATA_NAME)
    if not raw:
        return None
    meta = decode_metadata(raw)
    files = packed_files(data)
    for tensor in (*meta.inputs, *meta.outputs):
        for file in tensor.associated_files:
            if file.type in _LABEL_FILE_TYPES and file.name in files:
                parse_labels(files[file.name], file.name)  # checks the limits now
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
        files=files,
    )


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadataInfo:
    """Read the TFLite metadata (``TFLITE_METADATA``) and packed files of a ``.tflite`` file.

    Works on any file with ``metadata_schema.fbs`` metadata, not only kerasdigits exports,
    and treats the file as hostile: the file may have at most 512 MiB
    (:data:`~kerasdigits.export._pack.MAX_FILE_BYTES`), its metadata FlatBuffer 1 MiB, each
    packed file 16 MiB decompressed and all of them 64 MiB (checked before decompressing,
    and never more decompressed than that), 64 packed files, and a labels file 100,000 lines
    of at most 1,000 characters. The whole model FlatBuffer is checked on the way.

    Args:
        path: The ``.tflite`` file.

    Returns:
        The metadata; ``.files`` holds the associated files packed in the model
        (``labels.txt``) and ``.labels`` the class names.

    Raises:
        ExportError: The file is missing, is not a TFLite model, is truncated or corrupt,
            breaks one of the limits above, or has no metadata. The message is one line that
            starts with the path.

    Example:
        >>> meta = read_metadata("digits_mlkit.tflite")  # doctest: +SKIP
        >>> meta.labels[:3], meta.inputs[0].color_space, meta.inputs[0].std  # doctest: +SKIP
        (('0', '1', '2'), 'RGB', (255.0, 255.0, 255.0))
    """
    data = read_tflite(path)
    with reading(path):
        meta = _metadata_of(data)
    if meta is None:
        raise ExportError(f"{path}: the model has no TFLite metadata ({METADATA_NAME})")
    return meta


def _tensor_line(t: TensorSummary) -> str:
    shape = "[" + ", ".join(map(str, t.shape)) + "]"
    text = f"{printable(t.name)}: {t.dtype} {shape}"
    if t.shape_signature != t.shape:
        text += " (signature [" + ", ".join(map(str, t.shape_signature)) + "])"
    if t.scale is not None:
        text += f", quantized scale {t.scale:g} zero point {t.zero_point}"
    nbytes = math.prod(t.shape) * np.dtype(t.dtype).itemsize if t.dtype in (
        "float32", "uint8", "int8", "float16", "int32") else None
    if nbytes is not None:
        text += f", {nbytes:,} bytes"
    return text


def _tensor_meta_lines(t: TensorMetadataInfo, meta: ModelMetadataInfo) -> list[str]:
    name = printable(t.name)
    lines = [f"  {name}: {printable(t.description)}" if t.description else f"  {name}"]
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
        lines.append(f"    file: {printable(f.name)} ({f.type}, {packed})")
    return lines


def describe_tflite(path: str | os.PathLike[str]) -> str:
    """Describe a ``.tflite`` file: I/O, metadata, labels, operators and size.

    This is the text ``kerasdigits inspect model.tflite`` prints. Each operator is listed
    with its version and the first TensorFlow Lite release that has that kernel (``unknown``
    for a pair not in kerasdigits's table), followed by the file's minimum runtime: the newest
    of those releases (and the converter's own ``min_runtime_version`` figure when present).

    Every string that comes from the file (names, descriptions, author, license, labels,
    file names, tensor and operator names, metadata entry names, the export record) goes
    through :func:`printable`, so a crafted file cannot forge lines of the report or drive the
    terminal. The file is read with the limits of :func:`read_metadata`.

    Args:
        path: The ``.tflite`` file.

    Returns:
        A multi-line report.

    Raises:
        ExportError: The file is missing, is not a TFLite model, is truncated or corrupt, or
            breaks one of the limits of :func:`read_metadata`. The message is one line that
            starts with the path.
    """
    data = read_tflite(path)
    with reading(path):
        return _describe(path, data)


def _describe(path: str | os.PathLike[str], data: bytes) -> str:
    summary = summarize_model(data)
    meta = _metadata_of(data)
    record = export_record(data)
    lines = [f"{path}: {len(data):,} bytes"]
    target = printable(str(record.get("target")))
    if record:
        quant = printable(str(record.get("quantization") or "none (float32)"))
        lines.append(
            f"exported by kerasdigits {printable(str(record.get('kerasdigits', '?')))} from "
            f"{printable(repr(record.get('model', '?')))}: target {target}, quantization "
            f"{quant}, input {printable(str(record.get('input_dtype')))}"
            + (", inverted (dark ink on light paper)" if record.get("invert") else "")
        )
    lines.append("inputs:")
    lines += [f"  {_tensor_line(t)}" for t in summary.inputs]
    lines.append("outputs:")
    lines += [f"  {_tensor_line(t)}" for t in summary.outputs]
    runtime = runtime_report(data)
    ops = ", ".join(
        f"{printable(name)} v{version} x{count} ({'needs ' + needs if needs else 'unknown'})"
        for name, version, count, needs in runtime.ops
    )
    lines.append(f"operators ({sum(summary.ops.values())}): {ops}")
    promised = TARGET_RUNTIMES.get(str(record.get("target"))) if record else None
    lines.append(f"minimum runtime: {printable(runtime.summary)}"
                 + (f"; target {target} promises {promised}" if promised else ""))
    builtin = not summary.custom_ops
    lines.append(
        "builtin ops only: "
        + ("yes" if builtin else "NO: " + ", ".join(map(printable, summary.custom_ops)))
        + f"; resource variables: {'YES' if summary.has_variables else 'none'}"
        + f"; subgraphs: {summary.subgraphs}"
    )
    if meta is None:
        lines.append("metadata: none")
    else:
        lines.append(f"metadata (min parser {printable(meta.min_parser_version)}):")
        for key in ("name", "description", "version", "author", "license"):
            lines.append(f"  {key}: {printable(getattr(meta, key))}")
        lines.append("input metadata:")
        for t in meta.inputs:
            lines += _tensor_meta_lines(t, meta)
        lines.append("output metadata:")
        for t in meta.outputs:
            lines += _tensor_meta_lines(t, meta)
        if meta.labels:
            lines.append(f"labels ({len(meta.labels)}): " + ", ".join(map(printable, meta.labels)))
        if meta.files:
            lines.append("packed files: " + ", ".join(
                f"{printable(name)} ({len(content):,} bytes)"
                for name, content in meta.files.items()))
    others = [name for name in summary.entries if name != METADATA_NAME]
    if others:
        lines.append("other metadata entries: " + ", ".join(map(printable, others)))
    return "\n".join(lines)
