"""The zoo's own Keras layers: FastBatchNormalization and SpaceToDepth (RandomShift is tested
with the zoo models that use it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from kerasdigits.models.layers import FastBatchNormalization, SpaceToDepth  # noqa: E402

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
