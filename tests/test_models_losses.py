"""The zoo's losses: label smoothing on integer labels, in a model file and across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from kerasdigits import save_model  # noqa: E402
from kerasdigits.models import CompileSettings, build  # noqa: E402
from kerasdigits.models.losses import SmoothedSparseCategoricalCrossentropy  # noqa: E402


def _probabilities(n: int, classes: int = 10) -> np.ndarray:
    return np.random.default_rng(0).dirichlet(np.ones(classes), n).astype("float32")


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_the_loss_is_categorical_crossentropy_on_smoothed_one_hot_labels(smoothing: float) -> None:
    labels = np.array([0, 3, 9, 3, 1])
    probs = _probabilities(len(labels))
    loss = SmoothedSparseCategoricalCrossentropy(label_smoothing=smoothing)
    targets = np.full((len(labels), 10), smoothing / 10, dtype="float64")
    targets[np.arange(len(labels)), labels] += 1 - smoothing
    clipped = np.clip(probs.astype("float64"), 1e-7, 1 - 1e-7)
    expected = float(np.mean(-(targets * np.log(clipped)).sum(axis=1)))
    assert float(loss(labels, probs)) == pytest.approx(expected, rel=1e-5)
    if smoothing == 0.0:  # nothing spread: Keras's own sparse cross-entropy
        plain = keras.losses.SparseCategoricalCrossentropy()(labels, probs)
        assert float(loss(labels, probs)) == pytest.approx(float(plain), rel=1e-6)


def test_labels_of_shape_n_by_1_and_logits() -> None:
    labels = np.array([2, 0, 1])
    logits = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    probs = np.asarray(keras.ops.softmax(logits))
    from_logits = SmoothedSparseCategoricalCrossentropy(0.2, from_logits=True)
    from_probs = SmoothedSparseCategoricalCrossentropy(0.2)
    assert float(from_logits(labels[:, None], logits)) == pytest.approx(
        float(from_probs(labels, probs)), rel=1e-4)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2, float("nan"), "0.1", True, None])
def test_bad_label_smoothing_is_refused_by_name(bad: object) -> None:
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\)"):
        SmoothedSparseCategoricalCrossentropy(label_smoothing=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label_smoothing"):
        CompileSettings(label_smoothing=bad)  # type: ignore[arg-type]


def test_compile_settings_pick_the_loss() -> None:
    assert CompileSettings().make_loss() == "sparse_categorical_crossentropy"
    smoothed = CompileSettings(label_smoothing=0.1).make_loss()
    assert isinstance(smoothed, SmoothedSparseCategoricalCrossentropy)
    assert smoothed.label_smoothing == pytest.approx(0.1)
    assert CompileSettings(label_smoothing=0.1).make_loss() is not smoothed  # fresh each call
    with pytest.raises(ValueError, match="applies to the default loss"):
        CompileSettings(loss="mse", label_smoothing=0.1)


def test_a_model_compiled_with_it_reloads_in_a_fresh_process(tmp_path: Path) -> None:
    model = build("mlp256", compile=False)
    model.compile(**CompileSettings(label_smoothing=0.2).compile_kwargs())
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.arange(64) % 10
    model.fit(x, y, epochs=1, verbose=0)
    path = save_model(model, tmp_path / "smoothed.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    code = (
        "import numpy as np\n"
        "from kerasdigits import load_model\n"
        f"m = load_model({str(path)!r})\n"
        f"x, y = np.load({str(tmp_path / 'x.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})\n"
        "m.fit(x, y, epochs=1, verbose=0)  # the restored loss trains on\n"
        "print(type(m.loss).__name__, m.loss.label_smoothing)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["SmoothedSparseCategoricalCrossentropy", "0.2"]
