"""A reference for shifted images, in NumPy: what TestTimeCopies must compute."""

from __future__ import annotations

import numpy as np

#: The one-pixel moves of the test-time copies: the image itself, then down, up, right, left.
MOVES = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def shifted(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``x``, a batch of images, moved ``dy`` rows down and ``dx`` columns right (zeros in)."""
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
