"""The uplink end to end: a house on one Mosquitto, an upstream Mosquitto that goes away.

The receiver upstream subscribes with a persistent session before the outage, so what
it sees is everything the upstream broker took, in the order it took it: while that
broker is stopped it takes nothing, so all it gets after its restart comes from the
uplink's store-and-forward, and the order is the uplink's own.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeguard.adapters import pki
from homeguard.adapters.broker_auth import ListenerTls
from homeguard.adapters.mqtt import BrokerAddress, MqttClient, TlsFiles
from homeguard.adapters.store.uplink import UplinkCursor, UplinkOutbox
from homeguard.app import Site, serve_dashboard
from tests.conftest import MosquittoProcess, client_id, wait_until
from tests.services.conftest import House, Observer, event, running

SITE = "house-1"
UPLINK = """
rate_limit: {{messages_per_second: 10000, burst: 10000}}
web: {{loopback_without_login: true}}
uplink:
  host: 127.0.0.1
  port: {port}
  tls: null
  username: homeguard
  password_env: {env}
  site_id: {site}
  batch_size: 100
  batch_interval: 0.2
  max_reconnect_delay: 1
"""
PASSWORD_ENV = "HOMEGUARD_TEST_UPLINK_PASSWORD"


class Receiver:
    """The monitoring side: everything on ``homeguard/<site>/#``, in arrival order."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.client = MqttClient(
            address=broker.address,
            client_id=client_id("receiver"),
            persistent=True,
            subscriptions=[(f"homeguard/{SITE}/#", 1)],
            max_reconnect_delay=0.5,
        )
        self.client.start()
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.client.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._lock:
                self.seen.append((message.topic, json.loads(message.payload)))

    def messages(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self.seen)

    def events(self) -> list[dict[str, Any]]:
        """Every event of every batch, in arrival order."""
        return [
            e for topic, body in self.messages() if body["type"] == "batch" for e in body["events"]
        ]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.stop()


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[MosquittoProcess]:
    broker = MosquittoProcess(tmp_path / "upstream").start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def receiver(upstream: MosquittoProcess) -> Iterator[Receiver]:
    watching = Receiver(upstream)
    yield watching
    watching.close()


@pytest.fixture
def uplinked(
    house_factory: Callable[..., House], upstream: MosquittoProcess, monkeypatch: pytest.MonkeyPatch
) -> House:
    monkeypatch.setenv(PASSWORD_ENV, "not checked by this broker")
    house = house_factory()
    with house.config_path.open("a") as config:
        config.write(UPLINK.format(port=upstream.port, env=PASSWORD_ENV, site=SITE))
    return house


def cursor(house: House) -> UplinkCursor:
    with house.store() as store:
        found = UplinkOutbox(store).cursor()
    assert found is not None
    return found


def door_messages(observer: Observer, seqs: range) -> None:
    """The front door, open and closed in turn, each message with its seq."""
    for seq in seqs:
        state = "OPEN" if seq % 2 else "CLOSED"
        observer.publish("home/security/door/front", json.dumps({"state": state, "seq": seq}))


def front_seqs(events: list[dict[str, Any]]) -> list[int]:
    return [
        e["metadata"]["seq"] for e in events if e["kind"] == "sensor" and e["device"] == "front"
    ]


def arm_and_trip(observer: Observer) -> None:
    """Arm away (a 1 s exit delay, no entry delay for a window) and break a window."""
    start = time.monotonic()
    observer.command("ARM_AWAY", "1234")
    observer.wait_for("home/alarm/state", "armed_away", after=start)
    observer.publish("home/security/window/living", "OPEN")
    observer.wait_for("home/alarm/event", event("triggered"), after=start)


def stored_sensor_events(house: House, count: int) -> None:
    wait_until(lambda: house.sensor_count() >= count, 60, f"{count} sensor events stored")


def check_stream(receiver: Receiver, first_front: int, last_front: int) -> list[dict[str, Any]]:
    """Every event once, in order, with no gap; batches numbered in a row."""
    events = receiver.events()
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a duplicate upstream"
    assert front_seqs(events) == list(range(first_front, last_front + 1))
    batches = [b["batch"] for _, b in receiver.messages() if b["type"] == "batch"]
    assert batches == list(range(1, len(batches) + 1))
    for _, body in receiver.messages():
        assert body["site"] == SITE
    return events


def test_a_thousand_events_and_an_alarm_survive_an_upstream_outage_alarm_first(
    uplinked: House, upstream: MosquittoProcess, receiver: Receiver, observer: Observer
) -> None:
    started = time.monotonic()
    site = uplinked.site
    with running(site) as controller, serve_dashboard(site, controller, port=0) as url:
        door_messages(observer, range(1, 3))  # the uplink works: seq 1 and 2 arrive
        wait_until(lambda: front_seqs(receiver.events()) == [1, 2], 15, "the first events")
        wait_until(lambda: cursor(uplinked).backlog == 0, 15, "the cursor to catch up")
        before = len(receiver.messages())

        upstream.stop()
        wait_until(lambda: not cursor(uplinked).connected, 15, "the uplink to see it")
        door_messages(observer, range(3, 1003))  # 1,000 events, ending with CLOSED
        stored_sensor_events(uplinked, 1002)
        arm_and_trip(observer)
        wait_until(lambda: cursor(uplinked).backlog > 1000, 15, "the alarm committed")
        backlog = cursor(uplinked)
        assert len(receiver.messages()) == before  # nothing got through meanwhile
        with httpx.Client(base_url=url) as web:  # a session on loopback, then the figures
            web.get("/api/session").raise_for_status()
            shown = web.get("/api/system").json()["uplink"]
        assert shown["connected"] is False
        assert shown["backlog"] == backlog.backlog > 1000
        assert shown["batches"] >= 1

        upstream.start()
        restarted = time.monotonic()
        wait_until(lambda: cursor(uplinked).backlog == 0, 60, "the backlog to be sent")
        wait_until(lambda: receiver.events()[-1]["seq"] == backlog.last_seq, 15, "all of it")
        delivered = time.monotonic() - restarted
    elapsed = time.monotonic() - started

    after = receiver.messages()[before:]
    topic, alarm = after[0]
    assert (topic, alarm["type"]) == (f"homeguard/{SITE}/alarms", "alarm")
    assert alarm["event"]["event"] == "triggered"
    events = check_stream(receiver, 1, 1002)
    # the alarm came ahead of the whole backlog, and again in its place in the stream
    backlog_events = [e for _, b in after[1:] if b["type"] == "batch" for e in b["events"]]
    assert backlog_events[0]["seq"] == backlog.sent_seq + 1
    assert [e for e in events if e["seq"] == alarm["event"]["seq"]] == [alarm["event"]]
    assert alarm["event"]["seq"] > backlog.sent_seq + 1000
    assert sum(b["type"] == "alarm" for _, b in receiver.messages()) == 1
    print(f"outage test: {elapsed:.1f} s; {len(events)} events delivered {delivered:.2f} s after")


def test_a_controller_restarted_while_upstream_is_away_loses_and_doubles_nothing(
    uplinked: House, upstream: MosquittoProcess, receiver: Receiver, observer: Observer
) -> None:
    site: Site = uplinked.site
    with running(site):
        door_messages(observer, range(1, 3))
        wait_until(lambda: front_seqs(receiver.events()) == [1, 2], 15, "the first events")
        wait_until(lambda: cursor(uplinked).backlog == 0, 15, "the cursor to catch up")
        before = len(receiver.messages())
        upstream.stop()
        wait_until(lambda: not cursor(uplinked).connected, 15, "the uplink to see it")
        door_messages(observer, range(3, 203))
        stored_sensor_events(uplinked, 202)
        arm_and_trip(observer)
    stopped = cursor(uplinked)
    assert stopped.backlog > 200
    shown = uplinked.cli("status", "--timeout", "0.5")
    assert f"uplink:     not connected, {stopped.backlog} event(s) waiting" in shown.stdout

    with running(site):  # a new controller, upstream still away
        door_messages(observer, range(203, 303))
        stored_sensor_events(uplinked, 302)
        upstream.start()
        wait_until(lambda: cursor(uplinked).backlog == 0, 60, "the backlog to be sent")
        last = cursor(uplinked).last_seq
        wait_until(lambda: receiver.events()[-1]["seq"] == last, 15, "all of it")

    after = receiver.messages()[before:]
    assert after[0][1]["type"] == "alarm"  # the unsent alarm went first after the restart
    events = check_stream(receiver, 1, 302)
    report = json.loads(uplinked.cli("status", "--json", "--timeout", "0.5").stdout)["uplink"]
    # What the stopping controller itself commits waits for the next start, and a batch
    # sent as it stopped may arrive without its acknowledgement (dropped later by seq).
    assert report["sent_seq"] >= last
    assert report["backlog"] == cursor(uplinked).last_seq - report["sent_seq"]
    assert events[-1]["seq"] >= report["sent_seq"]
    received = sum(b["type"] == "batch" for _, b in receiver.messages())
    assert report["batches"] <= received <= report["batches"] + 1


def test_the_upstream_login_and_password_are_used(
    tmp_path: Path, house_factory: Callable[..., House], observer: Observer
) -> None:
    """A broker that wants a password: the uplink logs in with the one from its file."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    password_file = tmp_path / "upstream-passwd"
    subprocess.run([tool, "-c", "-b", str(password_file), "site1", "s3cret"], check=True)
    subprocess.run([tool, "-b", str(password_file), "monitor", "m0nitor"], check=True)
    broker = MosquittoProcess(tmp_path / "guarded", password_file=password_file).start()
    try:
        (tmp_path / "uplink-password").write_text("s3cret\n")
        house = house_factory()
        with house.config_path.open("a") as config:
            config.write(
                f"uplink: {{host: 127.0.0.1, port: {broker.port}, username: site1,"
                f" password_file: uplink-password, site_id: {SITE}, batch_interval: 0}}\n"
            )
        # The broker binds client ids to logins: the receiver has a login of its own.
        address = BrokerAddress(broker.host, broker.port, "monitor", "m0nitor")
        receiving = MqttClient(
            address=address, client_id=client_id("rx"), subscriptions=[(f"homeguard/{SITE}/#", 1)]
        )
        with receiving, running(house.site):
            door_messages(observer, range(1, 2))
            message = receiving.messages.get(timeout=15)
        body = json.loads(message.payload)
        assert message.topic == f"homeguard/{SITE}/events"
        assert front_seqs(body["events"]) == [1]
    finally:
        broker.stop()


def test_tls_with_client_certificates(
    tmp_path: Path, house_factory: Callable[..., House], observer: Observer
) -> None:
    """A TLS-only upstream that wants a client certificate: the uplink verifies the
    broker with its CA file and shows its own certificate (whose name is its login)."""
    folder = tmp_path / "pki"
    folder.mkdir()
    now = time.time()
    ca = pki.new_ca("upstream CA", now)
    issued = {
        "server": pki.issue(ca, "upstream", now, hosts=["127.0.0.1", "localhost"]),
        "house": pki.issue(ca, SITE, now),
        "monitor": pki.issue(ca, "monitor", now),
    }
    (folder / "ca.crt").write_text(ca.cert_pem)
    for name, cert in issued.items():
        (folder / f"{name}.crt").write_text(cert.cert_pem)
        (folder / f"{name}.key").write_text(cert.key_pem)
    tls = ListenerTls(folder / "ca.crt", folder / "server.crt", folder / "server.key")
    broker = MosquittoProcess(tmp_path / "tls-upstream", tls=tls).start()
    try:
        house = house_factory()
        with house.config_path.open("a") as config:
            config.write(
                f"uplink:\n  host: 127.0.0.1\n  port: {broker.port}\n  site_id: {SITE}\n"
                "  tls: {ca_file: pki/ca.crt, cert_file: pki/house.crt, key_file: pki/house.key}\n"
                "  batch_interval: 0\n"
            )
        files = TlsFiles(folder / "ca.crt", folder / "monitor.crt", folder / "monitor.key")
        receiving = MqttClient(
            address=BrokerAddress(broker.host, broker.port, tls=files),
            client_id=client_id("rx"),
            subscriptions=[(f"homeguard/{SITE}/#", 1)],
        )
        with receiving, running(house.site):
            door_messages(observer, range(1, 2))
            message = receiving.messages.get(timeout=15)
        assert front_seqs(json.loads(message.payload)["events"]) == [1]
    finally:
        broker.stop()


def test_removing_the_uplink_from_the_config_empties_its_outbox(
    uplinked: House,
    upstream: MosquittoProcess,
    observer: Observer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream.stop()  # nothing can be sent: the events wait in the outbox
    with running(uplinked.site):
        door_messages(observer, range(1, 6))
        stored_sensor_events(uplinked, 5)
    assert cursor(uplinked).backlog >= 5
    text = uplinked.config_path.read_text()
    uplinked.config_path.write_text(text[: text.index("uplink:")])
    with running(uplinked.site):
        door_messages(observer, range(6, 8))
        stored_sensor_events(uplinked, 7)
    with uplinked.store() as store:
        outbox = UplinkOutbox(store)
        assert outbox.cursor() is None
        assert outbox.unsent(10) == []
    assert "event(s) never sent upstream were dropped" in caplog.text


@pytest.mark.parametrize("forward", [False, True])
def test_duress_leaves_only_when_configured(
    uplinked: House, receiver: Receiver, observer: Observer, forward: bool
) -> None:
    if forward:
        with uplinked.config_path.open("a") as config:
            config.write("  forward_duress: true\n")
    with running(uplinked.site):
        start = time.monotonic()
        observer.command("ARM_AWAY", "1234")
        observer.wait_for("home/alarm/state", "armed_away", after=start)
        observer.command("DISARM", "9999")  # the duress code: disarms visibly
        observer.wait_for("home/alarm/state", "disarmed", after=start)
        door_messages(observer, range(1, 2))  # an event after the duress alert
        wait_until(lambda: front_seqs(receiver.events()) == [1], 15, "the door event upstream")
    silent = [e for e in receiver.events() if e["kind"] == "silent"]
    alarms = [b["event"] for _, b in receiver.messages() if b["type"] == "alarm"]
    text = json.dumps(receiver.messages())
    if forward:
        assert [e["event"] for e in silent] == ["duress"]
        assert alarms == silent
    else:
        assert silent == [] and alarms == []
        assert "duress" not in text
    check_stream(receiver, 1, 1)
