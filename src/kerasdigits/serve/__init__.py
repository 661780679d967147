"""See it work: a local web page that classifies what you draw or photograph with your model.

:func:`serve` (``kerasdigits serve MODEL`` on the command line) starts a web server for a
``.tflite`` file from :func:`~kerasdigits.export.export_tflite` or a ``.keras`` model. Its page
has a canvas to draw on (mouse, pen or finger) and a box for a photo; after each stroke it
shows the 28x28 image the model sees after :func:`~kerasdigits.transforms.to_mnist`, the class
probabilities with the model's own labels, the latency of the model call, and the file's
metadata. A ``.tflite`` file runs in LiteRT exactly as an app runs it, fed as its metadata
says; TensorFlow is not imported. A JSON API sits beside the page: ``POST /api/predict``,
``GET /api/model``, ``GET /healthz``.

The server is Starlette on uvicorn, the ``serve`` extra: ``pip install "kerasdigits[serve]"``.
Importing this module imports neither of them (nor TensorFlow): they are imported when a
server is created.

Example:
    >>> import kerasdigits
    >>> kerasdigits.serve("digits.tflite")  # doctest: +SKIP
    serving digits.tflite (LiteRT 2.3.0) at http://127.0.0.1:8000 - press Ctrl-C to stop
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import ipaddress
import os
import signal
import socket
import sys
import threading
import time
import types
import webbrowser
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from kerasdigits._errors import KerasDigitsError
from kerasdigits._validate import integer, positive_int
from kerasdigits.serve._classifier import (
    Classifier,
    KerasClassifier,
    LiteRTClassifier,
    ModelLoadError,
    Prediction,
    load_classifier,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_UPLOAD_BYTES",
    "Classifier",
    "KerasClassifier",
    "LiteRTClassifier",
    "ModelLoadError",
    "Prediction",
    "RunningServer",
    "ServeError",
    "create_app",
    "load_classifier",
    "serve",
    "start_server",
]

#: The address the server listens on unless told otherwise: this machine only (loopback).
DEFAULT_HOST = "127.0.0.1"
#: The default port.
DEFAULT_PORT = 8000
#: The largest request body ``POST /api/predict`` accepts (10 MiB); larger ones get 413.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

_INSTALL_HINT = 'pip install "kerasdigits[serve]"'
_START_TIMEOUT = 60.0  # seconds


class ServeError(KerasDigitsError):
    """The server cannot start: the address is taken or invalid, or start-up failed."""


def _require_extra() -> None:
    """Import the ``serve`` extra's packages, or raise a one-line error naming the extra.

    Raises:
        MissingExtraError: Starlette, uvicorn, python-multipart or Pillow is not installed.
    """
    for module, name in (("starlette", "Starlette"), ("uvicorn", "uvicorn"),
                         ("python_multipart", "python-multipart"), ("PIL", "Pillow")):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            from kerasdigits.plots import MissingExtraError

            raise MissingExtraError(
                f"kerasdigits serve needs {name}, which is not installed; install the serve "
                f"extra: {_INSTALL_HINT}", extra="serve", name=module) from exc


def _threads(threads: int | None) -> int:
    if threads is None:
        return max(1, min(4, os.cpu_count() or 1))
    return positive_int(threads, "threads")


def create_app(
    model: Any, *, threads: int | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES
) -> Starlette:
    """Return the ASGI application (Starlette) of the page and the API, without serving it.

    For running it under another ASGI server, or testing it with Starlette's ``TestClient``.

    Args:
        model: A ``.tflite`` or ``.keras`` file, a Keras model, an
            :class:`~kerasdigits.export.ExportResult` or a :class:`Classifier`.
        threads: Worker threads for decoding pictures and running the model (default: the
            number of CPU cores, at most 4). Each has its own LiteRT interpreter.
        max_upload_bytes: The largest request body accepted; larger ones get status 413.

    Returns:
        A Starlette application.

    Raises:
        ModelLoadError: The model cannot be loaded or does not take 28x28 images.
        MissingExtraError: The ``serve`` extra is not installed.
        ValueError: ``threads`` or ``max_upload_bytes`` is not a positive int.
    """
    limit = positive_int(max_upload_bytes, "max_upload_bytes")
    workers = _threads(threads)
    _require_extra()
    classifier = load_classifier(model)
    from kerasdigits.serve._app import build_app

    return build_app(classifier, threads=workers, max_upload_bytes=limit)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: a free port), or a one-line error."""
    if integer(port, "port", minimum=0) > 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host!r}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"cannot listen on {where}: the port is in use (another server?); "
                             "pass another port (--port)") from None
        raise ServeError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    sock.set_inheritable(False)
    return sock


def _url(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _lan_address() -> str | None:
    """This machine's address on its local network (what a phone would use), if found."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))  # a UDP "connection" sends nothing
        address = str(s.getsockname()[0])
        return None if address.startswith("127.") else address
    return None


class RunningServer:
    """A server started by :func:`start_server`, running in a background thread.

    Use it as a context manager, or call :meth:`stop`.

    Attributes:
        url: Where this machine reaches the page (``http://127.0.0.1:PORT`` when listening on
            every interface).
        host: The address the server listens on.
        port: The port it listens on (the actual one when started with ``port=0``).
        classifier: The model it answers with.
        app: The Starlette application.
    """

    def __init__(self, *, host: str, port: int, classifier: Classifier, app: Starlette,
                 server: Any, thread: threading.Thread, sock: socket.socket) -> None:
        self.host, self.port = host, port
        self.classifier, self.app = classifier, app
        local = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
        self.url = _url(local, port)
        self._server, self._thread, self._sock = server, thread, sock

    @property
    def running(self) -> bool:
        """Whether the server thread is still serving."""
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the server stops (or ``timeout`` seconds pass); return whether it stopped.

        Args:
            timeout: Seconds to wait at most (``None``: until it stops).

        Returns:
            ``True`` if the server has stopped.
        """
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting requests, finish the ones in progress, and wait for the thread.

        Args:
            timeout: Seconds to wait for the server thread.
        """
        self._server.should_exit = True
        self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningServer {self.url} {self.classifier.name} ({state})>"


def start_server(
    model: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    threads: int | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    access_log: bool = False,
) -> RunningServer:
    """Start the server in a background thread and return once it accepts connections.

    Args:
        model: A ``.tflite`` or ``.keras`` file, a Keras model, an
            :class:`~kerasdigits.export.ExportResult` or a :class:`Classifier`.
        host: The address to listen on; the default, ``127.0.0.1``, is this machine only.
            ``0.0.0.0`` is every interface (a phone on the same network can connect; there
            is no authentication).
        port: The port; ``0`` picks a free one (see :attr:`RunningServer.port`).
        threads: Worker threads for decoding and inference (see :func:`create_app`).
        max_upload_bytes: The largest request body accepted.
        access_log: Log every request (uvicorn's access log) to standard output.

    Returns:
        The :class:`RunningServer`.

    Raises:
        ServeError: The address cannot be listened on (the port is taken, the host unknown),
            or the server did not start.
        ModelLoadError: The model cannot be loaded or does not take 28x28 images.
        MissingExtraError: The ``serve`` extra is not installed.
        ValueError: ``port``, ``threads`` or ``max_upload_bytes`` is out of range.
    """
    app = create_app(model, threads=threads, max_upload_bytes=max_upload_bytes)
    import uvicorn

    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level="info" if access_log else "warning",
                            access_log=access_log, lifespan="on", timeout_graceful_shutdown=5,
                            server_header=False)
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start_server, or when stopping
            failure.append(exc)

    thread = threading.Thread(target=run, name="kerasdigits-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.01)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        sock.close()
        reason = f": {failure[0]}" if failure else f" within {_START_TIMEOUT:g} s"
        raise ServeError(f"the server did not start{reason}")
    actual = int(sock.getsockname()[1])
    classifier: Classifier = app.state.classifier
    return RunningServer(host=host, port=actual, classifier=classifier, app=app,
                         server=server, thread=thread, sock=sock)


class _TerminatedError(Exception):
    """SIGTERM arrived while :func:`serve` was waiting."""


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """In the main thread, turn SIGTERM into :class:`_TerminatedError`: a clean stop, as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: types.FrameType | None) -> None:
        raise _TerminatedError

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(
    model: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    threads: int | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    access_log: bool = False,
    out: TextIO | None = None,
) -> None:
    """Serve the draw-a-digit page for a model until Ctrl-C; ``kerasdigits serve`` in Python.

    Prints the URL, then blocks until Ctrl-C (``KeyboardInterrupt``, or interrupting a
    notebook's kernel) or SIGTERM, stops the server cleanly and returns. Works in a notebook
    too (the server runs in its own thread with its own event loop).

    Args:
        model: A ``.tflite`` file from :func:`~kerasdigits.export.export_tflite` (run by
            LiteRT, as an app runs it), a ``.keras`` file, a Keras model (such as
            ``train(...).model``), an :class:`~kerasdigits.export.ExportResult`, or a
            :class:`Classifier`.
        host: The address to listen on. The default, ``127.0.0.1``, is this machine only;
            ``0.0.0.0`` lets a phone on the same network open the page (there is no
            authentication: anyone who can reach the port can use it).
        port: The port (``0``: a free one).
        open_browser: Open the page in the default web browser.
        threads: Worker threads for decoding and inference (default: the number of CPU cores,
            at most 4).
        max_upload_bytes: The largest request body accepted (default 10 MiB); larger ones get
            status 413.
        access_log: Print a line for every request.
        out: Where to print the URL and messages (default: standard output).

    Raises:
        ServeError: The address cannot be listened on (the port is taken, the host unknown).
        ModelLoadError: The model cannot be loaded or does not take 28x28 images.
        MissingExtraError: The ``serve`` extra is not installed (``pip install
            "kerasdigits[serve]"``).
        ValueError: ``port``, ``threads`` or ``max_upload_bytes`` is out of range.
    """
    stream = out or sys.stdout
    server = start_server(model, host=host, port=port, threads=threads,
                          max_upload_bytes=max_upload_bytes, access_log=access_log)
    classifier = server.classifier
    stream.write(f"serving {classifier.name} ({classifier.runtime} "
                 f"{classifier.runtime_version}) at {server.url} - press Ctrl-C to stop\n")
    if not _is_loopback(host):
        lan = _lan_address() if host in ("0.0.0.0", "::", "") else None
        if lan:
            stream.write(f"on your network (a phone on the same Wi-Fi): "
                         f"{_url(lan, server.port)}\n")
        stream.write("note: listening beyond this machine, without authentication: anyone "
                     "who can reach the port can use the page\n")
    stream.flush()
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        with _sigterm_stops():
            while not server.wait(0.5):
                pass
    except (KeyboardInterrupt, _TerminatedError):
        pass
    finally:
        server.stop()
    stream.write("stopped\n")
    stream.flush()


class _CallableModule(types.ModuleType):
    """``kerasdigits.serve(...)`` works whether the name is this module or the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        serve(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
