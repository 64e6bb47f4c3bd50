"""The dashboard in a process of its own, so that its requests never hold up an alarm.

In the controller's process, the dashboard's work (rendering every sensor's row,
assessing health, serialising a megabyte of JSON) held the interpreter lock that the
controller's thread needs: with a client fetching ``/api/health`` in a loop, trips'
p99 went from 1.6 to 15 ms at 100 sensors and to 276 ms at 100,000
(docs/performance.md). Here the web app runs in a child process, and talks to the
controller through one connection:

- :class:`PanelRelay` (the controller's process) sends, after the turns that changed
  something (at most every RELAY_GAP seconds), what changed in the controller's view:
  the panel without its per-sensor maps, the sensors and devices that changed, the
  stats and whether the broker is connected; and it carries the dashboard's requests
  (arm, disarm, bypass, ...) to the controller and their outcomes back. It sends
  nothing until the dashboard asks for the view, which it does as soon as it serves:
  it renders the state document once then (``WebServer.warm``), so that the first
  page does not wait for every sensor (at 100,000 sensors, over a second).
- :class:`RemotePanel` (the dashboard's process) rebuilds the view from them; it is the
  web app's :class:`~.backend.PanelLink`. The view a request's outcome was decided in
  arrives before the outcome, so a page that reads after it acted sees what it did;
  and a view asked for (a GET) is the controller's as of the asking: the relay answers
  once it has sent the view as it is then, so a GET shows what was decided before it,
  over MQTT too, even within RELAY_GAP.

The child lives as long as the connection: it ignores SIGINT and SIGTERM (the
controller's process stops it) and ends when the controller's process does, killed
or not. PersistentMaps never cross the connection: their layout follows ``hash()``,
which differs from one process to the next.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import Any, cast

from homeguard import child_process
from homeguard.core.panel import Outcome, Panel
from homeguard.core.persistent_map import PersistentMap, differing_keys
from homeguard.core.records import DeviceRecord
from homeguard.core.signals import Input
from homeguard.errors import HomeguardError

from .backend import Backend, PanelLink, PanelView, StatsView
from .server import WebServer, listening_socket, url_of

log = logging.getLogger("homeguard.web")

RELAY_GAP = 0.05  # seconds: at most 20 views a second go to the dashboard
START_TIMEOUT = 60.0  # seconds for the dashboard's process to import and listen
STOP_TIMEOUT = 5.0
RESTART_PAUSE = 1.0  # seconds before a dashboard's process that ended is started again
MAX_RESTART_PAUSE = 60.0  # ... doubling while it fails to start

# Makes the dashboard's backend in its process, from the RemotePanel there; picklable
# (a module-level function, or a partial of one), and open as long as the dashboard is.
BackendFactory = Callable[["RemotePanel"], AbstractContextManager[Backend]]


@dataclass(frozen=True)
class Delta:
    """What changed in the view since the last one sent (everything when ``full``)."""

    panel: Panel  # without its per-sensor maps (``sensors`` and ``message_seqs``)
    sensors: dict[str, Any]  # id → SensorStatus, or None: no longer there
    devices: dict[str, Any]  # id → DeviceRecord, or None
    stats: StatsView
    at: float
    broker_connected: bool
    full: bool


@dataclass(frozen=True)
class RemoteView:
    """The controller's view, rebuilt in the dashboard's process (a PanelView)."""

    panel: Panel
    devices: Mapping[str, DeviceRecord]
    stats: StatsView
    at: float


def _read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _mapping_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _read_only, (dict(proxy),)


ForkingPickler.register(MappingProxyType, _mapping_proxy)  # the panel has read-only maps


def _light(panel: Panel) -> Panel:
    return replace(panel, sensors={}, message_seqs={})


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {key: after.get(key) for key in differing_keys(before, after)}


def _same(view: PanelView, sent: PanelView) -> bool:
    """Nothing new in ``view`` since ``sent`` (the time aside)."""
    return view is sent or (
        view.panel is sent.panel and view.devices is sent.devices and view.stats == sent.stats
    )


def _updated(current: PersistentMap[str, Any], changes: dict[str, Any]) -> PersistentMap[str, Any]:
    if any(value is None for value in changes.values()):  # something went: built anew
        merged = {**current, **changes}
        return PersistentMap({k: v for k, v in merged.items() if v is not None})
    for key, value in changes.items():
        current = current.set(key, value)
    return current


# ------------------------------------------------------------ the controller's process


class PanelRelay:
    """The controller's side of the connection (see the module docstring)."""

    def __init__(
        self,
        panel: PanelLink,
        connection: Connection,
        broker_connected: Callable[[], bool],
        ended: Callable[[], None],
    ) -> None:
        """``ended`` is called (on the receiving thread) if the dashboard's process ends
        before the relay is closed."""
        self._panel = panel
        self._connection = connection
        self._broker_connected = broker_connected
        self._ended = ended
        self._latest: PanelView | None = None
        self._sent: PanelView | None = None
        self._sent_connected: bool | None = None
        self._watching = False  # the dashboard asked for the view
        self._replies: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._urgent = threading.Event()  # a reply waits: no pause between views
        self._closed = False
        self._requests = ThreadPoolExecutor(4, thread_name_prefix="dashboard-request")
        self._threads = [
            threading.Thread(target=self._send_loop, name="dashboard-send", daemon=True),
            threading.Thread(target=self._receive_loop, name="dashboard-receive", daemon=True),
        ]

    def start(self, latest: PanelView | None) -> None:
        self._latest = latest
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._urgent.set()
        self._threads[0].join(STOP_TIMEOUT)
        self._requests.shutdown(wait=False, cancel_futures=True)

    def read_out(self, timeout: float) -> bool:
        """Wait until the receiving thread has read the end of the pipe (the dashboard's
        process has ended): only then may the connection be closed. A read begun after
        the close would take the bytes of whatever is next given its descriptor's
        number (another pipe, a socket), or fail. False if it still reads."""
        self._threads[1].join(timeout)
        return not self._threads[1].is_alive()

    def offer(self, view: PanelView) -> None:
        """On the controller's thread, after a turn that changed something: no work."""
        self._latest = view
        self._wake.set()

    def _receive_loop(self) -> None:
        while True:
            try:
                message = self._connection.recv()
            except (EOFError, OSError):  # the dashboard's process ended
                break
            if message[0] == "watch":
                self._watching = True
                self._wake.set()
            elif message[0] == "request":
                _, number, event, timeout = message
                self._requests.submit(self._carry_out, number, event, timeout)
            elif message[0] == "sync":  # answered after the view as it is now
                self._reply(("outcome", message[1], None))
        if not self._closed:
            self._ended()

    def _carry_out(self, number: int, event: Input, timeout: float) -> None:
        try:
            outcome = self._panel.request(event, timeout)
        except Exception as exc:  # TimeoutError mostly: the dashboard says so
            self._reply(("failed", number, exc))
        else:
            self._reply(
                ("outcome", number, replace(outcome, panel=_light(outcome.panel), effects=()))
            )

    def _reply(self, reply: tuple[str, int, Any]) -> None:
        self._replies.put(reply)
        self._urgent.set()
        self._wake.set()

    def _send_loop(self) -> None:
        try:
            while not self._closed:
                self._wake.wait(1.0)  # also: the broker's connection, looked at each second
                self._wake.clear()
                replies = []
                while not self._replies.empty():
                    replies.append(self._replies.get())
                view = self._panel.view() if replies else self._latest
                if self._watching and view is not None:
                    self._send_view(view)
                for reply in replies:
                    self._send(reply)
                if self._urgent.wait(RELAY_GAP):  # what changes meanwhile goes as one
                    self._urgent.clear()
        except (OSError, ValueError):  # the connection closed: the receiver says so
            pass

    def _send_view(self, view: PanelView) -> None:
        connected = self._broker_connected()
        sent = self._sent
        if sent is not None and _same(view, sent) and connected == self._sent_connected:
            return  # a view asked for again, with nothing new: the dashboard keeps its own
        if sent is None:
            sensors, devices = dict(view.panel.sensors), dict(view.devices)
        else:
            sensors = _changes(sent.panel.sensors, view.panel.sensors)
            devices = _changes(sent.devices, view.devices)
        delta = Delta(
            _light(view.panel), sensors, devices, view.stats, view.at, connected, sent is None
        )
        self._send(("view", delta))
        self._sent, self._sent_connected = view, connected

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            data = ForkingPickler.dumps(message)
        except Exception:  # a bug: the dashboard goes on with what it has
            log.exception("the dashboard could not be sent a %s", message[0])
            if message[0] in ("outcome", "failed"):
                data = ForkingPickler.dumps(("failed", message[1], TimeoutError()))
            else:
                return
        self._connection.send_bytes(data)


# ------------------------------------------------------------- the dashboard's process


def _gone() -> TimeoutError:
    """What a request gets once the controller's process is gone (a 503, as a timeout)."""
    return TimeoutError("the controller's process is gone")


class RemotePanel:
    """The controller, seen from the dashboard's process (see the module docstring)."""

    def __init__(self, connection: Connection, view_timeout: float = 60.0) -> None:
        self._connection = connection
        self._view_timeout = view_timeout
        self._send_lock = threading.Lock()
        self._view: RemoteView | None = None
        self._asked = False
        self._listeners: list[Callable[[PanelView], None]] = []
        self._pending: dict[int, Future[Any]] = {}
        self._gone = False  # the controller's end of the pipe: nothing will answer
        self._numbers = itertools.count()
        self._sensors: PersistentMap[str, Any] = PersistentMap()
        self._devices: PersistentMap[str, Any] = PersistentMap()
        self.connected = False  # the controller's broker connection

    def broker_connected(self) -> bool:
        return self.connected

    def send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            try:
                self._connection.send(message)
            except OSError:  # the pipe is closed
                raise _gone() from None

    def view(self) -> PanelView:
        """The controller's view as of this call: whatever it had decided when the call
        was made has arrived (a round trip to its process; the first call also asks it
        for every change from then on)."""
        if not self._asked:
            self._asked = True
            self.send(("watch",))
        try:
            self._ask("sync", timeout=self._view_timeout)  # the view sent first is taken
        except TimeoutError:
            raise TimeoutError("the controller sent no view") from None
        assert self._view is not None
        return self._view

    def watch(self, listener: Callable[[PanelView], None]) -> None:
        self._listeners.append(listener)

    def request(self, event: Input, timeout: float = 10.0) -> Outcome:
        return cast(Outcome, self._ask("request", event, timeout, timeout=timeout + 1.0))

    def _ask(self, kind: str, *args: Any, timeout: float) -> Any:
        """Send ``(kind, number, *args)``; what the controller answers to that number."""
        number = next(self._numbers)
        future: Future[Any] = Future()
        self._pending[number] = future
        try:
            if self._gone:  # checked once pending: `run` fails what is pending when it ends
                raise _gone()
            self.send((kind, number, *args))
            return future.result(timeout)
        finally:
            self._pending.pop(number, None)

    def run(self) -> None:
        """Take what the controller sends until it says stop or its process ends."""
        while True:
            try:
                message = self._connection.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "view":
                self._take(message[1])
            elif kind in ("outcome", "failed"):
                future = self._pending.get(message[1])
                if future is not None and kind == "outcome":
                    future.set_result(message[2])
                elif future is not None:
                    future.set_exception(message[2])
            elif kind == "stop":
                break
        # Nothing will answer what is asked: at once, not after each request's timeout
        # (which would also hold up the dashboard's stop).
        self._gone = True
        for future in list(self._pending.values()):
            with contextlib.suppress(InvalidStateError):
                future.set_exception(_gone())

    def _take(self, delta: Delta) -> None:
        if delta.full:
            self._sensors, self._devices = (
                PersistentMap(delta.sensors),
                PersistentMap(delta.devices),
            )
        else:
            if delta.sensors:
                self._sensors = _updated(self._sensors, delta.sensors)
            if delta.devices:
                self._devices = _updated(self._devices, delta.devices)
        panel = replace(delta.panel, sensors=self._sensors)
        self._view = view = RemoteView(panel, self._devices, delta.stats, delta.at)
        self.connected = delta.broker_connected
        for listener in self._listeners:
            try:
                listener(view)
            except Exception:
                log.exception("dashboard view listener failed")


def _child(
    make_backend: BackendFactory,
    connection: Connection,
    sock: socket.socket,
    level: int,
) -> None:
    """The dashboard's process: serve on ``sock`` until the controller's process goes."""
    child_process.settle(level)
    panel = RemotePanel(connection)
    with make_backend(panel) as backend:
        server = WebServer(backend, sock=sock)
        server.start()
        panel.send(("ready",))
        threading.Thread(target=server.warm, name="dashboard-warm", daemon=True).start()
        try:
            panel.run()
        finally:
            server.stop()


class DashboardProcess:
    """The dashboard served by a child process on ``host:port`` (0: any free port), for
    ``panel``. If that process ends (a crash, a kill), it is started again, while the
    panel runs on."""

    def __init__(
        self,
        make_backend: BackendFactory,
        panel: PanelLink,
        broker_connected: Callable[[], bool],
        *,
        host: str,
        port: int,
    ) -> None:
        self._make_backend = make_backend
        self._panel = panel
        self._broker_connected = broker_connected
        self._host, self._port = host, port
        self._socket: socket.socket | None = None  # kept: each new process serves it
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None
        self._relay: PanelRelay | None = None
        self._latest: PanelView | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return url_of(self._host, self._port)

    @property
    def pid(self) -> int | None:
        """The dashboard's process (for tests and logs)."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Listen, and start the dashboard's process in the background: the panel does
        not wait for it (seconds at 100,000 sensors); until it serves, connections wait
        in the socket's queue."""
        self._socket = listening_socket(self._host, self._port)
        self._port = int(self._socket.getsockname()[1])
        self._panel.watch(self._offer)
        self._keep_up(pause=0.0)

    def _offer(self, view: PanelView) -> None:  # the controller's thread
        self._latest = view
        relay = self._relay
        if relay is not None:
            relay.offer(view)

    def _launch(self) -> None:
        ours, theirs = multiprocessing.Pipe()
        context = multiprocessing.get_context("spawn")  # nothing of this process's threads
        level = logging.getLogger().getEffectiveLevel()
        process = context.Process(
            target=_child,
            args=(self._make_backend, theirs, self._socket, level),
            name="homeguard-dashboard",
            daemon=True,
        )
        try:
            process.start()
        finally:
            theirs.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not ours.poll(0.1):  # what it says, or the end of its process
            if self._stopping.is_set() or time.monotonic() > deadline:
                break
        if not (ours.poll(0) and _ready(ours)):
            process.kill()  # not serving yet, perhaps not reading: a stop would wait
            process.join()
            ours.close()
            raise HomeguardError(f"the dashboard did not start on {self._host}:{self._port}")
        self._process, self._connection = process, ours
        self._relay = PanelRelay(self._panel, ours, self._broker_connected, self._ended)
        self._relay.start(self._latest)

    def _ended(self) -> None:
        """The dashboard's process ended on its own: started again, after a pause."""
        process = self._process
        code = None if process is None else process.exitcode
        log.error("the dashboard's process ended (exit code %s): starting it again", code)
        self._keep_up(pause=RESTART_PAUSE)

    def _keep_up(self, pause: float) -> None:
        threading.Thread(
            target=self._launch_until_up, args=(pause,), name="dashboard-start", daemon=True
        ).start()

    def _launch_until_up(self, pause: float) -> None:
        while not self._stopping.wait(pause):
            with self._lock:
                if self._stopping.is_set():
                    return
                self._close_current()
                try:
                    self._launch()
                except HomeguardError as exc:
                    pause = min(max(pause * 2, RESTART_PAUSE), MAX_RESTART_PAUSE)
                    log.error("%s; trying again in %.0f s", exc, pause)
                    continue
            log.info("dashboard at %s (process %s)", self.url, self.pid)
            return

    def _close_current(self) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.close()
        if self._process is not None and self._connection is not None:
            _end(self._process, self._connection, relay)
        self._process = self._connection = None

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._close_current()
        if self._socket is not None:
            self._socket.close()


def _end(
    process: multiprocessing.process.BaseProcess,
    connection: Connection,
    relay: PanelRelay | None,
) -> None:
    """Have the dashboard's process stop (killed if it does not in time), and close the
    connection once ``relay`` reads it no more."""
    with contextlib.suppress(OSError, ValueError):
        connection.send(("stop",))
    process.join(STOP_TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join()
    if relay is not None:
        relay.read_out(STOP_TIMEOUT)
    connection.close()


def _ready(connection: Connection) -> bool:
    try:
        return bool(connection.recv() == ("ready",))
    except (EOFError, OSError):  # the child failed (it logged why)
        return False
