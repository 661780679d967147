"""Fast inference: ``predict`` and the probability computation behind ``evaluate``.

``model.predict`` builds a data pipeline on every call (tens of milliseconds for one image)
and feeds batches of 32. Here each model gets one cached, traced ``tf.function`` with a fixed
input signature, so a single image costs about a millisecond after the first call.

Large batches (from ``_FROZEN_FROM`` images) through a model with convolutions run through a
*frozen* copy of that function: the weights become graph constants, so TensorFlow's graph
optimizer can fold batch normalization into the convolutions (5-13% faster for the zoo's
convnets; dense-only models were measured slower frozen and keep the live function). The
frozen copy is kept with the values of every variable its graph read (the weights, and any
variable a layer captured) and made again when one changes (a model trained or given new
weights between calls never answers with old ones). A graph that cannot be frozen, that writes
to a variable at inference, or whose frozen copy does not answer as the live one on a blank
image (a lookup table, say) keeps the live function. Batches are fed in chunks of ``_CHUNK``
images, the fastest size measured on two CPU cores (``bench/bench_predict.py``).
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kerasdigits import _lazy
from kerasdigits.training._errors import PredictionError
from kerasdigits.training._feeding import model_input_spec, prepare_images

__all__ = ["predict", "predict_proba"]

_COMPILED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_FROZEN: weakref.WeakKeyDictionary[Any, _Frozen] = weakref.WeakKeyDictionary()
_FROZEN_LOCK = threading.Lock()
_CHUNK = 512
_FROZEN_FROM = 1024


@dataclass(frozen=True, eq=False)
class _Frozen:
    """A frozen inference function (``None``: the live one) and what it was frozen from.

    ``variables`` are every variable the traced graph reads (the model's weights, and any
    other variable a layer or a ``Lambda`` captured), ``values`` their bytes at freezing.
    """

    fn: Any
    variables: tuple[Any, ...]
    values: tuple[bytes, ...]

    def is_current(self) -> bool:
        """Whether every variable still holds the value it was frozen with (bit for bit)."""
        return all(before == _value(variable)
                   for before, variable in zip(self.values, self.variables, strict=True))


_NEVER = _Frozen(None, (), ())  # the graph keeps its live function, whatever its weights


def _value(variable: Any) -> bytes:
    # Bytes, not ==: a NaN weight is equal to itself here (a diverged model is not refrozen).
    return bytes(np.ascontiguousarray(variable.numpy()).data)


def _compiled(model: Any) -> Any:
    fn = _COMPILED.get(model)
    if fn is None:
        tf = _lazy.tensorflow()
        shape, dtype = model_input_spec(model)
        spec = tf.TensorSpec((None, *shape), dtype=dtype)
        # A weak reference: the cache must not keep the model (its key) alive.
        ref = weakref.ref(model)

        def infer(x: Any) -> Any:
            live = ref()
            if live is None:  # pragma: no cover - the cache entry dies with the model
                raise ReferenceError("the model was deleted")
            return live(x, training=False)

        fn = tf.function(infer, input_signature=[spec], reduce_retracing=True)
        out = fn.get_concrete_function().structured_outputs  # traces once, as a call would
        if not tf.is_tensor(out):
            raise ValueError(
                f"predict needs a model with one output (class probabilities); this model "
                f"returns a {type(out).__name__} of {len(out)} outputs"
            )
        _COMPILED[model] = fn
    return fn


def _freeze(model: Any) -> _Frozen:
    """Freeze the model's inference function with its current weights (``_NEVER`` if not)."""
    concrete = _compiled(model).get_concrete_function()  # traced: the model is built
    if not _worth_freezing(concrete):
        return _NEVER
    variables = tuple(concrete.variables)
    # Read before the constants: a variable that changes in between only causes a refreeze.
    values = tuple(_value(variable) for variable in variables)
    try:
        fn = _checked_copy(concrete)
    except Exception:  # any graph that cannot be frozen keeps the live function
        fn = None
    return _Frozen(fn, variables, values) if fn is not None else _NEVER


def _worth_freezing(concrete: Any) -> bool:
    """Whether the graph convolves and writes no variable.

    Freezing pays for convolutions (batch normalization folded into them: 5-13% faster for
    the zoo's convnets on 10,000 images) and not for dense-only graphs (23% slower for
    ``fast_mlp``), as measured on two CPU cores. A graph that assigns to a variable at
    inference (a counter, a random seed's state) must not be frozen: the variable would become
    a constant and the write would be dropped.
    """
    graph = concrete.graph.as_graph_def()  # with the functions it calls
    ops = {node.op for node in graph.node}
    ops.update(node.op for function in graph.library.function for node in function.node_def)
    writes = any(op.startswith(("Assign", "ResourceScatter")) for op in ops)
    return not writes and any(op.startswith("Conv") for op in ops)


def _checked_copy(concrete: Any) -> Any:
    """The frozen copy of ``concrete``, or ``None`` if it does not answer as the live one.

    A graph with a lookup table, for one, freezes into a function that wants the table as a
    second input; the check runs both on one blank image.
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    tf = _lazy.tensorflow()
    frozen = convert_variables_to_constants_v2(concrete)
    spec = concrete.structured_input_signature[0][0]
    if len(frozen.inputs) != 1 or len(frozen.outputs) != 1:
        return None
    blank = tf.zeros((1, *spec.shape[1:]), spec.dtype)
    live, copy = np.asarray(concrete(blank)), np.asarray(frozen(blank)[0])
    if live.shape != copy.shape or not np.allclose(live, copy, rtol=0, atol=1e-5):
        return None
    return frozen


def _frozen_runner(model: Any) -> Any:
    """The frozen function for ``model``'s current weights, or ``None`` (use the live one)."""
    with _FROZEN_LOCK:
        frozen = _FROZEN.get(model)
        if frozen is None or not frozen.is_current():
            frozen = _freeze(model)
            _FROZEN[model] = frozen
    if frozen.fn is None:
        return None
    tf = _lazy.tensorflow()
    fn = frozen.fn
    dtype = fn.inputs[0].dtype  # the model's own input dtype (float64 under floatx, say)
    return lambda chunk: fn(tf.constant(chunk, dtype=dtype))[0]


def _load_if_path(model: Any) -> Any:
    if isinstance(model, (str,)) or hasattr(model, "__fspath__"):
        from kerasdigits.training._io import load_model

        return load_model(model)
    return model


def predict_proba(model: Any, batch: np.ndarray) -> npt.NDArray[np.float32]:
    """Return the model's class probabilities for an already prepared ``batch``.

    Raises:
        PredictionError: The model failed on the batch, or answered with other than one row
            of probabilities per image.
    """
    fn = _compiled(model)
    if len(batch) == 0:
        # Some ops (convolutions) reject a batch of 0: one blank image gives (0, num_classes).
        blank = _answer(fn, np.zeros((1, *batch.shape[1:]), batch.dtype))
        return blank[:0].astype(np.float32, copy=False)
    if len(batch) >= _FROZEN_FROM:
        fn = _frozen_runner(model) or fn
    outputs = [_answer(fn, batch[i : i + _CHUNK]) for i in range(0, len(batch), _CHUNK)]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def _op_error_reason(exc: Any) -> str:
    """The cause in a TensorFlow run-time error's message, without the graph's traceback.

    A traced function's error says "Graph execution error:", then where the failing node was
    defined (a Python traceback), then the cause, then the node's name in ``[[...]]``.
    """
    lines = [line.strip() for line in str(exc.message).splitlines()]
    lines = [line for line in lines if line and not line.startswith("[[")]
    reason = re.sub(r"\s*\[Op:[^\]]*\]$", "", lines[-1]) if lines else ""
    return reason or type(exc).__name__


def _answer(fn: Any, chunk: np.ndarray) -> np.ndarray:
    """``fn(chunk)`` as an array, checked to be one row of probabilities per image."""
    errors = _lazy.tensorflow().errors
    try:
        rows = np.asarray(fn(chunk))
    except errors.OpError as exc:  # the graph failed at run time (a reshape, say)
        raise PredictionError(f"the model failed on a batch of {len(chunk)} images: "
                              f"{_op_error_reason(exc)}") from exc
    if rows.ndim != 2 or rows.shape[0] != len(chunk):
        raise PredictionError(
            f"the model answered with shape {rows.shape} for {len(chunk)} images; a "
            "classifier answers with one row of class probabilities per image (is the model "
            "file hand-edited or damaged?)"
        )
    return rows


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
        PredictionError: The model failed on the images, or did not answer with one row of
            probabilities per image (a hand-edited or damaged model file, say).

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
