"""Exception and warning classes shared by every part of kerasdigits."""

from __future__ import annotations

__all__ = ["DatasetError", "KerasDigitsError", "KerasDigitsWarning"]


class KerasDigitsError(Exception):
    """Base class of every error kerasdigits raises on purpose."""


class KerasDigitsWarning(UserWarning):
    """Base class of every warning kerasdigits emits."""


class DatasetError(KerasDigitsError, ValueError):
    """A dataset could not be found, read or verified.

    The message names the file (or the dataset) and what is wrong with it: a missing file, a
    truncated gzip stream, a wrong IDX magic number or dtype, an image/label count mismatch,
    labels outside ``0..9``, or a checksum mismatch (with the expected and actual sha256).
    """
