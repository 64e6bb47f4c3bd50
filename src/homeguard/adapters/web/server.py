"""Serving the web app with uvicorn in a thread, on a socket already listening."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import uvicorn

from homeguard.errors import HomeguardError

from .app import create_app
from .backend import Backend
from .live import LiveHub

log = logging.getLogger("homeguard.web")

START_TIMEOUT = 10.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every keep-alive response waits 40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise HomeguardError(
            f"the dashboard cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    return sock


def url_of(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


class WebServer:
    """The dashboard and API on ``sock``; :meth:`start` returns once it serves."""

    def __init__(self, backend: Backend, *, sock: socket.socket) -> None:
        app = create_app(backend)
        self._hub: LiveHub = app.state.web.hub
        self._sensors = len(backend.settings.sensors)
        self._health, self._clock = backend.health, backend.clock
        self._config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            server_header=False,
            # Forwarded headers only from the configured proxies: from anyone else they
            # would let a client choose its address (and dodge the login lockout).
            proxy_headers=bool(backend.web.trusted_proxies),
            forwarded_allow_ips=list(backend.web.trusted_proxies),
        )
        self._server = uvicorn.Server(self._config)
        self._socket = sock
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._thread.start()
        pause = threading.Event()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            pause.wait(0.02)
        if not self._server.started:
            raise HomeguardError("the dashboard did not start")

    def warm(self) -> None:
        """Before any page asks: render the state document once (the first renders every
        sensor's row from the controller's whole view, at 100,000 sensors over a second;
        later ones, the rows that changed), then read what sensor health keeps (a week
        of 300,000 events, about a second; later questions read what came since)."""
        started = time.monotonic()
        try:
            document = self._hub.rendered()
        except Exception:  # no view came: the first page renders it (and says why)
            log.warning("the dashboard could not render its state ahead", exc_info=True)
        else:
            log.info(
                "dashboard: state document rendered ahead (%d sensors, %.1f MB) in %.1f s",
                self._sensors,
                len(document) / 1e6,
                time.monotonic() - started,
            )
        started = time.monotonic()
        try:
            self._health(self._clock())
        except Exception:  # the first GET /api/health reads it (and says why)
            log.warning("the dashboard could not read sensor health ahead", exc_info=True)
        else:
            log.info("dashboard: sensor health read ahead in %.1f s", time.monotonic() - started)

    def _serve(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except Exception:
            log.exception("the dashboard stopped")

    def stop(self, timeout: float = 5.0) -> None:
        self._hub.close_soon()  # open live streams would hold the shutdown up
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._socket.close()
