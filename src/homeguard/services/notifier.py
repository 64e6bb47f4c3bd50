"""The notifier: delivers the outbox (the ``notifications`` table), off the controller's
path, on a thread of its own.

The controller queues notification rows in the same commit as the events that cause
them (:mod:`homeguard.services.outbox`); after each commit the store writer wakes this
worker (:meth:`Notifier.wake`, registered with ``Controller.after_commit``), which also
wakes by itself when the next row is due (a retry, the end of quiet hours, a rate limit
window). Each pass takes the due rows, urgent first (alarm, duress), and for each target:

- applies the route's rate limit (:func:`homeguard.core.notifications.rate_plan`): the
  surplus is not sent but told as "and N more" in the last message allowed, and marked
  ``suppressed``; with nothing allowed now, the rows wait for the window;
- sends through the apprise adapter (:func:`homeguard.adapters.notifier.send`), with a
  camera snapshot on alarms when the route asks for one;
- marks the row ``delivered``, or on failure retries it after ``first`` seconds,
  doubling up to ``max`` (:class:`RetryPolicy`), until ``give_up_after`` seconds after the
  event: then ``failed``. A target that failed is not tried again in the same pass: its
  other rows wait for its retry.

Rows pending at start (a restart, a crash) are sent then: delivery is at least once
(a crash between the service taking a message and the row being marked sends it again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from homeguard.adapters.clock import local_zone, wall_clock
from homeguard.adapters.store import EventStore, Outbox
from homeguard.config import NotificationsConfig
from homeguard.core.notifications import Routing, rate_plan, summary
from homeguard.core.records import Delivery
from homeguard.errors import ConfigError, NotifyError, StoreError
from homeguard.services.followers import following_commits

__all__ = [
    "Notifier",
    "RetryPolicy",
    "Sender",
    "build_notifier",
    "notifying",
    "site_routing",
    "target_urls",
]

log = logging.getLogger("homeguard.notify")

IDLE = 30.0  # seconds between passes with nothing due (the commit wakes us anyway)
PRUNE_EVERY = 3600.0
STOP_WAIT = 2.0  # seconds a stopping controller waits for a send in progress


class Sender(Protocol):
    def __call__(
        self,
        url: str,
        title: str,
        body: str,
        *,
        attachment: tuple[bytes, str] | None = None,
        urgent: bool = False,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry after ``first`` seconds, doubling up to ``max``; give up (``failed``)
    ``give_up_after`` seconds after the event."""

    first: float = 10.0
    max: float = 600.0
    give_up_after: float = 86400.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return float(min(self.first * 2 ** max(0, min(attempts - 1, 40)), self.max))


class Notifier:
    """One pass at a time (:meth:`step`); :meth:`run` loops until stopped."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        routing: Routing,
        urls: Mapping[str, str],
        send: Sender,
        clock: Callable[[], float],
        retry: RetryPolicy | None = None,
        snapshot: Callable[[], bytes | None] | None = None,
        keep: float = 30 * 86400.0,
    ) -> None:
        self._outbox = outbox
        self._routing = routing
        self._urls = urls
        self._send = send
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._snapshot = snapshot
        self._keep = keep
        self._woken = threading.Event()
        self._next_prune = 0.0
        self._failing: set[str] = set()  # targets whose last attempt failed
        self._pictures: dict[tuple[float, str], bytes | None] = {}

    def wake(self) -> None:
        """Something was committed: look at the outbox (any thread; returns at once)."""
        self._woken.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._woken.clear()  # before the pass: a commit during it wakes the next one
            now = self._clock()
            try:
                due = self.step(now)
            except StoreError as exc:  # the store is busy or failing: try again soon
                log.warning("notifications wait: the event store fails (%s)", exc)
                due = now + 5.0
            wait = IDLE if due is None else min(IDLE, max(0.0, due - self._clock()))
            self._woken.wait(wait)

    def step(self, now: float) -> float | None:
        """Deliver what is due; when the next row is due (None: nothing pending)."""
        rows = self._outbox.due(now)
        self._pictures.clear()  # one picture per alarm and pass, whatever its targets
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for row in rows:
            groups.setdefault((row.record.route, row.record.target), []).append(row)
        for (route_name, target), group in groups.items():
            retry_at: list[float] = []
            for row in (r for r in group if r.record.urgent):
                self._deliver(row, (), now, retry_at)
            normal = [r for r in group if not r.record.urgent]
            if not normal:
                continue
            route = self._routing.route(route_name)
            rate = route.rate if route is not None else None
            sent = self._outbox.sent_since(route_name, target, now - rate.per) if rate else []
            plan = rate_plan([r.id for r in normal], sent, rate, now)
            by_id = {r.id: r for r in normal}
            planned = set(plan.send).union(*plan.folded.values())
            held = [r.id for r in normal if r.id not in planned]
            if held and plan.wait_until is not None:
                self._outbox.postpone(held, plan.wait_until)
            for row_id in plan.send:
                folded = [by_id[i] for i in plan.folded.get(row_id, ())]
                self._deliver(by_id[row_id], folded, now, retry_at)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            self._outbox.prune(now - self._keep)
        return self._outbox.next_due()

    def _deliver(
        self, row: Delivery, folded: Sequence[Delivery], now: float, retry_at: list[float]
    ) -> None:
        """Send one row (with the rows it tells of); ``retry_at`` holds the target's
        retry time once it failed in this pass, and the target's other rows wait too."""
        record = row.record
        if retry_at:
            self._outbox.postpone([row.id, *(f.id for f in folded)], retry_at[0])
            return
        url = self._urls.get(record.target)
        if url is None:  # gone from the config, or its secret missing: a restart may fix it
            error = f"target {record.target!r} is not configured, or its secret is missing"
            self._failed(row, folded, now, error, retry_at)
            return
        body = record.body
        if folded:
            prefix = f"{self._routing.title}: "
            body += summary([f.record.title.removeprefix(prefix) for f in folded])
        try:
            attachment = self._attachment(row) if record.snapshot else None
            self._send(url, record.title, body, attachment=attachment, urgent=record.urgent)
        except NotifyError as exc:
            self._failed(row, folded, now, str(exc), retry_at)
            return
        self._outbox.delivered(row.id, self._clock(), [f.id for f in folded])
        if record.target in self._failing:
            self._failing.discard(record.target)
            log.info("notifications to %s are delivered again", record.target)

    def _failed(
        self,
        row: Delivery,
        folded: Sequence[Delivery],
        now: float,
        error: str,
        retry_at: list[float],
    ) -> None:
        record = row.record
        now = max(now, self._clock())  # after the attempt, which may have taken its timeout
        if now - record.ts >= self._retry.give_up_after:
            log.error("gave up notification %d to %s: %s", row.id, record.target, error)
            self._outbox.failed(row.id, now, error)
            return
        due = now + self._retry.delay(row.attempts + 1)
        retry_at.append(due)
        self._outbox.retry(row.id, due, error)
        if folded:
            self._outbox.postpone([f.id for f in folded], due)
        if record.target not in self._failing:
            self._failing.add(record.target)
            log.warning(
                "notification to %s not delivered (%s): retrying, first in %.0f s",
                record.target,
                error,
                due - now,
            )

    def _attachment(self, row: Delivery) -> tuple[bytes, str] | None:
        data = self._outbox.attachment(row.id)
        if data is None and self._snapshot is not None:
            alarm = (row.record.ts, row.record.title)
            if alarm not in self._pictures:
                try:
                    self._pictures[alarm] = self._snapshot()
                except NotifyError as exc:
                    log.warning("alarm notification without a snapshot: %s", exc)
                    self._pictures[alarm] = None
            data = self._pictures[alarm]
            if data is not None:
                self._outbox.keep_attachment(row.id, data)
        return None if data is None else (data, "snapshot.jpg")


@contextmanager
def notifying(
    open_store: Callable[[], AbstractContextManager[EventStore]],
    after_commit: Callable[[Callable[[], None]], None],
    make: Callable[[Outbox], Notifier],
) -> Iterator[Notifier]:
    """Run a notifier (built by ``make`` over a store of its own) on the thread
    ``notifier`` until exit; ``after_commit`` registers its wake-up."""
    with open_store() as store:
        notifier = make(Outbox(store))
        with following_commits(
            notifier,
            "notifier",
            after_commit,
            stop_wait=STOP_WAIT,
            log=log,
            left_behind="the notifier is still sending at stop: its rows stay queued",
        ):
            yield notifier


def site_routing(config: NotificationsConfig) -> Routing:
    """The configured routes, in the configured time zone (the machine's unless set)."""
    return config.routing(local_zone(config.timezone))


def target_urls(config: NotificationsConfig) -> dict[str, str]:
    """Each target's URL, secret in place; a target whose secret is missing is left
    out, with an error logged (its notifications fail, the others go)."""
    urls = {}
    for name, target in config.targets.items():
        try:
            urls[name] = target.resolved_url(name)
        except ConfigError as exc:
            log.error("%s", exc)
    return urls


def build_notifier(
    config: NotificationsConfig, snapshot: Callable[[], bytes | None] | None, outbox: Outbox
) -> Notifier:
    """A notifier for the configured routes, sending through apprise."""
    from homeguard.adapters.notifier import send, url_problem  # apprise: only when needed

    urls = target_urls(config)
    # Checking every URL now also loads apprise's plugins (0.2 s of CPU) at the start,
    # not at the first alarm, while the controller is busiest.
    for name, url in urls.items():
        if (problem := url_problem(url)) is not None:
            log.error("notifications target %s: %s", name, problem)
    retry = config.retry
    return Notifier(
        outbox=outbox,
        routing=site_routing(config),
        urls=urls,
        send=send,
        clock=wall_clock,
        retry=RetryPolicy(retry.first, retry.max, retry.give_up_after),
        snapshot=snapshot,
        keep=config.keep_days * 86400.0,
    )
