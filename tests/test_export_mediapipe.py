"""A real consumer of the metadata: MediaPipe Tasks' ImageClassifier opens the mlkit export.

MediaPipe reads the same TFLite metadata as ML Kit: the input's ImageProperties and
NormalizationOptions (it normalizes float input itself) and the output's TENSOR_AXIS_LABELS
file. Each digit is handed to it as an RGB image, as a phone camera frame would be.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from kerasdigits import build, load_dataset
from kerasdigits.datasets import Dataset
from kerasdigits.export import export_tflite
from kerasdigits.export._verify import run_tflite

mp = pytest.importorskip("mediapipe")
vision = pytest.importorskip("mediapipe.tasks.python.vision")
base_options = pytest.importorskip("mediapipe.tasks.python.core.base_options")

N = 50


@pytest.fixture(scope="module")
def data() -> Dataset:
    ds = load_dataset("mnist_sample")
    return dataclasses.replace(ds, test=ds.test.take(slice(0, 300)))


@pytest.fixture(scope="module")
def trained(data: Dataset) -> Any:
    keras.utils.set_random_seed(0)
    model = build("mlp2x512", preprocessing="unit")
    model.fit(data.train.images, data.train.labels, epochs=2, batch_size=64, verbose=0)
    return model


def classify(path: Path, images: np.ndarray) -> list[Any]:
    """Top-3 categories MediaPipe gives for each (h, w) image, fed as an sRGB picture."""
    options = vision.ImageClassifierOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(path)), max_results=3)
    results = []
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for image in images:
            rgb = np.ascontiguousarray(np.repeat(image[..., None], 3, axis=-1))
            result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            results.append(result.classifications[0].categories)
    return results


@pytest.mark.parametrize(("dtype", "quantization"), [("float32", None), ("uint8", None),
                                                     ("uint8", "int8"), ("float32", "int8")])
def test_mediapipe_classifies_real_digits_with_our_labels(dtype: str, quantization: str | None,
                                                          trained: Any, data: Dataset,
                                                          tmp_path: Path) -> None:
    result = export_tflite(trained, tmp_path / "digits.tflite", target="mlkit",
                           input_dtype=dtype, quantization=quantization, dataset=data)
    images, labels = data.test.images[:N], data.test.labels[:N]
    categories = classify(result.path, images)
    ours = run_tflite(result.path.read_bytes(), images)  # LiteRT, fed as the metadata says
    top = [c[0] for c in categories]
    assert all(len(c) == 3 for c in categories)
    assert {c.category_name for c in top} <= set(result.labels)
    names = np.array([c.category_name for c in top])
    assert (names == labels.astype(str)).mean() >= 0.85
    # MediaPipe applied our NormalizationOptions: its scores are the graph's probabilities.
    assert [c.index for c in top] == ours.argmax(axis=1).tolist()
    scores = np.array([c.score for c in top])
    assert np.abs(scores - ours.max(axis=1)).max() <= 1e-4


def test_mediapipe_reports_custom_label_names_and_inverted_input(trained: Any, data: Dataset,
                                                                 tmp_path: Path) -> None:
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    result = export_tflite(trained, tmp_path / "paper.tflite", target="mlkit",
                           input_dtype="uint8", labels=words, invert=True, dataset=data)
    paper = 255 - data.test.images[:N]  # dark ink on light paper
    top = [c[0] for c in classify(result.path, paper)]
    names = [c.category_name for c in top]
    expected = [words[i] for i in data.test.labels[:N]]
    assert set(names) <= set(words)
    assert np.mean([a == b for a, b in zip(names, expected, strict=True)]) >= 0.85


def test_without_metadata_mediapipe_refuses_float_input(trained: Any, data: Dataset,
                                                        tmp_path: Path) -> None:
    """The error of the tutorials, reproduced: the metadata is what makes the file usable."""
    result = export_tflite(trained, tmp_path / "bare.tflite", target="mlkit", metadata=False,
                           input_dtype="float32", dataset=data, verify=False)
    with pytest.raises(Exception, match="requires specifying NormalizationOptions metadata"):
        classify(result.path, data.test.images[:1])
