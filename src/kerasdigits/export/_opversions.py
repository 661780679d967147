"""Operator versions, the TFLite runtime each needs, and the runtime each export target promises.

Every builtin operator in a ``.tflite`` file carries a version (``OperatorCode.version``): the
converter raises it when an op uses a newer kernel feature (int8 weights, per-channel scales,
int16 activations...). A runtime older than the kernel refuses the file when it loads it
("Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'").

:data:`RUNTIME_VERSIONS` maps ``(op, version)`` to the first TensorFlow Lite release with that
kernel, for the operators kerasdigits exports contain (every zoo model, every target and
quantization, inverted input, and the rounding of a ``uint8`` model whose input normalization
cannot be split off). Source: ``FindMinimumRuntimeVersionForOp`` in
``tflite/tools/versioning/runtime_version.cc`` of google-ai-edge/LiteRT (commit 05215c29,
formerly ``tensorflow/lite/tools/versioning/runtime_version.cc``); the converter writes the
same figure for the whole model in the ``min_runtime_version`` metadata entry.

:data:`TARGET_RUNTIMES` is what a target promises: ``mlkit`` and ``firebase-legacy`` files load
in TensorFlow Lite 2.4.0 or newer; ``litert`` files may use the newest kernels of the converter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kerasdigits.export._errors import ExportError
from kerasdigits.export._pack import model_entries, schema, summarize_model

__all__ = [
    "CONVERTER_RUNTIME_ENTRY",
    "RUNTIME_VERSIONS",
    "TARGET_RUNTIMES",
    "RuntimeReport",
    "check_runtime",
    "runtime_report",
]

#: Name of the metadata entry in which the converter records the model's minimum runtime.
CONVERTER_RUNTIME_ENTRY = "min_runtime_version"

#: Oldest TensorFlow Lite runtime a target's files load in (``None``: no promise, newest ops).
#: 2.4.0 is the lowest release that every quantization mode can be brought under with
#: per-tensor dense weights (dynamic range needs it for per-channel hybrid ``CONV_2D`` v5).
TARGET_RUNTIMES: Mapping[str, str | None] = {
    "litert": None,
    "mlkit": "2.4.0",
    "firebase-legacy": "2.4.0",
}


def _versions(op: str, *releases: str) -> dict[tuple[str, int], str]:
    return {(op, number): release for number, release in enumerate(releases, start=1)}


#: ``(operator, version) -> first TensorFlow Lite release with that kernel``.
RUNTIME_VERSIONS: Mapping[tuple[str, int], str] = {
    **_versions("ADD", "1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.13.0"),
    **_versions("AVERAGE_POOL_2D", "1.5.0", "1.14.0", "2.3.0"),
    **_versions("CAST", "1.5.0", "2.7.0", "2.8.0", "2.9.0", "2.12.0", "2.15.0", "2.17.0"),
    **_versions("CONCATENATION", "1.5.0", "1.14.0", "2.3.0"),
    **_versions("CONV_2D", "1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0", "2.11.0",
                "2.15.0"),
    **_versions("DEQUANTIZE", "1.13.1", "1.14.0", "1.15.0", "2.2.0", "2.7.0", "2.18.0"),
    **_versions("FULLY_CONNECTED", "1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0",
                "2.3.0", "2.3.0", "2.3.0", "2.11.0", "2.15.0", "2.17.0", "2.18.0"),
    **_versions("LOGISTIC", "1.14.0", "1.14.0", "2.3.0"),
    **_versions("MAXIMUM", "1.14.0", "1.14.0", "2.3.0", "2.3.0"),
    **_versions("MAX_POOL_2D", "1.5.0", "1.14.0", "2.3.0"),
    **_versions("MEAN", "1.6.0", "1.14.0", "2.4.0"),
    **_versions("MINIMUM", "1.14.0", "1.14.0", "2.3.0", "2.3.0"),
    **_versions("MUL", "1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0", "2.11.0", "2.13.0"),
    **_versions("PAD", "1.5.0", "1.14.0", "2.4.0", "2.6.0"),
    **_versions("QUANTIZE", "1.14.0", "1.15.0", "2.7.0"),
    **_versions("RELU", "1.5.0", "2.1.0", "2.5.0"),
    **_versions("RESHAPE", "1.5.0"),
    **_versions("ROUND", "1.14.0"),
    **_versions("SOFTMAX", "1.5.0", "1.14.0", "2.3.0"),
    **_versions("SPACE_TO_DEPTH", "1.5.0", "1.14.0"),
    **_versions("STRIDED_SLICE", "1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0"),
    **_versions("SUB", "1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"),
    **_versions("TANH", "1.14.0", "1.14.0", "2.3.0"),
}


def _release(version: str) -> tuple[int, ...]:
    """``"2.17.0"`` -> ``(2, 17, 0)`` (non-numeric parts count as 0)."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


@dataclass(frozen=True)
class RuntimeReport:
    """The operators of a ``.tflite`` file and the TensorFlow Lite runtime they need.

    Attributes:
        ops: ``(operator, version, count, runtime)`` for each operator code used, sorted;
            ``runtime`` is ``None`` for a pair not in :data:`RUNTIME_VERSIONS`.
        minimum: The newest ``runtime`` of the known pairs (``None`` if there is none).
        limiting: The ``(operator, version)`` pairs that need ``minimum``.
        unknown: The pairs not in :data:`RUNTIME_VERSIONS`.
        recorded: The converter's own figure (``min_runtime_version`` entry), if any.
        per_channel_dense: Number of ``FULLY_CONNECTED`` ops with per-channel int8 weights.
    """

    ops: tuple[tuple[str, int, int, str | None], ...]
    minimum: str | None
    limiting: tuple[tuple[str, int], ...]
    unknown: tuple[tuple[str, int], ...]
    recorded: str | None
    per_channel_dense: int

    @property
    def summary(self) -> str:
        """One line: the minimum runtime, the ops that set it and the converter's figure."""
        if self.minimum is None and not self.unknown:
            text = "no versioned operators"
        elif self.unknown:
            pairs = ", ".join(f"{op} v{version}" for op, version in self.unknown)
            text = (f"unknown ({pairs} not in kerasdigits's table; the others need "
                    f"{self.minimum or 'any release'})")
        else:
            pairs = ", ".join(f"{op} v{version}" for op, version in self.limiting)
            text = f"TensorFlow Lite {self.minimum} (set by {pairs})"
        if self.recorded:
            text += f"; the converter recorded {self.recorded}"
        if self.per_channel_dense:
            text += (f"; {self.per_channel_dense} FULLY_CONNECTED op(s) with per-channel int8 "
                     "weights (not in the op version: old dense kernels read one scale)")
        return text


def runtime_report(model: bytes) -> RuntimeReport:
    """Read the operator versions of a ``.tflite`` FlatBuffer and the runtime they need.

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer.
    """
    summary = summarize_model(model)
    ops = []
    minimum: str | None = None
    for (op, version), count in sorted(summary.op_versions.items()):
        runtime = RUNTIME_VERSIONS.get((op, version))
        ops.append((op, version, count, runtime))
        if runtime is not None and (minimum is None or _release(runtime) > _release(minimum)):
            minimum = runtime
    limiting = tuple((op, version) for op, version, _, runtime in ops
                     if minimum is not None and runtime is not None
                     and _release(runtime) == _release(minimum))
    unknown = tuple((op, version) for op, version, _, runtime in ops
                    if runtime is None and not op.startswith("CUSTOM:"))
    raw = model_entries(model).get(CONVERTER_RUNTIME_ENTRY, b"")
    recorded = raw.split(b"\0", 1)[0].decode("ascii", errors="replace").strip() or None
    return RuntimeReport(
        ops=tuple(ops),
        minimum=minimum,
        limiting=limiting,
        unknown=unknown,
        recorded=recorded,
        per_channel_dense=_per_channel_dense(model),
    )


def _per_channel_dense(model: bytes) -> int:
    """Count ``FULLY_CONNECTED`` ops whose (quantized) weights have one scale per channel."""
    fb = schema()
    root = fb.Model.GetRootAs(model, 0)
    fc = int(fb.BuiltinOperator.FULLY_CONNECTED)
    count = 0
    for s in range(root.SubgraphsLength()):
        subgraph = root.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            code = root.OperatorCodes(op.OpcodeIndex())
            if max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode())) != fc:
                continue
            if op.InputsLength() < 2 or op.Inputs(1) < 0:
                continue
            q = subgraph.Tensors(op.Inputs(1)).Quantization()
            if q is not None and q.ScaleLength() > 1:
                count += 1
    return count


def check_runtime(model: bytes, target: str, described: str) -> RuntimeReport:
    """Check that a converted model loads in the runtime ``target`` promises.

    Args:
        model: The converted FlatBuffer.
        target: The export target (a key of :data:`TARGET_RUNTIMES`).
        described: What is being exported, for the error message.

    Returns:
        The model's :class:`RuntimeReport`.

    Raises:
        ExportError: An operator version (or the converter's ``min_runtime_version``) needs a
            newer runtime than the target's, or ``FULLY_CONNECTED`` weights are quantized per
            channel (which carries no new op version, but a kernel without per-channel support
            reads a single scale and computes wrong outputs).
    """
    report = runtime_report(model)
    promised = TARGET_RUNTIMES.get(target)
    if promised is None:
        return report
    fix = "export with target='litert' (no runtime promise) or another quantization"
    for op, version, _, runtime in report.ops:
        if runtime is not None and _release(runtime) > _release(promised):
            raise ExportError(
                f"{op} version {version} needs TensorFlow Lite {runtime}, but target "
                f"{target!r} promises files that load in TensorFlow Lite {promised} "
                f"({described}); {fix}"
            )
    if report.recorded and _release(report.recorded) > _release(promised):
        raise ExportError(
            f"the converter says the model needs TensorFlow Lite {report.recorded} "
            f"({CONVERTER_RUNTIME_ENTRY}), but target {target!r} promises TensorFlow Lite "
            f"{promised} ({described}); {fix}"
        )
    if report.per_channel_dense:
        raise ExportError(
            f"{report.per_channel_dense} FULLY_CONNECTED op(s) have per-channel quantized "
            f"weights, which runtimes without per-channel dense kernels misread; target "
            f"{target!r} promises TensorFlow Lite {promised} ({described}); {fix}"
        )
    return report
