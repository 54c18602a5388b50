"""HTTP server for the browser view, standard library only.

Routes: ``/`` page, ``/stream.mjpg``, ``/snapshot.jpg``, ``/api/status``, ``/api/events``
(JSON, or Server-Sent Events when asked for ``text/event-stream``), ``/api/history`` (the
chart's last minutes of per-interval emotion shares, with every label's colour), ``/metrics``
(Prometheus) and ``/healthz``, over HTTPS when given a TLS context. Nothing here writes a file or
serves one from disk. In the aggregates-only privacy mode (``private``) the picture and per-face
routes answer 403. Wrong passwords are limited per client address (``logins``); /healthz is always open.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from pi_emotion.errors import UserError
from pi_emotion.integrations.stream.hub import HISTORY_INTERVAL, HISTORY_SPAN, FrameHub
from pi_emotion.integrations.stream.logins import LoginLimiter
from pi_emotion.perception.annotate import hex_colours

log = logging.getLogger(__name__)
BOUNDARY = "FRAME"
NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate, private", "Pragma": "no-cache", "Expires": "0"}
# On every response: the page's sources are its own, and no other site may frame it.
SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'unsafe-inline'; "
                                       "script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"}
SSE_INTERVAL = 0.1  # seconds; the page needs no more than ten updates a second
STALE_AFTER = 5.0  # seconds without a frame before /healthz says 503
PRIVATE_ROUTES = ("/stream.mjpg", "/snapshot.jpg", "/api/events")


def parse_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT``, host defaulting to loopback; IPv6 as ``[::1]:8000``."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UserError(f"--stream {text!r}: expected [HOST:]PORT, e.g. 8000 or 0.0.0.0:8000")
    return host, int(port)


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def base_url(host: str, port: int, tls: bool) -> str:
    return f"{'https' if tls else 'http'}://{f'[{host}]' if ':' in host else host}:{port}/"


def network_url(address: tuple[str, int], tls: bool = False) -> str:
    """The browser view's address as other machines on the network reach it; empty when it serves loopback only."""
    host, port = address
    if is_loopback(host):
        return ""
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname() + ".local"  # every address of this machine: its mDNS name reaches it
    return base_url(host, port, tls)


def check_access(address: tuple[str, int], password: str, allow_anonymous: bool, tls: bool = False,
                 allow_http: bool = False) -> list[str]:
    """Faces reach the network only behind a password and over TLS, unless the user said otherwise explicitly.

    Returns the warnings to log at start for what the user allowed.
    """
    where = f"--stream {address[0]}:{address[1]}"
    if is_loopback(address[0]):
        return []
    if not password and not allow_anonymous:
        raise UserError(f"{where} would show faces to the network without a password: set PI_EMOTION_STREAM_PASSWORD "
                        "(or --stream-password), bind 127.0.0.1, or set stream_allow_anonymous = true")
    if not tls and not allow_http:
        raise UserError(f"{where} would send faces{' and the password' if password else ''} over plain HTTP, "
                        "readable by anyone on the network: give --stream-tls-cert and --stream-tls-key (the installer "
                        "makes a certificate), bind 127.0.0.1, or set stream_allow_http = true")
    warnings = []
    if not password:
        warnings.append(f"the browser view on {address[0]}:{address[1]} is open to the network without a password "
                        "(stream_allow_anonymous); set --stream-password (or stream_password in the config file)")
    if not tls:
        warnings.append(f"the browser view on {address[0]}:{address[1]} is served over plain HTTP "
                        "(stream_allow_http): anyone on the network can read its pictures"
                        f"{' and password' if password else ''}; give --stream-tls-cert and --stream-tls-key")
    return warnings


class StreamServer:
    """Owns the listening socket and its thread; ``status`` supplies /api/status's figures.

    ``tls``: serve HTTPS (``tls.server_context``); ``logins``: the failed-login limit (one per server by default).
    """

    def __init__(self, hub: FrameHub, address: tuple[str, int], password: str = "",
                 status: Callable[[], dict] = dict, client_timeout: float = 10.0,
                 stale_after: float = STALE_AFTER, metrics: Callable[[], tuple[bytes, str]] | None = None,
                 private: bool = False, tls: ssl.SSLContext | None = None,
                 logins: LoginLimiter | None = None) -> None:
        self.hub = hub
        self.tls = tls
        handler = type("Handler", (_Handler,), {"hub": hub, "password": password, "status": staticmethod(status),
                                                "timeout": client_timeout, "stale_after": stale_after,
                                                "metrics": staticmethod(metrics) if metrics else None,
                                                "private": private, "logins": logins or LoginLimiter()})
        server_class = _IPv6Server if ":" in address[0] else _Server
        try:
            self.httpd = server_class(address, handler)
        except OSError as exc:
            raise UserError(f"--stream {address[0]}:{address[1]} cannot be bound ({exc.strerror})") from None
        self.httpd.tls, self.httpd.handshake_timeout = tls, client_timeout
        self.address = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="http", daemon=True)

    @property
    def url(self) -> str:
        return base_url(*self.address, self.tls is not None)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    tls: ssl.SSLContext | None = None
    handshake_timeout = 10.0

    def finish_request(self, request, client_address) -> None:
        """With TLS, the handshake happens here, on the client's own thread: a client slow to shake
        hands (or speaking plain HTTP, which fails it) holds up no one else."""
        if self.tls is None:
            return super().finish_request(request, client_address)
        request.settimeout(self.handshake_timeout)
        conn = self.tls.wrap_socket(request, server_side=True)
        try:
            super().finish_request(conn, client_address)
        finally:
            self.shutdown_request(conn)

    def handle_error(self, request, client_address) -> None:
        log.debug("client %s dropped", client_address[0])  # a client gone is normal, not an error


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    hub: FrameHub
    password: str
    status: Callable[[], dict]
    stale_after: float
    metrics: Callable[[], tuple[bytes, str]] | None
    private: bool
    logins: LoginLimiter
    server_version = "pi-emotion"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # errors for garbled request lines get a real status line
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def end_headers(self) -> None:
        """Every response, errors included, is uncacheable and carries the security headers."""
        for key, value in {**NO_CACHE, **SECURITY}.items():
            self.send_header(key, value)
        super().end_headers()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return self._healthz()
        client = self.client_address[0]
        wait = self.logins.retry_after(client)
        if wait:
            return self._send(HTTPStatus.TOO_MANY_REQUESTS, f"too many failed logins: try again in {wait} s\n"
                              .encode(), "text/plain", {"Retry-After": str(wait)})
        authorised = self._authorised()
        if not authorised:
            if authorised is False:
                self.logins.failed(client)
            return self._send(HTTPStatus.UNAUTHORIZED, b"authentication required\n", "text/plain",
                              {"WWW-Authenticate": 'Basic realm="pi-emotion", charset="UTF-8"'})
        if self.password:
            self.logins.succeeded(client)
        if self.private and url.path in PRIVATE_ROUTES:
            return self._send(HTTPStatus.FORBIDDEN, b"not available: this appliance runs with --privacy aggregate "
                              b"(no pictures or per-face data leave it)\n", "text/plain")
        route = {"/": self._page, "/stream.mjpg": self._mjpeg, "/snapshot.jpg": self._snapshot,
                 "/api/status": self._status, "/api/events": self._events, "/metrics": self._metrics,
                 "/api/history": self._history}.get(url.path)
        if route is None or (url.path == "/metrics" and self.metrics is None):
            return self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        route(parse_qs(url.query))

    def _not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only\n", "text/plain", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _authorised(self) -> bool | None:
        """True: the right password or none needed; False: a wrong one; None: none given."""
        if not self.password:
            return True
        header = self.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            _, _, given = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given.encode(), self.password.encode())

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(data).encode() + b"\n", "application/json")

    def _healthz(self) -> None:
        age = self.hub.seconds_since_frame()
        ok = age is not None and age < self.stale_after
        body = {"ok": ok, "state": self.status().get("state", "running"),
                "seconds_since_frame": None if age is None else round(age, 3)}
        self._json(body, HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE)

    def _page(self, query) -> None:
        page = resources.files("pi_emotion.integrations.stream").joinpath("page.html").read_bytes()
        self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")

    def _status(self, query) -> None:
        self._json({**self.status(), "stream_clients": self.hub.stream_clients})

    def _history(self, query) -> None:
        intervals = self.hub.history()
        labels = list(self.hub.labels)
        labels += sorted({k for i in intervals for k in i.get("counts", {}) if k not in labels})
        self._json({"interval_s": HISTORY_INTERVAL, "span_s": HISTORY_SPAN, "labels": labels,
                    "colours": dict(zip(labels, hex_colours(labels))), "intervals": intervals})

    def _metrics(self, query) -> None:
        body, content_type = self.metrics()
        self._send(HTTPStatus.OK, body, content_type)

    def _snapshot(self, query) -> None:
        age = self.hub.seconds_since_frame()
        jpeg = self.hub.snapshot(timeout=2.0) if age is not None and age < self.stale_after else None
        if jpeg is None:
            return self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"no current frame\n", "text/plain",
                              {"Retry-After": "5"})
        self._send(HTTPStatus.OK, jpeg, "image/jpeg")

    def _too_many(self) -> None:
        """503, and the connection closed, so a refused client holds no server thread."""
        self.close_connection = True
        self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"too many clients\n", "text/plain",
                   {"Retry-After": "10", "Connection": "close"})

    def _mjpeg(self, query) -> None:
        if not self.hub.join_stream():
            return self._too_many()
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command == "HEAD":
                return
            seq = 0
            while True:
                jpeg, seq = self.hub.next_jpeg(seq, timeout=self.timeout)
                if jpeg is None:
                    return  # no frames for a while, or shutting down: the browser reconnects
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                                 f"\r\n\r\n".encode() + jpeg + b"\r\n")
        except (ConnectionError, TimeoutError, OSError):
            log.debug("stream client %s left", self.address_string())
        finally:
            self.hub.leave_stream()

    def _events(self, query) -> None:
        if "text/event-stream" not in self.headers.get("Accept", ""):
            try:
                n = max(1, min(int(query.get("n", ["100"])[0]), 1000))
            except ValueError:
                return self._send(HTTPStatus.BAD_REQUEST, b"n must be an integer\n", "text/plain")
            return self._json([r.to_json() for r in self.hub.recent(n)])
        if not self.hub.join_events():
            return self._too_many()
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            seq = 0
            while True:
                result, seq = self.hub.next_result(seq, timeout=self.timeout)
                if result is None:
                    return
                self.wfile.write(b"data: " + json.dumps(result.to_json()).encode() + b"\n\n")
                self.wfile.flush()
                time.sleep(SSE_INTERVAL)  # rate limit: the next write carries the newest result
        except (ConnectionError, TimeoutError, OSError):
            log.debug("event client %s left", self.address_string())
        finally:
            self.hub.leave_events()
