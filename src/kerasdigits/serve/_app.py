"""The Starlette application: the page, its static files and the JSON API.

Routes:

* ``GET /``: the draw-a-digit page (``static/index.html``); ``/static/...``: its script and
  style sheet, shipped in the package (nothing is fetched from elsewhere: the page's
  Content-Security-Policy allows this server only).
* ``POST /api/predict``: a picture (``image/*`` body, or ``multipart/form-data`` with a
  ``file`` field) or pixels as JSON; answers the labels, probabilities, the 28x28 image the
  model saw and the timing.
* ``GET /api/model``: the model's file, runtime, inputs and outputs, metadata and labels.
* ``GET /healthz``: ``{"status": "ok"}``.

Decoding, :func:`~kerasdigits.transforms.to_mnist` and the model call run in a pool of worker
threads, off the event loop; each thread has its own LiteRT interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kerasdigits.serve._classifier import Classifier
from kerasdigits.serve._images import (
    RequestError,
    _first_line,
    image_from_bytes,
    image_from_json,
)

__all__ = ["STATIC_DIR", "build_app"]

#: The folder of the page's files (``index.html``, ``app.js``, ``style.css``).
STATIC_DIR = Path(__file__).resolve().parent / "static"

_LOG = logging.getLogger("kerasdigits.serve")

_SECURITY_HEADERS = {
    # Only this server: no CDN, no fonts or scripts from elsewhere, no framing.
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}

_UNSUPPORTED = ("send a picture (an image/* body such as image/png, or multipart/form-data "
                "with a 'file' field) or JSON pixels (application/json)")


class _SecurityHeaders:
    """ASGI middleware adding :data:`_SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Workers:
    """The worker threads that decode pictures and run the model (created on first use)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads,
                                                thread_name_prefix="kerasdigits-serve")
            return self._pool

    async def run(self, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return await asyncio.get_running_loop().run_in_executor(self.pool(), fn)

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and other errors Starlette raises, as JSON like the API's own errors."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
        raise exc
    return JSONResponse({"error": f"{exc.status_code} {exc.detail}"},
                        status_code=exc.status_code, headers=exc.headers)


def _mib(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (413) before or while reading."""
    too_large = RequestError(413, f"request too large: the limit is {_mib(limit)}")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large
        except ValueError:
            raise RequestError(400, f"invalid Content-Length {declared!r}") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _form_file(request: Request, body: bytes, limit: int) -> bytes:
    """The bytes of the (first) file of a ``multipart/form-data`` body."""
    sent = False

    async def replay() -> Message:  # the body, already read (and size-checked)
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=1, max_fields=20, max_part_size=limit)
    except Exception as exc:  # MultiPartException, or an HTTPException wrapping it
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        raise RequestError(400, f"malformed multipart body: {detail}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise RequestError(422, "the multipart body has no file: send the picture in a "
                                    "'file' field")
        return await upload.read()
    finally:
        await form.close()


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        reason = _first_line(exc).partition(";")[0]  # not the hint to the server's Python
        raise RequestError(400, f"malformed JSON: a number is too long: {reason}") from None
    except RecursionError:
        raise RequestError(400, "malformed JSON: nested too deeply") from None


def _answer(classifier: Classifier, prepare: Callable[[], npt.NDArray[np.uint8]],
            source: str) -> dict[str, Any]:
    """Prepare the image, classify it, and return the response body (in a worker thread).

    ``preprocess_ms`` is the time to ``prepare`` the image: parsing the JSON or decoding the
    picture, and ``to_mnist``.
    """
    start = time.perf_counter()
    image = prepare()
    prepared = time.perf_counter()
    prediction = classifier.classify(image)
    answer = prediction.as_dict()
    answer.pop("inference_ms")
    answer["source"] = source
    answer["timing"] = {
        "preprocess_ms": (prepared - start) * 1000.0,
        "inference_ms": prediction.inference_ms,
    }
    answer["model"] = {"file": classifier.name, "runtime": classifier.runtime,
                       "runtime_version": classifier.runtime_version}
    return answer


def build_app(classifier: Classifier, *, threads: int, max_upload_bytes: int) -> Starlette:
    """Return the ASGI application serving ``classifier`` (see the module's docstring).

    Args:
        classifier: The model.
        threads: Worker threads for decoding and inference.
        max_upload_bytes: The largest request body accepted (larger ones get 413).

    Returns:
        The Starlette application.
    """
    workers = _Workers(threads)
    index_html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    model_info = classifier.describe()
    model_info["server"] = {"max_upload_bytes": max_upload_bytes, "threads": threads}

    async def index(request: Request) -> Response:
        return HTMLResponse(index_html)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": classifier.name})

    async def model(request: Request) -> Response:
        return JSONResponse(model_info)

    async def predict(request: Request) -> Response:
        received = time.perf_counter()
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        try:
            if not (kind in ("", "application/json", "multipart/form-data",
                             "application/octet-stream") or kind.startswith("image/")):
                raise RequestError(415, f"unsupported content type {kind!r}: {_UNSUPPORTED}")
            body = await _read_body(request, max_upload_bytes)
            if kind == "application/json":
                answer = await workers.run(lambda: _answer(
                    classifier, lambda: image_from_json(_parse_json(body)), "pixels"))
            else:
                data = (await _form_file(request, body, max_upload_bytes)
                        if kind == "multipart/form-data" else body)
                answer = await workers.run(
                    lambda: _answer(classifier, lambda: image_from_bytes(data), "picture"))
        except RequestError as exc:
            return _error(exc.status, exc.message)
        except Exception as exc:  # never a traceback to the client; the log has it
            _LOG.exception("POST /api/predict failed")
            return _error(500, f"internal error: {type(exc).__name__}: {exc}")
        answer["timing"]["total_ms"] = (time.perf_counter() - received) * 1000.0
        return JSONResponse(answer)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, workers.shutdown)

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/api/model", model, methods=["GET"]),
        Route("/api/predict", predict, methods=["POST"]),
        Mount("/static", StaticFiles(directory=os.fspath(STATIC_DIR)), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error})
    app.add_middleware(_SecurityHeaders)
    app.state.classifier = classifier
    app.state.workers = workers
    return app
