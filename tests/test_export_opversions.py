"""Operator versions: mlkit / firebase-legacy files load in the runtime they promise.

Issue 12, items 7 and 8: a dynamic-range ``mlkit`` export used to contain
``FULLY_CONNECTED`` version 12 (TensorFlow Lite 2.17), which older on-device runtimes refuse;
and int8 exports' probabilities were multiples of 1/256 that did not sum to 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from kerasdigits import build, list_models, load_dataset
from kerasdigits.export import ExportError, describe_tflite, export_tflite
from kerasdigits.export._opversions import (
    RUNTIME_VERSIONS,
    TARGET_RUNTIMES,
    check_runtime,
    runtime_report,
)
from kerasdigits.export._pack import (
    float_softmax,
    model_entries,
    pack_model,
    schema,
    summarize_model,
)
from kerasdigits.export._verify import feeding_for, run_tflite

LABELS = [str(i) for i in range(10)]
STRICT = ("mlkit", "firebase-legacy")
QUANTIZATIONS = (None, "dynamic", "float16", "int8")


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_dataset("mnist_sample").train.images[:60]


@pytest.fixture(scope="module")
def zoo() -> dict[str, Any]:
    """Every zoo model, untrained: op versions do not depend on the weights."""
    keras.utils.set_random_seed(0)
    return {name: build(name, preprocessing="unit") for name in list_models()}


def export(model: Any, path: Path, target: str, quantization: str | None,
           images: np.ndarray, **kwargs: Any) -> bytes:
    result = export_tflite(model, path, target=target, quantization=quantization,
                           labels=LABELS, verify=False,
                           representative_data=images if quantization == "int8" else None,
                           **kwargs)
    return result.path.read_bytes()


def assert_within(data: bytes, target: str) -> None:
    """Every operator version is known and needs at most the target's stated runtime."""
    promised = TARGET_RUNTIMES[target]
    assert promised is not None
    report = runtime_report(data)
    assert report.ops and not report.unknown, report.ops
    for op, version, _, runtime in report.ops:
        assert runtime is not None and release(runtime) <= release(promised), (op, version)
    assert report.minimum is not None and release(report.minimum) <= release(promised)
    # Our table agrees with the converter's own figure (int8's is computed before the final
    # softmax moves to float, so it may only be higher).
    assert report.recorded is not None
    assert release(report.minimum) <= release(report.recorded) <= release(promised)
    assert report.per_channel_dense == 0
    assert ("FULLY_CONNECTED", 12) not in summarize_model(data).op_versions


@pytest.mark.parametrize("target", STRICT)
def test_every_zoo_model_dynamic_stays_within_the_stated_runtime(
        target: str, zoo: dict[str, Any], images: np.ndarray, tmp_path: Path) -> None:
    for name, model in zoo.items():
        data = export(model, tmp_path / f"{name}.tflite", target, "dynamic", images)
        assert_within(data, target)
        versions = summarize_model(data).op_versions
        assert ("FULLY_CONNECTED", 9) in versions, (name, versions)  # per-tensor hybrid


@pytest.mark.parametrize("target", STRICT)
@pytest.mark.parametrize("quantization", QUANTIZATIONS)
@pytest.mark.parametrize("name", ["lenet5", "fast_convnet", "sigmoid4x256"])
def test_each_quantization_stays_within_the_stated_runtime(
        name: str, quantization: str | None, target: str, zoo: dict[str, Any],
        images: np.ndarray, tmp_path: Path) -> None:
    data = export(zoo[name], tmp_path / "m.tflite", target, quantization, images)
    assert_within(data, target)


def test_dynamic_mlkit_no_longer_needs_tflite_2_17(images: np.ndarray,
                                                   tmp_path: Path) -> None:
    # The report of issue 12: FULLY_CONNECTED v12 / CONV_2D v5, minimum runtime 2.17.
    keras.utils.set_random_seed(1)
    model = build("convnet", preprocessing="unit")
    result = export_tflite(model, tmp_path / "d.tflite", target="mlkit",
                           quantization="dynamic", labels=LABELS, verify=50)
    data = result.path.read_bytes()
    versions = summarize_model(data).op_versions
    assert ("FULLY_CONNECTED", 12) not in versions and versions[("FULLY_CONNECTED", 9)] == 2
    assert ("CONV_2D", 5) in versions  # hybrid per-channel convolutions: TFLite 2.4
    assert runtime_report(data).minimum == "2.4.0"
    assert result.verification is not None and result.verification.argmax_agreement >= 0.9


def test_litert_keeps_the_converters_newest_ops(zoo: dict[str, Any], images: np.ndarray,
                                                tmp_path: Path) -> None:
    data = export(zoo["mlp256"], tmp_path / "l.tflite", "litert", "dynamic", images)
    report = runtime_report(data)
    assert report.minimum == report.recorded  # whatever the converter wrote
    assert ("FULLY_CONNECTED", 12) in summarize_model(data).op_versions
    assert report.per_channel_dense == 2
    # The same file is refused for the strict targets, with the runtime it would need.
    for target in STRICT:
        with pytest.raises(ExportError, match=r"FULLY_CONNECTED version 12 needs TensorFlow "
                                              r"Lite 2\.17\.0.*promises .*2\.4\.0"):
            check_runtime(data, target, "mlp256 -> test")
    assert check_runtime(data, "litert", "mlp256 -> test") == report


def test_per_channel_int8_dense_weights_are_refused_for_strict_targets(
        zoo: dict[str, Any], images: np.ndarray, tmp_path: Path) -> None:
    # int8 FULLY_CONNECTED is version 4 with per-channel weights too: only the scales tell.
    data = export(zoo["mlp256"], tmp_path / "l.tflite", "litert", "int8", images)
    report = runtime_report(data)
    assert report.per_channel_dense == 2 and report.minimum == "1.14.0"
    with pytest.raises(ExportError, match=r"2 FULLY_CONNECTED op\(s\) have per-channel"):
        check_runtime(data, "mlkit", "mlp256 -> test")


def test_the_converters_runtime_figure_is_checked_too(zoo: dict[str, Any],
                                                      images: np.ndarray,
                                                      tmp_path: Path) -> None:
    data = export(zoo["mlp256"], tmp_path / "m.tflite", "mlkit", None, images)
    check_runtime(data, "mlkit", "ok")
    claimed = pack_model(data, entries={"min_runtime_version": b"2.9.0".ljust(16, b"\0")})
    assert runtime_report(claimed).recorded == "2.9.0"
    with pytest.raises(ExportError, match=r"converter says .* 2\.9\.0 .*'firebase-legacy'"):
        check_runtime(claimed, "firebase-legacy", "claimed")


# ------------------------------------------------------------------------------ inspect


def test_describe_lists_op_versions_and_the_minimum_runtime(zoo: dict[str, Any],
                                                            images: np.ndarray,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "d.tflite"
    export(zoo["lenet5"], path, "mlkit", "dynamic", images)
    text = describe_tflite(path)
    assert "FULLY_CONNECTED v9 x3 (needs 2.3.0)" in text
    assert "CONV_2D v5 x" in text and "(needs 2.4.0)" in text
    assert ("minimum runtime: TensorFlow Lite 2.4.0 (set by CONV_2D v5); the converter "
            "recorded 2.4.0; target mlkit promises 2.4.0") in text
    export(zoo["lenet5"], path, "litert", "dynamic", images)
    assert "FULLY_CONNECTED v12 x3 (needs 2.17.0)" in describe_tflite(path)
    assert "minimum runtime: TensorFlow Lite 2.17.0 (set by FULLY_CONNECTED v12)" in (
        describe_tflite(path))


def test_an_op_outside_the_table_is_unknown_but_not_refused(images: np.ndarray,
                                                            tmp_path: Path) -> None:
    assert not any(op == "DEPTHWISE_CONV_2D" for op, _ in RUNTIME_VERSIONS)
    keras.utils.set_random_seed(2)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=4, activation="relu")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs, name="depthwise")
    path = tmp_path / "dw.tflite"
    # The converter's own figure (within 2.4.0) vouches for the op kerasdigits does not know.
    export(model, path, "mlkit", None, images)
    text = describe_tflite(path)
    assert "DEPTHWISE_CONV_2D v1 x1 (unknown)" in text
    assert "minimum runtime: unknown (DEPTHWISE_CONV_2D v1 not in kerasdigits's table" in text


# ---------------------------------------------------------------- int8 probabilities


@pytest.mark.parametrize("target", ["litert", "mlkit", "firebase-legacy"])
def test_int8_probabilities_are_a_float_softmax_that_sums_to_one(
        target: str, zoo: dict[str, Any], images: np.ndarray, tmp_path: Path) -> None:
    model = zoo["fast_mlp"]
    data = export(model, tmp_path / "q.tflite", target, "int8", images)
    test = load_dataset("mnist_sample").test.images[:100]
    probs = run_tflite(data, test, feeding_for(data))
    assert probs.dtype == np.float32 and probs.shape == (100, 10)
    assert np.all(probs >= 0)
    # An int8 softmax gives multiples of 1/256, off from a sum of 1 by up to 10/512.
    assert np.abs(probs.sum(axis=1, dtype=np.float64) - 1.0).max() <= 1e-5
    assert np.abs(probs * 256 - np.rint(probs * 256)).max() > 1e-3
    # The graph ends in DEQUANTIZE (of the int8 logits) -> float SOFTMAX v1 -> output.
    fb = schema()
    root = fb.Model.GetRootAs(data, 0)
    graph = root.Subgraphs(0)
    last = graph.Operators(graph.OperatorsLength() - 1)
    code = root.OperatorCodes(last.OpcodeIndex())
    assert code.BuiltinCode() == fb.BuiltinOperator.SOFTMAX and code.Version() == 1
    assert last.Outputs(0) == graph.Outputs(0)
    assert graph.Tensors(last.Inputs(0)).Type() == fb.TensorType.FLOAT32
    keras_probs = np.asarray(model.predict(test, verbose=0))
    assert np.abs(probs - keras_probs).max() < 0.05


def test_float_softmax_leaves_other_graphs_alone(zoo: dict[str, Any], images: np.ndarray,
                                                 tmp_path: Path) -> None:
    for quantization in (None, "dynamic"):
        data = export(zoo["mlp256"], tmp_path / "f.tflite", "litert", quantization, images,
                      metadata=False)
        assert "min_runtime_version" in model_entries(data)
        # Already a float softmax: nothing to move.
        assert float_softmax(data) == data
