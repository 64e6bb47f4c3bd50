"""Serving the web app with uvicorn in a thread of the controller's process."""

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


class WebServer:
    """The dashboard and API on ``host:port``; :meth:`start` returns once it listens.

    ``port=0`` picks a free port (see :attr:`port` after start)."""

    def __init__(self, backend: Backend, *, host: str, port: int) -> None:
        self._host = host
        self._port = port
        app = create_app(backend)
        self._hub: LiveHub = app.state.web.hub
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
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
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = self._host
        if host in ("0.0.0.0", "::"):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}/"

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every keep-alive response waits 40 ms for a delayed ACK (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise HomeguardError(
                f"the dashboard cannot listen on {self._host}:{self._port}: {exc.strerror}"
            ) from None
        self._socket = sock
        self._port = int(sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._thread.start()
        pause = threading.Event()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            pause.wait(0.02)
        if not self._server.started:
            raise HomeguardError(f"the dashboard did not start on {self._host}:{self._port}")
        log.info("dashboard at %s", self.url)

    def _serve(self) -> None:
        assert self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except Exception:
            log.exception("the dashboard stopped")

    def stop(self, timeout: float = 5.0) -> None:
        self._hub.close_soon()  # open live streams would hold the shutdown up
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
