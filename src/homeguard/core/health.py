"""Sensor health: which devices will need a visit soon, and why, from what they reported.

Pure functions over one device's stored reports (:class:`Report`, made from the event
store's sensor records, kept as a :class:`Track`) and ``now``. Each device gets a
:class:`Health` and the reasons:

- **battery**: the trend of the last days' levels gives the days until it is empty (a
  least-squares line, counted only when the fall is larger than the readings' wobble);
  a battery at or below :data:`~homeguard.core.model.LOW_BATTERY_PERCENT` is low anyway.
- **chatter**: a contact that changes state many times within a minute is flapping (a
  loose magnet, a failing reed switch), whatever the panel makes of it.
- **silence**: no report for several of the device's usual intervals (learned from its
  own reports: heartbeats show as the longest regular gaps); a few missed in a day is a
  weak link. A device whose stored reports are not regular (the controller stores state
  reports, not bare heartbeats) is left to the panel's supervision.
- **report delay**: the time from the device's ``ts`` to the controller's receipt, now
  against its usual (low) delay of the last week: a link that degrades delays before it
  drops.
- **link quality**, where the device reports one (Zigbee's ``linkquality``).

``SERVICE`` and ``FAILED`` need a visit (a ``maintenance`` event); ``WATCH`` is shown only.
"""

from __future__ import annotations

import bisect
import math
import operator
import statistics
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from homeguard.core.model import LOW_BATTERY_PERCENT
from homeguard.core.records import SensorRecord

DAY = 86400.0
HOUR = 3600.0


class Health(StrEnum):
    OK = "ok"
    WATCH = "watch"  # worth a look, not yet a visit
    SERVICE = "service"  # needs a visit soon
    FAILED = "failed"  # not working now

    @property
    def needs_attention(self) -> bool:
        return self in (Health.SERVICE, Health.FAILED)


_RANK = {Health.OK: 0, Health.WATCH: 1, Health.SERVICE: 2, Health.FAILED: 3}


class Report(NamedTuple):
    """One stored report: received at ``ts``; ``sent`` is the device's own ``ts``. The
    rules read a device's reports as a :class:`Track`."""

    ts: float
    state: str
    sent: float | None = None
    battery: float | None = None
    link: float | None = None


# What health reads of a stored sensor event, as the store's ``sensor_reports`` gives
# it: the device, when the event was received, its state, then these fields of its
# metadata as numbers (None where one is missing or is not a number, a boolean
# included): the device's own ``ts`` (Report.sent), ``battery``, ``linkquality``.
REPORT_FIELDS = ("ts", "battery", "linkquality")
ReportRow = tuple[str, float, str, float | None, float | None, float | None]


class StoredReports(NamedTuple):
    """What the store gives health (``EventStore.sensor_reports``): the rows asked for,
    with the number of the last event stored and the time of the oldest event kept
    (retention deletes the older ones), read in one snapshot."""

    rows: Sequence[ReportRow]
    last_id: int  # 0: no event stored
    oldest: float | None  # None: no event stored


def report_row(record: SensorRecord) -> ReportRow:
    """The :data:`ReportRow` of a sensor event."""
    meta: Mapping[str, Any] = record.metadata or {}
    sent, battery, link = (_number(meta.get(field)) for field in REPORT_FIELDS)
    return (record.device_id, record.ts, record.state, sent, battery, link)


def report_of(record: SensorRecord) -> Report:
    """The parts of a stored sensor event that health looks at."""
    _, ts, state, sent, battery, link = report_row(record)
    return Report(ts, state, sent, battery, link)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds; the defaults are what the evaluation (docs/intelligence.md) measured."""

    battery_empty: float = 5.0  # percent at which a battery device stops working
    battery_window: float = 3 * DAY  # levels the trend is fitted on
    battery_min_fall: float = 3.0  # percentage points the fit must fall to count
    battery_horizon: float = 10.0  # days: empty sooner than this needs a visit
    chatter_window: float = 60.0
    chatter_changes: int = 6  # state changes within chatter_window
    chatter_lookback: float = HOUR
    silent_after: float = 3.0  # usual intervals without a report
    min_silence: float = 900.0  # seconds, however chatty the device usually is
    missed_per_day: int = 4  # gaps of twice the usual interval in a day: watch
    delay_factor: float = 5.0  # recent median delay against the usual one
    delay_min: float = 3.0  # seconds: below this a delay is never news
    link_low: float = 30.0  # linkquality (0-255) below which the link is weak
    history: float = 7 * DAY  # how far back the baselines look


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    device_id: str
    state: Health
    reasons: tuple[str, ...] = ()
    battery: float | None = None
    days_to_empty: float | None = None
    last_report: float | None = None
    interval: float | None = None  # the device's usual seconds between reports

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "healthy"

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device_id,
            "health": self.state.value,
            "reason": self.reason,
            "battery": self.battery,
            "days_to_empty": None if self.days_to_empty is None else round(self.days_to_empty, 1),
            "last_report": self.last_report,
        }


_NEVER = (Health.WATCH, ("never reported",))  # a device with no report in the history


def reports_since(now: float, policy: HealthPolicy) -> float:
    """The time of the oldest report that assessing at ``now`` reads."""
    return now - policy.history - DAY


def assess_all(
    device_ids: Sequence[str],
    rows: Iterable[ReportRow],
    now: float,
    policy: HealthPolicy = HealthPolicy(),
    *,
    reported_only: bool = False,
) -> list[DeviceHealth]:
    """The health of each of ``device_ids`` from the :data:`ReportRow` of events of any
    devices, oldest first: read from the store in one query, not one per device (100,000
    sensors took seconds of queries). ``reported_only``: leave out the devices with no
    report (each would be ``watch``, "never reported"), for those who want only the
    devices that need a visit."""
    history = ReportHistory(device_ids)
    history.add(rows)
    return history.assess(now, policy, reported_only=reported_only)


class Track:
    """One device's reports, oldest first, as columns: a number each for the time, the
    device's own time, the battery and the link (NaN where a report has none), and the
    state. A week of events is kept: 40 bytes a report, where a :class:`Report` and its
    numbers took 190 (300,000 reports: 58 MB). Found by time with `bisect` over ``ts``."""

    __slots__ = ("battery", "link", "sent", "state", "ts")

    def __init__(self) -> None:
        self.ts = array("d")
        self.state: list[str] = []
        self.sent = array("d")
        self.battery = array("d")
        self.link = array("d")

    @classmethod
    def of(cls, reports: Iterable[Report]) -> Track:
        track = cls()
        for report in reports:
            track.add(*report)
        return track

    def __len__(self) -> int:
        return len(self.ts)

    def add(
        self, ts: float, state: str, sent: float | None, battery: float | None, link: float | None
    ) -> None:
        """Add a report after those at or before its time."""
        at = len(self.ts)
        if at and self.ts[-1] > ts:  # stored after newer ones: put in its place
            at = bisect.bisect_right(self.ts, ts)
        self.ts.insert(at, ts)
        self.state.insert(at, state)
        self.sent.insert(at, _NONE if sent is None else sent)
        self.battery.insert(at, _NONE if battery is None else battery)
        self.link.insert(at, _NONE if link is None else link)

    def drop_before(self, start: float) -> None:
        cut = bisect.bisect_left(self.ts, start)
        for column in (self.ts, self.state, self.sent, self.battery, self.link):
            del column[:cut]


_NONE = math.nan  # no such number in the report


class ReportHistory:
    """The reports of each of ``device_ids``, kept from one assessment to the next: a
    process that assesses again and again (the dashboard, the scoring process) adds only
    what was stored since it last read, and drops what is older than it needs, instead
    of reading every report of the span again (a week of 300,000 events: about a second,
    docs/performance.md)."""

    def __init__(self, device_ids: Sequence[str]) -> None:
        self.device_ids = tuple(device_ids)
        self._wanted = {i: i for i in device_ids}  # one string per device, not per report
        self._tracks: dict[str, Track] = {}  # only those that reported
        self.count = 0  # reports kept
        self._states: dict[str, str] = {}  # one string per state, not one per report

    @property
    def size(self) -> int:
        """About the bytes it holds (measured with tracemalloc: 40 a report, and 600 a
        device that reported: 12.6 MB for 300,000 reports of 100 devices, 80.6 MB for
        500,000 of 100,000)."""
        return 40 * self.count + 600 * len(self._tracks)

    def add(self, rows: Iterable[ReportRow]) -> None:
        """Add reports, each after those of its device at or before its time (rows come
        oldest first; one received earlier than the last is put in its place)."""
        wanted, tracks, states = self._wanted, self._tracks, self._states
        for device_id, ts, state, sent, battery, link in rows:
            if (device := wanted.get(device_id)) is not None:
                if (track := tracks.get(device)) is None:
                    track = tracks[device] = Track()
                track.add(ts, states.setdefault(state, state), sent, battery, link)
                self.count += 1

    def drop_before(self, start: float) -> None:
        """Forget the reports received before ``start``."""
        for device_id, track in list(self._tracks.items()):
            if track.ts[0] < start:
                self.count -= len(track)
                track.drop_before(start)
                self.count += len(track)
                if not track:
                    del self._tracks[device_id]

    def assess(
        self, now: float, policy: HealthPolicy = HealthPolicy(), *, reported_only: bool = False
    ) -> list[DeviceHealth]:
        """Each device's health at ``now`` (``reported_only``: as :func:`assess_all`)."""
        tracks = self._tracks
        if reported_only:
            return [assess(i, tracks[i], now, policy) for i in self.device_ids if i in tracks]
        return [
            assess(i, tracks[i], now, policy) if i in tracks else DeviceHealth(i, *_NEVER)
            for i in self.device_ids
        ]


def assess(
    device_id: str,
    reports: Track | Sequence[Report],
    now: float,
    policy: HealthPolicy = HealthPolicy(),
) -> DeviceHealth:
    """The health of ``device_id`` at ``now`` from its ``reports`` (oldest first; those
    after ``now`` are ignored)."""
    track = reports if isinstance(reports, Track) else Track.of(reports)
    ts = track.ts
    first = bisect.bisect_left(ts, reports_since(now, policy))
    end = bisect.bisect_left(ts, now + 1e-9)
    if first == end:
        return DeviceHealth(device_id, *_NEVER)
    span = _Span(track, first, end)
    findings: list[tuple[Health, str]] = []
    battery, days = _battery(span, now, policy, findings)
    _chatter(span, now, policy, findings)
    interval = _silence(span, now, policy, findings)
    _delay(span, now, policy, findings)
    _link(span, now, policy, findings)
    state = max((h for h, _ in findings), key=_RANK.__getitem__, default=Health.OK)
    reasons = tuple(text for h, text in findings if h is not Health.OK)
    return DeviceHealth(device_id, state, reasons, battery, days, ts[end - 1], interval)


class _Span(NamedTuple):
    """The reports of ``track`` that an assessment reads: those numbered [first, end)."""

    track: Track
    first: int
    end: int

    def since(self, start: float, until: float | None = None) -> range:
        """The numbers of the reports received from ``start`` (to before ``until``)."""
        ts, first, end = self.track.ts, self.first, self.end
        last = end if until is None else bisect.bisect_left(ts, until, first, end)
        return range(bisect.bisect_left(ts, start, first, last), last)


def _battery(
    span: _Span, now: float, policy: HealthPolicy, findings: list[tuple[Health, str]]
) -> tuple[float | None, float | None]:
    window = span.since(now - policy.battery_window)
    step = max(1, len(window) // 100)  # a hundred levels are plenty for a trend
    sample = [*window[::step], window[-1]] if window else []
    ts, battery = span.track.ts, span.track.battery
    levels = [(ts[i], b) for i in sample if not math.isnan(b := battery[i])]
    for i in range(len(levels) - 1, 0, -1):  # a new battery: only what came after it
        if levels[i][1] - levels[i - 1][1] > 10.0:
            levels = levels[i:]
            break
    if not levels:
        return None, None
    level = statistics.median(b for _, b in levels[-5:])
    days: float | None = None
    if len(levels) >= 10 and levels[-1][0] - levels[0][0] >= DAY / 2:
        slope = _slope(levels)  # percent per second
        fall = -slope * (levels[-1][0] - levels[0][0])
        if slope < 0 and fall >= policy.battery_min_fall:
            days = max(0.0, (level - policy.battery_empty) / -slope / DAY)
    if level <= policy.battery_empty:
        findings.append((Health.FAILED, f"battery empty ({level:.0f}%)"))
    elif days is not None and days <= policy.battery_horizon:
        findings.append((Health.SERVICE, f"battery {level:.0f}%, empty in ~{days:.1f} days"))
    elif level <= LOW_BATTERY_PERCENT:
        findings.append((Health.SERVICE, f"battery low ({level:.0f}%)"))
    return level, days


def _slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of ``points`` (per second)."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_b = sum(b for _, b in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (b - mean_b) for t, b in points) / var


def _chatter(
    span: _Span, now: float, policy: HealthPolicy, findings: list[tuple[Health, str]]
) -> None:
    recent = span.since(now - policy.chatter_lookback - policy.chatter_window)
    ts, states = span.track.ts, span.track.state
    changes = [ts[i] for i in recent[1:] if states[i] != states[i - 1]]
    worst = 0
    for i, at in enumerate(changes):
        j = bisect.bisect_right(changes, at + policy.chatter_window)
        worst = max(worst, j - i)
    if worst >= policy.chatter_changes:
        findings.append(
            (Health.SERVICE, f"chattering: {worst} changes within {policy.chatter_window:.0f} s")
        )


def _silence(
    span: _Span, now: float, policy: HealthPolicy, findings: list[tuple[Health, str]]
) -> float | None:
    ts = span.track.ts
    last = ts[span.end - 1]
    recent = span.since(last - DAY)  # its last day of reports, however old
    times = ts[recent.start : recent.stop]
    gaps: list[float] = sorted(map(operator.sub, times[1:], times[:-1]))
    if len(gaps) < 20:
        return None
    interval = gaps[int(len(gaps) * 0.9)]  # heartbeats: the long regular gaps
    regular = sum(0.8 * interval <= gap <= 1.2 * interval for gap in gaps)
    if regular < 0.3 * len(gaps):
        return None  # speaks only when something happens: its silence is no news
    quiet = now - last
    if quiet >= max(policy.min_silence, policy.silent_after * interval):
        findings.append(
            (Health.FAILED, f"silent for {_span(quiet)} (reports every ~{_span(interval)})")
        )
        return interval
    missed = sum(gap > 2 * interval for gap in gaps)
    if missed >= policy.missed_per_day:
        findings.append((Health.WATCH, f"{missed} missed reports in the last day"))
    return interval


def _delay(
    span: _Span, now: float, policy: HealthPolicy, findings: list[tuple[Health, str]]
) -> None:
    ts, sent = span.track.ts, span.track.sent
    recent = [ts[i] - s for i in span.since(now - 3 * HOUR) if not math.isnan(s := sent[i])]
    if len(recent) < 5:
        return
    older = span.since(now - policy.history, now - DAY)
    step = max(1, len(older) // 300)
    delays = sorted(ts[i] - s for i in older[::step] if not math.isnan(s := sent[i]))
    if len(delays) < 20:
        return
    # The link at its best: a delay that grew over days does not raise its own baseline.
    best, now_delay = delays[len(delays) // 10], statistics.median(recent)
    if now_delay >= max(policy.delay_min, policy.delay_factor * best):
        findings.append(
            (Health.SERVICE, f"reports arrive {now_delay:.1f} s late (usually {best:.1f} s)")
        )


def _link(
    span: _Span, now: float, policy: HealthPolicy, findings: list[tuple[Health, str]]
) -> None:
    link = span.track.link
    links = [q for i in span.since(now - 6 * HOUR) if not math.isnan(q := link[i])]
    if len(links) >= 5 and (median := statistics.median(links)) < policy.link_low:
        findings.append((Health.WATCH, f"weak link (quality {median:.0f} of 255)"))


def _span(seconds: float) -> str:
    if seconds >= 2 * HOUR:
        return f"{seconds / HOUR:.0f} h"
    return f"{seconds / 60:.0f} min"
