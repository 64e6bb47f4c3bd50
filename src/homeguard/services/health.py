"""Every configured sensor's health now, from the event store: for ``homeguard status``,
the dashboard and each round of the scoring process (:mod:`.intelligence`). A module of
its own so that ``status`` does not import the scoring process's (multiprocessing, the
anomaly detector): a command's start is mostly its imports (docs/performance.md)."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Protocol

from homeguard.core.health import (
    REPORT_FIELDS,
    DeviceHealth,
    HealthPolicy,
    ReportHistory,
    StoredReports,
    reports_since,
)


class ReportStore(Protocol):
    def sensor_reports(
        self, fields: Sequence[str], *, since: float, after: int = 0
    ) -> StoredReports: ...


# The most a reader keeps, in bytes (ReportHistory.size): about a million reports.
# Past it, it reads them all at each question, as a one-off reader does: 100,000
# devices that reported a few times each would take 80 MB to keep, in the dashboard's
# process and in the scoring process each.
KEEP_BYTES = 48_000_000


class HealthReader:
    """The health of ``sensor_ids``, for a process that asks again and again (the
    dashboard, the scoring process): it keeps the reports it read, and each time reads
    only those stored since (a week of 300,000 events took a second to read, at every
    question). It reads everything again when retention deleted events of the span it
    reads, the store was emptied or put back from an older copy, or the clock went
    back: it answers what reading the whole store would. It keeps at most about
    ``keep`` bytes. Safe to call from several threads."""

    def __init__(
        self,
        store: ReportStore,
        sensor_ids: Sequence[str],
        policy: HealthPolicy | None = None,
        *,
        keep: int = KEEP_BYTES,
    ) -> None:
        self._store = store
        self._keep = keep
        self._ids = tuple(sensor_ids)
        self._policy = policy or HealthPolicy()
        self._lock = threading.Lock()
        self._history = ReportHistory(self._ids)
        self._read = 0  # the number of the last event read; 0: none yet
        self._oldest: float | None = None  # the oldest event kept when last read
        self._since = 0.0  # the start of the span last read

    def __call__(self, now: float, *, reported_only: bool = False) -> list[DeviceHealth]:
        """Every sensor's health now; ``reported_only``: only the sensors that reported
        (the others are ``watch``, "never reported")."""
        since = reports_since(now, self._policy)
        with self._lock:
            found = self._store.sensor_reports(REPORT_FIELDS, since=since, after=self._read)
            # Deleted: what it holds from before the store's oldest event now; or the
            # store was put back from an older copy; or the clock went back.
            deleted = found.oldest != self._oldest and (found.oldest or math.inf) > since
            if self._read and (deleted or found.last_id < self._read or since < self._since):
                found = self._store.sensor_reports(REPORT_FIELDS, since=since)
                self._history = ReportHistory(self._ids)  # once read: a failed read keeps it
            self._history.add(found.rows)
            self._history.drop_before(since)
            self._read, self._oldest, self._since = found.last_id, found.oldest, since
            health = self._history.assess(now, self._policy, reported_only=reported_only)
            if self._history.size > self._keep:  # too much to keep: read them all each time
                self._history, self._read = ReportHistory(self._ids), 0
            return health


def device_health(
    store: ReportStore,
    sensor_ids: Sequence[str],
    now: float,
    policy: HealthPolicy | None = None,
    *,
    reported_only: bool = False,
) -> list[DeviceHealth]:
    """Every sensor's health now, from the store, read once (``homeguard status``)."""
    return HealthReader(store, sensor_ids, policy)(now, reported_only=reported_only)
