"""The transforms as plain NumPy functions (no TensorFlow, no Keras).

Each function matches the arithmetic of its Keras layer in :mod:`kerasdigits.transforms.layers`
so that preprocessing done ahead of time and preprocessing done inside a model agree to about
``1e-6``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from kerasdigits import _validate

__all__ = ["Compose", "flatten", "normalize", "one_hot", "pipeline", "pixel_stats"]

_MODES = ("unit", "standard")

# Elements per chunk when accumulating statistics: bounds the temporary float64 copy (8 MiB).
_CHUNK_ELEMENTS = 1 << 20


# --------------------------------------------------------------------------------------------
# helpers


def _index_str(name: str, index: tuple[int, ...]) -> str:
    """Format ``images[3, 4, 5]`` for an error message."""
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def _first_index(mask: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    """The index of the first ``True`` in ``mask`` (C order)."""
    flat = int(np.argmax(mask.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def _check_pixels(images: Any, name: str = "images") -> npt.NDArray[Any]:
    """Return ``images`` as an array of raw pixel values (0..255), or raise ``ValueError``.

    Integer dtypes must hold values in 0..255 (``uint8`` needs no check); float dtypes must
    hold finite values in [0, 255]. ``bool``, complex and non-numeric dtypes are rejected.
    No float copy of the data is made: the checks use ``min``/``max`` reductions.
    """
    array = np.asarray(images)
    dtype = array.dtype
    if not _validate.is_real_dtype(dtype):
        raise ValueError(
            f"{name} must have an integer (preferably uint8) or float dtype holding raw pixel "
            f"values 0..255, got dtype {dtype}"
        )
    if dtype == np.uint8 or array.size == 0:
        return array
    lo, hi = array.min(), array.max()
    is_float = np.issubdtype(dtype, np.floating)
    if is_float and (np.isnan(lo) or np.isnan(hi)):
        index = _first_index(np.isnan(array))
        raise ValueError(f"{name} contains NaN at {_index_str(name, index)}")
    if lo < 0 or hi > 255:
        index = _first_index((array < 0) | (array > 255))
        value = array[index].item()
        kind = "finite values in [0, 255]" if is_float else "values in 0..255"
        raise ValueError(
            f"{name} must hold raw pixel {kind}, got {_index_str(name, index)} = {value!r}"
            + (
                " (normalize() expects the raw 0..255 scale, not already-scaled values)"
                if lo < 0 and is_float
                else ""
            )
        )
    return array


# --------------------------------------------------------------------------------------------
# public functions


def flatten(images: npt.ArrayLike) -> npt.NDArray[Any]:
    """Flatten a batch of images to one row of pixels per image.

    The NumPy twin of :class:`kerasdigits.transforms.layers.Flatten`. The result is a view
    of ``images`` when its memory layout allows it (as with :meth:`numpy.ndarray.reshape`).

    Args:
        images: A batch of shape ``(N, H, W)`` or ``(N, H, W, 1)``, any dtype.

    Returns:
        An array of shape ``(N, H * W)`` with the dtype of ``images``.

    Raises:
        ValueError: If ``images`` is not 3-D, or 4-D with a single channel. A single 2-D
            image is rejected too: pass ``images[None]`` for a batch of one.

    Example:
        >>> import numpy as np
        >>> from kerasdigits.transforms import flatten
        >>> flatten(np.zeros((5, 28, 28), dtype=np.uint8)).shape
        (5, 784)
    """
    array = np.asarray(images)
    if array.ndim == 2:
        raise ValueError(
            f"images must be a batch of shape (N, H, W) or (N, H, W, 1), got a single image "
            f"of shape {array.shape}; use images[None] for a batch of one"
        )
    if array.ndim == 4 and array.shape[-1] != 1:
        raise ValueError(
            f"images with 4 dimensions must have one channel, shape (N, H, W, 1), "
            f"got shape {array.shape}"
        )
    if array.ndim not in (3, 4):
        raise ValueError(
            f"images must have shape (N, H, W) or (N, H, W, 1), got {array.ndim}-D array "
            f"of shape {array.shape}"
        )
    n, h, w = array.shape[:3]
    return array.reshape(n, h * w)


def pixel_stats(images: npt.ArrayLike) -> tuple[float, float]:
    """Mean and standard deviation of the pixels, on the unit scale (``pixel / 255``).

    Use these as ``mean=``/``std=`` of :func:`normalize` or of the
    :class:`~kerasdigits.transforms.layers.Normalize` layer. Computed from the training split
    only, they are then reused unchanged for validation and test data.

    The statistics are accumulated in ``float64`` in chunks, so no full float copy of a large
    array (such as the 60000 x 28 x 28 MNIST training images) is made. The standard deviation
    is the population one (``ddof=0``, as :func:`numpy.std`).

    Args:
        images: Raw pixel values (0..255) of any shape; see :func:`normalize` for the accepted
            dtypes.

    Returns:
        ``(mean, std)`` as Python floats.

    Raises:
        ValueError: If ``images`` is empty, has an unsupported dtype, or holds values outside
            0..255 or NaN.

    Example:
        >>> import numpy as np
        >>> from kerasdigits.transforms import pixel_stats
        >>> pixel_stats(np.array([[0, 255]], dtype=np.uint8))
        (0.5, 0.5)
    """
    array = _check_pixels(images)
    return _pixel_stats(array)


def _pixel_stats(array: npt.NDArray[Any]) -> tuple[float, float]:
    if array.size == 0:
        raise ValueError(f"images is empty (shape {array.shape}); cannot compute statistics")
    rows = array.reshape(1, -1) if array.ndim < 2 else array
    row_size = max(1, rows[0].size)
    step = max(1, _CHUNK_ELEMENTS // row_size)
    total = 0.0
    for start in range(0, len(rows), step):
        total += float(rows[start : start + step].sum(dtype=np.float64))
    mean = total / array.size
    squares = 0.0
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step].astype(np.float64)
        chunk -= mean
        squares += float(np.dot(chunk.reshape(-1), chunk.reshape(-1)))
    std = math.sqrt(squares / array.size)
    return mean / 255.0, std / 255.0


def normalize(
    images: npt.ArrayLike,
    mode: str = "unit",
    *,
    mean: float | None = None,
    std: float | None = None,
) -> npt.NDArray[np.float32]:
    """Scale raw pixel values (0..255) to ``float32``.

    The NumPy twin of :class:`kerasdigits.transforms.layers.Normalize`, with the same
    ``float32`` arithmetic:

    * ``mode="unit"``: ``x / 255``, in [0, 1] (computed as ``x * (1/255)``).
    * ``mode="standard"``: ``(x / 255 - mean) / std``, with ``mean`` and ``std`` on the unit
      scale (for MNIST about 0.1307 and 0.3081), computed as
      ``x * (1 / (255 * std)) + (-mean / std)``.

    When ``mean`` and ``std`` are not given in ``"standard"`` mode, they are computed from
    ``images`` themselves with :func:`pixel_stats`. That is right for the training split only:
    for validation or test data, pass the training split's values, e.g.
    ``normalize(test, "standard", mean=m, std=s)`` with ``m, s = pixel_stats(train)``.

    Args:
        images: Raw pixels of any shape. ``uint8`` is preferred; other integer dtypes must hold
            values in 0..255 and float dtypes values in [0, 255] (the raw pixel scale, not
            already scaled to [0, 1]).
        mode: ``"unit"`` or ``"standard"``.
        mean: Mean on the unit scale, in [0, 1] (``"standard"`` only).
        std: Standard deviation on the unit scale, in (0, 1] (``"standard"`` only). Give both
            ``mean`` and ``std`` or neither.

    Returns:
        A new ``float32`` array with the shape of ``images``.

    Raises:
        ValueError: If ``mode`` is unknown; if ``images`` has a ``bool``, complex or
            non-numeric dtype, or holds values outside 0..255 or NaN (the message names the
            first offending value and its index); if ``mean``/``std`` are given with
            ``mode="unit"``, only one of them is given, or they are out of range; or if the
            computed ``std`` is 0 (all pixels equal).

    Example:
        >>> import numpy as np
        >>> from kerasdigits.transforms import normalize
        >>> normalize(np.array([0, 255], dtype=np.uint8)).tolist()
        [0.0, 1.0]
        >>> normalize(np.array([0, 255], dtype=np.uint8), "standard", mean=0.5, std=0.5).tolist()
        [-1.0, 1.0]
    """
    mode = _validate.choice(mode, "mode", _MODES)
    if mode == "unit" and (mean is not None or std is not None):
        raise ValueError(
            "mean= and std= apply to mode='standard' only; use "
            "normalize(images, 'standard', mean=..., std=...)"
        )
    if mode == "standard" and (mean is None) != (std is None):
        missing = "std" if std is None else "mean"
        raise ValueError(
            f"mode='standard' needs both mean= and std= or neither (to compute them from "
            f"images), got {missing}=None"
        )
    mean_f = std_f = None
    if mean is not None and std is not None:
        mean_f = _validate.number(mean, "mean")
        std_f = _validate.number(std, "std")
        if not 0.0 <= mean_f <= 1.0:
            raise ValueError(
                f"mean must be on the unit scale, in [0, 1], got {mean!r}; for a mean of raw "
                f"0..255 pixels, divide it by 255"
            )
        if not 0.0 < std_f <= 1.0:
            raise ValueError(
                f"std must be positive and on the unit scale, in (0, 1], got {std!r}"
                + ("; for a std of raw 0..255 pixels, divide it by 255" if std_f > 1 else "")
            )

    array = _check_pixels(images)
    if mode == "standard" and (mean_f is None or std_f is None):
        mean_f, std_f = _pixel_stats(array)
        if std_f == 0.0:
            raise ValueError(
                "the std of images is 0 (all pixels are equal), so mode='standard' cannot "
                "scale them; pass mean= and std= (e.g. from the training split)"
            )

    out = array.astype(np.float32)  # always a new array: the input is never modified
    if mode == "unit":
        out *= np.float32(1.0 / 255.0)
    else:
        assert mean_f is not None
        assert std_f is not None
        out *= np.float32(1.0 / (255.0 * std_f))
        out += np.float32(-mean_f / std_f)
    return out


def one_hot(labels: npt.ArrayLike, num_classes: int = 10) -> npt.NDArray[np.float32]:
    """One-hot encode class labels.

    The NumPy twin of :class:`kerasdigits.transforms.layers.OneHot`.

    Args:
        labels: Class indices of shape ``(N,)`` or ``(N, 1)`` with an integer dtype. Float
            arrays are accepted when every value is a whole number.
        num_classes: Number of classes, a positive int; labels must lie in
            ``0..num_classes - 1``.

    Returns:
        A ``float32`` array of shape ``(N, num_classes)`` with a single 1 per row.

    Raises:
        ValueError: If ``num_classes`` is not a positive int, ``labels`` has the wrong shape
            or dtype, holds non-integer values, or a value outside ``0..num_classes - 1``
            (the message names the first offending value and its index).

    Example:
        >>> import numpy as np
        >>> from kerasdigits.transforms import one_hot
        >>> one_hot(np.array([0, 2]), num_classes=3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    num_classes = _validate.positive_int(num_classes, "num_classes")
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"labels must have shape (N,) or (N, 1), got shape {array.shape}")
    dtype = array.dtype
    if np.issubdtype(dtype, np.floating):
        bad = ~np.isfinite(array) | (array != np.floor(array))
        if bad.any():
            index = int(np.argmax(bad))
            raise ValueError(
                f"labels must be class indices, got non-integer labels: "
                f"labels[{index}] = {array[index].item()!r}"
            )
    elif dtype == np.bool_ or not np.issubdtype(dtype, np.integer):
        raise ValueError(f"labels must have an integer dtype, got dtype {dtype}")
    out_of_range = (array < 0) | (array >= num_classes)
    if out_of_range.any():
        index = int(np.argmax(out_of_range))
        raise ValueError(
            f"labels must be in 0..{num_classes - 1} (num_classes={num_classes}), got "
            f"labels[{index}] = {array[index].item()!r}"
        )
    out = np.zeros((len(array), num_classes), dtype=np.float32)
    out[np.arange(len(array)), array.astype(np.intp)] = 1.0
    return out


# --------------------------------------------------------------------------------------------
# composition


def _describe(transform: Callable[..., Any]) -> str:
    """A short name for ``transform``: ``normalize``, ``normalize(mode='standard')``, ..."""
    if isinstance(transform, functools.partial):
        args = [repr(a) for a in transform.args]
        args += [f"{k}={v!r}" for k, v in transform.keywords.items()]
        return f"{_describe(transform.func)}({', '.join(args)})"
    if isinstance(transform, Compose):
        return repr(transform)
    name = getattr(transform, "__qualname__", None)
    if isinstance(name, str) and "<" not in name:  # not a lambda or a local function
        return name
    return repr(transform)


class Compose:
    """Apply a sequence of callables in order: ``Compose([f, g])(x) == g(f(x))``.

    Any callable taking one argument works, for example the functions of this module or a
    :func:`functools.partial` of them. An empty ``Compose`` returns its input unchanged.

    Args:
        transforms: An iterable of callables (a list or tuple, not a single callable).

    Raises:
        TypeError: If ``transforms`` is a single callable or an item is not callable.

    Example:
        >>> import functools
        >>> import functools
        >>> import numpy as np
        >>> from kerasdigits.transforms import Compose, flatten, normalize
        >>> prep = Compose([functools.partial(normalize, mode="unit"), flatten])
        >>> prep
        Compose([normalize(mode='unit'), flatten])
        >>> prep(np.zeros((2, 28, 28), dtype=np.uint8)).shape
        (2, 784)
    """

    def __init__(self, transforms: Iterable[Callable[[Any], Any]]) -> None:
        if callable(transforms) and not isinstance(transforms, (list, tuple)):
            raise TypeError(
                f"Compose expects a sequence of callables, got the single callable "
                f"{_describe(transforms)}; use Compose([{_describe(transforms)}])"
            )
        items = tuple(transforms)
        for i, item in enumerate(items):
            if not callable(item):
                raise TypeError(
                    f"transforms[{i}] must be callable, got {type(item).__name__} {item!r}"
                )
        self.transforms: tuple[Callable[[Any], Any], ...] = items

    def __call__(self, data: Any) -> Any:
        """Apply every transform in order and return the result.

        Args:
            data: The input of the first transform.

        Returns:
            The output of the last transform (``data`` itself if there are none).
        """
        for transform in self.transforms:
            data = transform(data)
        return data

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self) -> Iterator[Callable[[Any], Any]]:
        return iter(self.transforms)

    @overload
    def __getitem__(self, index: int) -> Callable[[Any], Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Compose: ...

    def __getitem__(self, index: int | slice) -> Callable[[Any], Any] | Compose:
        if isinstance(index, slice):
            return Compose(self.transforms[index])
        return self.transforms[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Compose):
            return NotImplemented
        return self.transforms == other.transforms

    def __hash__(self) -> int:
        return hash(self.transforms)

    def __repr__(self) -> str:
        return f"Compose([{', '.join(_describe(t) for t in self.transforms)}])"


def pipeline(*transforms: Callable[[Any], Any]) -> Compose:
    """Build a :class:`Compose` from callables given as arguments.

    Args:
        *transforms: Callables applied in order.

    Returns:
        ``Compose(transforms)``.

    Example:
        >>> import numpy as np
        >>> from kerasdigits.transforms import flatten, normalize, pipeline
        >>> prep = pipeline(normalize, flatten)
        >>> prep(np.full((1, 2, 2), 255, dtype=np.uint8)).tolist()
        [[1.0, 1.0, 1.0, 1.0]]
    """
    return Compose(transforms)
