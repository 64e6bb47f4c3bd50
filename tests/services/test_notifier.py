"""The outbox and its worker on a real SQLite store, with a fake service and clock:
committed with the events, kept while the store fails, retried with backoff, given up,
rate-limited into "and N more", a rule's route."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Queue
from typing import Any

import pytest

from homeguard.adapters.store import EventStore, Outbox
from homeguard.adapters.topics import SiteTopics, TopicMap
from homeguard.core.backlog import Backlog
from homeguard.core.model import PanelSettings
from homeguard.core.notifications import (
    NotificationKind,
    RateLimit,
    Route,
    Routing,
    route_event,
)
from homeguard.core.panel import Outcome, Panel
from homeguard.core.records import Batch, NotificationRecord, SensorRecord, SystemRecord
from homeguard.core.signals import (
    Advisory,
    ClockStep,
    EventKind,
    Input,
    Notify,
    RecordEvent,
    SilentAlert,
)
from homeguard.errors import NotifyError
from homeguard.services.controller import Controller
from homeguard.services.notifier import STOP_WAIT, Notifier, RetryPolicy, notifying
from homeguard.services.outbound import Outbound
from homeguard.services.outbox import NotificationQueue
from homeguard.services.store_writer import StoreWriter
from homeguard.services.turn import Request
from tests.services.conftest import FakeClient
from tests.services.test_store_writer import FlakyStore

K = NotificationKind
ROUTING = Routing(
    (
        Route("family", ("phone",), frozenset({K.ALARM, K.TROUBLE}), rate=RateLimit(2, 600.0)),
        Route("company", ("monitor",), frozenset({K.ALARM}), duress=True),
        Route("garage", ("pager",), frozenset()),
    )
)


class Service:
    """A fake notification service: records what it took; ``down`` refuses."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.attempts = 0
        self.down = False

    def __call__(
        self,
        url: str,
        title: str,
        body: str,
        *,
        attachment: tuple[bytes, str] | None = None,
        urgent: bool = False,
    ) -> None:
        self.attempts += 1
        if self.down:
            raise NotifyError("A Connection error occurred sending JSON notification")
        self.sent.append((url, title, body))


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(tmp_path / "events.db") as opened:
        yield opened


URLS = {"phone": "ntfy://phone", "monitor": "json://monitor", "pager": "json://pager"}


def worker(
    store: EventStore, service: Service, clock: Clock, urls: dict[str, str] = URLS
) -> Notifier:
    return Notifier(
        outbox=Outbox(store),
        routing=ROUTING,
        urls=urls,
        send=service,
        clock=clock,
        retry=RetryPolicy(first=10.0, max=40.0, give_up_after=300.0),
    )


def queue(store: EventStore, kind: str, description: str, now: float, **data: object) -> None:
    store.write(
        Batch(
            system_events=[SystemRecord(now, kind, description, data)],
            notifications=route_event(ROUTING, kind, description, data, now),
        )
    )


def states(store: EventStore) -> list[tuple[str, str, int]]:
    rows = Outbox(store).recent(100, silent=True)[::-1]
    return [(r.record.kind, r.state, r.attempts) for r in rows]


def test_a_failing_target_is_retried_with_doubling_backoff_then_given_up(
    store: EventStore,
) -> None:
    service, clock = Service(), Clock()
    notifier = worker(store, service, clock)
    service.down = True
    queue(store, "triggered", "alarm triggered by front", clock.now, sensors=["front"])
    waits = []
    for _ in range(5):
        due = notifier.step(clock.now)
        assert due is not None
        waits.append(due - clock.now)
        clock.now = due
    assert waits == [10.0, 20.0, 40.0, 40.0, 40.0]  # first, doubling, capped at max
    assert states(store) == [("alarm", "pending", 5), ("alarm", "pending", 5)]
    clock.now = 1000.0 + 300.0  # give_up_after since the event
    assert notifier.step(clock.now) is None
    assert {(state, attempts) for _, state, attempts in states(store)} == {("failed", 6)}
    assert "Connection error" in (Outbox(store).recent(1)[0].last_error or "")


def test_one_failure_holds_the_targets_other_rows_for_that_pass(store: EventStore) -> None:
    service, clock = Service(), Clock()
    notifier = worker(store, service, clock)
    service.down = True
    for n in range(3):
        queue(store, "triggered", f"alarm {n}", clock.now, sensors=["front"])
    notifier.step(clock.now)
    assert service.attempts == 2  # one per target (phone, monitor), not one per row
    service.down = False
    clock.now += 10.0
    notifier.step(clock.now)
    assert len(service.sent) == 6
    assert {state for _, state, _ in states(store)} == {"delivered"}


def test_a_rate_limit_tells_the_surplus_as_and_n_more_but_never_holds_an_alarm(
    store: EventStore,
) -> None:
    service, clock = Service(), Clock()
    notifier = worker(store, service, clock)
    for n in range(5):
        queue(store, "trouble", f"sensor s{n} offline", clock.now, sensor=f"s{n}")
    notifier.step(clock.now)
    phone = [body for url, _, body in service.sent if url == "ntfy://phone"]
    assert len(phone) == 2  # count: 2 per 600 s
    assert phone[0].startswith("Sensor s0 offline")
    assert phone[1].endswith("\n\n... and 3 more: Trouble - s2; Trouble - s3; Trouble - s4")
    assert [state for _, state, _ in states(store)] == [
        "delivered",
        "delivered",
        "suppressed",
        "suppressed",
        "suppressed",
    ]
    # The window is full: a trouble waits for it, an alarm does not.
    clock.now += 60.0
    queue(store, "trouble", "sensor s5 offline", clock.now, sensor="s5")
    queue(store, "triggered", "alarm triggered by front", clock.now, sensors=["front"])
    due = notifier.step(clock.now)
    assert service.sent[-1][1] == "homeguard: ALARM - front"
    assert due == 1000.0 + 600.0  # the first send leaves the window
    clock.now = due
    notifier.step(clock.now)
    assert service.sent[-1][2].startswith("Sensor s5 offline")


def test_rows_wait_with_their_events_while_the_store_fails(tmp_path: Path) -> None:
    flaky = FlakyStore(tmp_path / "events.db")
    writer = StoreWriter(flaky, lambda health: None, limit=1)
    flaky.failing = True
    alarm = route_event(ROUTING, "triggered", "alarm", {"sensors": ["front"]}, 5.0)
    sensors = [SensorRecord(float(n), "door", "front", "OPEN") for n in range(3)]
    writer.submit(
        sensor_events=sensors,
        system_events=[SystemRecord(5.0, "triggered", "alarm")],
        devices=[],
        snapshot=None,
        after_commit=[],
        answers=[],
        notifications=alarm,
    )
    assert writer.failing and len(Outbox(flaky.store).recent()) == 0
    flaky.failing = False
    assert writer.write_once()
    assert [r.record for r in Outbox(flaky.store).recent()[::-1]] == alarm
    assert flaky.store.count_system_events() == 1
    flaky.store.close()


def test_the_backlog_never_drops_notifications() -> None:
    backlog = Backlog(limit=1)
    row = NotificationRecord(1.0, "family", "phone", "alarm", "t", "b", 1.0, urgent=True)
    backlog.add(notifications=[row] * 50)
    backlog.add(sensor_events=[SensorRecord(float(n), "door", "f", "OPEN") for n in range(9)])
    pending = backlog.take()
    assert pending is not None and len(pending.notifications) == 50
    assert len(pending.sensor_events) == 1


def test_the_controllers_effects_become_rows_for_the_right_routes() -> None:
    queue_ = NotificationQueue(ROUTING)
    rule = queue_.rows(Notify(EventKind.TRIGGERED, "garage door open", route="garage"), 7.0)
    assert [(r.route, r.target, r.kind) for r in rule] == [("garage", "pager", "rule")]
    assert queue_.rows(Notify(EventKind.TRIGGERED, "Alarm!"), 7.0) == []  # the event routes
    duress = queue_.rows(SilentAlert(EventKind.DURESS, "duress code used by bob"), 7.0)
    assert [(r.route, r.silent) for r in duress] == [("company", True)]
    alarm = queue_.rows(RecordEvent(EventKind.TRIGGERED, "alarm", {"sensors": ["x"]}), 7.0)
    assert [r.route for r in alarm] == ["family", "company"]
    assert NotificationQueue().rows(RecordEvent(EventKind.TRIGGERED, "alarm"), 7.0) == []


def test_one_snapshot_per_alarm_kept_for_its_retries(store: EventStore) -> None:
    routing = Routing((Route("cams", ("phone", "pager"), frozenset({K.ALARM}), snapshot=True),))
    pictures: list[bytes] = []

    def camera() -> bytes:
        pictures.append(b"jpeg %d" % len(pictures))
        return pictures[-1]

    got: list[tuple[str, tuple[bytes, str] | None]] = []

    def service(
        url: str,
        title: str,
        body: str,
        *,
        attachment: tuple[bytes, str] | None = None,
        urgent: bool = False,
    ) -> None:
        got.append((url, attachment))
        if url == "json://pager" and len(got) < 3:
            raise NotifyError("down")

    clock = Clock()
    notifier = Notifier(
        outbox=Outbox(store),
        routing=routing,
        urls={"phone": "ntfy://phone", "pager": "json://pager"},
        send=service,
        clock=clock,
        snapshot=camera,
    )
    rows = route_event(routing, "triggered", "alarm", {"sensors": ["front"]}, clock.now)
    store.write(Batch(notifications=rows))
    clock.now = notifier.step(clock.now) or clock.now
    notifier.step(clock.now)  # the pager's retry
    assert pictures == [b"jpeg 0"]  # taken once, for both targets and the retry
    assert [a for _, a in got] == [(b"jpeg 0", "snapshot.jpg")] * 3


class Committed:
    """The controller's store, faked: what each commit held."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def write(self, batch: Batch) -> object:
        self.batches.append(batch)
        return None

    def load_snapshot(self) -> str | None:
        return None

    def load_panel_sensors(self) -> dict[str, str]:
        return {}

    def devices(self) -> list[Any]:
        return []

    def prune(self, before: float) -> int:
        return 0

    def notifications(self) -> list[NotificationRecord]:
        return [row for batch in self.batches for row in batch.notifications]


def started_controller(routing: Routing) -> tuple[Controller, Queue[Any], Committed]:
    client, inbox, store = FakeClient(), Queue[Any](), Committed()
    controller = Controller(
        settings=PanelSettings(),
        topics=TopicMap.build("home", [], []),
        outbound=Outbound(client, SiteTopics("home")),
        client=client,
        inbox=inbox,
        store=store,
        clock=lambda: 1000.0,
        notifications=routing,
    )
    controller.start()
    return controller, inbox, store


def test_a_rules_notify_action_is_committed_for_its_route_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine's Notify with a route (a rule's action) becomes outbox rows of that
    route, in the turn's commit; a Notify without one adds nothing by itself."""
    from homeguard.services import controller as controller_module

    def engine(panel: Panel, settings: PanelSettings, event: Input, now: float) -> Outcome:
        if not isinstance(event, ClockStep):  # the controller's own ticks: nothing
            return Outcome(panel, ())
        effects = (
            Notify(EventKind.TRIGGERED, "garage door open for 10 min", route="garage"),
            Notify(EventKind.TROUBLE, "no route: only logged"),
        )
        return Outcome(panel, effects)

    controller, inbox, store = started_controller(ROUTING)
    monkeypatch.setattr(controller_module, "handle", engine)
    inbox.put(Request(ClockStep(0.0)))  # stands for the input a rule acts on
    controller.turn()
    assert [(r.route, r.target, r.kind, r.title) for r in store.notifications()] == [
        ("garage", "pager", "rule", "homeguard: garage door open for 10 min")
    ]


def test_maintenance_and_anomalies_are_queued_with_their_events() -> None:
    """What sensor health and anomaly detection find reaches the controller as an
    Advisory, recorded as its own events: the routes that ask for them get them."""
    routing = Routing(
        (
            Route("fixit", ("pager",), frozenset({K.MAINTENANCE})),
            Route("odd", ("phone",), frozenset({K.ANOMALY})),
        )
    )
    controller, _inbox, store = started_controller(routing)
    controller.advise(Advisory(EventKind.MAINTENANCE, "shed needs attention: silent"))
    controller.advise(Advisory(EventKind.ANOMALY, "unusual activity: hall at 03:00"))
    controller.turn()
    rows = store.notifications()
    assert [(r.route, r.kind, r.body.splitlines()[0]) for r in rows] == [
        ("fixit", "maintenance", "Shed needs attention: silent"),
        ("odd", "anomaly", "Unusual activity: hall at 03:00"),
    ]
    written = [e for batch in store.batches for e in batch.system_events]
    assert [e.event_type for e in written][-2:] == ["maintenance", "anomaly"]


def test_a_target_without_its_secret_waits_for_a_restart_that_has_it(store: EventStore) -> None:
    service, clock = Service(), Clock()
    rows = route_event(ROUTING, "triggered", "alarm", {"sensors": ["front"]}, clock.now)
    store.write(Batch(notifications=rows))
    missing = worker(store, service, clock, {"phone": "ntfy://phone"})  # no monitor secret
    missing.step(clock.now)
    (waiting,) = [r for r in Outbox(store).recent() if r.state == "pending"]
    assert waiting.record.target == "monitor" and "secret is missing" in (waiting.last_error or "")
    clock.now += 3600.0
    worker(store, service, clock).step(clock.now)  # restarted with the secret
    assert {r.state for r in Outbox(store).recent()} == {"delivered"}
    assert [url for url, _, _ in service.sent] == ["ntfy://phone", "json://monitor"]


def test_a_stopping_controller_waits_at_most_briefly_for_a_slow_service(tmp_path: Path) -> None:
    """A service that hangs (a black-holed host) never holds up a stop: the row stays
    pending for the next start."""
    entered, release = threading.Event(), threading.Event()

    def hanging(
        url: str,
        title: str,
        body: str,
        *,
        attachment: tuple[bytes, str] | None = None,
        urgent: bool = False,
    ) -> None:
        entered.set()
        release.wait(30)

    path = tmp_path / "events.db"
    with EventStore(path) as store:
        store.write(Batch(notifications=route_event(ROUTING, "triggered", "a", {}, 1.0)))
    listeners: list[Callable[[], None]] = []

    def make(outbox: Outbox) -> Notifier:
        return Notifier(outbox=outbox, routing=ROUTING, urls=URLS, send=hanging, clock=Clock())

    with notifying(lambda: EventStore(path), listeners.append, make):
        assert entered.wait(10)
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    release.set()
    assert took < STOP_WAIT + 1.0 and listeners  # woken after commits, stopped in time
    with EventStore(path) as store:
        assert {r.state for r in Outbox(store).recent()} == {"pending"}
