"""What the controller counts instead of storing message by message, and the events that
summarise it once per interval (``rate_limit.report_every``):

* a device's **surplus** (messages over its budget, see :mod:`homeguard.services.inbox`):
  one ``flood`` event per device and interval;
* a signing sensor's **refused** messages: the first :data:`REFUSALS_AT_ONCE` of an
  interval are reported one by one as they come, the rest in one ``security`` event;
* **rejected** payloads (undecodable, unknown topic): never stored; the first of each
  reason and interval is logged, the rest in one log line.

Used from the controller thread only.
"""

from __future__ import annotations

import logging

from homeguard.core.flood import FloodPolicy, Summary, Tally
from homeguard.core.signals import EventKind, RecordEvent
from homeguard.errors import PayloadError

log = logging.getLogger("homeguard.controller")

REFUSALS_AT_ONCE = 5  # a sensor's refused messages reported one by one per interval


class Summaries:
    """The three tallies, and the events their ended intervals make."""

    def __init__(self, policy: FloodPolicy) -> None:
        self._policy = policy
        self._surplus = Tally(policy.interval)  # per device: handled / coalesced
        self._refused = Tally(policy.interval)  # per signing sensor: by reason
        self._rejected = Tally(policy.interval)  # per reason

    def surplus(self, device: str, coalesced: int, now: float) -> None:
        """Count one surplus message handled, standing for ``coalesced`` more."""
        if self._surplus.count(device, "handled", now) == 1:
            log.warning(
                "%s sends more than %g messages/s: the surplus is not stored one by one",
                device,
                self._policy.rate,
            )
        if coalesced:
            self._surplus.count(device, "coalesced", now, coalesced)

    def refused(self, sensor: str, reason: str, now: float) -> bool:
        """Count a refused message; True when it is to be reported at once."""
        return self._refused.count(sensor, reason, now) <= REFUSALS_AT_ONCE

    def rejected(self, topic: str, size: int, exc: PayloadError, now: float) -> None:
        """Count a rejected message of ``size`` bytes; log the first of its reason in
        the interval at once (the payload, which may hold a code, is never quoted)."""
        if self._rejected.count(exc.reason, "rejected", now) == 1:
            log.warning(
                "rejected message on %s (%d bytes): %s (more like it are summarised)",
                topic,
                size,
                exc,
            )

    def due(self, now: float, *, final: bool = False) -> list[RecordEvent]:
        """The events of the intervals that ended by ``now`` (all when ``final``)."""
        records = [self._flood(s) for s in self._surplus.due(now, final=final)]
        records += [
            self._refusals(s)
            for s in self._refused.due(now, final=final)
            if s.total > REFUSALS_AT_ONCE
        ]
        for summary in self._rejected.due(now, final=final):
            if summary.total > 1:
                log.warning(
                    "%d messages rejected as %s in %.0f s",
                    summary.total,
                    summary.key,
                    summary.until - summary.since,
                )
        return records

    def _flood(self, summary: Summary) -> RecordEvent:
        total = summary.counts["handled"] + summary.counts["coalesced"]
        return RecordEvent(
            EventKind.FLOOD,
            f"{summary.key} sent {total} messages over its budget of "
            f"{self._policy.rate:g}/s in {summary.until - summary.since:.0f} s",
            {
                "device": summary.key,
                "surplus": total,
                "coalesced": summary.counts["coalesced"],
                **_span(summary),
                "rate": self._policy.rate,
                "burst": self._policy.burst,
            },
        )

    @staticmethod
    def _refusals(summary: Summary) -> RecordEvent:
        return RecordEvent(
            EventKind.SECURITY,
            f"{summary.total} messages from {summary.key} refused in "
            f"{summary.until - summary.since:.0f} s",
            {
                "sensor": summary.key,
                "refused": summary.total,
                "reported": REFUSALS_AT_ONCE,  # one by one, as they came
                "reasons": dict(summary.counts),
                **_span(summary),
            },
        )


def _span(summary: Summary) -> dict[str, float]:
    return {"since": round(summary.since, 3), "until": round(summary.until, 3)}


__all__ = ["REFUSALS_AT_ONCE", "Summaries"]
