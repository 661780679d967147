"""Builders that return a finished ``keras.Model``, as torchvision and timm builders do.

A ``keras.Sequential`` counts as its list of layers (both styles); any other model builds in
the functional style only, as is or behind the input and preprocessing that ``build`` adds.
These tests build Keras models.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import pytest

from kerasdigits import load_dataset, train
from kerasdigits.models import (
    CompileSettings,
    ModelArgumentError,
    ModelConfigError,
    Recipe,
    _plugins,
    _registry,
    build,
    get_model_spec,
    register_model,
)

FLAT_PARAMS = 784 * 8 + 8 + 8 * 10 + 10


@pytest.fixture
def registry() -> Iterator[None]:
    """Let a test register models; forget them afterwards."""
    _plugins.load_plugins()
    saved = _registry._snapshot()
    yield
    _registry._restore(saved)


@pytest.fixture(scope="module")
def batches() -> Any:
    """A few float batches of the bundled sample, shaped (784,)."""
    data = load_dataset("mnist_sample").to_tf("train", 32, seed=0).take(3)
    return data.map(lambda x, y: (keras.ops.cast(keras.ops.reshape(x, (-1, 784)), "float32")
                                  / 255.0, y))


def _images(n: int = 4) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 28, 28)).astype(np.uint8)


def _fits_and_learns(model: Any, data: Any) -> None:
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(data, epochs=1, verbose=0)
    assert math.isfinite(history.history["loss"][-1])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


# --- builders used below ----------------------------------------------------------------------

made: list[Any] = []  # what the last builder call returned, to check identity


def _sequential_builder(*, num_classes: int = 10, hidden: int = 8) -> keras.Model:
    """A keras.Sequential with its own input."""
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(hidden, activation="relu", name="dense_1"),
            keras.layers.Dense(num_classes, activation="softmax", name="output"),
        ],
        name="my_sequential",
    )
    made.append(model)
    return model


def _functional_builder(*, num_classes: int = 10) -> keras.Model:
    """A functional keras.Model with a skip connection."""
    inputs = keras.Input((784,), name="x")
    h = keras.layers.Dense(784, activation="relu", name="dense_1")(inputs)
    h = keras.layers.Add(name="skip")([inputs, h])
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(h)
    model = keras.Model(inputs, outputs, name="my_functional")
    made.append(model)
    return model


def _register_both() -> None:
    settings = CompileSettings(optimizer="sgd", learning_rate=0.05)
    register_model(
        "kd_seq_model", input_kind="flat", compile_settings=settings,
        recipe=Recipe(epochs=1, batch_size=64),
    )(_sequential_builder)
    register_model(
        "kd_fun_model", input_kind="flat", styles=("functional",), compile_settings=settings,
        recipe=Recipe(epochs=1, batch_size=64),
    )(_functional_builder)


# --- the good cases ---------------------------------------------------------------------------


@pytest.mark.usefixtures("registry")
def test_finished_models_build_in_every_claimed_style_compile_and_train(batches: Any) -> None:
    _register_both()
    assert get_model_spec("kd_seq_model").styles == ("sequential", "functional")
    assert get_model_spec("kd_fun_model").styles == ("functional",)
    for name in ("kd_seq_model", "kd_fun_model"):
        spec = get_model_spec(name)
        for style in spec.styles:
            model = build(name, style=style)
            assert model.name == name
            assert isinstance(model, keras.Sequential) == (style == "sequential")
            assert len(model.inputs) == 1 and tuple(model.inputs[0].shape) == (None, 784)
            assert tuple(model.outputs[0].shape) == (None, 10)
            # Compiled with the spec's settings, not Keras's defaults.
            assert type(model.optimizer).__name__ == "SGD"
            assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
            _fits_and_learns(model, batches)


@pytest.mark.usefixtures("registry")
def test_a_finished_model_needing_nothing_is_returned_as_is() -> None:
    _register_both()
    model = build("kd_seq_model", compile=False)
    assert model is made[-1]  # the builder's own object, renamed
    assert model.name == "kd_seq_model"
    assert not model.compiled
    assert build("kd_fun_model", compile=False) is made[-1]
    # Functional style from a Sequential: the same layers, re-assembled.
    functional = build("kd_seq_model", style="functional", compile=False)
    assert functional is not made[-1]
    assert [layer.name for layer in functional.layers] == ["pixels", "dense_1", "output"]
    assert functional.count_params() == FLAT_PARAMS


@pytest.mark.usefixtures("registry")
def test_sequential_styles_share_one_weights_layout() -> None:
    _register_both()
    sequential = build("kd_seq_model", style="sequential", compile=False)
    functional = build("kd_seq_model", style="functional", compile=False)
    sequential.set_weights(functional.get_weights())
    x = np.random.default_rng(1).random((3, 784)).astype("float32")
    np.testing.assert_allclose(sequential.predict(x, verbose=0), functional.predict(x, verbose=0),
                               rtol=1e-6)


@pytest.mark.usefixtures("registry")
@pytest.mark.parametrize(("name", "style"), [("kd_seq_model", "sequential"),
                                             ("kd_seq_model", "functional"),
                                             ("kd_fun_model", "functional")])
def test_preprocessing_wraps_the_finished_model(name: str, style: Any) -> None:
    _register_both()
    model = build(name, style=style, preprocessing="unit", compile=False)
    inner = made[-1]
    assert model is not inner and model.name == name
    assert isinstance(model, keras.Sequential) == (style == "sequential")
    assert tuple(model.inputs[0].shape) == (None, 28, 28)
    assert model.inputs[0].dtype == "uint8"
    assert [layer.name for layer in model.layers if layer.name != "pixels"][:2] == [
        "normalize", "flatten_input"
    ]
    # The builder's weights, behind Normalize -> Flatten: the same function of x / 255.
    images = _images()
    flat = images.reshape(len(images), 784).astype("float32") / 255.0
    np.testing.assert_allclose(model.predict(images, verbose=0), inner.predict(flat, verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.usefixtures("registry")
@pytest.mark.parametrize("name", ["kd_seq_model", "kd_fun_model"])
def test_train_by_name_with_a_finished_model(name: str) -> None:
    _register_both()
    result = train(name, load_dataset("mnist_sample"), epochs=1, callbacks=None, verbose=0,
                   seed=0)
    assert result.model.name == name
    assert result.model.inputs[0].dtype == "uint8"  # train builds with preprocessing="unit"
    assert result.epochs_run == 1
    assert math.isfinite(result.history["loss"][0])
    assert result.history["accuracy"][0] > 0.3
    assert type(result.model.optimizer).__name__ == "SGD"


@pytest.mark.usefixtures("registry")
def test_functional_model_registered_for_both_styles_says_how_to_fix_it() -> None:
    register_model("kd_fun_both", input_kind="flat")(_functional_builder)
    with pytest.raises(ModelConfigError) as info:
        build("kd_fun_both")  # the default style is "sequential"
    message = str(info.value)
    assert message.startswith("kd_fun_both: the builder ")
    assert "returns a functional keras.Model, not a keras.Sequential" in message
    assert "styles=('functional',)" in message
    assert build("kd_fun_both", style="functional", compile=False).name == "kd_fun_both"


@pytest.mark.usefixtures("registry")
def test_unbuilt_sequential_and_subclassed_models_get_an_input() -> None:
    @register_model("kd_unbuilt", input_kind="flat")
    def kd_unbuilt(*, num_classes: int = 10) -> keras.Model:
        """A Sequential without keras.Input: build() gives it one."""
        return keras.Sequential([keras.layers.Dense(8, name="dense_1"),
                                 keras.layers.Dense(num_classes, name="output")])

    for style in ("sequential", "functional"):
        model = build("kd_unbuilt", style=style, compile=False)  # type: ignore[arg-type]
        assert model.inputs[0].name == "pixels"
        assert model.count_params() == FLAT_PARAMS

    class Tiny(keras.Model):
        def __init__(self, num_classes: int) -> None:
            super().__init__()
            self.pool = keras.layers.GlobalAveragePooling2D()
            self.head = keras.layers.Dense(num_classes, activation="softmax")

        def call(self, x: Any) -> Any:
            return self.head(self.pool(x))

    @register_model("kd_subclassed", styles=("functional",))
    def kd_subclassed(*, num_classes: int = 10) -> keras.Model:
        """A subclassed model."""
        return Tiny(num_classes)

    model = build("kd_subclassed", num_classes=4, preprocessing="unit", compile=False)
    assert tuple(model.inputs[0].shape) == (None, 28, 28)
    assert tuple(model.outputs[0].shape) == (None, 4)
    assert model.predict(_images(2), verbose=0).shape == (2, 4)


@pytest.mark.usefixtures("registry")
def test_num_classes_and_input_shape_overrides() -> None:
    _register_both()
    assert tuple(build("kd_seq_model", num_classes=3).outputs[0].shape) == (None, 3)
    assert tuple(build("kd_fun_model", num_classes=47).outputs[0].shape) == (None, 47)
    # (28, 28) is flattened to the (784,) the model takes: no builder argument needed.
    assert tuple(build("kd_fun_model", input_shape=(28, 28)).inputs[0].shape) == (None, 28, 28)

    @register_model("kd_conv_model", styles=("functional",))
    def kd_conv_model(*, input_shape: tuple[int, ...] = (28, 28, 1)) -> keras.Model:
        """Takes input_shape; a fixed 10-class head."""
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(2, 3, name="conv_1")(inputs)
        x = keras.layers.GlobalAveragePooling2D(name="pool_1")(x)
        return keras.Model(inputs, keras.layers.Dense(10, name="output")(x))

    assert tuple(build("kd_conv_model", input_shape=(32, 32, 1)).inputs[0].shape) == (
        None, 32, 32, 1
    )
    with pytest.raises(ModelArgumentError, match="kd_conv_model has a fixed number of classes"):
        build("kd_conv_model", num_classes=3)
    with pytest.raises(ModelArgumentError) as info:
        build("kd_fun_model", input_shape=(30, 30))
    assert isinstance(info.value, TypeError)
    assert str(info.value) == (
        f"kd_fun_model: the builder {__name__}:_functional_builder returned a model taking "
        "input shape (784,) and does not take input_shape, so it cannot be built with "
        "input_shape (30, 30); add an input_shape parameter to the builder"
    )


# --- the really-wrong cases -------------------------------------------------------------------


def _two_outputs() -> keras.Model:
    inputs = keras.Input((784,))
    return keras.Model(inputs, [keras.layers.Dense(10)(inputs), keras.layers.Dense(2)(inputs)])


def _two_inputs() -> keras.Model:
    a, b = keras.Input((784,)), keras.Input((784,))
    return keras.Model([a, b], keras.layers.Dense(10)(keras.layers.Add()([a, b])))


def _image_model() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))


@pytest.mark.usefixtures("registry")
@pytest.mark.parametrize(
    ("returns", "match"),
    [
        (lambda: None, "must return a keras.Model, a list of Keras layers or a function of the "
                       "input tensor; it returned None$"),
        (lambda: 3, r"it returned 3 \(int\)$"),
        (lambda: "relu", r"it returned 'relu' \(str\)$"),
        (lambda: [], "it returned an empty list$"),
        (lambda: [keras.layers.Dense(10), "softmax"],
         r"must return Keras layers, got 'softmax' \(str\) at index 1 of its list$"),
        (lambda: [keras.Input((784,)), keras.layers.Dense(10)],
         "returned a list with an input at index 0; leave the input out, build.. adds it$"),
        (lambda: keras.Sequential, "it returned the class Sequential itself"),
        (lambda: keras.Sequential(), "it returned an empty keras.Sequential$"),
        (lambda: (lambda x: None), "graph function .* must return the output tensor; it "
                                   "returned None$"),
        (_two_outputs, "made a model with 2 outputs; a classifier has one"),
        (_two_inputs, "returned a model with 2 inputs"),
        (_image_model, r"taking input shape \(28, 28, 1\), but input_kind='flat' models are "
                       r"fed \(784,\); register it with input_kind='image'$"),
    ],
)
def test_builders_returning_the_wrong_thing_fail_clearly(returns: Any, match: str) -> None:
    def kd_wrong() -> Any:
        """Returns the wrong thing."""
        return returns()

    register_model("kd_wrong", input_kind="flat", styles=("functional",))(kd_wrong)
    with pytest.raises(ModelConfigError, match=match) as info:
        build("kd_wrong")
    message = str(info.value)
    assert message.startswith("kd_wrong: ")
    assert "\n" not in message


@pytest.mark.usefixtures("registry")
def test_builder_ignoring_num_classes_is_caught() -> None:
    @register_model("kd_deaf", input_kind="flat", styles=("functional",))
    def kd_deaf(*, num_classes: int = 10) -> keras.Model:
        """Takes num_classes, ignores it."""
        inputs = keras.Input((784,))
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))

    assert tuple(build("kd_deaf").outputs[0].shape) == (None, 10)
    with pytest.raises(ModelConfigError) as info:
        build("kd_deaf", num_classes=47)
    assert str(info.value).startswith(
        "kd_deaf: built with num_classes=47, the model outputs shape (10,), not (47,)"
    )

    @register_model("kd_wrong_default", input_kind="flat", styles=("functional",))
    def kd_wrong_default(*, num_classes: int = 10) -> keras.Model:
        """A head of 5 whatever num_classes says."""
        inputs = keras.Input((784,))
        return keras.Model(inputs, keras.layers.Dense(5)(inputs))

    with pytest.raises(ModelConfigError, match=r"num_classes=10, the model outputs shape \(5,\)"):
        build("kd_wrong_default")


@pytest.mark.usefixtures("registry")
def test_a_single_layer_is_a_one_layer_stack() -> None:
    @register_model("kd_one_layer", input_kind="flat")
    def kd_one_layer(*, num_classes: int = 10) -> keras.layers.Layer:
        """Logistic regression as one layer."""
        return keras.layers.Dense(num_classes, activation="softmax", name="output")

    assert isinstance(build("kd_one_layer"), keras.Sequential)
    assert build("kd_one_layer", style="functional").count_params() == 7850
