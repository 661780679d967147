"""export_tflite: every zoo model to every target, quantization, parity, metadata, errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from kerasdigits import build, get_model_spec, list_models, load_dataset
from kerasdigits.datasets import Dataset
from kerasdigits.export import (
    GRAY_WEIGHTS,
    ExportError,
    ExportResult,
    ModelCard,
    describe_tflite,
    export_tflite,
    read_metadata,
    verify_tflite,
)
from kerasdigits.export._pack import EXPORT_INFO_NAME, model_entries, summarize_model
from kerasdigits.export._verify import Feeding, feeding_for, run_tflite
from kerasdigits.training._feeding import prepare_images
from kerasdigits.training._predict import predict_proba

#: Every built-in model, as the registry lists it (not a plugin's): a new model is exported by
#: default.
ZOO = tuple(name for name in list_models() if get_model_spec(name).registered_by == "kerasdigits")
TARGETS = ("litert", "mlkit", "firebase-legacy")


@pytest.fixture(scope="module")
def data() -> Dataset:
    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, test=ds.test.take(slice(0, 500)))


@pytest.fixture(scope="module")
def trained_mlp(data: Dataset) -> Any:
    """mlp2x512 (with Dropout) trained for ~200 steps on the bundled sample."""
    keras.utils.set_random_seed(0)
    model = build("mlp2x512", preprocessing="unit")
    model.fit(data.train.images, data.train.labels, epochs=2, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained_bn(data: Dataset) -> Any:
    """fast_convnet (BatchNormalization) trained for ~100 steps, taking float [0, 1] input."""
    keras.utils.set_random_seed(0)
    model = build("fast_convnet")
    x = data.train.images[..., None].astype(np.float32) / 255.0
    model.fit(x, data.train.labels, epochs=1, batch_size=64, verbose=0)
    return model


def keras_probs(model: Any, images: np.ndarray) -> np.ndarray:
    batch, _ = prepare_images(model, images)
    return predict_proba(model, batch)


def assert_contract(result: ExportResult, shape: tuple[int, ...], dtype: str) -> None:
    """One input, one output, batch 1 everywhere, builtin ops only, probabilities out."""
    summary = summarize_model(result.path.read_bytes())
    assert len(summary.inputs) == 1 and len(summary.outputs) == 1
    (i,), (o,) = summary.inputs, summary.outputs
    assert i.shape == i.shape_signature == shape
    assert i.dtype == dtype
    assert o.shape == o.shape_signature == (1, 10)
    assert o.dtype == "float32"
    assert not summary.custom_ops, summary.ops
    assert not summary.has_variables
    assert summary.subgraphs == 1
    assert result.input.shape == shape and result.input.dtype == dtype
    assert result.size == result.path.stat().st_size


# ------------------------------------------------------------------- every model x target

@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_model_exports_to_every_target(name: str, target: str, data: Dataset,
                                                 tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    # The tutorials' float models for firebase-legacy; raw-pixel models elsewhere.
    model = build(name, preprocessing=None if target == "firebase-legacy" else "unit",
                  compile=False)
    dtype = "uint8" if target == "mlkit" and name.endswith("convnet") else "float32"
    result = export_tflite(model, tmp_path / f"{name}.tflite", target=target,
                           input_dtype=dtype, dataset=data, verify=100)
    flat = get_model_spec(name).input_kind == "flat"
    expected = {
        "litert": (1, 784) if flat else (1, 28, 28, 1),
        "mlkit": (1, 28, 28, 3),
        "firebase-legacy": (1, 784),
    }[target]
    assert_contract(result, expected, dtype)
    report = result.verification
    assert report is not None and report.images == 100
    assert report.parity and report.max_abs_diff <= 1e-5 and report.argmax_mismatches == 0
    assert read_metadata(result.path).labels == tuple("0123456789")


# ------------------------------------------------------------ target x quantization modes

QUANT_CASES = [
    ("litert", "float32", None),
    ("litert", "uint8", None),
    ("litert", "float32", "dynamic"),
    ("litert", "float32", "float16"),
    ("litert", "uint8", "int8"),
    ("litert", "float32", "int8"),
    ("mlkit", "float32", None),
    ("mlkit", "uint8", None),
    ("mlkit", "uint8", "dynamic"),
    ("mlkit", "float32", "float16"),
    ("mlkit", "uint8", "int8"),
    ("mlkit", "float32", "int8"),
    ("firebase-legacy", "float32", None),
    ("firebase-legacy", "float32", "dynamic"),
    ("firebase-legacy", "float32", "float16"),
    ("firebase-legacy", "float32", "int8"),
]


@pytest.fixture(scope="module")
def float_sizes(trained_mlp: Any, data: Dataset, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, int]:
    folder = tmp_path_factory.mktemp("float")
    return {t: export_tflite(trained_mlp, folder / f"{t}.tflite", target=t, dataset=data,
                             verify=False).size for t in TARGETS}


@pytest.mark.parametrize(("target", "dtype", "quantization"), QUANT_CASES)
def test_each_target_and_quantization_verifies(target: str, dtype: str,
                                               quantization: str | None, trained_mlp: Any,
                                               data: Dataset, float_sizes: dict[str, int],
                                               tmp_path: Path) -> None:
    result = export_tflite(trained_mlp, tmp_path / "m.tflite", target=target,
                           input_dtype=dtype, quantization=quantization, dataset=data)
    report = result.verification
    assert report is not None and report.images == len(data.test)
    assert report.keras_accuracy is not None and report.keras_accuracy > 0.85
    assert report.quantized is (quantization is not None)
    assert result.quantization == quantization
    size_ratio = result.size / float_sizes[target]
    if quantization is None:
        assert report.parity, str(report)
        assert report.accuracy_drop == 0
    else:
        assert report.accuracy_drop is not None and report.accuracy_drop <= 0.01, str(report)
        assert report.argmax_agreement >= 0.97
        assert size_ratio <= {"dynamic": 0.3, "float16": 0.55, "int8": 0.3}[quantization]
    if quantization == "int8" and dtype == "uint8":
        # raw pixels: a uint8 pixel is its own value.
        assert (result.input.scale, result.input.zero_point) == (1.0, 0)
    if quantization == "int8":
        ops = set(result.ops)
        assert {"QUANTIZE", "DEQUANTIZE", "FULLY_CONNECTED"} <= ops
    assert result.output.dtype == "float32" and result.output.scale is None


def test_int8_uint8_input_is_the_raw_pixel_and_export_is_deterministic(
        trained_mlp: Any, data: Dataset, tmp_path: Path) -> None:
    dim = (data.train.images[:400] * 0.5).astype(np.uint8)  # no pixel reaches 255
    a = export_tflite(trained_mlp, tmp_path / "a.tflite", target="mlkit", input_dtype="uint8",
                      quantization="int8", representative_data=dim, dataset=data, verify=False)
    assert (a.input.scale, a.input.zero_point) == (1.0, 0)
    b = export_tflite(trained_mlp, tmp_path / "b.tflite", target="mlkit", input_dtype="uint8",
                      quantization="int8", representative_data=dim, dataset=data, verify=False)
    assert a.path.read_bytes() == b.path.read_bytes()  # a seeded calibration sample


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_batchnorm_model_verifies_through_mlkit(quantization: str | None, trained_bn: Any,
                                                data: Dataset, tmp_path: Path) -> None:
    result = export_tflite(trained_bn, tmp_path / "bn.tflite", target="mlkit",
                           input_dtype="uint8", quantization=quantization, dataset=data)
    report = result.verification
    assert report is not None and report.keras_accuracy is not None
    assert report.keras_accuracy > 0.7  # one short epoch
    if quantization is None:
        assert report.parity, str(report)
    else:
        assert report.accuracy_drop is not None and report.accuracy_drop <= 0.01, str(report)
    assert "BATCH_NORM" not in " ".join(result.ops)  # folded into the convolutions


# ----------------------------------------------------------------------- pixel conventions


def test_mlkit_graph_uses_the_documented_grayscale_weights(trained_mlp: Any, data: Dataset,
                                                          tmp_path: Path) -> None:
    result = export_tflite(trained_mlp, tmp_path / "m.tflite", target="mlkit",
                           input_dtype="uint8", dataset=data, verify=False)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 28, 28, 3)).astype(np.uint8)
    gray = np.rint(rgb.astype(np.float64) @ np.array(GRAY_WEIGHTS)).astype(np.uint8)
    model = result.path.read_bytes()
    feeding = dataclasses.replace(feeding_for(model), shape=(1, 28, 28, 3))

    class Colour(Feeding):  # feeds the colour image as is
        def __call__(self, image: np.ndarray) -> np.ndarray:
            return image[None].astype(np.uint8)

    colour = Colour(**{f.name: getattr(feeding, f.name) for f in dataclasses.fields(feeding)})
    got = run_tflite(model, rgb, colour)
    expected = keras_probs(trained_mlp, gray)
    # gray is rounded to whole pixels for Keras; the graph keeps the fraction.
    assert np.abs(got - expected).max() < 0.02
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.95


@pytest.mark.parametrize(("target", "dtype"), [("mlkit", "uint8"), ("mlkit", "float32"),
                                               ("litert", "float32")])
def test_invert_takes_dark_ink_on_light_paper(target: str, dtype: str, trained_mlp: Any,
                                              data: Dataset, tmp_path: Path) -> None:
    result = export_tflite(trained_mlp, tmp_path / "inv.tflite", target=target,
                           input_dtype=dtype, invert=True, dataset=data)
    assert result.invert and result.verification is not None
    assert result.verification.parity  # fed 255 - pixel, compared with Keras on the originals
    model = result.path.read_bytes()
    plain = feeding_for(model, invert=False)  # what a user who forgot to invert would feed
    wrong = run_tflite(model, data.test.images[:200], plain).argmax(1)
    assert (wrong == data.test.labels[:200]).mean() < 0.5
    assert json.loads(model_entries(model)[EXPORT_INFO_NAME])["invert"] is True


def test_float_input_follows_the_model_scale(trained_mlp: Any, data: Dataset,
                                             tmp_path: Path) -> None:
    # A raw-pixel model (in-model Normalize) takes float 0..255 on litert, pixel/255 on mlkit.
    raw = export_tflite(trained_mlp, tmp_path / "raw.tflite", dataset=data, verify=False,
                        input_dtype="float32")
    assert (raw.input_mean, raw.input_std) == (0.0, 1.0)
    meta = read_metadata(raw.path)
    assert meta.inputs[0].std == (1.0,) and meta.inputs[0].stats_max == (255.0,)
    assert meta.inputs[0].content == "feature" and meta.inputs[0].color_space is None
    # A float model (the tutorials') takes pixel/255 on litert.
    keras.utils.set_random_seed(2)
    tutorial = build("convnet")
    unit = export_tflite(tutorial, tmp_path / "unit.tflite", dataset=data, verify=50,
                         input_dtype="float32")
    assert (unit.input_mean, unit.input_std) == (0.0, 255.0)
    meta = read_metadata(unit.path)
    assert meta.inputs[0].content == "image" and meta.inputs[0].color_space == "GRAYSCALE"
    assert meta.inputs[0].image_size == (28, 28) and meta.inputs[0].stats_max == (1.0,)
    images = data.test.images[:50]
    x = images.reshape(50, 1, 28, 28, 1).astype(np.float32) / 255.0
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(unit.path))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    got = []
    for row in x:
        interpreter.set_tensor(inp["index"], row)
        interpreter.invoke()
        got.append(interpreter.get_tensor(out["index"])[0])
    assert np.abs(np.array(got) - keras_probs(tutorial, images)).max() <= 1e-5


def test_logits_model_gets_a_softmax(data: Dataset, tmp_path: Path) -> None:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((784,), name="pixels")
    logits = keras.layers.Dense(10, name="logits")(keras.layers.Dense(32, "relu")(inputs))
    model = keras.Model(inputs, logits, name="logits_mlp")
    result = export_tflite(model, tmp_path / "l.tflite", target="firebase-legacy",
                           dataset=data, verify=100)
    assert "SOFTMAX" in result.ops
    probs = run_tflite(result.path.read_bytes(), data.test.images[:10])
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert result.verification is not None and result.verification.parity


# ------------------------------------------------------------------ metadata and reading


def test_mlkit_metadata_is_what_ml_kit_needs(trained_mlp: Any, data: Dataset,
                                             tmp_path: Path) -> None:
    labels = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    result = export_tflite(trained_mlp, tmp_path / "m.tflite", target="mlkit", labels=labels,
                           input_dtype="float32",
                           dataset=data, verify=False,
                           card=ModelCard(name="Digits", version="2.1", author="Ada",
                                          license="Apache-2.0", description="Reads digits."))
    meta = read_metadata(result.path)
    assert meta == result.metadata
    assert (meta.name, meta.description, meta.version, meta.author, meta.license) == (
        "Digits", "Reads digits.", "2.1", "Ada", "Apache-2.0")
    assert meta.min_parser_version == "1.0.0"
    (tensor_in,) = meta.inputs
    assert (tensor_in.content, tensor_in.color_space, tensor_in.image_size) == (
        "image", "RGB", (28, 28))
    assert tensor_in.mean == (0.0,) * 3 and tensor_in.std == (255.0,) * 3
    assert tensor_in.stats_min == (0.0,) * 3 and tensor_in.stats_max == (1.0,) * 3
    (tensor_out,) = meta.outputs
    assert tensor_out.associated_files[0].name == "labels.txt"
    assert tensor_out.associated_files[0].type == "TENSOR_AXIS_LABELS"
    assert meta.labels == tuple(labels) == result.labels
    assert meta.files == {"labels.txt": ("\n".join(labels) + "\n").encode()}
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_path=str(result.path)).get_signature_list()
    assert signatures == {"serving_default": {"inputs": ["image"], "outputs": ["probabilities"]}}


def test_labels_from_a_file_and_from_the_dataset(trained_mlp: Any, data: Dataset,
                                                 tmp_path: Path) -> None:
    fashion = load_dataset("fashion_mnist_sample")
    result = export_tflite(trained_mlp, tmp_path / "f.tflite", dataset=fashion, verify=False)
    assert result.labels == fashion.class_names and result.labels[0] == "T-shirt/top"
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"digit {i}" for i in range(10)) + "\n", encoding="utf-8")
    result = export_tflite(trained_mlp, tmp_path / "n.tflite", labels=names, dataset=data,
                           verify=False)
    assert read_metadata(result.path).labels == tuple(f"digit {i}" for i in range(10))


def test_without_metadata_the_file_is_bare_but_still_verifies(trained_mlp: Any, data: Dataset,
                                                              tmp_path: Path) -> None:
    result = export_tflite(trained_mlp, tmp_path / "bare.tflite", target="mlkit",
                           metadata=False, dataset=data, verify=200)
    assert result.metadata is None and result.verification is not None
    assert result.verification.parity
    with pytest.raises(ExportError, match="no TFLite metadata"):
        read_metadata(result.path)
    with_meta = export_tflite(trained_mlp, tmp_path / "meta.tflite", target="mlkit",
                              dataset=data, verify=False)
    assert result.size < with_meta.size


def test_describe_tflite_reports_io_metadata_labels_ops_and_size(trained_mlp: Any,
                                                                 data: Dataset,
                                                                 tmp_path: Path) -> None:
    result = export_tflite(trained_mlp, tmp_path / "d.tflite", target="mlkit",
                           input_dtype="uint8", quantization="int8", dataset=data,
                           verify=False)
    text = describe_tflite(result.path)
    assert f"{result.size:,} bytes" in text
    assert "image: uint8 [1, 28, 28, 3], quantized scale 1 zero point 0, 2,352 bytes" in text
    assert "probabilities: float32 [1, 10], 40 bytes" in text
    assert "target mlkit, quantization int8, input uint8" in text
    assert "FULLY_CONNECTED v4 x3 (needs 1.14.0)" in text and "builtin ops only: yes" in text
    assert "resource variables: none" in text
    assert "content: image, RGB, 28x28" in text
    assert "file: labels.txt (TENSOR_AXIS_LABELS, packed)" in text
    assert "labels (10): 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in text
    assert "license: unspecified" in text


def test_verify_tflite_on_a_file(trained_mlp: Any, data: Dataset, tmp_path: Path) -> None:
    result = export_tflite(trained_mlp, tmp_path / "v.tflite", target="firebase-legacy",
                           dataset=data, verify=False)
    report = verify_tflite(result.path, trained_mlp, dataset=data, limit=300)
    assert report.images == 300 and report.parity and report.passed
    assert report.keras_accuracy == report.tflite_accuracy
    # Feeding it raw 0..255 pixels instead of pixel / 255 breaks parity, and the report says so.
    wrong = verify_tflite(result.path, trained_mlp, data.test.images[:100],
                          normalization=(0.0, 1.0))
    assert not wrong.parity and not wrong.passed and wrong.keras_accuracy is None
    assert "PARITY FAILED" in str(wrong)


# ----------------------------------------------------------------- model sources, files


def test_model_from_keras_file_and_from_zoo_name_with_weights(trained_mlp: Any,
                                                              data: Dataset,
                                                              tmp_path: Path) -> None:
    keras_file = tmp_path / "mlp.keras"
    trained_mlp.save(keras_file)
    from_file = export_tflite(keras_file, tmp_path / "a.tflite", dataset=data, verify=100)
    weights = tmp_path / "mlp.weights.h5"
    trained_mlp.save_weights(weights)
    from_name = export_tflite("mlp2x512", tmp_path / "b.tflite", weights=weights, dataset=data,
                              verify=100)
    direct = run_tflite(Path(from_file.path).read_bytes(), data.test.images[:50])
    by_name = run_tflite(Path(from_name.path).read_bytes(), data.test.images[:50])
    assert np.abs(direct - by_name).max() <= 1e-6
    assert np.abs(direct - keras_probs(trained_mlp, data.test.images[:50])).max() <= 1e-5


def test_success_replaces_an_existing_file_atomically(trained_mlp: Any, data: Dataset,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "m.tflite"
    out.write_bytes(b"old")
    export_tflite(trained_mlp, out, dataset=data, verify=False)
    assert out.read_bytes()[4:8] == b"TFL3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"target": "mlkt"}, r"unknown target 'mlkt'.*Did you mean 'mlkit'"),
    ({"quantization": "int4"}, r"unknown quantization 'int4'"),
    ({"input_dtype": "int8"}, r"unknown input_dtype 'int8'"),
    ({"target": "firebase-legacy", "input_dtype": "uint8"}, r"float32 \[1, 784\] input only"),
    ({"quantization": "int8", "representative_data": np.zeros((0, 28, 28), np.uint8)},
     r"int8 quantization needs representative images: got none"),
    ({"quantization": "int8", "representative_data": np.zeros((5, 32, 32), np.uint8)},
     r"representative images are 32x32 but the model takes 28x28"),
    ({"representative_data": "mnist_sample"}, r"calibrates quantization='int8'"),
    ({"labels": ["a", "b"]}, r"2 labels given but the model has 10 classes"),
    ({"labels": ["x"] * 9 + [""]}, r"non-empty single lines"),
    ({"labels": ["x"] * 9 + ["esc\x1b[2J"]}, r"printable characters"),
    ({"invert": "yes"}, r"invert must be True or False"),
])
def test_bad_arguments_raise_and_leave_no_file(kwargs: dict[str, Any], message: str,
                                               trained_mlp: Any, data: Dataset,
                                               tmp_path: Path) -> None:
    out = tmp_path / "m.tflite"
    with pytest.raises(ExportError, match=message):
        export_tflite(trained_mlp, out, dataset=data, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("model", "message"), [
    ("mlp2x512", r"needs its trained weights"),
    ("mlp2x521", r"neither a '.keras' file nor a zoo model name.*Did you mean.*'mlp2x512'"),
    ("missing.keras", r"model file not found"),
    (42, r"must be a Keras model, a '.keras' file or a zoo name"),
])
def test_bad_models_raise_and_leave_no_file(model: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=message):
        export_tflite(model, tmp_path / "m.tflite")
    assert list(tmp_path.iterdir()) == []


def test_path_must_end_in_tflite(trained_mlp: Any, tmp_path: Path) -> None:
    for name in ("model.tfl", "model", "model.tflite.part"):
        with pytest.raises(ExportError, match=r"must end in '\.tflite'"):
            export_tflite(trained_mlp, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_models_are_rejected(tmp_path: Path) -> None:
    a, b = keras.Input((784,)), keras.Input((784,))
    two_inputs = keras.Model([a, b], keras.layers.Dense(10, "softmax")(a + b))
    with pytest.raises(ExportError, match="2 inputs and 1 outputs"):
        export_tflite(two_inputs, tmp_path / "m.tflite")
    rgb = keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Flatten(),
                            keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(ExportError, match="3-channel images"):
        export_tflite(rgb, tmp_path / "m.tflite")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_parity_check_writes_nothing(trained_mlp: Any, data: Dataset, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdigits.export import _export

    out = tmp_path / "m.tflite"
    out.write_bytes(b"previous export")
    real = _export.verify_bytes

    def broken(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        return dataclasses.replace(report, max_abs_diff=1e-3)

    monkeypatch.setattr(_export, "verify_bytes", broken)
    with pytest.raises(ExportError, match=r"does not match its Keras model.*nothing was written"):
        export_tflite(trained_mlp, out, dataset=data, verify=50)
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


def test_a_converter_failure_is_an_export_error(data: Dataset, tmp_path: Path) -> None:
    class Fft(keras.layers.Layer):  # type: ignore[misc]
        def call(self, x: Any) -> Any:
            import tensorflow as tf

            return tf.math.real(tf.signal.fft(tf.complex(x, x)))

    inputs = keras.Input((784,))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(Fft()(inputs)))
    with pytest.raises(ExportError, match=r"conversion of .* failed with builtin ops only"):
        export_tflite(model, tmp_path / "m.tflite", dataset=data)
    assert list(tmp_path.iterdir()) == []


def test_the_trained_on_dataset_not_found_keeps_every_searched_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdigits.export import _export

    monkeypatch.setattr(_export, "_resolve_dataset",
                        lambda name: load_dataset(name, download=False))  # offline
    with pytest.raises(ExportError) as caught:
        _export._LazyDataset(None, "kmnist").get()
    lines = str(caught.value).splitlines()
    assert lines[0] == (
        "the model was trained on 'kmnist', whose images the export uses for calibration and "
        "verification, but it cannot be loaded: pass dataset= (for example 'mnist_sample') or "
        "verify=False, or make it loadable.")
    assert lines[1] == "dataset 'kmnist' not found. Searched, in order:"
    assert "  - download: disabled (download=False)" in lines
    assert lines[-1].startswith("To fix: pass data_dir=")
