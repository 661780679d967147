"""Argument checks shared by the whole package: one place for each decision.

Modelled on torchvision's ``verify_str_arg``: each check takes the value and the argument's
name, returns the value when it is valid (as a plain Python ``int``, ``float`` or ``bool``, or
the matching choice), and otherwise raises ``error`` with a message naming the argument.
``error`` is an exception class (``ValueError`` by default) or any callable that turns the
message into an exception, such as :func:`kerasdigits.models._errors.model_error`, which puts
the model's name in front.

What counts as what, everywhere in kerasdigits:

* an **int** is any integral number (``int``, a NumPy integer) except a ``bool``
  (``True == 1``, but ``epochs=True`` is a mistake, not one epoch);
* a **number** is any real number (``int``, ``float``, a NumPy scalar) except a ``bool``;
* a **boolean** is ``True`` or ``False`` (or a NumPy ``bool_``), not any truthy value.

Nothing here imports NumPy, TensorFlow or Keras.

Example:
    >>> from kerasdigits import _validate
    >>> _validate.positive_int(3, "epochs")
    3
    >>> _validate.choice("mlkit", "target", ("litert", "mlkit"))
    'mlkit'
    >>> _validate.positive_int(0, "epochs")
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a positive int, got 0
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

from kerasdigits._suggest import did_you_mean

__all__ = [
    "ErrorFactory",
    "boolean",
    "choice",
    "fraction",
    "integer",
    "is_int",
    "is_number",
    "is_real_dtype",
    "number",
    "parse",
    "positive_int",
]

#: What the checks raise: an exception class, or a callable making the exception from the
#: message.
ErrorFactory = Callable[[str], Exception]
T = TypeVar("T")


def is_int(value: object) -> bool:
    """Return whether ``value`` is an integral number and not a ``bool``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """Return whether ``value`` is a real number and not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_real_dtype(dtype: object) -> bool:
    """Return whether a NumPy ``dtype`` holds integers or floats (not bools, not complex)."""
    return getattr(dtype, "kind", None) in ("i", "u", "f")


def parse(text: str, convert: Callable[[str], T], expected: str, *,
          error: ErrorFactory = ValueError) -> T:
    """Return ``convert(text)``: a number typed on the command line, for example.

    Args:
        text: The text to convert.
        convert: ``int``, ``float``, or another function raising ``ValueError`` on bad text.
        expected: What the text should be, for the message (``"a whole number"``).
        error: What to raise when ``convert`` raises ``ValueError``.

    Returns:
        The converted value.

    Raises:
        Exception: ``error("expected <expected>, got <text>")``.
    """
    try:
        return convert(text)
    except ValueError:
        raise error(f"expected {expected}, got {text!r}") from None


def integer(
    value: object, name: str, *, minimum: int | None = None, error: ErrorFactory = ValueError
) -> int:
    """Return ``value`` as an ``int`` if it is an int (not a bool) of at least ``minimum``.

    Args:
        value: The value to check.
        name: The argument's name, the subject of the message.
        minimum: The smallest value allowed; ``None``: any int.
        error: What to raise otherwise (see the module's docstring).

    Returns:
        ``int(value)``.

    Raises:
        Exception: ``error(message)``: "epochs must be a positive int, got 0", "num_classes
            must be an int >= 2, got 1".
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        result = int(value)
        if minimum is None or result >= minimum:
            return result
    if minimum is None:
        wanted = "an int"
    elif minimum == 1:
        wanted = "a positive int"
    else:
        wanted = f"an int >= {minimum}"
    raise error(f"{name} must be {wanted}, got {value!r}")


def positive_int(
    value: object, name: str, *, allow_zero: bool = False, error: ErrorFactory = ValueError
) -> int:
    """Return ``value`` as an ``int`` if it is a positive int (not a bool).

    :func:`integer` with ``minimum=1``, or ``0`` with ``allow_zero``: it raises
    ``error("<name> must be a positive int, got <value>")`` (``an int >= 0``).
    """
    return integer(value, name, minimum=0 if allow_zero else 1, error=error)


def number(
    value: object, name: str, *, positive: bool = False, error: ErrorFactory = ValueError
) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (not a bool).

    Args:
        value: The value to check.
        name: The argument's name.
        positive: Require ``value > 0``.
        error: What to raise otherwise.

    Returns:
        ``float(value)``.

    Raises:
        Exception: ``error(message)``: "<name> must be a real number", "... must be finite"
            or "... must be positive", each followed by ``got <value>``.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise error(f"{name} must be a real number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:  # an int too large for a float
        result = math.inf
    if not math.isfinite(result):
        raise error(f"{name} must be finite, got {value!r}")
    if positive and result <= 0:
        raise error(f"{name} must be positive, got {value!r}")
    return result


def fraction(
    value: object,
    name: str,
    *,
    low_open: bool = True,
    high_open: bool = True,
    error: ErrorFactory = ValueError,
) -> float:
    """Return ``value`` as a ``float`` if it is a number between 0 and 1.

    Args:
        value: The value to check.
        name: The argument's name.
        low_open: Exclude 0 (the interval starts ``(0``, else ``[0``).
        high_open: Exclude 1 (the interval ends ``1)``, else ``1]``).
        error: What to raise otherwise.

    Returns:
        ``float(value)``.

    Raises:
        Exception: ``error("<name> must be a number in [0, 1), got <value>")``, with the
            interval's brackets as asked.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        result = float(value)
        above = result > 0 if low_open else result >= 0
        below = result < 1 if high_open else result <= 1
        if above and below:  # both false for NaN
            return result
    interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
    raise error(f"{name} must be a number in {interval}, got {value!r}")


def boolean(value: object, name: str, *, error: ErrorFactory = ValueError) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (or a NumPy ``bool_``).

    Args:
        value: The value to check.
        name: The argument's name.
        error: What to raise otherwise.

    Returns:
        ``bool(value)``.

    Raises:
        Exception: ``error("<name> must be True or False, got <value>")``.
    """
    numpy = sys.modules.get("numpy")  # not imported: value cannot be a NumPy bool
    if isinstance(value, bool) or (numpy is not None and isinstance(value, numpy.bool_)):
        return bool(value)
    raise error(f"{name} must be True or False, got {value!r}")


def choice(
    value: object, name: str, choices: Iterable[T], *, error: ErrorFactory = ValueError
) -> T:
    """Return the one of ``choices`` that equals ``value``; else suggest the closest.

    Args:
        value: The value to check.
        name: The argument's name.
        choices: The valid values, in the order the message lists them (a mapping gives its
            keys). They may include non-strings such as ``None``.
        error: What to raise otherwise.

    Returns:
        The matching choice.

    Raises:
        Exception: ``error("unknown <name> <value>; <name> must be one of 'a', 'b'.")``,
            followed by "Did you mean 'a'?" when a choice is close to a string ``value``.
    """
    options = tuple(choices)
    for option in options:
        if _equal(value, option):
            return option
    listing = ", ".join(map(repr, options))
    hint = ""
    if isinstance(value, str):
        hint = did_you_mean(value, [o for o in options if isinstance(o, str)])
    raise error(f"unknown {name} {value!r}; {name} must be one of {listing}.{hint}")


def _equal(value: object, option: object) -> bool:
    if value is option:
        return True
    if isinstance(value, bool) != isinstance(option, bool):
        return False  # True is not 1
    try:
        return bool(value == option)
    except Exception:  # an array's ambiguous truth value and the like
        return False


#: The longest class name accepted: a line of a model's ``labels.txt``, a plot's title.
MAX_CLASS_NAME_CHARS = 200


def class_name_problem(name: object) -> str:
    """Return why ``name`` cannot be a class name, or ``""`` when it can.

    A class name is one non-blank line of at most :data:`MAX_CLASS_NAME_CHARS` printable
    characters of valid text: it becomes a line of an exported model's ``labels.txt``.
    """
    if not isinstance(name, str):
        return f"it is a {type(name).__name__}, not a string"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "it is not valid text (bytes the file system cannot decode)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it holds a control character (a newline, a tab...)"
    if not name.strip():
        return "it is blank"
    if len(name) > MAX_CLASS_NAME_CHARS:
        return f"it is {len(name)} characters long, more than {MAX_CLASS_NAME_CHARS}"
    return ""
