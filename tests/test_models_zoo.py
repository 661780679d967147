"""The model zoo: architectures, both styles, preprocessing, overrides, training, saving."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from _shift import MOVES, shifted
from kerasdigits.datasets import load_dataset
from kerasdigits.models import ModelConfigError, build, get_model_spec, list_models
from kerasdigits.models.layers import RandomAffine, RandomShift
from kerasdigits.transforms import layers as kd_layers

#: Every built-in model, as the registry lists it (not a plugin's): a new model is built,
#: trained, saved and exported by these tests by default, once its count is pinned below.
ZOO = tuple(name for name in list_models() if get_model_spec(name).registered_by == "kerasdigits")
#: Our own designs (tagged "ours"), also trained in the functional style.
OURS = tuple(name for name in ZOO if "ours" in get_model_spec(name).tags)
#: The parameter count of every built-in model, built with its defaults: the tutorials'
#: figures for theirs, and pinned for ours, so that an accidental architecture change shows
#: up here. It must name every built-in model (test_every_model_has_a_pinned_count).
PARAMS = {
    "mlp2x512": 669_706,
    "mlp256": 203_530,
    "mlp512": 407_050,
    "sigmoid4x256": 400_906,
    "convnet": 600_810,
    "fashion_convnet": 412_778,
    "lenet5": 61_706,
    "fast_convnet": 40_002,
    "accurate_convnet": 289_066,
    "accurate_fashion_convnet": 289_066,
    "balanced_convnet": 141_962,
    "fast_mlp": 120_330,
}

Builder = Callable[[str, str], Any]


@pytest.fixture(scope="module")
def built() -> Builder:
    """Build each (model, style) once, uncompiled, without preprocessing."""
    cache: dict[tuple[str, str], Any] = {}

    def get(name: str, style: str) -> Any:
        if (name, style) not in cache:
            cache[name, style] = build(name, style=style, compile=False)  # type: ignore[arg-type]
        return cache[name, style]

    return get


def _layer_names(model: Any) -> list[str]:
    return [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def test_every_model_has_a_pinned_count() -> None:
    assert set(PARAMS) == set(ZOO)
    assert {"fast_convnet", "accurate_convnet", "fast_mlp"} <= set(OURS)


@pytest.mark.parametrize("name", ZOO)
def test_parameter_counts_match_the_pinned_and_declared_ones(built: Builder, name: str) -> None:
    count = PARAMS[name]
    assert built(name, "sequential").count_params() == count
    assert built(name, "functional").count_params() == count
    # What `kerasdigits models` lists without building the model.
    assert get_model_spec(name).params == count


@pytest.mark.parametrize("name", ZOO)
def test_both_styles_build_with_the_same_layers(built: Builder, name: str) -> None:
    sequential = built(name, "sequential")
    functional = built(name, "functional")
    assert isinstance(sequential, keras.Sequential)
    assert isinstance(functional, keras.Model) and not isinstance(functional, keras.Sequential)
    for model in (sequential, functional):
        assert model.name == name
        assert model.inputs[0].name == "pixels"
        assert model.inputs[0].dtype == "float32"
        assert tuple(model.inputs[0].shape[1:]) == get_model_spec(name).input_shape
        assert tuple(model.outputs[0].shape) == (None, 10)
        assert model.layers[-1].name == "output"
        assert not model.compiled
    assert _layer_names(sequential) == _layer_names(functional)
    # Sequential prefixes weight paths with the model name; the rest is identical.
    assert [w.path.removeprefix(f"{name}/") for w in sequential.weights] == [
        w.path for w in functional.weights
    ]
    assert [w.shape for w in sequential.weights] == [w.shape for w in functional.weights]


@pytest.mark.parametrize("name", ZOO)
def test_both_styles_compute_the_same_function(
    built: Builder, name: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    sequential = built(name, "sequential")
    functional = built(name, "functional")
    # Random weights (small perturbations keep batch-norm variances positive), copied across.
    functional.set_weights(
        [w + 0.05 * rng.standard_normal(w.shape).astype(w.dtype) for w in functional.get_weights()]
    )
    sequential.set_weights(functional.get_weights())
    x = rng.random((8, *get_model_spec(name).input_shape), dtype=np.float32)
    expected = np.asarray(functional(x, training=False))
    np.testing.assert_allclose(np.asarray(sequential(x, training=False)), expected, atol=1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-5)  # a softmax

    # ... and the other way round, through a weights file.
    sequential.set_weights([w * 0.5 for w in sequential.get_weights()])
    sequential.save_weights(tmp_path / "sequential.weights.h5")
    functional.load_weights(tmp_path / "sequential.weights.h5")
    np.testing.assert_allclose(
        np.asarray(functional(x, training=False)),
        np.asarray(sequential(x, training=False)),
        atol=1e-6,
    )


@pytest.mark.parametrize("name", ["mlp256", "convnet"])
@pytest.mark.parametrize("input_shape", [None, (28, 28, 1)])
def test_unit_preprocessing_takes_raw_pixels(
    built: Builder, name: str, input_shape: tuple[int, ...] | None
) -> None:
    plain = built(name, "functional")
    raw = build(name, preprocessing="unit", input_shape=input_shape, compile=False)
    assert raw.inputs[0].dtype == "uint8"
    assert tuple(raw.inputs[0].shape[1:]) == (input_shape or (28, 28))
    assert isinstance(raw.get_layer("normalize"), kd_layers.Normalize)
    raw.set_weights(plain.get_weights())
    pixels = np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    if input_shape is not None:
        pixels = pixels[..., None]
    native = (pixels.astype(np.float32) / 255.0).reshape(4, *get_model_spec(name).input_shape)
    np.testing.assert_allclose(
        np.asarray(raw(pixels)), np.asarray(plain(native, training=False)), atol=1e-6
    )


def test_standard_and_explicit_preprocessing() -> None:
    model = build("lenet5", preprocessing="standard", compile=False)
    normalize = model.get_layer("normalize")
    assert (normalize.mode, normalize.mean, normalize.std) == ("standard", 0.1307, 0.3081)
    fashion = {"mode": "standard", "mean": 0.286, "std": 0.353}
    model = build("mlp512", preprocessing=fashion, style="functional", compile=False)
    assert model.get_layer("normalize").mean == 0.286
    assert [layer.name for layer in model.layers[:3]] == ["pixels", "normalize", "flatten_input"]


def test_compile_uses_the_spec_settings() -> None:
    mlp = build("mlp2x512")
    assert mlp.compiled
    assert type(mlp.optimizer).__name__ == "RMSprop"
    assert mlp.loss == "sparse_categorical_crossentropy"
    fast = build("fast_convnet", style="functional")
    assert type(fast.optimizer).__name__ == "Adam"
    assert float(fast.optimizer.learning_rate) == pytest.approx(
        get_model_spec("fast_convnet").compile_settings.learning_rate
    )


def test_mlp2x512_dropout_option() -> None:
    with_dropout = build("mlp2x512", compile=False)
    assert [layer.rate for layer in with_dropout.layers if "dropout" in layer.name] == [0.2, 0.2]
    without = build("mlp2x512", dropout=0.0, compile=False)
    assert _layer_names(without) == ["dense_1", "dense_2", "output"]
    assert without.count_params() == PARAMS["mlp2x512"]
    without.set_weights(with_dropout.get_weights())  # same weights layout


def test_fast_mlp_units_option() -> None:
    # Dense layers without bias, each followed by batch normalization (4 values a unit).
    expected = 196 * 8 + 4 * 8 + 8 * 8 + 4 * 8 + (8 * 10 + 10)
    assert build("fast_mlp", units=8, compile=False).count_params() == expected
    with pytest.raises(ModelConfigError, match="fast_mlp: units must be a positive int, got 0"):
        build("fast_mlp", units=0)


def test_accurate_convnet_augmentation_option() -> None:
    model = build("accurate_convnet", compile=False)
    augment = model.get_layer("augment")
    assert isinstance(augment, RandomShift)
    assert (augment.height_factor, augment.width_factor) == (0.08, 0.08)
    x = np.random.default_rng(2).random((4, 28, 28, 1), dtype=np.float32)
    assert not np.allclose(np.asarray(augment(x, training=True)), x)
    plain = build("accurate_convnet", augment=0, dropout=0, compile=False)
    assert "augment" not in _layer_names(plain) and "dropout_1" not in _layer_names(plain)
    plain.set_weights(model.get_weights())
    # Inactive unless training=True: a bare model(x) is inference, and leaves the
    # batch-normalization statistics alone (Keras's RandomTranslation would not).
    before = model.get_weights()
    outputs = [np.asarray(model(x)) for _ in range(2)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_allclose(outputs[0], np.asarray(plain(x)), atol=1e-6)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("style", ["sequential", "functional"])
def test_accurate_fashion_convnet_is_accurate_convnet_with_mirrors_and_shifted_copies(
        style: str) -> None:
    fashion = build("accurate_fashion_convnet", style=style, compile=False)  # type: ignore[arg-type]
    augment = fashion.get_layer("augment")
    assert isinstance(augment, RandomAffine)
    assert (augment.shift, augment.flip, augment.rotation, augment.zoom) == (0.08, True, 0, 0)
    copies = fashion.get_layer("test_time_copies")
    assert (copies.shift, copies.mirror) == (1, True)
    moves = [*MOVES, *([(1, 1), (1, -1), (-1, 1), (-1, -1)] if copies.diagonals else [])]
    assert copies.copies == 2 * len(moves)
    # The same weights layout as accurate_convnet: its weights load as they are.
    plain = build("accurate_convnet", augment=0, style=style, compile=False)  # type: ignore[arg-type]
    plain.set_weights(fashion.get_weights())
    x = np.random.default_rng(4).random((3, 28, 28, 1), dtype=np.float32)
    # At inference: the softmax of the mean logits over the image, its one-pixel shifts and
    # the mirror images of all of them.
    features = keras.Model(plain.inputs, plain.get_layer("output").input)
    kernel, bias = plain.get_layer("output").get_weights()
    mean = np.mean([np.asarray(features(shifted(base, dy, dx))) @ kernel + bias
                    for base in (x, x[:, :, ::-1]) for dy, dx in moves], axis=0)
    expected = np.exp(mean) / np.exp(mean).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(fashion(x)), expected, atol=1e-5)
    # In training the copies are not made: one row per image, mirror images half of the time.
    assert np.asarray(fashion(x, training=True)).shape == (3, 10)


def test_accurate_convnet_test_time_shift_option() -> None:
    assert "test_time_copies" not in _layer_names(build("accurate_convnet", compile=False))
    model = build("accurate_convnet", test_time_shift=2, compile=False)
    assert model.get_layer("test_time_copies").copies == 5
    assert [layer.name for layer in model.layers[-3:]] == ["logits", "average_copies", "output"]
    nine = build("accurate_convnet", test_time_shift=1, test_time_diagonals=True, compile=False)
    assert nine.get_layer("test_time_copies").copies == nine.get_layer("average_copies").copies == 9
    with pytest.raises(ModelConfigError,
                       match="accurate_convnet: test_time_diagonals=True needs a test_time_shift"):
        build("accurate_convnet", test_time_diagonals=True)
    with pytest.raises(ModelConfigError,
                       match="accurate_convnet: test_time_mirror=True needs mirror=True"):
        build("accurate_convnet", test_time_mirror=True)
    fewer = build("accurate_fashion_convnet", test_time_mirror=False, compile=False)
    assert fewer.get_layer("test_time_copies").copies == 5
    assert model.count_params() == PARAMS["accurate_convnet"]
    with pytest.raises(ModelConfigError,
                       match="accurate_convnet: test_time_shift must be an int >= 0, got -1"):
        build("accurate_convnet", test_time_shift=-1)
    with pytest.raises(ModelConfigError, match="accurate_convnet: mirror must be True or False"):
        build("accurate_convnet", mirror="yes")


# --- overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ZOO)
def test_num_classes_override(name: str) -> None:
    model = build(name, num_classes=47, style="functional", compile=False)
    assert tuple(model.outputs[0].shape) == (None, 47)


@pytest.mark.parametrize(
    ("name", "input_shape", "first_kernel"),
    [
        ("convnet", (32, 32, 1), (3, 3, 1, 32)),
        ("convnet", (32, 32, 3), (3, 3, 3, 32)),
        ("fashion_convnet", (32, 32), (2, 2, 1, 64)),
        ("lenet5", (32, 32, 1), (5, 5, 1, 6)),
        ("lenet5", (12, 12, 1), (5, 5, 1, 6)),
        ("mlp2x512", (32, 32), (1024, 512)),
        ("mlp256", (20, 20, 1), (400, 256)),
        ("mlp512", (100,), (100, 512)),
        ("fast_convnet", (64, 64, 1), (3, 3, 4, 24)),
        ("fast_convnet", (32, 32, 3), (3, 3, 12, 24)),
        ("accurate_convnet", (8, 8, 1), (3, 3, 1, 32)),
        ("fast_mlp", (32, 32, 1), (256, 256)),
    ],
)
def test_input_shape_override(
    name: str, input_shape: tuple[int, ...], first_kernel: tuple[int, ...]
) -> None:
    model = build(name, input_shape=input_shape, compile=False)
    assert tuple(model.inputs[0].shape[1:]) == input_shape
    assert tuple(model.weights[0].shape) == first_kernel
    x = np.zeros((2, *input_shape), dtype=np.float32)
    assert np.asarray(model(x)).shape == (2, 10)


@pytest.mark.parametrize(
    ("name", "input_shape", "match"),
    [
        ("lenet5", (8, 8, 1), r"lenet5 needs images of at least 12x12 pixels"),
        ("lenet5", (28, 11), r"at least 12x12"),
        ("convnet", (5, 5, 1), r"convnet needs images of at least 6x6"),
        ("fashion_convnet", (3, 3), r"at least 4x4"),
        ("fast_convnet", (7, 7, 1), r"at least 8x8"),
        ("fast_convnet", (28, 27, 1), r"even image height and width"),
        ("accurate_convnet", (4, 4, 1), r"at least 8x8"),
        ("convnet", (784,), r"convnet takes images"),
        ("fast_mlp", (1, 28, 1), r"fast_mlp needs images of at least 2x2"),
    ],
)
def test_impossible_input_shapes_raise_clearly(
    name: str, input_shape: tuple[int, ...], match: str
) -> None:
    with pytest.raises(ModelConfigError, match=match):
        build(name, input_shape=input_shape)


# --- training and saving -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "style"),
    [(name, "sequential") for name in ZOO] + [(name, "functional") for name in OURS],
)
def test_every_model_trains_on_the_bundled_sample(name: str, style: str) -> None:
    keras.utils.set_random_seed(0)
    data = load_dataset("mnist_sample").to_tf("train", 32, seed=0).take(4)
    model = build(name, style=style, preprocessing="unit")  # type: ignore[arg-type]
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(data, epochs=1, verbose=0)
    loss = history.history["loss"][-1]
    assert math.isfinite(loss)
    assert 0 <= history.history["accuracy"][-1] <= 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_keras_file_round_trip_with_preprocessing(tmp_path: Path) -> None:
    model = build("fast_convnet", preprocessing="unit")
    model.fit(load_dataset("mnist_sample").to_tf("train", 32).take(1), verbose=0)
    path = tmp_path / "fast.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.name == "fast_convnet"
    assert isinstance(loaded.get_layer("normalize"), kd_layers.Normalize)
    assert isinstance(loaded.get_layer("add_channel"), kd_layers.AddChannel)
    pixels = load_dataset("mnist_sample").test.images[:16]
    np.testing.assert_allclose(
        np.asarray(loaded(pixels, training=False)),
        np.asarray(model(pixels, training=False)),
        atol=1e-6,
    )
    assert type(loaded.optimizer).__name__ == "Adam"


def test_keras_file_round_trip_with_augmentation(tmp_path: Path) -> None:
    model = build("accurate_convnet", preprocessing="unit", style="functional", compile=False)
    model.save(tmp_path / "accurate.keras")
    loaded = keras.models.load_model(tmp_path / "accurate.keras")
    assert isinstance(loaded.get_layer("augment"), RandomShift)
    assert loaded.get_layer("augment").height_factor == 0.08
    pixels = load_dataset("mnist_sample").test.images[:8]
    np.testing.assert_allclose(np.asarray(loaded(pixels)), np.asarray(model(pixels)), atol=1e-6)
