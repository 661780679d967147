"""Fast inference: ``predict`` and the probability computation behind ``evaluate``.

``model.predict`` builds a data pipeline on every call (tens of milliseconds for one image).
Here each model gets one cached, traced ``tf.function`` with a fixed input signature, so a
single image costs about a millisecond after the first call.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import numpy.typing as npt

from kerasdigits import _lazy
from kerasdigits.training._feeding import model_input_spec, prepare_images

__all__ = ["predict", "predict_proba"]

_COMPILED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_CHUNK = 1024


def _compiled(model: Any) -> Any:
    fn = _COMPILED.get(model)
    if fn is None:
        tf = _lazy.tensorflow()
        shape, dtype = model_input_spec(model)
        spec = tf.TensorSpec((None, *shape), dtype=dtype)
        fn = tf.function(lambda x: model(x, training=False), input_signature=[spec],
                         reduce_retracing=True)
        _COMPILED[model] = fn
    return fn


def _load_if_path(model: Any) -> Any:
    if isinstance(model, (str,)) or hasattr(model, "__fspath__"):
        from kerasdigits.training._io import load_model

        return load_model(model)
    return model


def predict_proba(model: Any, batch: np.ndarray) -> npt.NDArray[np.float32]:
    """Return the model's class probabilities for an already prepared ``batch``."""
    fn = _compiled(model)
    if len(batch) == 0:
        # Some ops (convolutions) reject a batch of 0: one blank image gives (0, num_classes).
        blank = np.asarray(fn(np.zeros((1, *batch.shape[1:]), batch.dtype)))
        return blank[:0].astype(np.float32, copy=False)
    outputs = [np.asarray(fn(batch[i : i + _CHUNK])) for i in range(0, len(batch), _CHUNK)]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def predict(
    model: Any, images: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Classify one image or a batch.

    Args:
        model: A Keras model (or the path of a saved ``.keras`` file).
        images: ``uint8`` pixels 0..255 or float pixels in [0, 1] (integer arrays of other
            dtypes are accepted if all values are in 0..255; floats must be finite); one image
            ``(28, 28)``, ``(28, 28, 1)`` or ``(784,)``, or a batch ``(N, 28, 28)``,
            ``(N, 28, 28, 1)`` or ``(N, 784)`` (generally the model's height and width),
            whatever the model's own input layout. They are converted to whatever the model
            takes (raw ``uint8`` for models with in-model preprocessing).

    Returns:
        ``(labels, probabilities)``: for a batch, shapes ``(N,)`` and ``(N, num_classes)`` (an
        empty batch gives empty results); for a single image, a 0-d label array (use
        ``int(labels)``) and ``(num_classes,)``.

    Raises:
        PixelError: A value is outside its dtype's range (NaN, inf, a negative value, an
            integer above 255, a float above 1: divide by 255 or pass ``uint8``), the dtype is
            not pixels (``bool``, say), or the shape is neither one image nor a batch.

    Example:
        >>> import numpy as np
        >>> from kerasdigits import build, predict
        >>> model = build("mlp256", preprocessing="unit")
        >>> labels, probs = predict(model, np.zeros((3, 28, 28), np.uint8))
        >>> labels.shape, probs.shape
        ((3,), (3, 10))
    """
    model = _load_if_path(model)
    batch, single = prepare_images(model, images)
    probs = predict_proba(model, batch)
    labels = probs.argmax(axis=1).astype(np.int64)
    if single:
        return labels[0].reshape(()), probs[0]
    return labels, probs
