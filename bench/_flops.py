"""FLOP counts of zoo models and this machine's float32 matmul peak (shared by benchmarks).

Every ``Conv2D`` and ``Dense`` does ``prod(kernel shape) x output positions`` multiply-adds
per example forward; batch normalization, pooling and activations are not counted (they move
memory, and are a few percent of the multiply-adds). One multiply-add is 2 FLOPs.
"""

from __future__ import annotations

import math
import time
from typing import Any


def train_flops(model: Any) -> tuple[int, int]:
    """Multiply-adds per example forward, and FLOPs per example of a training step."""
    forward = 0
    training = 0
    first = True
    for layer in _weighted_layers(model):
        kernel = tuple(int(d) for d in layer.kernel.shape)
        out = tuple(int(d) for d in layer.output.shape[1:-1])  # spatial positions
        macs = math.prod(kernel) * math.prod(out)
        forward += macs
        training += macs * (2 if first else 3)  # the first layer needs no input gradient
        first = False
    return forward, 2 * training


def _weighted_layers(model: Any) -> list[Any]:
    import keras

    found: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _weighted_layers(layer)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            found.append(layer)
    return found


def matmul_peak(n: int = 2048, repeats: int = 20) -> float:
    """GFLOP/s of an ``n x n`` float32 matmul in TensorFlow (best of ``repeats``)."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    mm = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    mm(a, b).numpy()
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        mm(a, b).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9
