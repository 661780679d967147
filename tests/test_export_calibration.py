"""int8 calibration data (``representative_data=``) is checked like the images ``predict`` takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kerasdigits import build
from kerasdigits.export import ExportError, export_tflite

LABELS = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def model() -> Any:
    """An untrained mlp256 taking raw uint8 pixels (calibration needs no trained weights)."""
    return build("mlp256", preprocessing="unit")


def _calibration(dtype: type, value: object) -> np.ndarray:
    """Twenty valid images of ``dtype`` whose last one has one pixel ``value``."""
    images = np.full((20, 28, 28), 0.5 if np.issubdtype(dtype, np.floating) else 100, dtype)
    images[-1, 3, 4] = value
    return images


def _export(model: Any, path: Path, data: Any) -> Any:
    return export_tflite(model, path, labels=LABELS, verify=False, quantization="int8",
                         representative_data=data)


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(_calibration(np.float32, np.nan), r"float pixels must be finite, got NaN",
                 id="float-nan"),
    pytest.param(_calibration(np.float64, np.inf), r"float pixels must be finite, got inf",
                 id="float-inf"),
    pytest.param(np.full((20, 28, 28), 255.0, np.float32),
                 r"float pixels must be in \[0, 1\]; divide by 255 or pass uint8",
                 id="float-0-255"),
    pytest.param(_calibration(np.float32, 1.01), r"float pixels must be in \[0, 1\]",
                 id="float-above-1"),
    pytest.param(_calibration(np.float32, -0.5), r"float pixels must be in \[0, 1\]",
                 id="float-negative"),
    pytest.param(_calibration(np.int64, 300),
                 r"integer pixels must be in 0\.\.255, got values from 100 to 300 \(int64\)",
                 id="int64-300"),
    pytest.param(_calibration(np.int32, -1), r"integer pixels must be in 0\.\.255", id="int-neg"),
    pytest.param(np.zeros((20, 28, 28), bool), r"must be uint8 or float pixels, got dtype bool",
                 id="bool"),
])
def test_bad_calibration_values_raise_export_error_and_leave_no_file(
        model: Any, tmp_path: Path, data: np.ndarray, message: str) -> None:
    with pytest.raises(ExportError, match=rf"^representative_data: .*{message}"):
        _export(model, tmp_path / "m.tflite", data)
    assert list(tmp_path.iterdir()) == []


def test_calibration_accepts_other_integer_dtypes_and_unit_floats(model: Any,
                                                                  tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(40, 28, 28)).astype(np.uint8)
    pixels[0, 0, :2] = (0, 255)
    reference = _export(model, tmp_path / "uint8.tflite", pixels).path.read_bytes()
    # The same pixels as int64 or as floats in [0, 1] calibrate the very same file.
    assert _export(model, tmp_path / "int64.tflite",
                   pixels.astype(np.int64)).path.read_bytes() == reference
    assert _export(model, tmp_path / "float.tflite",
                   pixels.astype(np.float32) / 255).path.read_bytes() == reference
