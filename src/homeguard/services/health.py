"""Every configured sensor's health now, from the event store: for ``homeguard status``
and each round of the scoring process (:mod:`.intelligence`). A module of its own so
that ``status`` does not import the scoring process's (multiprocessing, the anomaly
detector): a command's start is mostly its imports (docs/performance.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from homeguard.core.health import (
    REPORT_FIELDS,
    DeviceHealth,
    HealthPolicy,
    ReportRow,
    assess_all,
    reports_span,
)


class ReportStore(Protocol):
    def sensor_reports(
        self, fields: Sequence[str], *, since: float, until: float
    ) -> Sequence[ReportRow]: ...


def device_health(
    store: ReportStore,
    sensor_ids: Sequence[str],
    now: float,
    policy: HealthPolicy | None = None,
    *,
    reported_only: bool = False,
) -> list[DeviceHealth]:
    """Every sensor's health now, from the store; ``reported_only``: only the sensors
    that reported (the others are ``watch``, "never reported")."""
    policy = policy or HealthPolicy()
    since, until = reports_span(now, policy)
    rows = store.sensor_reports(REPORT_FIELDS, since=since, until=until)
    return assess_all(sensor_ids, rows, now, policy, reported_only=reported_only)
