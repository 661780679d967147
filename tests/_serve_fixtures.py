"""What test_serve_api.py and test_serve_browser.py share: one trained model per session.

``served_models`` trains ``fast_convnet`` on the bundled MNIST sample for one epoch (seed 0) and
exports it twice for ML Kit (the default ``uint8`` RGB input): float and int8. The result is
cached in this module, so the two test files train once between them (a session fixture
imported into two modules is two fixtures to pytest). Also helpers to draw test digits as
picture files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

#: Bundled sample's test images used by the tests (the first ones).
TEST_IMAGES = 200


@dataclass(frozen=True)
class ServedModels:
    """The trained model, its exports, and the test images they are checked on."""

    keras: Path
    float_tflite: Path
    int8_tflite: Path
    images: np.ndarray
    labels: np.ndarray


_CACHE: dict[str, ServedModels] = {}


def _train_and_export(folder: Path) -> ServedModels:
    from kerasdigits import load_dataset, train
    from kerasdigits.export import export_tflite

    ds = load_dataset("mnist_sample")
    result = train("fast_convnet", ds, epochs=1, seed=0, callbacks=None, verbose=0)
    keras_path = result.save(folder / "model.keras")
    float_path = folder / "digits.tflite"
    int8_path = folder / "digits_int8.tflite"
    export_tflite(result.model, float_path, target="mlkit", dataset=ds, verify=200)
    export_tflite(result.model, int8_path, target="mlkit", quantization="int8", dataset=ds,
                  verify=200)
    return ServedModels(keras=Path(keras_path), float_tflite=float_path,
                        int8_tflite=int8_path, images=ds.test.images[:TEST_IMAGES],
                        labels=ds.test.labels[:TEST_IMAGES])


@pytest.fixture(scope="session")
def served_models(tmp_path_factory: pytest.TempPathFactory) -> ServedModels:
    """``fast_convnet`` trained 1 epoch on ``mnist_sample``, saved and exported (float, int8)."""
    if "models" not in _CACHE:
        _CACHE["models"] = _train_and_export(tmp_path_factory.mktemp("served_models"))
    return _CACHE["models"]


def photo_png(image: np.ndarray, *, size: int = 160, seed: int = 0) -> bytes:
    """A PNG "photo" of an MNIST digit: dark ink on light, noisy paper, RGB, ``size`` pixels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    big = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), np.float64)
    paper = 225.0 + rng.normal(0.0, 6.0, (size, size))
    gray = paper - big / 255.0 * 190.0
    rgb = np.stack([gray, gray * 0.97, gray * 0.92], axis=-1)
    stream = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(stream, "PNG")
    return stream.getvalue()
