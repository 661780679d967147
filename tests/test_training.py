"""train, evaluate and predict."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from _traces import count_train_step_traces
from kerasdigits import (
    DatasetError,
    build,
    evaluate,
    get_model_spec,
    list_models,
    load_dataset,
    predict,
    train,
)
from kerasdigits.datasets import Dataset, Split
from kerasdigits.training import (
    Evaluation,
    ModelFileError,
    PixelError,
    TrainingError,
    evaluation_from_probabilities,
    load_model,
)
from kerasdigits.training._io import _all_layers as all_layers


@pytest.fixture(scope="module")
def small() -> Dataset:
    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, train=ds.train.take(slice(0, 1500)),
                               test=ds.test.take(slice(0, 400)))


@pytest.fixture(scope="module")
def layouts() -> dict[str, object]:
    """Untrained models taking each input layout the zoo has."""
    return {
        "uint8 (28, 28)": build("mlp256", preprocessing="unit"),
        "float32 (784,)": build("mlp256"),
        "float32 (28, 28, 1)": build("convnet"),
    }


LAYOUTS = ("uint8 (28, 28)", "float32 (784,)", "float32 (28, 28, 1)")


@pytest.fixture(scope="module")
def trained(small: Dataset, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return train("mlp256", small, epochs=2, seed=0, verbose=0,
                 checkpoint_dir=tmp_path_factory.mktemp("ckpt"))


# ----------------------------------------------------------------------------- evaluation


def test_evaluation_numbers_match_a_hand_computed_case() -> None:
    probs = np.array(
        [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]]
    )
    labels = np.array([0, 1, 2, 1, 0])
    ev = evaluation_from_probabilities(probs, labels, ("a", "b", "c"))
    assert ev.accuracy == pytest.approx(3 / 5)
    expected_loss = -(math.log(0.7) + math.log(0.8) + math.log(0.4) + math.log(0.4)
                      + math.log(0.2)) / 5
    assert ev.loss == pytest.approx(expected_loss)
    assert ev.confusion_matrix.tolist() == [[1, 0, 1], [1, 1, 0], [0, 0, 1]]
    assert ev.per_class_accuracy.tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert ev.misclassified.tolist() == [3, 4]
    assert ev.predictions.tolist() == [0, 1, 2, 0, 2]
    assert ev.num_examples == 5


def test_evaluation_class_without_examples_is_nan_and_printed_as_dash() -> None:
    ev = evaluation_from_probabilities(np.eye(3)[[0, 0, 1]], [0, 0, 1], ("a", "b", "c"))
    assert math.isnan(ev.per_class_accuracy[2])
    row_c = next(line for line in str(ev).splitlines() if line.startswith("c "))
    assert row_c.split()[-1] == "-"
    assert ev.as_dict()["per_class_accuracy"]["c"] is None


def test_evaluation_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        evaluation_from_probabilities(np.zeros((3, 3)), [0, 1], ("a", "b", "c"))


def test_evaluate_agrees_with_keras_evaluate(trained, small: Dataset) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(trained.model, small)
    keras_loss, keras_acc = trained.model.evaluate(small.test.images, small.test.labels,
                                                   verbose=0)
    assert isinstance(ev, Evaluation)
    assert ev.accuracy == pytest.approx(keras_acc, abs=1e-6)
    assert ev.loss == pytest.approx(keras_loss, rel=1e-4)
    assert ev.confusion_matrix.sum() == len(small.test)
    assert np.trace(ev.confusion_matrix) == round(ev.accuracy * len(small.test))
    wrong = ev.misclassified
    assert (ev.predictions[wrong] != small.test.labels[wrong]).all()
    text = str(ev)
    assert text.startswith(f"accuracy {ev.accuracy:.4f}")
    assert "confusion matrix (rows: true, columns: predicted)" in text


def test_evaluate_accepts_a_split_and_a_model_file(trained, small: Dataset,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    trained.model.save(path)
    from_file = evaluate(path, small.test)
    assert from_file.accuracy == pytest.approx(evaluate(trained.model, small).accuracy)
    assert from_file.class_names == tuple(str(i) for i in range(10))


def test_evaluate_accepts_a_dataset_name(trained) -> None:  # type: ignore[no-untyped-def]
    by_name = evaluate(trained.model, "mnist_sample")
    sample = load_dataset("mnist_sample")
    assert by_name.num_examples == len(sample.test)
    assert by_name.accuracy == pytest.approx(evaluate(trained.model, sample).accuracy)
    with pytest.raises(DatasetError, match=r"unknown dataset 'mnistt'. Did you mean .*'mnist'"):
        evaluate(trained.model, "mnistt")


def test_evaluate_rejects_other_data(trained) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="a dataset name or a Split"):
        evaluate(trained.model, np.zeros((2, 28, 28)))  # type: ignore[arg-type]


def test_evaluate_on_an_empty_split_says_so(layouts: dict[str, object], small: Dataset) -> None:
    model = layouts["uint8 (28, 28)"]
    empty = small.test.take(slice(0, 0))
    with pytest.raises(ValueError, match=r"^cannot evaluate: the split is empty \(0 images\)$"):
        evaluate(model, empty)
    no_test = dataclasses.replace(small, test=empty)
    with pytest.raises(ValueError, match=r"^cannot evaluate: the test split of the dataset "
                       r"'mnist_sample' is empty \(0 images\)$"):
        evaluate(model, no_test)


# ----------------------------------------------------------------------------- predict


def test_predict_single_and_batched_uint8_and_float(trained, small: Dataset) -> None:  # type: ignore[no-untyped-def]
    images = small.test.images[:5]
    labels, probs = predict(trained.model, images)
    assert labels.shape == (5,) and probs.shape == (5, 10)
    assert probs.sum(axis=1) == pytest.approx(np.ones(5), abs=1e-5)
    assert (labels == probs.argmax(axis=1)).all()
    one_label, one_probs = predict(trained.model, images[0])
    assert one_label.shape == () and int(one_label) == labels[0]
    assert one_probs == pytest.approx(probs[0], abs=1e-6)
    float_labels, float_probs = predict(trained.model, images.astype(np.float32) / 255.0)
    assert (float_labels == labels).all()
    assert float_probs == pytest.approx(probs, abs=1e-5)
    flat_label, _ = predict(trained.model, images[0].reshape(784))
    assert int(flat_label) == labels[0]
    chan_label, _ = predict(trained.model, images[0][..., None])
    assert int(chan_label) == labels[0]


def test_predict_matches_keras_predict(trained, small: Dataset) -> None:  # type: ignore[no-untyped-def]
    _, probs = predict(trained.model, small.test.images[:50])
    expected = trained.model.predict(small.test.images[:50], verbose=0)
    assert probs == pytest.approx(expected, abs=1e-5)


@pytest.fixture
def frozen_from_8(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``kerasdigits.training._predict`` with the frozen path taken from 8 images."""
    from kerasdigits.training import _predict

    monkeypatch.setattr(_predict, "_FROZEN_FROM", 8)
    return _predict


@pytest.mark.parametrize("name", ["fast_convnet", "mlp256", "convnet"])
def test_a_large_batch_agrees_with_keras_at_every_chunk_edge(
        name: str, small: Dataset, frozen_from_8: ModuleType,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _predict = frozen_from_8
    monkeypatch.setattr(_predict, "_CHUNK", 7)  # 20 images: chunks of 7, 7 and 6
    model = build(name, preprocessing="unit" if name != "convnet" else None)
    images = small.test.images[:20]
    labels, probs = predict(model, images)
    # Convnets run frozen; a dense-only model keeps the live function (measured faster).
    assert (_predict._FROZEN[model].fn is not None) == (name != "mlp256")
    expected = model.predict(_predict.prepare_images(model, images)[0], verbose=0)
    assert probs.shape == (20, 10)
    assert np.abs(probs - expected).max() <= 1e-5
    assert (labels == expected.argmax(axis=1)).all()
    _, few = predict(model, images[:7])  # below the threshold: the live function
    assert np.abs(few - probs[:7]).max() <= 1e-5


@pytest.mark.parametrize("style", ["sequential", "functional"])
@pytest.mark.parametrize("name", [n for n in list_models()
                                  if get_model_spec(n).registered_by == "kerasdigits"])
def test_every_zoo_model_freezes_once_and_keeps_keras_probabilities(
        name: str, style: str, small: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdigits.training import _predict

    monkeypatch.setattr(_predict, "_FROZEN_FROM", 4)
    model = build(name, preprocessing="unit", style=style)  # type: ignore[arg-type]
    images = small.test.images[:6]
    _, probs = predict(model, images)
    frozen = _predict._FROZEN[model]
    convolves = any(type(layer).__name__.startswith("Conv") for layer in all_layers(model))
    assert (frozen.fn is not None) == convolves, f"{name}: frozen {frozen.fn is not None}"
    _, again = predict(model, images)
    assert _predict._FROZEN[model] is frozen  # inference changes no weight: no refreezing
    expected = model.predict(images, verbose=0)
    assert np.abs(probs - expected).max() <= 1e-5
    assert np.array_equal(probs, again)


def test_a_frozen_model_answers_with_its_new_weights_after_more_training(
        small: Dataset, frozen_from_8: ModuleType) -> None:
    model = build("fast_convnet", preprocessing="unit")
    images = small.test.images[:64]
    _, before = predict(model, images)
    model.fit(small.train.images[:256], small.train.labels[:256], epochs=1, verbose=0)
    _, after = predict(model, images)
    expected = model.predict(images, verbose=0)
    assert np.abs(after - before).max() > 1e-3  # training changed the answers ...
    assert np.abs(after - expected).max() <= 1e-5  # ... and predict gives the new ones
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    _, zeroed = predict(model, images)
    assert zeroed == pytest.approx(np.full((64, 10), 0.1), abs=1e-6)


def test_a_model_that_cannot_be_frozen_keeps_the_live_function(
        small: Dataset, frozen_from_8: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorflow.python.framework import convert_to_constants

    _predict = frozen_from_8

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("cannot freeze this graph")

    monkeypatch.setattr(convert_to_constants, "convert_variables_to_constants_v2", refuse)
    model = build("fast_convnet", preprocessing="unit")
    _, probs = predict(model, small.test.images[:16])
    assert _predict._FROZEN[model].fn is None
    assert np.abs(probs - model.predict(small.test.images[:16], verbose=0)).max() <= 1e-5


def test_a_model_that_writes_a_variable_at_inference_is_not_frozen(
        small: Dataset, frozen_from_8: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    _predict = frozen_from_8

    class CountCalls(keras.layers.Layer):  # type: ignore[misc,name-defined]
        def build(self, input_shape: object) -> None:
            self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, inputs: object) -> object:
            self.calls.assign_add(1.0)
            return inputs

    monkeypatch.setattr(_predict, "_CHUNK", 8)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3), CountCalls(),
                              keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    predict(model, small.test.images[:24])  # three chunks
    assert _predict._FROZEN[model].fn is None  # frozen, the counter would be a constant
    assert float(model.layers[1].calls.numpy()) == 3.0


def test_a_variable_outside_the_weights_is_read_fresh_by_the_frozen_copy(
        small: Dataset, frozen_from_8: ModuleType) -> None:
    import keras
    import tensorflow as tf

    _predict = frozen_from_8
    temperature = tf.Variable(1.0)  # calibration captured by a Lambda: not in model.weights
    inputs = keras.Input((28, 28, 1))
    features = keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(inputs))
    logits = keras.layers.Dense(10)(features)
    scaled = keras.layers.Lambda(lambda z: z / temperature)(logits)
    model = keras.Model(inputs, keras.layers.Softmax()(scaled))
    images = small.test.images[:16]
    predict(model, images)
    temperature.assign(5.0)
    _, probs = predict(model, images)
    assert _predict._FROZEN[model].fn is not None
    expected = model.predict(images[..., None].astype(np.float32) / 255, verbose=0)
    assert np.abs(probs - expected).max() <= 1e-5


def test_a_model_with_a_lookup_table_keeps_the_live_function(
        small: Dataset, frozen_from_8: ModuleType) -> None:
    import keras
    import tensorflow as tf

    _predict = frozen_from_8

    lookup = keras.layers.StringLookup(vocabulary=[str(i) for i in range(10)], num_oov_indices=0)

    class Reversed(keras.layers.Layer):  # type: ignore[misc,name-defined]
        def call(self, x: object) -> object:
            order = lookup(tf.constant([str(9 - i) for i in range(10)]))
            return tf.gather(x, order, axis=1)

    inputs = keras.Input((28, 28, 1))
    features = keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(inputs))
    dense = keras.layers.Dense(10, activation="softmax")(features)
    model = keras.Model(inputs, Reversed()(dense))
    images = small.test.images[:16]
    _, probs = predict(model, images)  # the frozen copy would want the table as an input
    assert _predict._FROZEN[model].fn is None
    expected = model.predict(images[..., None].astype(np.float32) / 255, verbose=0)
    assert np.abs(probs - expected).max() <= 1e-5


def test_a_float64_model_runs_frozen(small: Dataset, frozen_from_8: ModuleType) -> None:
    import keras

    _predict = frozen_from_8
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3),
                                  keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
    finally:
        keras.config.set_floatx(floatx)
    images = small.test.images[:16]
    _, probs = predict(model, images)
    assert _predict._FROZEN[model].fn is not None
    expected = model.predict(images[..., None].astype(np.float64) / 255, verbose=0)
    assert np.abs(probs - expected).max() <= 1e-5


def test_a_nan_weight_does_not_refreeze_on_every_call(
        small: Dataset, frozen_from_8: ModuleType) -> None:
    _predict = frozen_from_8
    model = build("fast_convnet", preprocessing="unit")
    weights = model.get_weights()
    weights[0][0, 0, 0, 0] = np.nan  # a diverged model
    model.set_weights(weights)
    predict(model, small.test.images[:16])
    first = _predict._FROZEN[model]
    assert first.fn is not None
    predict(model, small.test.images[:16])
    assert _predict._FROZEN[model] is first


@pytest.mark.parametrize("count", [3, 16])
def test_a_model_with_two_outputs_is_refused_at_every_batch_size(
        count: int, small: Dataset, frozen_from_8: ModuleType) -> None:
    import keras

    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(10, activation="softmax")(flat),
                                 keras.layers.Dense(10, activation="softmax")(flat)])
    with pytest.raises(ValueError, match=r"^predict needs a model with one output \(class "
                       r"probabilities\); this model returns a list of 2 outputs$"):
        predict(model, small.test.images[:count])


def test_predict_does_not_keep_a_model_alive(small: Dataset,
                                             frozen_from_8: ModuleType) -> None:
    import gc
    import weakref

    model = build("fast_convnet", preprocessing="unit")
    predict(model, small.test.images[:3])
    predict(model, small.test.images[:16])
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_predict_on_a_float_input_model(small: Dataset) -> None:
    model = build("convnet")  # the tutorial's float (28, 28, 1) input, no preprocessing
    labels, probs = predict(model, small.test.images[:3])
    assert labels.shape == (3,) and probs.shape == (3, 10)


def test_predict_rejects_bad_shapes_and_dtypes(trained) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"do not fit the model's input"):
        predict(trained.model, np.zeros((2, 27, 27), np.uint8))
    with pytest.raises(ValueError, match="uint8 or float"):
        predict(trained.model, np.zeros((28, 28), bool))


def _with_one_pixel(dtype: type, value: object) -> np.ndarray:
    """A batch of three valid images of ``dtype`` whose last one has one pixel ``value``."""
    images = np.full((3, 28, 28), 1 if np.issubdtype(dtype, np.floating) else 200, dtype)
    images[2, 5, 7] = value
    return images


BAD_PIXELS = [
    pytest.param(_with_one_pixel(np.float32, np.nan), r"float pixels must be finite, got NaN",
                 id="float-nan"),
    pytest.param(_with_one_pixel(np.float64, np.inf), r"float pixels must be finite, got inf",
                 id="float-inf"),
    pytest.param(_with_one_pixel(np.float32, -np.inf), r"float pixels must be finite, got -inf",
                 id="float-minus-inf"),
    pytest.param(np.full((3, 28, 28), 255.0, np.float32),
                 r"float pixels must be in \[0, 1\]; divide by 255 or pass uint8 \(got values "
                 r"up to 255\)", id="float-0-to-255"),
    pytest.param(_with_one_pixel(np.float64, 1.5), r"float pixels must be in \[0, 1\]; divide "
                 r"by 255 or pass uint8", id="float-above-1"),
    pytest.param(_with_one_pixel(np.float32, -0.25),
                 r"float pixels must be in \[0, 1\], got values down to -0.25",
                 id="float-negative"),
    pytest.param(_with_one_pixel(np.int64, 256),
                 r"integer pixels must be in 0\.\.255, got values from 200 to 256 \(int64\)",
                 id="int64-256"),
    pytest.param(_with_one_pixel(np.int16, -1),
                 r"integer pixels must be in 0\.\.255, got values from -1 to 200 \(int16\)",
                 id="int16-negative"),
    pytest.param(_with_one_pixel(np.uint16, 300), r"integer pixels must be in 0\.\.255",
                 id="uint16-300"),
    pytest.param(np.zeros((28, 28), bool), r"must be uint8 or float pixels, got dtype bool",
                 id="bool"),
    pytest.param(np.full((28, 28), "a"), r"must be uint8 or float pixels, got dtype <U1",
                 id="str"),
    pytest.param(np.zeros((28, 28), np.complex64),
                 r"must be uint8 or float pixels, got dtype complex64", id="complex"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("images", "message"), BAD_PIXELS)
def test_predict_rejects_pixels_outside_their_dtypes_range(
        layouts: dict[str, object], layout: str, images: np.ndarray, message: str) -> None:
    with pytest.raises(PixelError, match=rf"^images: .*{message}"):
        predict(layouts[layout], images)
    assert issubclass(PixelError, ValueError)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_predict_accepts_every_documented_dtype_and_range(layouts: dict[str, object],
                                                          layout: str) -> None:
    model = layouts[layout]
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(4, 28, 28)).astype(np.uint8)
    pixels[0, 0, :2] = (0, 255)
    _, expected = predict(model, pixels)
    for same in (pixels.astype(np.int64), pixels.astype(np.uint16), pixels.astype(np.int16),
                 pixels.astype(np.float32) / 255, pixels / 255.0, (pixels / 255.0).tolist(),
                 pixels.tolist()):
        _, probs = predict(model, same)
        assert probs == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(0, 28, 28), (0, 28, 28, 1), (0, 784)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_predict_on_an_empty_batch_returns_empty_results(
        layouts: dict[str, object], layout: str, shape: tuple[int, ...], dtype: type) -> None:
    labels, probs = predict(layouts[layout], np.zeros(shape, dtype))
    assert labels.shape == (0,) and labels.dtype == np.int64
    assert probs.shape == (0, 10) and probs.dtype == np.float32


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (784,), (3, 28, 28), (3, 28, 28, 1),
                                   (3, 784), (1, 784), (1, 28, 28)])
def test_predict_accepts_one_image_or_a_batch_in_any_layout(
        layouts: dict[str, object], layout: str, shape: tuple[int, ...]) -> None:
    labels, probs = predict(layouts[layout], np.zeros(shape, np.uint8))
    batch = () if shape in {(28, 28), (28, 28, 1), (784,)} else (shape[0],)
    assert labels.shape == batch and probs.shape == (*batch, 10)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(2, 14, 56), (2, 56, 14), (2, 392, 2), (2, 1, 28, 28),
                                   (2, 28, 28, 1, 1), (2, 784, 1), (1, 1, 784), (14, 56),
                                   (28, 28, 2), (27, 27), (2, 27, 27)])
def test_predict_rejects_shapes_that_only_have_the_right_size(
        layouts: dict[str, object], layout: str, shape: tuple[int, ...]) -> None:
    message = (rf"^images of shape {re.escape(str(shape))} do not fit the model's input: pass "
               r"one image \(28, 28\), \(28, 28, 1\) or \(784,\), or a batch of them")
    with pytest.raises(PixelError, match=message):
        predict(layouts[layout], np.zeros(shape, np.uint8))


def test_load_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="cannot load model"):
        load_model(bad)
    (tmp_path / "m.h5").write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"'\.keras'"):
        load_model(tmp_path / "m.h5")


# ----------------------------------------------------------------------------- train


def test_train_result_and_defaults_from_the_recipe(trained, small: Dataset) -> None:  # type: ignore[no-untyped-def]
    assert trained.epochs_run == 2
    assert set(trained.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in trained.history.values())
    assert trained.validation == "carved from train"
    assert trained.best_epoch == int(np.argmin(trained.history["val_loss"])) + 1
    assert trained.wall_time > 0
    # The model takes raw uint8 pixels: a name is built with in-model preprocessing.
    assert trained.model.inputs[0].dtype == "uint8"
    assert evaluate(trained.model, small).accuracy > 0.6


def test_best_epoch_is_the_finite_minimum_when_val_loss_has_nan() -> None:
    from kerasdigits.training import _history, _train

    assert _train.best_epoch is _history.best_epoch  # train() and plot_history() share it
    nan = float("nan")
    history = {"loss": [0.9, 0.5, 0.4, 0.45, 0.3], "val_loss": [nan, 0.7, 0.55, nan, 0.6]}
    assert _train.best_epoch(history) == 3
    assert _train.best_epoch({"loss": [0.5, nan, 0.2]}) == 3  # no validation: training loss
    assert _train.best_epoch({"loss": [0.5], "val_loss": [nan]}) == 0  # nothing finite


def test_train_is_reproducible_with_a_seed(small: Dataset) -> None:
    tiny = dataclasses.replace(small, train=small.train.take(slice(0, 600)))
    a = train("mlp256", tiny, epochs=1, seed=7, callbacks=None, verbose=0)
    b = train("mlp256", tiny, epochs=1, seed=7, callbacks=None, verbose=0)
    c = train("mlp256", tiny, epochs=1, seed=8, callbacks=None, verbose=0)
    assert a.history == b.history
    assert a.history != c.history


@pytest.mark.parametrize(
    ("validation", "note", "has_val"),
    [("test", "test split", True), ("none", "none", False), (None, "none", False),
     (300, "carved from train", True)],
)
def test_train_validation_choices(small: Dataset, validation: object, note: str,
                                  has_val: bool) -> None:
    result = train("mlp256", small, epochs=1, validation=validation,  # type: ignore[arg-type]
                   callbacks=None, verbose=0)
    assert result.validation == note
    assert ("val_loss" in result.history) is has_val


def test_train_uses_an_existing_validation_split(small: Dataset) -> None:
    ds = small.with_validation(200)
    result = train("mlp256", ds, epochs=1, callbacks=None, verbose=0)
    assert result.validation == "validation split"


def test_train_accepts_a_split_for_validation(small: Dataset) -> None:
    val = Split(small.test.images[:100], small.test.labels[:100])
    result = train("mlp256", small, epochs=1, validation=val, callbacks=None, verbose=0)
    assert result.validation == "given split"


def test_train_a_keras_model_with_float_input(small: Dataset) -> None:
    model = build("mlp256")  # float (784,) input, compiled from its spec
    result = train(model, small, epochs=1, callbacks=None, verbose=0)
    assert result.model is model
    assert evaluate(model, small).accuracy > 0.5


def test_train_traces_the_training_step_once(small: Dataset) -> None:
    # Keras would trace it twice (its optimizer built inside the first trace); the second
    # trace cost fast_convnet about a tenth of its training time.
    model = build("mlp256")
    traces = count_train_step_traces(model)
    result = train(model, small, epochs=2, validation="test", callbacks=None, verbose=0)
    assert len(result.history["loss"]) == 2
    assert len(traces) == 1


@pytest.mark.parametrize("strategy", [None, "mirrored"])
def test_train_feeds_fit_pipelines_without_tf_data_autotuning(
        small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        strategy: str | None) -> None:
    # With autotuning on, fit idled about 2 s at about half of its epoch ends (the iterator's
    # destruction waiting for tf.data's autotuning thread): a quarter of a short training.
    import keras

    seen: list[object] = []
    fit = keras.Model.fit

    def spy(self: object, x: object = None, *args: object, validation_data: object = None,
            **kwargs: object) -> object:
        seen.extend(d.options().autotune.enabled  # type: ignore[attr-defined]
                    for d in (x, validation_data))
        return fit(self, x, *args, validation_data=validation_data, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    result = train("mlp256", small, epochs=1, validation="test", callbacks=[], verbose=0,
                   strategy=strategy, checkpoint_dir=tmp_path)
    assert len(result.history["loss"]) == 1
    assert seen == [False, False]


def test_train_errors(small: Dataset) -> None:
    with pytest.raises(KeyError, match="Did you mean one of 'mlp256'"):
        train("mlp265", small, epochs=1, verbose=0)
    with pytest.raises(TrainingError, match="validation must be"):
        train("mlp256", small, epochs=1, validation="train", verbose=0)  # type: ignore[arg-type]
    with pytest.raises(TrainingError, match="only apply when a model name is given"):
        train(build("mlp256"), small, epochs=1, dropout=0.1, verbose=0)
    with pytest.raises(TrainingError, match="Dataset or a name"):
        train("mlp256", [1, 2, 3], verbose=0)  # type: ignore[arg-type]
    for bad in ({"epochs": 0}, {"epochs": True}, {"batch_size": 2.5}):
        with pytest.raises(TrainingError, match=f"^{next(iter(bad))} must be a positive int"):
            train("mlp256", small, verbose=0, **bad)  # type: ignore[arg-type]


def test_the_schedule_spans_the_epochs_asked_for() -> None:
    """fast_mlp's cosine schedule reaches zero at the end of the run, however long it is."""
    from kerasdigits import load_dataset, train

    ds = load_dataset("mnist_sample")
    small = ds.__class__(name=ds.name, train=ds.train.take(slice(0, 512)), validation=None,
                         test=ds.test.take(slice(0, 100)), class_names=ds.class_names,
                         source=ds.source)
    result = train("fast_mlp", small, epochs=2, batch_size=128, callbacks=None,
                   validation="none", verbose=0, seed=0)
    schedule = result.model.optimizer.get_config()["learning_rate"]["config"]
    steps = 512 // 128
    assert schedule["warmup_steps"] + schedule["decay_steps"] == 2 * steps
    lr = result.model.optimizer.learning_rate
    assert float(lr) == pytest.approx(0.0, abs=1e-9)  # decayed to zero after both epochs


def test_a_model_trained_on_mirror_images_warns_when_given_digits(small: Dataset) -> None:
    import warnings

    from kerasdigits import KerasDigitsWarning
    from kerasdigits.training._train import _warn_if_mirrored_digits

    mirrored = [name for name in list_models() if "mirror" in get_model_spec(name).tags]
    assert "accurate_fashion_convnet" in mirrored
    tiny = dataclasses.replace(small, train=small.train.take(slice(0, 64)))
    with pytest.warns(KerasDigitsWarning, match=r"accurate_fashion_convnet trains on left-right "
                      r"mirror images, but the classes of 'mnist_sample' are digits") as seen:
        train("accurate_fashion_convnet", tiny, epochs=1, callbacks="none", validation="none",
              verbose=0)
    assert [Path(w.filename).name for w in seen] == [Path(__file__).name]  # the caller's line
    clothes = load_dataset("fashion_mnist_sample")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_if_mirrored_digits(get_model_spec("accurate_fashion_convnet"), clothes)
        _warn_if_mirrored_digits(get_model_spec("accurate_convnet"), small)
