"""The zoo's own Keras layers: FastBatchNormalization, SpaceToDepth, RandomAffine and the
test-time pair TestTimeCopies / AverageCopies (RandomShift is tested with the zoo models that
use it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from _shift import MOVES, shifted  # noqa: E402
from kerasdigits.models.layers import (  # noqa: E402
    AverageCopies,
    FastBatchNormalization,
    RandomAffine,
    SpaceToDepth,
    TestTimeCopies,
)

# --- FastBatchNormalization ----------------------------------------------------------------


def _pair(**kwargs: object) -> tuple[object, object]:
    keras.utils.set_random_seed(0)
    return keras.layers.BatchNormalization(**kwargs), FastBatchNormalization(**kwargs)


@pytest.mark.parametrize("shape", [(16, 5, 6, 3), (32, 7)])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9, "epsilon": 1e-5},
                                    {"center": False}, {"scale": False}])
def test_fast_batch_norm_trains_like_batch_norm(shape: tuple[int, ...], kwargs: dict) -> None:
    rng = np.random.default_rng(0)
    plain, fast = _pair(**kwargs)
    plain.build(shape)
    fast.build(shape)
    if plain.scale:  # non-trivial gamma and beta, the same in both
        gamma = rng.normal(1, 0.3, shape[-1]).astype("float32")
        plain.gamma.assign(gamma)
        fast.gamma.assign(gamma)
    if plain.center:
        beta = rng.normal(0, 0.3, shape[-1]).astype("float32")
        plain.beta.assign(beta)
        fast.beta.assign(beta)
    for step in range(3):
        x = tf.constant(rng.normal(step, 2.0, shape).astype("float32"))
        upstream = tf.constant(rng.normal(size=shape).astype("float32"))
        grads = []
        outputs = []
        for layer in (plain, fast):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(y * upstream)
            grads.append(tape.gradient(loss, [x, *layer.trainable_weights]))
            outputs.append(np.asarray(y))
        np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-4, atol=1e-4)
        for g_fast, g_plain in zip(grads[1], grads[0], strict=True):
            np.testing.assert_allclose(np.asarray(g_fast), np.asarray(g_plain),
                                       rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(fast.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(fast.moving_variance.numpy(), plain.moving_variance.numpy(),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(fast.moving_mean.numpy(), 0)  # the statistics did move
    x = rng.normal(size=shape).astype("float32")
    np.testing.assert_allclose(np.asarray(fast(x, training=False)),
                               np.asarray(plain(x, training=False)), rtol=1e-5, atol=1e-5)


def test_fast_batch_norm_falls_back_where_the_kernel_does_not_apply() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6, 5)).astype("float32")  # rank 3
    for kwargs in ({}, {"axis": 1}):
        plain, fast = _pair(**kwargs)
        np.testing.assert_allclose(np.asarray(fast(x, training=True)),
                                   np.asarray(plain(x, training=True)), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(fast.moving_variance.numpy(), plain.moving_variance.numpy(),
                                   rtol=1e-5)
    frozen = FastBatchNormalization()
    frozen.build((8, 3))
    frozen.trainable = False  # a frozen layer uses its moving statistics, as Keras's does
    y = np.asarray(frozen(np.full((8, 3), 5.0, "float32"), training=True))
    np.testing.assert_allclose(y, 5.0 / np.sqrt(1.0 + frozen.epsilon), rtol=1e-5)
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), np.zeros(3))


def test_fast_batch_norm_saves_and_loads(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 4, 2)), FastBatchNormalization(momentum=0.8)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(2).normal(3, 2, (64, 4, 4, 2)).astype("float32")
    model.fit(x, x, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.layers[0]
    assert isinstance(layer, FastBatchNormalization)
    assert layer.momentum == pytest.approx(0.8)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


# --- SpaceToDepth --------------------------------------------------------------------------


def _space_to_depth(x: np.ndarray, block: int) -> np.ndarray:
    n, h, w, c = x.shape
    x = x.reshape(n, h // block, block, w // block, block, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h // block, w // block, block * block * c)


@pytest.mark.parametrize(("shape", "block"), [((2, 28, 28, 1), 2), ((3, 8, 12, 3), 4)])
def test_space_to_depth_moves_patches_into_channels(shape: tuple[int, ...], block: int) -> None:
    x = np.arange(np.prod(shape), dtype="float32").reshape(shape)
    y = np.asarray(SpaceToDepth(block)(x))
    np.testing.assert_array_equal(y, _space_to_depth(x, block))
    # The top-left 2x2 patch of image 0, channel 0, row by row.
    if block == 2 and shape[-1] == 1:
        np.testing.assert_array_equal(y[0, 0, 0], [0, 1, 28, 29])
    layer = SpaceToDepth(block)
    assert layer.compute_output_shape((None, *shape[1:])) == (
        None, shape[1] // block, shape[2] // block, shape[3] * block * block)


def test_space_to_depth_rejects_what_it_cannot_split() -> None:
    for block in (1, 0, 2.0, True):
        with pytest.raises(ValueError, match="block must be an int >= 2"):
            SpaceToDepth(block)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image width 27 is not a multiple of block 2"):
        keras.Sequential([keras.Input((28, 27, 1)), SpaceToDepth(2)])
    with pytest.raises(ValueError, match=r"expects \(batch, height, width, channels\)"):
        keras.Sequential([keras.Input((784,)), SpaceToDepth(2)])


def test_space_to_depth_saves_and_loads(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((6, 6, 1)), SpaceToDepth(3, name="s2d")])
    path = tmp_path / "s2d.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("s2d").block == 3
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), _space_to_depth(x, 3))


def _op_types(layer: object, shape: tuple[int, ...], training: bool) -> set[str]:
    fn = tf.function(lambda x: layer(x, training=training))  # type: ignore[operator]
    graph = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32)).graph
    return {op.type for op in graph.get_operations()}


def test_fast_batch_norm_uses_the_fused_kernel_only_when_training() -> None:
    for shape in ((8, 4, 4, 3), (8, 3)):
        layer = FastBatchNormalization()
        layer.build(shape)
        assert "FusedBatchNormV3" in _op_types(layer, shape, True)
        assert "FusedBatchNormV3" not in _op_types(layer, shape, False)
    rank3 = FastBatchNormalization()
    rank3.build((8, 4, 3))
    assert "FusedBatchNormV3" not in _op_types(rank3, (8, 4, 3), True)


# --- RandomAffine ----------------------------------------------------------------------------


def _images(n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).random((n, 28, 28, 1)).astype("float32")


def test_random_affine_mirrors_exactly_half_of_the_time_and_nothing_else() -> None:
    x = _images()
    y = np.asarray(RandomAffine(flip=True, seed=1)(x, training=True))
    same = np.isclose(y, x, atol=1e-5).all(axis=(1, 2, 3))
    mirrored = np.isclose(y, x[:, :, ::-1], atol=1e-5).all(axis=(1, 2, 3))
    assert (same | mirrored).all()
    assert 16 <= mirrored.sum() <= 48  # each image a coin toss


def test_random_affine_shifts_whole_pixels_as_asked() -> None:
    # A single bright pixel: wherever the warp takes it, its mass stays close to one pixel's
    # and its centre moves at most `shift` of the image (2.8 px for 0.1).
    x = np.zeros((32, 28, 28, 1), np.float32)
    x[:, 14, 14] = 1.0
    y = np.asarray(RandomAffine(shift=0.1, seed=3)(x, training=True))
    rows, cols = np.mgrid[0:28, 0:28]
    mass = y[..., 0].sum(axis=(1, 2))
    np.testing.assert_allclose(mass, 1.0, atol=1e-5)
    dy = (y[..., 0] * rows).sum(axis=(1, 2)) - 14
    dx = (y[..., 0] * cols).sum(axis=(1, 2)) - 14
    assert np.abs(dy).max() <= 2.8 + 1e-4 and np.abs(dx).max() <= 2.8 + 1e-4
    assert np.abs(dx).max() > 1.0 and np.abs(dy).max() > 1.0  # it did move them


def test_random_affine_rotates_and_zooms_about_the_centre() -> None:
    # A centred ring stays centred under rotation and zoom alone.
    rows, cols = np.mgrid[0:28, 0:28]
    ring = (np.abs(np.hypot(rows - 13.5, cols - 13.5) - 8) < 1.5).astype(np.float32)
    x = np.repeat(ring[None, :, :, None], 16, axis=0)
    y = np.asarray(RandomAffine(rotation=30, zoom=0.2, seed=4)(x, training=True))[..., 0]
    centre_y = (y * rows).sum(axis=(1, 2)) / y.sum(axis=(1, 2))
    centre_x = (y * cols).sum(axis=(1, 2)) / y.sum(axis=(1, 2))
    np.testing.assert_allclose(centre_y, 13.5, atol=0.1)
    np.testing.assert_allclose(centre_x, 13.5, atol=0.1)
    radius = (y * np.hypot(rows - 13.5, cols - 13.5)).sum(axis=(1, 2)) / y.sum(axis=(1, 2))
    assert radius.min() < 7.8 and radius.max() > 8.2  # zoomed in and out (8 unzoomed)


def test_random_affine_is_inactive_at_inference_and_without_options() -> None:
    x = _images(4)
    layer = RandomAffine(shift=0.2, rotation=20, zoom=0.2, flip=True, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_allclose(np.asarray(RandomAffine(seed=0)(x, training=True)), x, atol=1e-6)


def test_random_affine_is_seeded() -> None:
    x = _images(8)
    runs = [np.asarray(RandomAffine(shift=0.1, rotation=10, seed=7)(x, training=True))
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shift": 1.0}, r"shift must be a number in \[0, 1\), got 1.0"),
    ({"shift": -0.1}, r"shift must be a number in \[0, 1\)"),
    ({"rotation": -1}, r"rotation must be a number of degrees in \[0, 180\], got -1"),
    ({"rotation": 181}, r"rotation must be a number of degrees in \[0, 180\]"),
    ({"rotation": float("nan")}, r"rotation must be finite"),
    ({"zoom": 1}, r"zoom must be a number in \[0, 1\)"),
    ({"flip": "yes"}, r"flip must be True or False, got 'yes'"),
    ({"seed": 1.5}, r"seed must be an int, got 1.5"),
    ({"seed": 2**64}, r"seed must fit in 64 bits, got 18446744073709551616"),
])
def test_random_affine_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match="RandomAffine: " + message):
        RandomAffine(**kwargs)


def test_random_affine_rejects_what_is_not_a_batch_of_images() -> None:
    with pytest.raises(ValueError, match=r"RandomAffine expects \(batch, height, width, "
                                         r"channels\) input, got shape \(None, 784\)"):
        keras.Sequential([keras.Input((784,)), RandomAffine(shift=0.1)])


def test_random_affine_saves_and_loads(tmp_path: Path) -> None:
    layer = RandomAffine(shift=0.1, rotation=12.5, zoom=0.05, flip=True, seed=3, name="warp")
    keras.Sequential([keras.Input((28, 28, 1)), layer]).save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras").get_layer("warp")
    assert isinstance(loaded, RandomAffine)
    assert (loaded.shift, loaded.rotation, loaded.zoom, loaded.flip, loaded.seed) == (
        0.1, 12.5, 0.05, True, 3)


# --- TestTimeCopies / AverageCopies ----------------------------------------------------------


@pytest.mark.parametrize(("shift", "mirror", "diagonals"),
                         [(0, True, False), (1, False, False), (2, True, False), (1, False, True),
                          (2, True, True)])
def test_test_time_copies_are_the_image_its_shifts_and_mirror_images(
        shift: int, mirror: bool, diagonals: bool) -> None:
    x = _images(3)
    layer = TestTimeCopies(shift=shift, mirror=mirror, diagonals=diagonals)
    out = np.asarray(layer(x))
    bases = [x, x[:, :, ::-1]] if mirror else [x]
    moves = [(0, 0), (shift, 0), (-shift, 0), (0, shift), (0, -shift)] if shift else [(0, 0)]
    if diagonals:
        moves += [(dy, dx) for dy in (-shift, shift) for dx in (-shift, shift)]
    expected = [shifted(base, dy, dx) for base in bases for dy, dx in moves]
    assert layer.copies == len(expected)
    # Every expected copy is in the batch, as a block of 3 (the order is the layer's own).
    blocks = [out[i * 3:(i + 1) * 3] for i in range(layer.copies)]
    for want in expected:
        assert any(np.array_equal(block, want) for block in blocks)
    np.testing.assert_array_equal(blocks[0], x)  # the images themselves come first
    np.testing.assert_array_equal(np.asarray(layer(x, training=True)), x)


def test_average_copies_averages_each_images_rows() -> None:
    rows = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4 * 3, 2)  # 4 copies of 3 images
    out = np.asarray(AverageCopies(4)(rows))
    np.testing.assert_allclose(out, rows.reshape(4, 3, 2).mean(axis=0))
    np.testing.assert_array_equal(np.asarray(AverageCopies(4)(rows, training=True)), rows)


def test_the_pair_around_a_network_averages_its_answers_over_the_copies() -> None:
    x = _images(5)
    body = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(3, 3),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)])
    copies = TestTimeCopies(shift=1, mirror=True)
    model = keras.Sequential([keras.Input((28, 28, 1)), copies, body,
                              AverageCopies(copies.copies)])
    expected = np.mean([np.asarray(body(shifted(base, dy, dx)))
                        for base in (x, x[:, :, ::-1])
                        for dy, dx in MOVES], axis=0)
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-5)
    assert model.output_shape == (None, 4)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: TestTimeCopies(), r"TestTimeCopies needs a shift or mirror=True"),
    (lambda: TestTimeCopies(shift=-1), r"TestTimeCopies: shift must be an int >= 0, got -1"),
    (lambda: TestTimeCopies(shift=1.0), r"TestTimeCopies: shift must be an int >= 0, got 1.0"),
    (lambda: TestTimeCopies(mirror=1), r"TestTimeCopies: mirror must be True or False"),
    (lambda: TestTimeCopies(mirror=True, diagonals=True),
     r"TestTimeCopies: diagonals=True needs a shift"),
    (lambda: TestTimeCopies(shift=1, diagonals="yes"),
     r"TestTimeCopies: diagonals must be True or False"),
    (lambda: AverageCopies(0), r"AverageCopies: copies must be a positive int, got 0"),
])
def test_test_time_layers_reject_bad_options(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_test_time_copies_need_images_of_a_known_size_larger_than_the_shift() -> None:
    with pytest.raises(ValueError, match=r"known height and width, got shape \(None, 784\)"):
        keras.Sequential([keras.Input((784,)), TestTimeCopies(shift=1)])
    with pytest.raises(ValueError, match=r"got shape \(None, None, None, 1\)"):
        keras.Sequential([keras.Input((None, None, 1)), TestTimeCopies(shift=1)])
    with pytest.raises(ValueError, match=r"shift 8 would move a 8x10 image out of sight"):
        keras.Sequential([keras.Input((8, 10, 1)), TestTimeCopies(shift=8)])
    model = keras.Sequential([keras.Input((8, 10, 1)), TestTimeCopies(shift=7)])
    assert np.asarray(model(np.ones((2, 8, 10, 1), np.float32))).shape == (10, 8, 10, 1)


@pytest.mark.parametrize(("diagonals", "copies"), [(False, 10), (True, 18)])
def test_test_time_layers_save_and_load(tmp_path: Path, diagonals: bool, copies: int) -> None:
    made = TestTimeCopies(shift=2, mirror=True, diagonals=diagonals, name="copies")
    model = keras.Sequential([keras.Input((28, 28, 1)), made,
                              keras.layers.GlobalAveragePooling2D(),
                              AverageCopies(made.copies, name="average")])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    layer = loaded.get_layer("copies")
    assert (layer.shift, layer.mirror, layer.diagonals) == (2, True, diagonals)
    assert loaded.get_layer("average").copies == copies
    x = _images(2)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
