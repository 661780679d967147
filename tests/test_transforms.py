"""Tests for kerasdigits.transforms: the NumPy functions, Compose, and agreement with the layers."""

from __future__ import annotations

import doctest
import functools
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kerasdigits.transforms as transforms
from kerasdigits.transforms import (
    Compose,
    _numpy,
    flatten,
    normalize,
    one_hot,
    pipeline,
    pixel_stats,
)

# The autouse env-isolation fixture in conftest.py is function-scoped; sharing it between the
# examples of one hypothesis test is harmless.
FAST = settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
KERAS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


# --------------------------------------------------------------------------------------------
# strategies


def image_batches(dtype: Any = np.uint8, channel: bool = False) -> st.SearchStrategy[Any]:
    """Batches (N, H, W) or (N, H, W, 1) of raw pixels 0..255 in ``dtype``."""
    shapes = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6)
    if channel:
        shapes = shapes.map(lambda s: (*s, 1))
    if np.issubdtype(dtype, np.floating):
        elements = st.floats(0, 255, width=np.dtype(dtype).itemsize * 8)
    else:
        elements = st.integers(0, 255)
    return hnp.arrays(dtype, shapes, elements=elements)


any_pixel_arrays = hnp.arrays(
    np.uint8, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
)
nonempty_pixel_arrays = hnp.arrays(
    np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6)
)


@st.composite
def labels_and_classes(draw: st.DrawFn) -> tuple[Any, int]:
    num_classes = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.uint8, np.int32, np.int64, np.uint16]))
    labels = draw(hnp.arrays(dtype, st.integers(0, 20), elements=st.integers(0, num_classes - 1)))
    return labels, num_classes


@pytest.fixture(scope="module")
def klayers() -> ModuleType:
    """kerasdigits.transforms.layers, imported (with Keras) only by the tests that need it."""
    from kerasdigits.transforms import layers

    return layers


# --------------------------------------------------------------------------------------------
# the package


def test_public_api_is_curated_and_documented() -> None:
    assert set(transforms.__all__) == {
        "Compose",
        "ImageError",
        "flatten",
        "mnist_from_file",
        "normalize",
        "one_hot",
        "pipeline",
        "pixel_stats",
        "read_picture",
        "to_mnist",
        "to_mnist_batch",
    }
    for name in transforms.__all__:
        obj = getattr(transforms, name)
        assert obj.__doc__, name
        assert "Args:" in obj.__doc__ or name in ("Compose", "ImageError"), name
    assert transforms.__doc__
    assert "layers" in dir(transforms)


def test_docstring_examples_run() -> None:
    for module in (transforms, _numpy):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__


def test_import_does_not_load_tensorflow_or_keras() -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import kerasdigits.transforms as t\n"
        "x = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256\n"
        "y = t.flatten(t.normalize(x, 'standard'))\n"
        "assert y.shape == (2, 784) and y.dtype == np.float32\n"
        "t.one_hot(np.array([1, 2]))\n"
        "t.pipeline(t.normalize, t.flatten)(x.astype(np.uint8))\n"
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "print('loaded:', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded: []"


def test_layers_submodule_is_reachable_lazily(klayers: ModuleType) -> None:
    assert transforms.layers is klayers
    assert klayers.Normalize.__name__ == "Normalize"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        transforms.nope  # noqa: B018


# --------------------------------------------------------------------------------------------
# flatten


@FAST
@given(
    images=st.one_of(image_batches(np.uint8), image_batches(np.float32), image_batches(np.int16))
)
def test_flatten_shape_dtype_and_values(images: Any) -> None:
    n, h, w = images.shape
    out = flatten(images)
    assert out.shape == (n, h * w)
    assert out.dtype == images.dtype
    for i in range(n):
        np.testing.assert_array_equal(out[i], images[i].ravel())


@FAST
@given(images=image_batches(np.uint8, channel=True))
def test_flatten_accepts_one_channel(images: Any) -> None:
    out = flatten(images)
    assert out.shape == (images.shape[0], images.shape[1] * images.shape[2])
    np.testing.assert_array_equal(out, flatten(images[..., 0]))


def test_flatten_returns_a_view_of_contiguous_input_and_accepts_lists() -> None:
    images = np.zeros((3, 4, 5), dtype=np.uint8)
    assert np.shares_memory(flatten(images), images)
    assert flatten([[[1, 2], [3, 4]]]).tolist() == [[1, 2, 3, 4]]
    assert flatten(np.zeros((0, 28, 28), dtype=np.uint8)).shape == (0, 784)


def test_flatten_rejects_a_single_image() -> None:
    with pytest.raises(ValueError, match=r"single image of shape \(28, 28\).*images\[None\]"):
        flatten(np.zeros((28, 28), dtype=np.uint8))


@pytest.mark.parametrize("shape", [(), (784,), (2, 28, 28, 1, 1)])
def test_flatten_rejects_other_ranks(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=rf"images must have shape .*got {len(shape)}-D"):
        flatten(np.zeros(shape, dtype=np.uint8))


def test_flatten_rejects_several_channels() -> None:
    with pytest.raises(ValueError, match=r"one channel.*got shape \(2, 28, 28, 3\)"):
        flatten(np.zeros((2, 28, 28, 3), dtype=np.uint8))


# --------------------------------------------------------------------------------------------
# normalize


@FAST
@given(images=any_pixel_arrays)
def test_normalize_unit_shape_dtype_and_range(images: Any) -> None:
    out = normalize(images)
    assert out.shape == images.shape
    assert out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1))
    np.testing.assert_allclose(out, images / 255.0, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out[images == 0], 0.0)
    np.testing.assert_array_equal(out[images == 255], 1.0)


@FAST
@given(images=image_batches(np.uint8))
def test_normalize_integer_and_float_dtypes_agree_with_uint8(images: Any) -> None:
    expected = normalize(images)
    for dtype in (
        np.int16,
        np.int32,
        np.int64,
        np.uint16,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
    ):
        np.testing.assert_array_equal(normalize(images.astype(dtype)), expected, str(dtype))


@FAST
@given(images=image_batches(np.float64))
def test_normalize_float_input_uses_float32_arithmetic(images: Any) -> None:
    out = normalize(images)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, images.astype(np.float32) * np.float32(1 / 255))
    assert np.all((out >= 0) & (out <= 1))


def test_normalize_does_not_modify_its_input() -> None:
    images = np.array([[0.0, 255.0]], dtype=np.float32)
    out = normalize(images, "standard", mean=0.5, std=0.25)
    assert out is not images
    assert images.tolist() == [[0.0, 255.0]]
    assert out.tolist() == [[-2.0, 2.0]]


@FAST
@given(
    images=any_pixel_arrays,
    mean=st.floats(0, 1),
    std=st.floats(0.01, 1),
)
def test_normalize_standard_with_given_stats(images: Any, mean: float, std: float) -> None:
    out = normalize(images, "standard", mean=mean, std=std)
    assert out.shape == images.shape
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (images / 255.0 - mean) / std, rtol=1e-5, atol=1e-5)
    # exactly the layers' arithmetic
    expected = images.astype(np.float32) * np.float32(1 / (255 * std)) + np.float32(-mean / std)
    np.testing.assert_array_equal(out, expected)


@FAST
@given(images=nonempty_pixel_arrays)
def test_normalize_standard_computes_stats_from_images(images: Any) -> None:
    if images.min() == images.max():
        with pytest.raises(ValueError, match="std of images is 0"):
            normalize(images, "standard")
        return
    out = normalize(images, "standard")
    mean, std = pixel_stats(images)
    np.testing.assert_array_equal(out, normalize(images, "standard", mean=mean, std=std))
    assert abs(float(out.astype(np.float64).mean())) < 1e-5
    assert abs(float(out.astype(np.float64).std()) - 1) < 1e-5


def test_normalize_mnist_sample_standard_is_centred() -> None:
    from kerasdigits.datasets import load_dataset

    ds = load_dataset("mnist_sample")
    mean, std = pixel_stats(ds.train.images)
    assert 0.11 < mean < 0.15
    assert 0.29 < std < 0.33
    out = normalize(ds.test.images, "standard", mean=mean, std=std)
    assert out.shape == ds.test.images.shape
    assert abs(float(out.mean())) < 0.05
    assert abs(float(out.std()) - 1) < 0.05


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.array([[True, False]]), "integer .*or float dtype.*got dtype bool"),
        (np.array([[1 + 2j]]), "got dtype complex128"),
        (np.array([["a", "b"]]), "got dtype <U1"),
        (np.array([[1, None]], dtype=object), "got dtype object"),
        (
            np.array([[0, 5], [-1, 3]], dtype=np.int16),
            r"values in 0\.\.255, got images\[1, 0\] = -1",
        ),
        (np.array([0, 256, 300], dtype=np.int32), r"got images\[1\] = 256"),
        (np.array([[0.0, np.nan]]), r"NaN at images\[0, 1\]"),
        (np.array([[0.0, 255.5]]), r"finite values in \[0, 255\], got images\[0, 1\] = 255.5"),
        (np.array([np.inf], dtype=np.float32), r"got images\[0\] = inf"),
        (np.array([-0.5, 0.5]), r"images\[0\] = -0.5.*not already-scaled"),
    ],
)
def test_normalize_rejects_bad_images(images: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize(images)
    with pytest.raises(ValueError, match=match):
        normalize(images, "standard", mean=0.5, std=0.5)
    with pytest.raises(ValueError, match=match):
        pixel_stats(images)


@pytest.mark.parametrize("mode", ["Unit", "minmax", "", None, 1])
def test_normalize_rejects_unknown_mode(mode: Any) -> None:
    with pytest.raises(ValueError, match=r"mode .*; mode must be one of 'unit', 'standard'\."):
        normalize(np.zeros((1, 2, 2), dtype=np.uint8), mode)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean": 0.1}, "mean= and std= apply to mode='standard' only"),
        ({"std": 0.3}, "mean= and std= apply to mode='standard' only"),
        ({"mean": 0.1, "std": 0.3}, "mean= and std= apply to mode='standard' only"),
    ],
)
def test_normalize_unit_rejects_stats(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize(np.zeros((1, 2, 2), dtype=np.uint8), "unit", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean": 0.1}, "both mean= and std= or neither.*got std=None"),
        ({"std": 0.3}, "both mean= and std= or neither.*got mean=None"),
        ({"mean": 0.1, "std": 0.0}, r"std must be positive .*in \(0, 1\], got 0.0"),
        ({"mean": 0.1, "std": -0.3}, "std must be positive.*got -0.3"),
        ({"mean": 0.1, "std": 78.5}, "got 78.5; for a std of raw 0..255 pixels, divide it by 255"),
        ({"mean": 33.3, "std": 0.3}, r"mean must be on the unit scale, in \[0, 1\], got 33.3"),
        ({"mean": -0.1, "std": 0.3}, "mean must be on the unit scale"),
        ({"mean": 0.1, "std": float("nan")}, "std must be finite, got nan"),
        ({"mean": float("inf"), "std": 0.3}, "mean must be finite"),
        ({"mean": True, "std": 0.3}, "mean must be a real number.*got True"),
        ({"mean": 0.1, "std": "0.3"}, "std must be a real number.*got '0.3'"),
    ],
)
def test_normalize_standard_rejects_bad_stats(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize(np.zeros((1, 2, 2), dtype=np.uint8), "standard", **kwargs)


def test_normalize_standard_accepts_numpy_scalars() -> None:
    images = np.array([0, 255], dtype=np.uint8)
    out = normalize(images, "standard", mean=np.float32(0.5), std=np.float64(0.5))
    assert out.tolist() == [-1.0, 1.0]


def test_normalize_standard_rejects_constant_images_without_stats() -> None:
    with pytest.raises(ValueError, match=r"std of images is 0 .*pass mean= and std="):
        normalize(np.full((2, 3, 3), 7, dtype=np.uint8), "standard")


# --------------------------------------------------------------------------------------------
# pixel_stats


@FAST
@given(images=nonempty_pixel_arrays)
def test_pixel_stats_match_numpy(images: Any) -> None:
    mean, std = pixel_stats(images)
    assert type(mean) is float
    assert type(std) is float
    assert 0 <= mean <= 1
    assert 0 <= std <= 0.5
    unit = images.astype(np.float64) / 255
    assert mean == pytest.approx(unit.mean(), rel=1e-12, abs=1e-12)
    assert std == pytest.approx(unit.std(), rel=1e-9, abs=1e-9)


@FAST
@given(images=nonempty_pixel_arrays, chunk=st.integers(1, 40))
def test_pixel_stats_chunking_gives_the_same_result(images: Any, chunk: int) -> None:
    expected = pixel_stats(images)
    with mock.patch.object(_numpy, "_CHUNK_ELEMENTS", chunk):
        mean, std = pixel_stats(images)
    assert mean == pytest.approx(expected[0], rel=1e-12, abs=1e-15)
    assert std == pytest.approx(expected[1], rel=1e-9, abs=1e-12)


def test_pixel_stats_of_known_values() -> None:
    assert pixel_stats(np.array([[0, 255]], dtype=np.uint8)) == (0.5, 0.5)
    assert pixel_stats(np.full((3, 2, 2), 51.0)) == (0.2, 0.0)
    assert pixel_stats([[0, 0], [255, 255]]) == (0.5, 0.5)


def test_pixel_stats_makes_no_full_float_copy() -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(60000, 28, 28), dtype=np.uint8)
    tracemalloc.start()
    try:
        mean, std = pixel_stats(images)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A float64 copy would be 376 MB (float32: 188 MB); the chunks stay near 8 MB.
    assert peak < 32 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert mean == pytest.approx(0.5, abs=1e-3)
    assert std == pytest.approx(np.sqrt((256**2 - 1) / 12) / 255, abs=1e-3)


def test_pixel_stats_rejects_empty_images() -> None:
    with pytest.raises(ValueError, match=r"images is empty \(shape \(0, 28, 28\)\)"):
        pixel_stats(np.zeros((0, 28, 28), dtype=np.uint8))


# --------------------------------------------------------------------------------------------
# one_hot


@FAST
@given(data=labels_and_classes())
def test_one_hot_shape_dtype_and_round_trip(data: tuple[Any, int]) -> None:
    labels, num_classes = data
    out = one_hot(labels, num_classes)
    assert out.shape == (len(labels), num_classes)
    assert out.dtype == np.float32
    assert set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out.sum(axis=1), 1.0)
    np.testing.assert_array_equal(out.argmax(axis=1), labels)
    np.testing.assert_array_equal(one_hot(labels[:, None], num_classes), out)
    np.testing.assert_array_equal(one_hot(labels.astype(np.float64), num_classes), out)
    np.testing.assert_array_equal(one_hot(labels.tolist(), num_classes), out)


def test_one_hot_default_is_ten_classes() -> None:
    out = one_hot(np.array([9, 0], dtype=np.uint8))
    assert out.shape == (2, 10)
    assert out[0, 9] == 1.0
    assert out[1, 0] == 1.0
    assert one_hot(np.array([], dtype=np.int64)).shape == (0, 10)
    assert one_hot(np.array([1]), np.int64(3)).tolist() == [[0.0, 1.0, 0.0]]


@pytest.mark.parametrize("num_classes", [0, -1, True, 2.5, 10.0, "10", None])
def test_one_hot_rejects_bad_num_classes(num_classes: Any) -> None:
    with pytest.raises(ValueError, match=r"num_classes must be a positive int, got"):
        one_hot(np.array([0]), num_classes)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([[0, 1], [1, 0]]), r"shape \(N,\) or \(N, 1\), got shape \(2, 2\)"),
        (np.array(3), r"got shape \(\)"),
        (np.zeros((2, 1, 1), dtype=int), r"got shape \(2, 1, 1\)"),
        (np.array([True, False]), "integer dtype, got dtype bool"),
        (np.array(["1", "2"]), "integer dtype, got dtype <U1"),
        (np.array([1 + 0j]), "integer dtype, got dtype complex128"),
        (np.array([0.0, 1.0, 2.5]), r"non-integer labels: labels\[2\] = 2.5"),
        (np.array([[0.0], [np.nan]]), r"non-integer labels: labels\[1\] = nan"),
        (np.array([1.0, np.inf]), r"non-integer labels: labels\[1\] = inf"),
        (np.array([0, 9, 10, 11]), r"in 0\.\.9 \(num_classes=10\), got labels\[2\] = 10"),
        (np.array([3, -1], dtype=np.int8), r"in 0\.\.9 .*got labels\[1\] = -1"),
        (np.array([1.0, 12.0]), r"got labels\[1\] = 12.0"),
    ],
)
def test_one_hot_rejects_bad_labels(labels: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        one_hot(labels)


# --------------------------------------------------------------------------------------------
# Compose and pipeline


def test_compose_applies_in_order() -> None:
    def add_one(x: int) -> int:
        return x + 1

    def double(x: int) -> int:
        return x * 2

    assert Compose([add_one, double])(3) == 8
    assert Compose([double, add_one])(3) == 7
    assert pipeline(add_one, double)(3) == 8
    assert Compose([])(5) == 5
    assert pipeline()("x") == "x"


def test_compose_with_transforms_matches_manual_calls() -> None:
    images = np.random.default_rng(1).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    prep = pipeline(
        functools.partial(normalize, mode="standard", mean=MNIST_MEAN, std=MNIST_STD), flatten
    )
    expected = flatten(normalize(images, "standard", mean=MNIST_MEAN, std=MNIST_STD))
    np.testing.assert_array_equal(prep(images), expected)
    assert prep(images).shape == (4, 784)


def test_compose_repr_names_the_steps() -> None:
    prep = pipeline(functools.partial(normalize, mode="standard", mean=0.5, std=0.25), flatten)
    assert repr(prep) == "Compose([normalize(mode='standard', mean=0.5, std=0.25), flatten])"
    assert repr(Compose([])) == "Compose([])"
    assert repr(Compose([prep, one_hot])) == f"Compose([{prep!r}, one_hot])"
    assert "lambda" in repr(Compose([lambda x: x]))


def test_compose_is_a_sequence() -> None:
    prep = Compose(iter([normalize, flatten]))
    assert len(prep) == 2
    assert list(prep) == [normalize, flatten]
    assert prep[0] is normalize
    assert prep[-1] is flatten
    assert prep[1:] == Compose([flatten])
    assert prep == pipeline(normalize, flatten)
    assert prep != pipeline(flatten, normalize)
    assert hash(prep) == hash(pipeline(normalize, flatten))
    assert prep.transforms == (normalize, flatten)


def test_compose_rejects_non_callables() -> None:
    with pytest.raises(TypeError, match=r"transforms\[1\] must be callable, got int 3"):
        Compose([normalize, 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"transforms\[0\] must be callable, got str"):
        pipeline("normalize")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"single callable normalize; use Compose\(\[normalize\]\)"):
        Compose(normalize)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# agreement with the Keras layers


@KERAS
@given(images=image_batches(np.uint8))
def test_normalize_unit_matches_layer(klayers: ModuleType, images: Any) -> None:
    layer_out = np.asarray(klayers.Normalize()(images))
    assert layer_out.dtype == np.float32
    np.testing.assert_allclose(normalize(images), layer_out, rtol=0, atol=1e-6)


@KERAS
@given(images=image_batches(np.uint8), mean=st.floats(0, 1), std=st.floats(0.01, 1))
def test_normalize_standard_matches_layer(
    klayers: ModuleType, images: Any, mean: float, std: float
) -> None:
    layer = klayers.Normalize("standard", mean=mean, std=std)
    layer_out = np.asarray(layer(images))
    numpy_out = normalize(images, "standard", mean=mean, std=std)
    np.testing.assert_allclose(numpy_out, layer_out, rtol=1e-6, atol=1e-6)


@KERAS
@given(images=st.one_of(image_batches(np.uint8), image_batches(np.uint8, channel=True)))
def test_flatten_matches_layer(klayers: ModuleType, images: Any) -> None:
    layer_out = np.asarray(klayers.Flatten()(images))
    numpy_out = flatten(images)
    assert layer_out.shape == numpy_out.shape
    np.testing.assert_array_equal(numpy_out, layer_out)


@KERAS
@given(data=labels_and_classes(), column=st.booleans())
def test_one_hot_matches_layer(klayers: ModuleType, data: tuple[Any, int], column: bool) -> None:
    labels, num_classes = data
    if column:
        labels = labels[:, None]
    layer_out = np.asarray(klayers.OneHot(num_classes)(labels))
    assert layer_out.dtype == np.float32
    np.testing.assert_array_equal(one_hot(labels, num_classes), layer_out)


def test_add_channel_layer(klayers: ModuleType) -> None:
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    assert tuple(klayers.AddChannel()(images).shape) == (2, 28, 28, 1)
    assert tuple(klayers.AddChannel()(images[..., None]).shape) == (2, 28, 28, 1)


# Keras' own saving code trips NumPy 2's __array__(copy=...) deprecation; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_model_with_layers_saves_and_loads(klayers: ModuleType, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(28, 28), dtype="uint8")
    x = klayers.Normalize("standard", mean=MNIST_MEAN, std=MNIST_STD)(inputs)
    x = klayers.Flatten()(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(2).integers(0, 256, size=(8, 28, 28), dtype=np.uint8)
    before = np.asarray(model(images))

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    after = np.asarray(loaded(images))
    np.testing.assert_array_equal(before, after)
    norm = next(layer for layer in loaded.layers if isinstance(layer, klayers.Normalize))
    assert (norm.mode, norm.mean, norm.std) == ("standard", MNIST_MEAN, MNIST_STD)
    assert any(isinstance(layer, klayers.Flatten) for layer in loaded.layers)
    assert loaded.output_shape == (None, 10)
    # The in-model preprocessing agrees with the NumPy one.
    head = keras.Model(loaded.input, loaded.layers[2].output)
    np.testing.assert_allclose(
        np.asarray(head(images)),
        flatten(normalize(images, "standard", mean=MNIST_MEAN, std=MNIST_STD)),
        rtol=1e-6,
        atol=1e-6,
    )
