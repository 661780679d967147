"""kerasdigits._validate: the argument checks every module shares."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

import numpy as np
import pytest

from kerasdigits import _validate
from kerasdigits.models._errors import ModelConfigError, model_error


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(255)])
def test_positive_int_accepts_ints_and_returns_python_ints(value: Any) -> None:
    result = _validate.positive_int(value, "epochs")
    assert result == value and type(result) is int


@pytest.mark.parametrize("value", [0, -1, True, False, np.bool_(True), 1.0, "3", None, math.nan])
def test_positive_int_rejects_the_rest_naming_the_argument(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^epochs must be a positive int, got "):
        _validate.positive_int(value, "epochs")


def test_integer_minimum_and_error() -> None:
    assert _validate.positive_int(0, "patience", allow_zero=True) == 0
    with pytest.raises(ValueError, match=r"^patience must be an int >= 0, got -1$"):
        _validate.positive_int(-1, "patience", allow_zero=True)
    with pytest.raises(TypeError, match=r"^num_classes must be an int >= 2, got 1$"):
        _validate.integer(1, "num_classes", minimum=2, error=TypeError)
    with pytest.raises(ValueError, match=r"^n must be an int, got 'x'$"):
        _validate.integer("x", "n")
    assert _validate.integer(-5, "n") == -5


@pytest.mark.parametrize(
    ("low_open", "high_open", "good", "bad", "interval"),
    [
        (True, True, [0.5, 1e-9], [0, 1, 1.5], "(0, 1)"),
        (False, True, [0, 0.5, np.float32(0.25)], [1, -0.1], "[0, 1)"),
        (True, False, [1, 0.5], [0, 1.01], "(0, 1]"),
        (False, False, [0, 1], [-1e-9, 2], "[0, 1]"),
    ],
)
def test_fraction_intervals(
    low_open: bool, high_open: bool, good: list[Any], bad: list[Any], interval: str
) -> None:
    for value in good:
        result = _validate.fraction(value, "rate", low_open=low_open, high_open=high_open)
        assert result == float(value) and type(result) is float
    for value in [*bad, math.nan, True, "0.5", None]:
        with pytest.raises(ValueError, match=f"^rate must be a number in {re.escape(interval)}"):
            _validate.fraction(value, "rate", low_open=low_open, high_open=high_open)


def test_number() -> None:
    assert _validate.number(np.float32(0.5), "lr", positive=True) == 0.5
    assert _validate.number(-2, "shift") == -2.0
    for value, message in [
        (True, "lr must be a real number, got True"),
        ("1", "lr must be a real number, got '1'"),
        (math.inf, "lr must be finite, got inf"),
        (10**400, "lr must be finite"),
        (0.0, "lr must be positive, got 0.0"),
    ]:
        with pytest.raises(ValueError, match=f"^{message}"):
            _validate.number(value, "lr", positive=True)


def test_boolean() -> None:
    assert _validate.boolean(True, "invert") is True
    assert _validate.boolean(np.bool_(False), "invert") is False
    for value in (1, 0, "yes", None, np.array([True, False])):
        with pytest.raises(ValueError, match=r"^invert must be True or False, got "):
            _validate.boolean(value, "invert")


def test_choice_suggests_and_lists() -> None:
    assert _validate.choice("max", "pooling", ("average", "max")) == "max"
    assert _validate.choice(None, "quantization", (None, "int8")) is None
    assert _validate.choice("b", "key", {"a": 1, "b": 2}) == "b"  # a mapping's keys
    with pytest.raises(ValueError, match="mlkt") as info:
        _validate.choice("mlkt", "target", ("litert", "mlkit"))
    assert str(info.value) == (
        "unknown target 'mlkt'; target must be one of 'litert', 'mlkit'. Did you mean 'mlkit'?"
    )
    with pytest.raises(ValueError, match=r"^unknown quantization 8; quantization must be one "
                                         r"of None, 'int8'\.$"):
        _validate.choice(8, "quantization", (None, "int8"))
    for value in (1, True, np.array(["a", "b"]), ["a"]):  # neither equal nor a crash
        with pytest.raises(ValueError, match="unknown key"):
            _validate.choice(value, "key", ("a", "b", 1.5) if value is True else ("a", "b"))


def test_errors_can_be_any_exception_factory() -> None:
    with pytest.raises(ModelConfigError, match=r"^lenet5: unknown pooling 'median'; pooling "):
        _validate.choice("median", "pooling", ("average", "max"), error=model_error("lenet5"))
    with pytest.raises(argparse.ArgumentTypeError, match="Did you mean 'quick'"):
        _validate.choice("quik", "preset", ("default", "quick"),
                         error=argparse.ArgumentTypeError)
    with pytest.raises(ModelConfigError, match=r"^m: units must be a positive int, got 0 Note\.$"):
        _validate.positive_int(0, "units", error=model_error("m", " Note."))
