""""Did you mean" suggestions for unknown names, in the style of Gymnasium."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str], *, n: int = 3) -> str:
    """Return a sentence suggesting the closest known names, or ``""`` if none is close.

    Args:
        name: The unknown name the user typed.
        choices: The known names.
        n: How many suggestions at most.

    Returns:
        For example ``" Did you mean 'mnist'?"`` (with a leading space), or an empty string.
    """
    known = list(choices)
    lowered = {c.lower(): c for c in known}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    # Substring hits ("fashion" -> "fashion_mnist") are useful even when difflib's ratio is low.
    for candidate in sorted(lowered):
        if len(matches) >= n:
            break
        if name and name.lower() in candidate and candidate not in matches:
            matches.append(candidate)
    if not matches:
        return ""
    names = [repr(lowered[m]) for m in matches]
    if len(names) == 1:
        return f" Did you mean {names[0]}?"
    return f" Did you mean one of {', '.join(names)}?"
