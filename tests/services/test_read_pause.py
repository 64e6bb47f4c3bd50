"""The controller runs its MQTT client's loop; while a working store is far behind it
stops reading (the broker keeps the rest, unacknowledged) instead of letting the
backlog drop events, and reads again once the writer catches up. A store that fails is
never waited for: the panel must go on hearing the doors."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import SensorBinding, SiteTopics, TopicMap
from homeguard.core.records import Batch
from homeguard.errors import StoreUnavailable
from homeguard.services.controller import MAX_BATCH, Controller, Inbox
from homeguard.services.outbound import Outbound
from tests.services.test_controller import FRONT, SETTINGS, T0, FakeBroker, FakeStore

LIMIT = 8  # the backlog's bound: reading stops at 6 events waiting


class FakeNetwork:
    """The MQTT client's loop: which polls were allowed to read; with ``flood``, each
    poll that may read reads that many more reports (a broker with plenty queued)."""

    def __init__(self, inbox: Inbox | None = None, flood: int = 0) -> None:
        self.reads: list[bool] = []
        self.inbox, self.flood, self.sent = inbox, flood, 0
        self.inbox_when_reading: list[int] = []

    def poll(self, timeout: float, *, read: bool = True) -> None:
        self.reads.append(read)
        if read and self.inbox is not None and self.flood:
            self.inbox_when_reading.append(self.inbox.qsize())
            _reports(self.inbox, self.flood, first=self.sent)
            self.sent += self.flood
        time.sleep(min(timeout, 0.005))

    def wake(self) -> None:
        pass


class GatedStore(FakeStore):
    """Writes wait while ``gate`` is closed; ``fail`` makes them refuse instead."""

    def __init__(self) -> None:
        super().__init__([])
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def write(self, batch: Batch) -> object:
        if self.fail:
            raise StoreUnavailable("disk full")
        assert self.gate.wait(20), "the test never opened the gate"
        return super().write(batch)


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def _running(
    store: GatedStore, flood: int = 0, limit: int = LIMIT
) -> tuple[Controller, Inbox, FakeNetwork, threading.Event]:
    inbox: Inbox = queue.Queue()
    network = FakeNetwork(inbox, flood)
    broker = FakeBroker([])
    bindings = [SensorBinding(s.id, s.type) for s in SETTINGS.sensors]
    controller = Controller(
        settings=SETTINGS,
        topics=TopicMap.build("home", bindings, []),
        outbound=Outbound(broker, SiteTopics("home")),
        client=broker,
        inbox=inbox,
        store=store,
        clock=lambda: T0,
        backlog_limit=limit,
        network=network,
    )
    stop = threading.Event()
    threading.Thread(target=controller.run, args=(stop,), daemon=True).start()
    _until(lambda: bool(store.committed), "the start committed")
    return controller, inbox, network, stop


def _reports(inbox: Inbox, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        state = b"OPEN" if n % 2 else b"CLOSED"
        inbox.put(Message(FRONT, state, 1, False, n + 1, False))


def test_reading_pauses_while_a_working_store_is_far_behind() -> None:
    store = GatedStore()
    controller, inbox, network, stop = _running(store)
    try:
        store.gate.clear()  # the disk is slow: the next write takes a while
        _reports(inbox, 1)
        _until(lambda: controller.view().stats.sensor_events >= 1, "a turn handed over")
        _reports(inbox, 6, first=1)  # behind the write in progress: the bound
        _until(lambda: False in network.reads, "reading paused")
        assert controller.view().stats.sensor_events == 7  # all decided all the same
        mark = len(network.reads)
        store.gate.set()
        _until(lambda: True in network.reads[mark:], "reading again")
        _until(lambda: controller.view().stats.store_waiting == 0, "all stored")
        assert controller.view().stats.store_dropped == 0
    finally:
        stop.set()


def test_a_failing_store_does_not_pause_reading() -> None:
    """Past the bound, reading pauses only until the writer finds that the store fails;
    from then on the events wait in memory (bounded, and their loss counted) and the
    panel hears every door."""
    store = GatedStore()
    controller, inbox, network, stop = _running(store)
    try:
        store.fail = True
        _reports(inbox, 20)
        _until(lambda: controller.view().stats.store_waiting >= LIMIT, "the backlog full")
        mark = len(network.reads)
        _reports(inbox, 20, first=20)
        _until(lambda: controller.view().stats.sensor_events >= 40, "all decided")
        assert network.reads[mark:] and False not in network.reads[mark:]
    finally:
        stop.set()


def test_reading_never_runs_ahead_of_the_turns() -> None:
    """Each poll could read 600 more (a flood the broker holds): the loop reads only
    once fewer than a turn's 500 wait in the inbox, so nothing read is dropped."""
    store = GatedStore()
    controller, _inbox, network, stop = _running(store, flood=600, limit=10_000)
    try:
        _until(lambda: controller.view().stats.sensor_events >= 6000, "6,000 decided")
        assert max(network.inbox_when_reading) < MAX_BATCH
        assert controller.view().stats.store_dropped == 0
    finally:
        stop.set()
