"""The dashboard runs in a process of its own (adapters.web.process): its work never
holds the controller's interpreter lock, a crash of it never takes the panel down, and
it ends with the controller's process, killed or not.

The relay between the two is first checked over a real pipe, against the pure panel
engine: what the dashboard's process rebuilds is the controller's view, change after
change, and an outcome arrives after the view it was decided in."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeguard.adapters.web import Backend, DashboardProcess
from homeguard.adapters.web.process import STOP_TIMEOUT, PanelRelay, RemotePanel
from homeguard.app import dashboard_backend
from homeguard.core.model import Action, PanelSettings, SensorSpec, SensorState, SensorType
from homeguard.core.panel import Outcome
from homeguard.core.persistent_map import PersistentMap
from homeguard.core.records import DeviceRecord
from homeguard.core.signals import BypassRequest, Command, Input, SensorReport
from homeguard.services.controller import View
from tests.conftest import MosquittoProcess, free_port, wait_until
from tests.services.conftest import Observer, stop_process
from tests.web.conftest import PASSWORD, Dashboard, EnginePanel, write_house

IDS = [f"s{n}" for n in range(40)]
SETTINGS = PanelSettings(
    sensors=tuple(SensorSpec(i, SensorType.DOOR) for i in IDS), code_arm_required=False
)


class RelayedPanel(EnginePanel):
    """The engine with devices, telling its watcher after each change as the
    controller does (on the caller's thread)."""

    def __init__(self) -> None:
        super().__init__(SETTINGS)
        self.devices: PersistentMap[str, DeviceRecord] = PersistentMap()
        self.listeners: list[Callable[[View], None]] = []

    def watch(self, listener: Callable[[View], None]) -> None:
        self.listeners.append(listener)

    def view(self) -> View:
        return View(self._panel, self.devices, self.stats, time.time())

    def request(self, event: Input, timeout: float = 10.0) -> Outcome:
        outcome = super().request(event, timeout)
        self.tell()
        return outcome

    def tell(self) -> None:
        for listener in self.listeners:
            listener(self.view())


@contextmanager
def relaying() -> Iterator[tuple[RelayedPanel, RemotePanel]]:
    """The engine and, over a real pipe, the dashboard's side, as DashboardProcess
    wires them (without the process)."""
    panel = RelayedPanel()
    ours, theirs = multiprocessing.Pipe()
    remote = RemotePanel(theirs, view_timeout=10)
    relay = PanelRelay(panel, ours, lambda: True, lambda: None)
    panel.watch(relay.offer)
    relay.start(panel.view())
    reader = threading.Thread(target=remote.run, daemon=True)
    reader.start()
    try:
        yield panel, remote
    finally:
        _close(relay, ours, reader, theirs)


@pytest.fixture
def relayed() -> Iterator[tuple[RelayedPanel, RemotePanel]]:
    with relaying() as both:
        yield both


def _close(
    relay: PanelRelay, ours: Connection, reader: threading.Thread, theirs: Connection
) -> None:
    """As DashboardProcess stops the dashboard's process."""
    relay.close()
    ours.send(("stop",))
    reader.join(5)
    assert not reader.is_alive()
    theirs.close()  # the relay's receiving thread sees the end...
    # ...and reads no more before its end is closed: a read after that could take the
    # next pipe's messages (the same descriptor, reused), and its relay never answer.
    assert relay.read_out(5)
    ours.close()


def _same(panel: RelayedPanel, remote: RemotePanel) -> bool:
    here, there = panel.view(), remote.view()
    return (
        dict(there.panel.sensors) == dict(here.panel.sensors)
        and dict(there.devices) == dict(here.devices)
        and replace(there.panel, sensors={}) == replace(here.panel, sensors={}, message_seqs={})
    )


changes = st.lists(
    st.tuples(
        st.sampled_from(IDS),
        st.sampled_from(["OPEN", "CLOSED", "device", "gone"]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=15, deadline=None)
@given(batches=st.lists(changes, min_size=1, max_size=4))
def test_the_dashboard_rebuilds_the_controllers_view_change_after_change(
    batches: list[list[tuple[str, str]]],
) -> None:
    with relaying() as (panel, remote):
        remote.view()  # asks for the view: every sensor, then what changes
        for batch in batches:
            for sensor_id, what in batch:
                if what == "device":
                    record = DeviceRecord(sensor_id, "door", (), True, time.time(), None)
                    panel.devices = panel.devices.set(sensor_id, record)
                elif what == "gone":
                    panel.devices = PersistentMap(
                        {k: v for k, v in panel.devices.items() if k != sensor_id}
                    )
                else:
                    panel.request(SensorReport(sensor_id, SensorState(what)))
            panel.tell()
            wait_until(lambda: _same(panel, remote), 5, "the same view")


def test_an_outcome_arrives_after_the_view_it_was_decided_in(
    relayed: tuple[RelayedPanel, RemotePanel],
) -> None:
    _, remote = relayed
    assert remote.view().panel.state.value == "disarmed"
    for _ in range(5):
        for action, state in ((Action.ARM_HOME, "arming"), (Action.DISARM, "disarmed")):
            outcome = remote.request(Command(action))
            assert outcome.rejection is None and outcome.panel.state.value == state
            assert remote.view().panel.state.value == state  # at once: no waiting
    refused = remote.request(BypassRequest("nowhere", True, None))
    assert refused.rejection is not None  # refusals come back too


def test_a_view_asked_for_holds_what_the_controller_decided_before(
    relayed: tuple[RelayedPanel, RemotePanel],
) -> None:
    """A GET after a change made over MQTT shows it, even when the controller has not
    passed that change on yet (it does after its turn, at most 20 times a second)."""
    panel, remote = relayed
    assert remote.view().panel.sensor("s1").state is None
    for state in ("OPEN", "CLOSED", "OPEN"):
        EnginePanel.request(panel, SensorReport("s1", SensorState(state)))  # untold
        assert remote.view().panel.sensor("s1").state is SensorState(state)
    first = remote.view()
    assert remote.view() is first  # nothing new: nothing sent, the same view


def _dashboards() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "homeguard-dashboard"]


def test_the_dashboard_runs_apart_and_comes_back_after_a_crash_while_the_panel_runs_on(
    dashboard: Dashboard, observer: Observer
) -> None:
    client = dashboard.login()
    assert client.get("/api/state").json()["state"] == "disarmed"
    (first,) = _dashboards()
    assert first.pid is not None and first.pid != os.getpid()
    os.kill(first.pid, signal.SIGKILL)
    # The panel never noticed.
    observer.publish("home/alarm/set", '{"action": "ARM_HOME", "code": "1234"}')
    observer.wait_for("home/alarm/state", "armed_home", timeout=10)
    wait_until(lambda: [p.pid for p in _dashboards()] not in ([], [first.pid]), 30, "restart")
    # Sessions were the crashed process's: log in again.
    wait_until(lambda: dashboard.login().get("/api/state").status_code == 200, 30, "serving")
    assert dashboard.login().get("/api/state").json()["state"] == "armed_home"


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started, from any of its threads."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(n) for task in tasks for n in (task / "children").read_text().split()]


def _ended(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie: ended, not reaped


def test_the_dashboard_and_the_scoring_end_with_the_controller_even_killed(
    mosquitto: MosquittoProcess, tmp_path: Path, observer: Observer
) -> None:
    port = free_port()
    house = write_house(mosquitto, tmp_path, web_port=port)
    process = house.process("controller")
    log = house.data_dir / "controller.log"
    try:
        wait_until(lambda: "homeguard dashboard:" in log.read_text(), 30, "the dashboard URL")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            login = client.post("/api/login", json={"user": "alice", "password": PASSWORD})
            assert login.status_code == 200
        # The dashboard's, the health and anomaly scoring's, and multiprocessing's helper.
        children = _children(process.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
        assert sum(b"spawn_main" in command for command in commands) == 2, commands
        # Both give way to the controller (and the broker) on shared cores.
        spawned = [pid for pid, cmd in zip(children, commands, strict=True) if b"spawn_main" in cmd]
        own = os.getpriority(os.PRIO_PROCESS, process.pid)
        wait_until(  # each sets its own as it starts
            lambda: [os.getpriority(os.PRIO_PROCESS, pid) - own for pid in spawned] == [10, 10],
            30,
            "the dashboard and the scoring at nice 10",
        )
        process.kill()
        process.wait()
        wait_until(lambda: all(map(_ended, children)), 10, "the controller's children ended")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        stop_process(process)


def test_the_dashboard_renders_its_state_and_reads_health_before_any_page_asks(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """The first page does not wait for the controller's whole view and every row (over
    a second at 100,000 sensors), nor its maintenance list for a week of events (a
    second at 300,000): the dashboard's process renders and reads them once it serves."""
    house = write_house(mosquitto, tmp_path, web_port=free_port())
    process = house.process("controller")
    log = house.data_dir / "controller.log"
    try:
        wait_until(lambda: "health read ahead" in log.read_text(), 30, "health read")
        assert "state document rendered ahead (4 sensors" in log.read_text()
    finally:
        stop_process(process)


@contextmanager
def _hanging(panel: RemotePanel) -> Iterator[Backend]:
    """A backend that never comes (in the dashboard's process: it never serves)."""
    time.sleep(3600)
    raise AssertionError("unreachable")
    yield


def test_a_stop_while_the_dashboard_starts_does_not_wait_for_it() -> None:
    server = DashboardProcess(_hanging, RelayedPanel(), lambda: True, host="127.0.0.1", port=0)
    server.start()
    wait_until(lambda: _dashboards() != [], 10, "the dashboard's process")
    stopping = time.monotonic()
    server.stop()
    assert time.monotonic() - stopping < STOP_TIMEOUT  # not the grace of one that serves
    assert _dashboards() == []


def test_what_the_dashboard_asks_fails_at_once_when_the_controller_is_gone() -> None:
    """A command asked from the page while the controller's process ends gets its 503 (a
    TimeoutError) then, not after its own timeout; and so does every later one."""
    ours, theirs = multiprocessing.Pipe()
    remote = RemotePanel(theirs, view_timeout=60)
    reader = threading.Thread(target=remote.run, daemon=True)
    reader.start()
    failures: list[BaseException] = []

    def ask() -> None:
        try:
            remote.request(Command(Action.ARM_AWAY), timeout=60)  # nothing answers it
        except BaseException as exc:  # what it raised is the point
            failures.append(exc)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    assert ours.recv()[0] == "request"  # it is asked, and waits for its answer
    ours.close()  # the controller's process ends
    asking.join(10)  # well before its 60 s
    reader.join(10)
    assert not asking.is_alive() and not reader.is_alive()
    assert [type(f) for f in failures] == [TimeoutError]
    assert "gone" in str(failures[0])
    with pytest.raises(TimeoutError, match="gone"):
        remote.request(Command(Action.DISARM), timeout=60)
    with pytest.raises(TimeoutError):  # a page's GET: "the controller sent no view"
        remote.view()
    theirs.close()


def test_the_pipe_to_the_dashboard_is_closed_only_once_nothing_reads_it(
    mosquitto: MosquittoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a stop, the controller's end of the pipe is closed only after the relay's
    receiving thread has read the dashboard's end: a read begun after the close would
    take the bytes of whatever is next given that descriptor (another pipe, a socket of
    the controller's), or fail with a TypeError in the log."""
    site = write_house(mosquitto, tmp_path).site
    recv = Connection.recv

    def slow_to_see_the_end(connection: Connection) -> Any:
        try:
            return recv(connection)
        except EOFError:
            time.sleep(0.5)  # a busy machine runs the receiving thread late
            raise

    monkeypatch.setattr(Connection, "recv", slow_to_see_the_end)
    before = set(threading.enumerate())
    server = DashboardProcess(
        partial(dashboard_backend, site), RelayedPanel(), lambda: True, host="127.0.0.1", port=0
    )
    server.start()

    def receivers() -> list[threading.Thread]:
        return [t for t in set(threading.enumerate()) - before if t.name == "dashboard-receive"]

    wait_until(lambda: receivers() != [], 30, "the dashboard serving, its relay reading")
    reading_at_close: list[bool] = []
    close = Connection.close

    def noting_close(connection: Connection) -> None:
        reading_at_close.append(any(t.is_alive() for t in receivers()))
        close(connection)

    monkeypatch.setattr(Connection, "close", noting_close)
    server.stop()
    assert reading_at_close == [False]
