"""The uplink's decisions, pure: what an upstream message says, and when a batch is due.

The uplink (``services/uplink.py``) forwards the committed event log to an upstream
broker. Each forwarded event carries ``seq``, its place in the site's stream: numbered
by the store in commit order, from 1, with no gaps (docs/uplink.md). A *batch* message
holds the next events of the stream in order; an *alarm* message is an early copy of one
alarm event, sent ahead of any batch still waiting, which the stream carries again in
its place. Time is an argument: no clock here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from homeguard.core.records import EventRecord, SensorRecord

__all__ = ["FORMAT", "Forwarded", "Pacer", "alarm_body", "batch_body", "event_body"]

FORMAT = 1  # the version of the upstream message format; raised on incompatible changes


@dataclass(frozen=True, slots=True)
class Forwarded:
    """One event of the stream: its ``seq``, the stored record (its ``id`` is the row id
    in its table), and ``silent`` for a duress alert (forwarded only when configured)."""

    seq: int
    record: EventRecord
    silent: bool = False


def event_body(item: Forwarded) -> dict[str, Any]:
    """One event as the upstream receiver sees it."""
    record = item.record
    if isinstance(record, SensorRecord):
        return {
            "seq": item.seq,
            "kind": "sensor",
            "id": record.id,
            "ts": record.ts,
            "device": record.device_id,
            "type": record.sensor_type,
            "state": record.state,
            "metadata": _plain(record.metadata),
        }
    return {
        "seq": item.seq,
        "kind": "silent" if item.silent else "system",
        "id": record.id,
        "ts": record.ts,
        "event": record.event_type,
        "description": record.description,
        "data": _plain(record.data),
    }


def batch_body(
    site: str, number: int, items: Sequence[Forwarded], sent_at: float
) -> dict[str, Any]:
    """A batch: the events ``items`` (consecutive in the stream), batch ``number``."""
    if not items:
        raise ValueError("a batch holds at least one event")
    return {
        "format": FORMAT,
        "site": site,
        "type": "batch",
        "batch": number,
        "first_seq": items[0].seq,
        "last_seq": items[-1].seq,
        "count": len(items),
        "sent_at": sent_at,
        "events": [event_body(item) for item in items],
    }


def alarm_body(site: str, item: Forwarded, sent_at: float) -> dict[str, Any]:
    """An alarm sent ahead of the stream; the stream carries the same event (same seq)."""
    return {
        "format": FORMAT,
        "site": site,
        "type": "alarm",
        "sent_at": sent_at,
        "event": event_body(item),
    }


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@dataclass(slots=True)
class Pacer:
    """When the next batch is due: ``size`` events wait, or the oldest waiting event has
    waited ``interval`` seconds (measured from when the uplink first saw it waiting).

    ``now`` is any monotonic clock; a backlog of 0 resets the wait.
    """

    size: int
    interval: float
    waiting_since: float | None = None
    draining: bool = False  # the rest of a backlog is due at once

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("a batch holds at least one event")
        if self.interval < 0:
            raise ValueError("the batch interval must not be negative")

    def due(self, backlog: int, now: float) -> bool:
        """True when a batch should be sent now, with ``backlog`` events unsent."""
        if backlog <= 0:
            self.waiting_since = None
            self.draining = False
            return False
        if self.waiting_since is None:
            self.waiting_since = now
        return self.draining or backlog >= self.size or now - self.waiting_since >= self.interval

    def sent(self, left: int) -> None:
        """A batch was acknowledged; ``left`` events were already waiting beside it when
        it went (a backlog longer than a batch). Those have waited as long as the batch,
        so they are due at once; with none left, the wait starts afresh."""
        self.waiting_since = None
        self.draining = left > 0

    def wake_in(self, now: float) -> float | None:
        """Seconds until a batch falls due by time alone; None when nothing waits."""
        if self.draining:
            return 0.0
        if self.waiting_since is None:
            return None
        return max(0.0, self.waiting_since + self.interval - now)
