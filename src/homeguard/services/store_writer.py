"""The controller's writer: commits its records on a thread of its own, so that the panel
never waits for the disk.

The controller hands each turn's records over (:meth:`StoreWriter.submit`) together with
what to do once they are committed: acknowledge the turn's messages to the broker, answer
its requests. The writer commits everything waiting in one transaction, in order, then
does that. When the store cannot write (:class:`~homeguard.errors.StoreUnavailable`: disk
full, read-only file, locked, I/O error) the records wait in a bounded
:class:`~homeguard.core.backlog.Backlog`, requests are answered at once (the decision
stands), messages stay unacknowledged, and the writer tries again after a backoff
(:data:`RETRY_MIN` doubling to :data:`RETRY_MAX`). Each change of that condition is
reported (``report``) as a :class:`~homeguard.core.signals.SystemHealth` for the panel: a
``storage`` trouble, then restored, with the count of sensor events dropped meanwhile.

Any other :class:`~homeguard.errors.StoreError` is a bug in what we wrote, which retrying
would not cure: the records are then written one by one, and those the store refuses are
logged and counted as dropped.

Until :meth:`start` (a controller driven turn by turn, as unit tests do) the write is
made at once, on the caller's thread: :meth:`submit` then commits before it returns.

The after-commit seam: whatever follows the committed event stream (notifications, the
uplink) registers with :meth:`StoreWriter.on_commit` and is called, on the writer's
thread, after every commit that stored something; it must only wake its own worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from homeguard.core.backlog import DEFAULT_LIMIT, Backlog, Pending, Thunk
from homeguard.core.records import (
    Batch,
    DeviceRecord,
    NotificationRecord,
    SensorRecord,
    SystemRecord,
)
from homeguard.core.signals import SystemHealth, SystemPart
from homeguard.errors import StoreError, StoreRejected, StoreUnavailable

log = logging.getLogger("homeguard.store")

RETRY_MIN = 0.25  # seconds before the first retry of a failed write
RETRY_MAX = 5.0  # and at most between retries


class Writable(Protocol):
    def write(self, batch: Batch) -> object: ...
    def prune(self, before: float) -> int: ...


class StoreWriter:
    """See the module docstring."""

    def __init__(
        self,
        store: Writable,
        report: Callable[[SystemHealth], None],
        *,
        limit: int = DEFAULT_LIMIT,
    ) -> None:
        self._store = store
        self._report = report
        self._backlog = Backlog(limit)
        self._lock = threading.Condition()
        self._threaded = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._ok: bool | None = None  # unknown until the first write
        self._prune_before: float | None = None
        self.dropped_total = 0  # sensor events dropped since the start
        self._listeners: list[Thunk] = []

    @property
    def failing(self) -> bool:
        """True while the store cannot write."""
        return self._ok is False

    @property
    def waiting(self) -> int:
        """Sensor and system events not yet committed."""
        with self._lock:
            return len(self._backlog)

    def on_commit(self, listener: Thunk) -> None:
        """Call ``listener`` after every commit that stored something (see the module
        docstring); it runs on the writer's thread, so it must return at once."""
        self._listeners.append(listener)

    def submit(
        self,
        *,
        sensor_events: list[SensorRecord],
        system_events: list[SystemRecord],
        devices: list[DeviceRecord],
        snapshot: str | None,
        after_commit: list[Thunk],
        answers: list[Thunk],
        silent_alerts: Sequence[SystemRecord] = (),
        notifications: Sequence[NotificationRecord] = (),
        panel_sensors: Mapping[str, str | None] | None = None,
    ) -> None:
        """Queue a turn's records; ``after_commit`` runs once they are committed,
        ``answers`` then or as soon as a write fails (at once while the store fails)."""
        with self._lock:
            failing = self._ok is False
            self._backlog.add(
                sensor_events=sensor_events,
                system_events=system_events,
                devices=devices,
                snapshot=snapshot,
                silent_alerts=silent_alerts,
                notifications=notifications,
                panel_sensors=panel_sensors,
                after_commit=after_commit,
                answers=[] if failing else answers,
            )
            self._lock.notify()
        if failing:  # no use waiting for a store that fails: the decision stands
            _run_all(answers)
        if not self._threaded:
            self.write_once()

    def prune(self, before: float) -> None:
        """Remove events older than ``before``, after the next write."""
        with self._lock:
            self._prune_before = before
            self._lock.notify()
        if not self._threaded:
            self.write_once()

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        """Write on a thread of our own from now on."""
        self._threaded = True
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Write what waits (trying for up to ``timeout`` seconds) and stop the thread.
        Returns False, after logging what is left, when the store still fails."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # stuck in a write (a locked store): leave it
                log.error(
                    "the event store writer is still busy: %d event(s) may be lost", self.waiting
                )
                return False
            self._thread = None
        self._threaded = False
        left = self._drain(timeout)
        if left:
            log.error(
                "stopping with %d event(s) not stored: the event store still fails; their"
                " messages were not acknowledged and the broker will deliver them again",
                left,
            )
        return not left

    def _run(self) -> None:
        delay = RETRY_MIN
        while True:
            with self._lock:
                self._lock.wait_for(
                    lambda: (
                        self._stopping or not self._backlog.empty or self._prune_before is not None
                    )
                )
                if self._stopping:
                    return
            if self.write_once():
                delay = RETRY_MIN
                continue
            with self._lock:  # back off; stopping ends the wait
                self._lock.wait_for(lambda: self._stopping, timeout=delay)
            delay = min(delay * 2, RETRY_MAX)

    def _drain(self, timeout: float) -> int:
        """Final writes on the caller's thread; how many events are left unwritten."""
        deadline = time.monotonic() + timeout
        while not self.write_once():
            if time.monotonic() + RETRY_MIN > deadline:
                return self.waiting
            time.sleep(RETRY_MIN)
        return 0

    # ------------------------------------------------------------------ one write

    def write_once(self) -> bool:
        """Try to commit everything waiting; True when it is all done."""
        with self._lock:
            pending = self._backlog.take()
            prune, self._prune_before = self._prune_before, None
        if pending is not None:
            try:
                self._store.write(pending.batch())
            except StoreUnavailable as exc:
                self._failed(pending, prune, exc)
                return False
            except StoreRejected as exc:
                log.error("the event store refused a batch (%s): writing it one by one", exc)
                if not self._write_singly(pending):
                    return False
            _run_all(pending.after_commit)
            _run_all(pending.answers)
        wrote = pending is not None and not pending.batch().empty
        if wrote:
            _run_all(self._listeners)
        with self._lock:
            dropped = self._backlog.take_dropped()
            recovered = wrote and self._ok is not True  # only a real write proves it
            if recovered:
                self._ok = True
        self.dropped_total += dropped
        if recovered or dropped:
            self._report(SystemHealth(SystemPart.STORAGE, ok=True, lost=dropped))
        if prune is not None:
            self._prune(prune)
        return True

    def _failed(self, pending: Pending, prune: float | None, exc: StoreError) -> None:
        answers, pending.answers = pending.answers, []
        with self._lock:
            first, self._ok = self._ok is not False, False  # from now on, answer at once
            self._backlog.give_back(pending)
            answers += self._backlog.take_answers()  # those that came during the attempt
            if prune is not None and self._prune_before is None:
                self._prune_before = prune
        _run_all(answers)  # the panel has decided: answer now, store later
        if first:
            log.error("the event store cannot write (%s): keeping events in memory", exc)
            self._report(SystemHealth(SystemPart.STORAGE, ok=False, detail=str(exc)))

    def _write_singly(self, pending: Pending) -> bool:
        """After a bug-type failure: each record on its own, the refused ones dropped.
        False (the rest given back) if the store becomes unavailable meanwhile."""
        singles: list[Batch] = [Batch(sensor_events=[r]) for r in pending.sensor_events]
        singles += [Batch(system_events=[r]) for r in pending.system_events]
        singles += [Batch(silent_alerts=[r]) for r in pending.silent_alerts]
        singles += [Batch(notifications=[r]) for r in pending.notifications]
        singles += [Batch(devices=[d]) for d in pending.devices.values()]
        if pending.snapshot is not None or pending.panel_sensors:
            singles.append(Batch(snapshot=pending.snapshot, panel_sensors=pending.panel_sensors))
        for index, batch in enumerate(singles):
            try:
                self._store.write(batch)
            except StoreUnavailable as exc:
                rest = Pending(after_commit=pending.after_commit, answers=pending.answers)
                for left in singles[index:]:
                    rest.sensor_events += left.sensor_events
                    rest.system_events += left.system_events
                    rest.silent_alerts += left.silent_alerts
                    rest.notifications += left.notifications
                    rest.devices.update((d.device_id, d) for d in left.devices)
                    rest.snapshot = left.snapshot or rest.snapshot
                    rest.panel_sensors.update(left.panel_sensors)
                self._failed(rest, None, exc)
                return False
            except StoreRejected as exc:
                log.error("dropped a record the event store refuses: %s", exc)
                with self._lock:
                    self._backlog.count_dropped(1)
        return True

    def _prune(self, before: float) -> None:
        try:
            removed = self._store.prune(before)
        except StoreError as exc:
            log.error("could not remove old events: %s", exc)
            return
        if removed:
            log.info("removed %d events older than the retention period", removed)


def _run_all(thunks: list[Thunk]) -> None:
    for thunk in thunks:
        try:
            thunk()
        except Exception:  # one failed ack or reply must not stop the others
            log.exception("after-commit action failed")
