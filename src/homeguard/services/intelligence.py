"""Sensor health and anomaly detection, live: a process beside the controller's, never in it.

A round of scoring is seconds of Python at a few hundred thousand events a week (3 s of
CPU for 300,000): in the controller's process, it held the interpreter lock that the
controller's thread needs at every socket call, and alarms waited for it
(docs/performance.md). So :func:`watching` runs it in a process of its own, and hands
what it finds to the controller from a thread that only waits for it.

Every ``every`` seconds it reads the event store (committed events only, through a
store connection of its own, which it only reads), assesses every configured sensor's
health and scores the activity windows completed since its last look. What it finds
becomes an :class:`~homeguard.core.signals.Advisory` handed to the controller
(``Controller.advise``), which records and publishes it on ``<base>/alarm/event`` like
its own events: one writer, one record path (what follows the committed events, such as
notifications, sees them there), and the scoring stays in its process:

- ``maintenance``: a device needs attention (health ``service`` or ``failed``, with the
  reason), or no longer does (health ``ok``);
- ``anomaly``: unusual activity, with a score and the reasons. Advisory: the panel is
  never armed or triggered by it.

The anomaly detector is retrained every ``retrain`` seconds on the last ``history``
seconds of the store; it starts once the store holds ``min_days`` of history. A restart
resumes after the newest anomaly event in the store, so a window is scored once.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from homeguard import child_process
from homeguard.core.health import (
    DAY,
    DeviceHealth,
    Health,
    HealthPolicy,
)
from homeguard.core.model import SensorSpec
from homeguard.core.records import SensorRecord, SystemRecord
from homeguard.core.signals import Advisory, EventKind
from homeguard.errors import FeatureUnavailable, StoreError
from homeguard.services.anomaly import AnomalyDetector, AnomalyPolicy
from homeguard.services.health import HealthReader, ReportStore

log = logging.getLogger("homeguard.intelligence")


class Store(ReportStore, Protocol):
    def sensor_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        device: str | None = None,
        limit: int | None = 1000,
        newest_first: bool = True,
    ) -> list[SensorRecord]: ...

    def system_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        event_type: str | Sequence[str] | None = None,
        limit: int | None = 1000,
        newest_first: bool = True,
    ) -> list[SystemRecord]: ...


@dataclass(frozen=True, slots=True)
class IntelligenceSettings:
    every: float = 300.0
    retrain: float = DAY
    history: float = 28 * DAY
    health: HealthPolicy = field(default_factory=HealthPolicy)
    anomaly: AnomalyPolicy = field(default_factory=AnomalyPolicy)


def maintenance_advisory(health: DeviceHealth) -> Advisory:
    text = (
        f"{health.device_id} needs attention: {health.reason}"
        if health.state.needs_attention
        else f"{health.device_id} is healthy again"
    )
    return Advisory(EventKind.MAINTENANCE, text, health.as_dict())


RESTART_PAUSE = 5.0  # seconds before a scoring process that ended is started again
STOP_TIMEOUT = 2.0  # seconds a stopping scoring process is given, then it is killed


@contextmanager
def watching(
    open_store: Callable[[], AbstractContextManager[Store]],
    sensors: Sequence[SensorSpec],
    advise: Callable[[Advisory], None],
    clock: Callable[[], float],
    *,
    settings: IntelligenceSettings | None = None,
) -> Iterator[None]:
    """Run the service in a process of its own (see the module docstring), reading a
    store of its own, until exit; what it finds goes to ``advise``
    (``Controller.advise``), from a thread here that only waits for it. A process that
    ends on its own is started again after :data:`RESTART_PAUSE` seconds. What crosses
    to the process is pickled: ``open_store`` and ``clock`` must be (a module's
    function, a ``partial`` of one)."""
    ids = tuple(sensor.id for sensor in sensors)  # all it needs, and light to pickle
    keeper = _Keeper(open_store, ids, advise, clock, settings or IntelligenceSettings())
    thread = threading.Thread(target=keeper.run, name="intelligence", daemon=True)
    thread.start()
    try:
        yield
    finally:
        keeper.stop()
        thread.join(timeout=STOP_TIMEOUT + 1.0)


class _Keeper:
    """The controller's side: starts the scoring process, hands on what it finds, starts
    it again when it ends, stops it."""

    def __init__(
        self,
        open_store: Callable[[], AbstractContextManager[Store]],
        sensor_ids: tuple[str, ...],
        advise: Callable[[Advisory], None],
        clock: Callable[[], float],
        settings: IntelligenceSettings,
    ) -> None:
        self._job = _Job(open_store, sensor_ids, clock, settings)
        self._advise = advise
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: tuple[BaseProcess, Connection] | None = None

    def run(self) -> None:
        pause = 0.0
        while not self._stopping.wait(pause):
            pause = RESTART_PAUSE
            try:
                code = self._serve()
            except Exception:  # it could not start (no memory, no processes left)
                log.exception("the health and anomaly scoring process did not start")
                continue
            if self._stopping.is_set():
                return
            log.error(
                "the health and anomaly scoring process ended (exit code %s): "
                "starting it again in %.0f s",
                code,
                RESTART_PAUSE,
            )

    def _serve(self) -> int | None:
        """Start the process; hand on what it sends until it ends; its exit code."""
        ours, theirs = multiprocessing.Pipe()
        context = multiprocessing.get_context("spawn")  # nothing of this process's threads
        level = logging.getLogger().getEffectiveLevel()
        process = context.Process(
            target=_score,
            args=(self._job, theirs, level),
            name="homeguard-intelligence",
            daemon=True,
        )
        with self._lock:
            if self._stopping.is_set():
                return None
            process.start()
            self._current = (process, ours)
        theirs.close()
        while True:
            try:
                advisory = ours.recv()
            except (EOFError, OSError):  # it ended (or was stopped)
                break
            self._advise(advisory)
        with self._lock:
            self._current = None
        process.join(STOP_TIMEOUT)
        ours.close()
        return process.exitcode

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            current = self._current
        if current is None:
            return
        process, connection = current
        with contextlib.suppress(OSError, ValueError):
            connection.send(("stop",))
        process.join(STOP_TIMEOUT)  # a round in progress is not waited for: it only reads
        if process.is_alive():
            process.kill()
            process.join()


@dataclass(frozen=True)
class _Job:
    """What the scoring process is given (pickled)."""

    open_store: Callable[[], AbstractContextManager[Store]]
    sensor_ids: tuple[str, ...]
    clock: Callable[[], float]
    settings: IntelligenceSettings


def _score(job: _Job, connection: Connection, level: int) -> None:
    """The scoring process: rounds until the controller's process says stop or ends."""
    child_process.settle(level)
    stop = threading.Event()

    def listen() -> None:
        with contextlib.suppress(EOFError, OSError):
            connection.recv()  # ("stop",); or nothing, the controller's process gone
        stop.set()

    threading.Thread(target=listen, name="intelligence-stop", daemon=True).start()
    with job.open_store() as store:
        service = Intelligence(
            store=store,
            sensor_ids=job.sensor_ids,
            advise=connection.send,
            clock=job.clock,
            settings=job.settings,
        )
        service.run(stop)


class Intelligence:
    """The scoring process's work, one :meth:`step` at a time (tests call it with their
    ``now``)."""

    def __init__(
        self,
        *,
        store: Store,
        sensor_ids: Sequence[str],
        advise: Callable[[Advisory], None],
        clock: Callable[[], float],
        settings: IntelligenceSettings = IntelligenceSettings(),
    ) -> None:
        self._store = store
        self._sensor_ids = tuple(sensor_ids)
        self._advise = advise
        self._clock = clock
        self._settings = settings
        self._assess = HealthReader(store, self._sensor_ids, settings.health)
        self._health: dict[str, Health] = {}
        self._detector: AnomalyDetector | None = None
        self._trained_at: float | None = None
        self._cursor: float | None = None
        self._anomaly_off = False
        self.latest: list[DeviceHealth] = []

    def run(self, stop: threading.Event) -> None:
        self._restore()
        while not stop.is_set():
            try:
                self.step(self._clock())
            except StoreError as exc:  # the store is busy or failing: try again later
                log.warning("health and anomaly scoring skipped a round: %s", exc)
            stop.wait(self._settings.every)

    def _restore(self) -> None:
        for event in self._store.system_events(event_type="maintenance", limit=500):
            device = (event.data or {}).get("device")
            if isinstance(device, str) and device not in self._health:
                self._health[device] = Health(str((event.data or {}).get("health", "ok")))
        newest = self._store.system_events(event_type="anomaly", limit=1)
        if newest and isinstance(end := (newest[0].data or {}).get("end"), int | float):
            self._cursor = float(end)

    def step(self, now: float) -> list[Advisory]:
        """Assess and score; hands what it found to ``advise`` and returns it."""
        made = [*self._maintenance(now), *self._anomalies(now)]
        for advisory in made:
            self._advise(advisory)
        return made

    def _maintenance(self, now: float) -> list[Advisory]:
        self.latest = self._assess(now)
        made = []
        for health in self.latest:
            before = self._health.get(health.device_id, Health.OK)
            self._health[health.device_id] = health.state
            if health.state.needs_attention != before.needs_attention or (
                health.state is Health.FAILED and before is not Health.FAILED
            ):
                made.append(maintenance_advisory(health))
        return made

    def _anomalies(self, now: float) -> list[Advisory]:
        if self._anomaly_off:
            return []
        settings = self._settings
        window = settings.anomaly.window
        if self._trained_at is None or now - self._trained_at >= settings.retrain:
            self._train(now)
        if self._detector is None:
            return []
        until = (now // window) * window  # whole windows only
        since = self._cursor if self._cursor is not None else until - window
        if until <= since:
            return []
        sensors = self._store.sensor_events(
            since=since - 3600.0, until=until, limit=None, newest_first=False
        )
        system = self._store.system_events(until=until, event_type=("armed", "disarmed"), limit=50)
        found = self._detector.detect(sensors, system, since=since, until=until)
        self._cursor = until
        return [anomaly.advisory() for anomaly in found]

    def _train(self, now: float) -> None:
        settings = self._settings
        since = now - settings.history
        self._trained_at = now
        sensors = self._store.sensor_events(since=since, until=now, limit=None, newest_first=False)
        if not sensors or now - sensors[0].ts < settings.anomaly.min_days * DAY:
            log.info("anomaly detection waits for %.0f days of history", settings.anomaly.min_days)
            return
        system = self._store.system_events(
            since=since, until=now, event_type=("armed", "disarmed"), limit=None
        )
        try:
            self._detector = AnomalyDetector.train(
                sensors, system, since=sensors[0].ts, until=now, policy=settings.anomaly
            )
        except FeatureUnavailable as exc:
            log.warning("anomaly detection is off: %s", exc)
            self._anomaly_off = True
        except ValueError as exc:
            log.info("anomaly detection not trained yet: %s", exc)
        else:
            log.info("anomaly detection retrained on %d sensor events", len(sensors))
