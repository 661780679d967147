"""One decision of what a model takes: train, predict, evaluate and export all follow it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from kerasdigits import build, list_models, load_dataset, predict
from kerasdigits.export import export_tflite
from kerasdigits.export._convert import analyze_model
from kerasdigits.training._feeding import input_contract
from kerasdigits.transforms.layers import Normalize

PREPROCESSING = [None, "unit", "standard"]


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_dataset("mnist_sample").test.images[:16]


@pytest.fixture(autouse=True)
def _no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDIGITS_DISABLE_PLUGINS", "1")


def direct_feed(model: Any, images: np.ndarray, scale: str) -> np.ndarray:
    """Feed the model by hand, the way its input contract says."""
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    x = images.reshape((len(images), *shape))
    if model.inputs[0].dtype == "uint8":
        return np.asarray(model(x, training=False))
    x = x.astype(np.float32) * (1.0 if scale == "raw" else 1.0 / 255.0)
    return np.asarray(model(x, training=False))


@pytest.mark.parametrize("preprocessing", PREPROCESSING, ids=str)
@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_is_fed_as_its_contract_says(name: str, preprocessing: str | None,
                                                     images: np.ndarray) -> None:
    keras.utils.set_random_seed(0)
    model = build(name, preprocessing=preprocessing, compile=False)
    contract = input_contract(model)
    assert contract.dtype == ("float32" if preprocessing is None else "uint8")
    assert contract.scale == ("unit" if preprocessing is None else "raw")
    assert (contract.height, contract.width, contract.channels) == (28, 28, 1)
    # Export plans its input from the same decision.
    assert analyze_model(model).pixel_scale == contract.scale
    # predict on raw uint8 pixels and on [0, 1] floats gives what feeding by hand gives.
    expected = direct_feed(model, images, contract.scale)
    _, from_uint8 = predict(model, images)
    _, from_float = predict(model, images.astype(np.float32) / 255.0)
    np.testing.assert_allclose(from_uint8, expected, atol=1e-5)
    np.testing.assert_allclose(from_float, expected, atol=1e-5)


def float_model_normalizing_first() -> Any:
    """float32 input, first layer Normalize: it takes pixels 0..255 as floats."""
    inputs = keras.Input((28, 28), dtype="float32")
    x = Normalize()(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="float_raw")


def test_a_float_model_that_normalizes_first_is_not_divided_twice(images: np.ndarray,
                                                                  tmp_path: Path) -> None:
    """The bug: train/predict divided by 255 before the model's own Normalize divided again."""
    keras.utils.set_random_seed(1)
    model = float_model_normalizing_first()
    assert input_contract(model).scale == "raw"
    expected = np.asarray(model(images.astype(np.float32), training=False))
    _, probs = predict(model, images)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    # The export feeds it the same way: its parity check with Keras passes.
    result = export_tflite(model, tmp_path / "f.tflite", input_dtype="float32",
                           labels=[str(i) for i in range(10)], dataset="mnist_sample",
                           verify=100)
    assert result.verification is not None and result.verification.parity
    assert (result.input_mean, result.input_std) == (0.0, 1.0)


def test_training_feeds_a_float_model_that_normalizes_first_raw_pixels() -> None:
    """A model trained through train() learns on what predict later feeds it."""
    from kerasdigits import train

    ds = load_dataset("mnist_sample")
    keras.utils.set_random_seed(2)
    model = float_model_normalizing_first()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    train(model, ds, epochs=3, callbacks=None, validation="none", verbose=0, seed=2)
    labels, _ = predict(model, ds.test.images)
    # Fed pixel/255 (the old bug), Normalize would see values 255x too small: near chance.
    assert (labels == ds.test.labels).mean() > 0.85
