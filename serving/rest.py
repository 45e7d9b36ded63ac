"""TF Serving's REST API on the model manager, over the standard library's HTTP server.

    GET  /v1/models/NAME[/versions/V | /labels/L]            model status
    GET  /v1/models/NAME[/versions/V | /labels/L]/metadata   signature defs
    POST /v1/models/NAME[/versions/V | /labels/L]:predict    row or columnar predict

Replies are JSON; errors are `{"error": "..."}` with TF Serving's HTTP status for the
error's code (400 bad request, 404 unknown model or version, 500 internal, ...).
"""
from __future__ import annotations

import http
import http.server
import io
import json
import logging
import re
import select
import socket
import sys
import threading
import time
import urllib.parse
from typing import Callable

import grpc

from serving import errors
from serving import protos
from serving import rest_json
from serving.manager import ModelManager
from serving.metrics import Metrics
from serving.validation import Limits

_MODEL = r"/v1/models/([^/:]+)(?:/versions/([0-9]+)|/labels/([^/:]+))?"
_PREDICT_PATH = re.compile(_MODEL + r":(classify|regress|predict)", re.IGNORECASE)
_STATUS_PATH = re.compile(_MODEL + r"(/metadata)?", re.IGNORECASE)
_API_PREFIX = re.compile(r"/v1/", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,19}")
# An oversized body up to this size is read and dropped, so that the client gets the 400
# rather than a reset connection; beyond it the connection is closed unread.
_MAX_DISCARDED_BYTES = 256 * 1024 * 1024
_MAX_VERSION_DIGITS = 19  # int64, as TF Serving's versions


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class RestApi:
    """Answers one REST request: (HTTP status, JSON document, extra headers)."""

    def __init__(self, manager: ModelManager, limits: Limits, metrics: Metrics | None = None):
        self._manager = manager
        self.limits = limits
        self.metrics = metrics

    def handle(self, method: str, path: str, body: bytes,
               stop: Callable[[], None] | None = None) -> tuple[int, dict, dict[str, str]]:
        """The reply to a request; `stop()` raises to abandon the computation."""
        started = time.monotonic()
        call = _Call()
        code = grpc.StatusCode.OK
        try:
            try:
                path = urllib.parse.urlsplit(path).path
            except ValueError as error:  # e.g. "//[x": an invalid IPv6 host
                raise errors.invalid_argument(f"Malformed request: invalid path: {error}")
            return 200, self._dispatch(method, path, body, call, stop), {}
        except _MethodNotAllowed as error:
            code = error.code
            return 405, {"error": error.message}, {"Allow": error.allow}
        except errors.ServingError as error:
            code = error.code
            return errors.http_status(error.code), {"error": error.message}, {}
        except Exception as exception:  # Any other failure is the server's: 500, logged.
            logging.exception("%s %s failed", method, _shorten(path, 200))
            error = errors.from_exception(exception)
            code = error.code
            return errors.http_status(error.code), {"error": error.message}, {}
        finally:
            if self.metrics is not None and call.api:
                self.metrics.observe(call.model, call.api, "REST", code.name,
                                     time.monotonic() - started)

    def metrics_text(self) -> str:
        return self.metrics.text() if self.metrics is not None else ""

    def _dispatch(self, method: str, path: str, body: bytes, call: "_Call",
                  stop: Callable[[], None] | None) -> dict:
        if not _API_PREFIX.match(path):
            raise errors.not_found(f"Not found: {_shorten(path)} (the API is under /v1/models/)")
        predict = _PREDICT_PATH.fullmatch(path)
        status = None if predict else _STATUS_PATH.fullmatch(path)
        if predict:
            if method != "POST":
                raise _MethodNotAllowed(method, path, "POST")
            call.api = predict.group(4).lower()
            name, version = self._model_version(call, *predict.group(1, 2, 3))
            if call.api != "predict":
                raise errors.ServingError(grpc.StatusCode.UNIMPLEMENTED,
                                          f"{predict.group(4)} is not supported; use :predict")
            return self._predict(name, version, body, stop)
        if status:
            if method != "GET":
                raise _MethodNotAllowed(method, path, "GET")
            call.api = "GetModelMetadata" if status.group(4) else "GetModelStatus"
            name, version = self._model_version(call, *status.group(1, 2, 3))
            if status.group(4):
                return protos.metadata_json(self._manager.servable(name, version))
            return protos.status_json(self._manager.status(name, version))
        raise errors.invalid_argument(f"Malformed request: {method} {_shorten(path)}")

    def _model_version(self, call: "_Call", name: str, version: str | None,
                       label: str | None) -> tuple[str, int | None]:
        name = urllib.parse.unquote(name)
        if self._manager.has_model(name):
            call.model = name
        if label is not None:
            return name, self._manager.version_for_label(name, urllib.parse.unquote(label))
        if version is None:
            return name, None
        if len(version) > _MAX_VERSION_DIGITS or int(version) >= 2 ** 63:
            raise errors.invalid_argument(
                f"version {_shorten(version)} is not a valid version number (an int64)")
        return name, int(version)

    def _predict(self, name: str, version: int | None, body: bytes,
                 stop: Callable[[], None] | None) -> dict:
        document = rest_json.parse_document(body, self.limits)
        servable = self._manager.servable(name, version)
        signature = servable.signature(rest_json.signature_name(document))
        inputs, form = rest_json.decode_inputs(document, signature.inputs)
        outputs = servable.predict(signature, inputs, self.limits,
                                   rest_json.output_filter(document), stop=stop)
        return rest_json.encode_outputs(outputs, form)


class _Call:
    """What a request turned out to be, for the metrics: its API and (known) model."""

    def __init__(self) -> None:
        self.api = ""
        self.model = ""


class _MethodNotAllowed(errors.ServingError):
    """An API path asked with the wrong method (HTTP 405 with an Allow header)."""

    def __init__(self, method: str, path: str, allow: str):
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT,
                         f"Method {method} is not allowed on {_shorten(path)}; use {allow}")
        self.allow = allow


class _DeadlineReader(io.RawIOBase):
    """The connection's socket for reading, each recv given only the time left to the request."""

    def __init__(self, connection: socket.socket, handler: "_Handler"):
        self._connection = connection
        self._handler = handler
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self._handler.deadline - time.monotonic()
        if remaining <= 0:
            self._handler.timed_out = True
            raise TimeoutError("the request was not received in time")
        self._connection.settimeout(remaining)
        try:
            count = self._connection.recv_into(buffer)
        except TimeoutError:
            self._handler.timed_out = True
            raise
        self.bytes_read += count
        return count


class _Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every reply, errors included, is JSON.

    Each request (its wait, head and body) must arrive within `--rest_api_timeout_in_ms`
    of the connection becoming ready for it, a whole-request deadline rather than a
    per-read timeout, so a slow sender cannot hold a connection; the same deadline bounds
    the computation. The body is refused past `--max_body_bytes` before it is read.
    """

    protocol_version = "HTTP/1.1"
    server_version = "gan-zoo-serving"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms.
    disable_nagle_algorithm = True
    server: RestServer
    deadline = 0.0
    timed_out = False

    def setup(self) -> None:
        super().setup()
        self._reader = _DeadlineReader(self.connection, self)
        self.rfile = io.BufferedReader(self._reader, max(self.rbufsize, io.DEFAULT_BUFFER_SIZE))

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.server.timeout_seconds
        self.timed_out = False
        received = self._reader.bytes_read
        super().handle_one_request()
        if self.timed_out and self._reader.bytes_read > received:
            # A request had begun (an idle keep-alive connection is closed silently).
            self.close_connection = True
            self._reply(408, {"error": f"the request was not received within "
                                       f"{self.server.timeout_seconds * 1000:g} ms "
                                       f"(--rest_api_timeout_in_ms)"})

    def handle_expect_100(self) -> bool:
        """Refuses an oversized body before the client sends it (curl asks for large ones)."""
        try:
            self.server.api.limits.check_body_size(int(self.headers.get("Content-Length", 0)))
        except ValueError:
            pass  # do_POST answers a malformed Content-Length
        except errors.ServingError as error:
            self.close_connection = True
            self._reply(errors.http_status(error.code), {"error": error.message})
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        monitoring = self.server.monitoring_path
        if monitoring is not None and urllib.parse.urlsplit(self.path).path == monitoring:
            self._reply_text(200, self.server.api.metrics_text())
            return
        self._reply(*self.server.api.handle("GET", self.path, b"", self._stop_check()))

    def do_POST(self) -> None:  # noqa: N802
        size = self._body_size(required=True)
        if size is None:
            return
        body = self.rfile.read(size)
        if len(body) < size:  # the client went away mid-body
            self.close_connection = True
            return
        self._reply(*self.server.api.handle("POST", self.path, body, self._stop_check()))

    def _other_method(self) -> None:
        """PUT, DELETE, ...: 405 with the allowed methods (the body, if any, is dropped)."""
        if self.headers.get("Content-Length") is not None:
            size = self._body_size(required=False)
            if size is None:
                return
            self._discard(size)
        self._reply(*self.server.api.handle(self.command, self.path, b""))

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = _other_method

    def _body_size(self, required: bool) -> int | None:
        """The Content-Length, or None once an error about it is answered."""
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self._reply(411, {"error": f"a {self.command} needs a Content-Length header"})
            return None
        if not _DIGITS.fullmatch(length):
            self.close_connection = True
            self._reply(400, {"error": f"invalid Content-Length: {_shorten(length)!r}"})
            return None
        size = int(length)
        try:
            self.server.api.limits.check_body_size(size)
        except errors.ServingError as error:
            self._discard(size)
            self._reply(errors.http_status(error.code), {"error": error.message})
            return None
        return size

    def _stop_check(self) -> Callable[[], None]:
        """For the computation: raises once the deadline passes or the client hangs up."""
        def check() -> None:
            if time.monotonic() > self.deadline:
                raise errors.ServingError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"the request took longer than {self.server.timeout_seconds * 1000:g} ms "
                    "(--rest_api_timeout_in_ms)")
            if _peer_closed(self.connection):
                raise errors.ServingError(grpc.StatusCode.CANCELLED,
                                          "the client closed the connection")
        return check

    def _discard(self, size: int) -> None:
        """Reads and drops an unwanted body (or gives up on the connection if it is huge)."""
        self.close_connection = True
        if size > _MAX_DISCARDED_BYTES:
            return
        while size > 0:
            chunk = self.rfile.read(min(size, 1 << 16))
            if not chunk:
                return
            size -= len(chunk)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own errors (400, 414, 431, 501, ...) as TF Serving's JSON, not HTML."""
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self.log_message("code %d, message %s", code, message)
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # unparsed: 0.9 replies have no status line
            self.request_version = "HTTP/1.0"
        self._reply(code, {"error": message or phrase})

    def _reply(self, status: int, document: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, rest_json.dumps(document), "application/json", headers or {})

    def _reply_text(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/plain; version=0.0.4; charset=utf-8", {})

    def _send(self, status: int, data: bytes, content_type: str,
              headers: dict[str, str]) -> None:
        # The reply gets its own time to be written, so a client that does not read is
        # dropped too.
        self.connection.settimeout(self.server.timeout_seconds)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (the base's signature)
        logging.debug("REST %s: " + format, self.address_string(), *args)


def _peer_closed(connection: socket.socket) -> bool:
    """Whether the client has closed its end (readable, with nothing to read)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


_REFUSAL_LINGER_SECONDS = 1.0


class RestServer(http.server.ThreadingHTTPServer):
    """A thread per connection, at most `max_connections` at once; `serve_forever()` until
    `shutdown()`.

    A connection beyond the cap is answered 503 at once by the accepting thread and closed
    after a short linger (so the client reads the reply rather than a reset), instead of
    queueing behind connections that may be slow.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: RestApi, *, max_connections: int = 128,
                 timeout_seconds: float = 30.0, monitoring_path: str | None = None):
        self.api = api
        self.max_connections = max_connections
        self.timeout_seconds = timeout_seconds
        self.monitoring_path = monitoring_path
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lingering: list[tuple[float, socket.socket]] = []
        super().__init__(address, _Handler)  # binds (and calls server_close if that fails)

    def process_request(self, request: socket.socket, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        data = json.dumps({"error": f"the server is at its limit of {self.max_connections} "
                                    "connections (--rest_api_max_connections)"}).encode()
        reply = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(data), data))
        try:
            request.setblocking(False)
            request.send(reply)  # a fresh socket's send buffer takes it whole
            request.shutdown(socket.SHUT_WR)
        except OSError:
            request.close()
            return
        self._lingering.append((time.monotonic() + _REFUSAL_LINGER_SECONDS, request))

    def service_actions(self) -> None:
        """Closes refused connections once their linger is over (called by serve_forever)."""
        now = time.monotonic()
        done = [sock for when, sock in self._lingering if when <= now]
        self._lingering = [(when, sock) for when, sock in self._lingering if when > now]
        for sock in done:
            _close_drained(sock)

    def server_close(self) -> None:
        super().server_close()
        for _, sock in self._lingering:
            _close_drained(sock)
        self._lingering = []

    def handle_error(self, request, client_address) -> None:
        """A client that resets or times out is routine; anything else is logged in full."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            logging.debug("REST %s: %s", client_address, error)
        else:
            logging.exception("REST %s: error handling a request", client_address)


def _close_drained(sock: socket.socket) -> None:
    try:
        while sock.recv(1 << 16):
            pass
    except OSError:
        pass
    sock.close()
