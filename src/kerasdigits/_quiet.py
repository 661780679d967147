"""Hide TensorFlow's and LiteRT's native log lines from the command line's output.

TensorFlow writes lines such as ``I0000 00:00:... port.cc:153] oneDNN custom operations are
on`` and ``E0000 ... failed call to cuInit`` from C++ straight to file descriptor 2, before
and regardless of ``TF_CPP_MIN_LOG_LEVEL``; the TFLite converter adds ``fully_quantize: 0,
...`` and LiteRT ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``. They look like
errors and are not. :func:`filtered_stderr` passes everything written to descriptor 2
through a filter thread that drops exactly those lines and forwards the rest unchanged
(progress bars included); a terminal stays a terminal (a pseudo-terminal stands in for it).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

__all__ = ["NOISE", "filtered_stderr", "is_noise"]

#: Lines of native log noise (bytes, matched at the start of a line).
NOISE = re.compile(
    rb"(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-]+:\d+\]"
    rb"|fully_quantize: \d"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate"
    rb"|INFO: Initialized TensorFlow Lite runtime"
    rb"|To enable the following instructions: .*rebuild TensorFlow)"
)
# Lines that may still turn out to be noise once complete start with one of these bytes.
_NOISE_STARTS = b"WIEFfT"
_HOLD_LIMIT = 160


def is_noise(line: bytes) -> bool:
    """Return whether ``line`` (one line, without its end) is native log noise."""
    return NOISE.match(line) is not None


def _pump(source: int, sink: int) -> None:
    """Copy ``source`` to ``sink`` line by line, dropping noise; partial lines go on at once."""
    pending = b""  # the start of a line held back because it may be noise
    passing = False  # the current line was already partly forwarded: forward the rest
    while True:
        try:
            chunk = os.read(source, 65536)
        except OSError:  # a pseudo-terminal whose other end closed
            chunk = b""
        if not chunk:
            break
        data = pending + chunk
        pending = b""
        out = bytearray()
        for part in re.split(rb"(?<=[\n\r])", data):
            if not part:
                continue
            complete = part.endswith((b"\n", b"\r"))
            if passing:
                out += part
                passing = not complete
            elif complete:
                if not is_noise(part):
                    out += part
            elif part[:1] and part[:1] in _NOISE_STARTS and len(part) < _HOLD_LIMIT:
                pending = part
            else:
                out += part
                passing = True
        if out:
            with contextlib.suppress(OSError):
                os.write(sink, bytes(out))
    if pending and not is_noise(pending):
        with contextlib.suppress(OSError):
            os.write(sink, pending)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Filter native log noise out of everything written to descriptor 2 in the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real descriptor 2 (embedded, tests)
        yield
        return
    terminal = os.isatty(saved)
    if terminal:
        import pty
        import tty

        read_end, write_end = pty.openpty()
        tty.setraw(write_end)
    else:
        read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    if not terminal:
        os.close(write_end)
    thread = threading.Thread(target=_pump, args=(read_end, saved), daemon=True,
                              name="kerasdigits-stderr-filter")
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)  # closes the last write end held here: the pump sees the end
        if terminal:
            os.close(write_end)
        thread.join(timeout=5)
        os.close(read_end)
        os.close(saved)
