"""A local HTTP server for the download tests: serves files, errors, truncations and stalls."""

from __future__ import annotations

import collections
import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Mode = Literal["ok", "stall_body", "stall_headers", "short", "no_length"]


@dataclasses.dataclass
class Route:
    """What the server answers for one path.

    Attributes:
        body: The bytes served.
        status: HTTP status code.
        mode: ``"ok"``; ``"stall_body"`` (headers, then silence); ``"stall_headers"`` (silence
            from the start); ``"short"`` (announces ``len(body)`` bytes, sends half, hangs up);
            ``"no_length"`` (no Content-Length header).
        delay: Seconds to wait before answering.
    """

    body: bytes = b""
    status: int = 200
    mode: Mode = "ok"
    delay: float = 0.0


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) with a table of routes.

    Unknown paths get a 404. ``requests`` counts the GET requests per path.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests[self.path] += 1
                    route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.delay:
                    server._stop.wait(route.delay)
                if route.mode == "stall_headers":
                    server._stop.wait(60)
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", "application/octet-stream")
                if route.mode != "no_length":
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.flush()
                if route.mode == "stall_body":
                    server._stop.wait(60)
                    return
                if route.mode == "short":
                    self.wfile.write(route.body[: len(route.body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(route.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: bytes = b"", **kwargs: object) -> str:
        """Serve ``body`` at ``path``; return the URL."""
        self.routes[path] = Route(body, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def count(self, prefix: str = "/") -> int:
        """Requests to paths starting with ``prefix``."""
        with self._lock:
            return sum(n for path, n in self.requests.items() if path.startswith(prefix))

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()  # releases stalled handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
