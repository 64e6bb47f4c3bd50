"""The live view: each controller turn that changed something, pushed to every browser.

The controller calls :meth:`LiveHub.publish` on its own thread; the hub only hands the
view to the asyncio loop (``call_soon_threadsafe``), where it becomes the latest state
document. Each open Server-Sent Events stream keeps only the newest document it has not
sent yet, so a slow phone never holds the controller up nor receives a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from homeguard.core.panel import SensorStatus
from homeguard.core.persistent_map import differing_keys
from homeguard.errors import StoreError

from .backend import Backend, PanelView
from .rendering import StateRenderer
from .schemas import SystemFigures, UplinkFigures

log = logging.getLogger("homeguard.web")

HEARTBEAT = 5.0  # seconds between refreshes when nothing changes (system figures)
BATTERY_EVERY = 1.0  # at most one battery look-up a second while sensors report
MIN_SEND_GAP = 0.1  # seconds: a stream sends at most 10 documents a second
# ... and at most this many bytes a second: each document is copied a few times, each
# copy holding the interpreter lock that the controller's thread needs for the alarms
# (17.6 MB at 100,000 sensors: trips' p99 2.5 -> 18 ms with one page open at 10 a second).
STREAM_BYTES_PER_S = 4_000_000
RATE_WINDOW = 10.0  # seconds over which messages per second are measured


class LiveHub:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._loop: asyncio.AbstractEventLoop | None = None
        self._streams: set[asyncio.Queue[str | None]] = set()
        self._view: PanelView | None = None
        self._document: str | None = None  # the last document rendered
        self._document_of: PanelView | None = None  # ... from this view
        self._rendered_at = 0.0
        self._renderer = StateRenderer(backend.settings)
        self._battery: dict[str, float] = {}  # replaced, never changed: the renderer compares
        self._battery_at = -math.inf
        self._battery_of: Mapping[str, SensorStatus] | None = None  # the sensors looked up
        self._samples: deque[tuple[float, int]] = deque()
        self._closed = False
        self._lock = threading.Lock()

    # ----------------------------------------------------------- controller thread

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._backend.panel.watch(self.publish)

    def publish(self, view: PanelView) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # The loop may close in between: the server is stopping.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._take, view)

    # ----------------------------------------------------------------- event loop

    def _take(self, view: PanelView) -> None:
        self._view = view
        for queue in self._streams:
            _replace(queue, "")  # "" means: send the current document

    def close(self) -> None:
        """End every stream (the server is stopping); on the event loop."""
        self._closed = True
        for queue in self._streams:
            _replace(queue, None)

    def close_soon(self) -> None:
        """From any thread: end every stream, so that stopping never waits for them."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.close)

    def _look_up_batteries(self, view: PanelView) -> None:
        """The battery levels the store has for the sensors the panel has none for
        (reported only before it kept them): every sensor's at the first look-up, then at
        most once a second those of the sensors that changed since, as only an event can
        change what the store has (one query per sensor: 100,000 took seconds)."""
        sensors, now = view.panel.sensors, time.monotonic()
        if sensors is self._battery_of or now - self._battery_at < BATTERY_EVERY:
            return
        self._battery_at = now
        settings = self._backend.settings
        if self._battery_of is None:
            ids = [spec.id for spec in settings.sensors]
        else:
            changed = differing_keys(self._battery_of, sensors)
            ids = [sid for sid in changed if settings.sensor(sid) is not None]
        ids = [sid for sid in ids if view.panel.sensor(sid).battery is None]
        try:
            found = self._backend.store.battery_levels(ids)
        except StoreError as exc:  # the live view goes on without batteries
            log.warning("battery levels unavailable: %s", exc)
            return
        self._battery_of = sensors
        if any(found.get(sid) != self._battery.get(sid) for sid in ids):
            battery = dict(self._battery)
            for sid in ids:
                battery.pop(sid, None)
            battery.update(found)
            self._battery = battery

    def system_now(self) -> SystemFigures:
        """The system figures alone (GET /api/system), from the controller's view as of
        the call (no sensor looked at)."""
        view = self._backend.panel.view()
        with self._lock:
            return self.system(view)

    def system(self, view: PanelView) -> SystemFigures:
        backend = self._backend
        stats = view.stats
        now = time.monotonic()
        self._samples.append((now, stats.messages))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()
        first_at, first = self._samples[0]
        rate = (stats.messages - first) / (now - first_at) if now > first_at else 0.0
        try:
            store_bytes: int | None = backend.store.size_bytes()
        except StoreError:
            store_bytes = None
        try:
            notifications = backend.notifications.counts() if backend.notifications else {}
        except StoreError:
            notifications = {}
        return SystemFigures(
            broker=backend.broker(),
            broker_connected=backend.broker_connected(),
            started_at=stats.started_at,
            uptime=max(0.0, backend.clock() - stats.started_at),
            messages=stats.messages,
            messages_per_second=round(max(0.0, rate), 2),
            store_bytes=store_bytes,
            devices=len(view.devices),
            sensors=len(backend.settings.sensors),
            store_waiting=stats.store_waiting,
            store_dropped=stats.store_dropped,
            rejected=sum(stats.rejected.values()),
            rejected_by_reason=dict(stats.rejected),
            uplink=self._uplink(),
            notifications=notifications,
        )

    def _uplink(self) -> UplinkFigures | None:
        try:
            figures = self._backend.uplink()
        except StoreError as exc:  # the live view goes on without it
            log.warning("uplink figures unavailable: %s", exc)
            return None
        return None if figures is None else UplinkFigures.model_validate(dict(figures))

    async def stream(self, disconnected: Callable[[], Any]) -> AsyncIterator[str]:
        """Server-Sent Events: ``state`` documents as they change, then every HEARTBEAT."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=1)
        self._streams.add(queue)
        try:
            yield "retry: 2000\n\n"
            while not self._closed:
                document = self.rendered()
                yield f"event: state\ndata: {document}\n\n"
                # What changes meanwhile is sent as one.
                await asyncio.sleep(max(MIN_SEND_GAP, len(document) / STREAM_BYTES_PER_S))
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    item = ""
                    self.refresh()
                if item is None or await disconnected():
                    break
        finally:
            self._streams.discard(queue)

    def rendered(self, *, fresh: bool = False) -> str:
        """The state document as JSON, rendered once per view (and at least every
        HEARTBEAT seconds, for the system figures), from the last one: only the rows of
        the sensors that changed are rendered again (StateRenderer). ``fresh`` (GET
        /api/state, on the API's worker threads): from the controller's view as of the
        call, which holds whatever it decided before the request (a round trip to the
        controller's process); else from the latest view it sent (the streams, on the
        event loop, which must not wait)."""
        view = self._backend.panel.view() if fresh else None
        with self._lock:
            if view is None:
                view = self._view or self._backend.panel.view()
            if (
                self._document is None
                or view is not self._document_of
                or time.monotonic() - self._rendered_at >= HEARTBEAT
            ):
                self._rendered_at = time.monotonic()
                self._look_up_batteries(view)
                backend = self._backend
                self._document = self._renderer.render(
                    view, backend.actuators, self._battery, self.system(view)
                )
                self._document_of = view
            return self._document

    def rendered_sensors(self) -> str:
        """The ``sensors`` of the current state document, as JSON (GET /api/sensors)."""
        self.rendered(fresh=True)
        with self._lock:  # the rows of the latest render, none half-changed
            return self._renderer.sensors()

    def refresh(self) -> None:
        """Forget the cached document so the next one has fresh system figures."""
        self._document = None


def _replace(queue: asyncio.Queue[str | None], item: str | None) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(item)
