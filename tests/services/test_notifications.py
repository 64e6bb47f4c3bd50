"""Notifications end to end: a real controller on a real Mosquitto, real services in the
test (an SMTP server, an HTTP receiver for apprise's json://), the outbox in the store."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message as Mail
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller as SmtpController

from homeguard.adapters.store import Outbox
from homeguard.app import Site, run_controller
from homeguard.app import routing as site_routing
from homeguard.core.notifications import route_event
from homeguard.core.records import Batch
from tests.conftest import free_port, wait_until
from tests.services.conftest import House, Observer, event


class Inbox:
    """An SMTP server's mailbox (aiosmtpd calls ``handle_DATA``)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


class Receiver:
    """An HTTP server taking apprise's json:// posts; started and stopped on one port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.posts.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def got(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for where, body in self.posts if where == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(free_port())
    yield found
    found.stop()


def configure(house: House, notifications: str) -> Site:
    """The test house, without its dashboard, with ``notifications`` added."""
    text = house.config_path.read_text() + "web: {enabled: false}\n" + notifications
    house.config_path.write_text(text)
    return house.site


@contextmanager
def controller(site: Site, observer: Observer) -> Iterator[None]:
    """``run_controller`` (the app's wiring: notifier included) in a thread, until exit."""
    stop = threading.Event()
    started = time.monotonic()
    thread = threading.Thread(
        target=run_controller, args=(site, stop), kwargs={"check_broker": False}, daemon=True
    )
    thread.start()
    try:
        observer.wait_for("home/alarm/availability", "online", after=started, timeout=20)
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the controller did not stop"


def arm_away(observer: Observer) -> None:
    asked = time.monotonic()
    observer.command("ARM_AWAY", "1234")
    observer.wait_for("home/alarm/state", "armed_away", timeout=10, after=asked)


def outbox_rows(site: Site, silent: bool = False) -> list[Any]:
    with site.open_store() as store:
        return Outbox(store).recent(100, silent=silent)


def test_an_alarm_mail_reaches_a_real_smtp_server_within_seconds(
    house_factory: Callable[..., House], observer: Observer
) -> None:
    inbox = Inbox()
    smtp = SmtpController(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        site = configure(
            house_factory(supervision=600),
            f"""notifications:
  targets:
    owner: {{url: "mailto://127.0.0.1:{smtp.port}?from=alarm@example.com&to=owner@example.com"}}
  routes:
    family: {{targets: [owner], events: [alarm]}}
""",
        )
        with controller(site, observer):
            arm_away(observer)
            tripped = time.monotonic()
            observer.publish("home/security/window/living", "OPEN")
            observer.wait_for("home/alarm/state", "triggered", timeout=5)
            wait_until(lambda: inbox.mails, timeout=10, what="the alarm mail")
            took = time.monotonic() - tripped
    finally:
        smtp.stop()
    (mail,) = inbox.mails
    assert "ALARM" in mail["Subject"] and "living" in mail["Subject"]
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode()
    assert "Alarm triggered by living" in body
    print(f"trip -> alarm mail in the SMTP server: {took:.3f} s")  # seen with pytest -s
    assert took < 10
    (row,) = outbox_rows(site)
    assert (row.state, row.attempts, row.record.route) == ("delivered", 1, "family")


def test_a_receiver_down_at_the_alarm_gets_every_message_once_across_a_restart(
    house_factory: Callable[..., House], observer: Observer, receiver: Receiver
) -> None:
    site = configure(
        house_factory(supervision=600),
        f"""notifications:
  targets:
    hook: {{url: "json://127.0.0.1:{receiver.port}/hook"}}
  routes:
    monitor: {{targets: [hook], events: [alarm, pending, armed, disarmed]}}
  retry: {{first: 1, max: 4}}
""",
    )
    with controller(site, observer):
        arm_away(observer)
        observer.publish("home/security/door/front", "OPEN")  # entry delay, then alarm
        observer.wait_for("home/alarm/state", "triggered", timeout=10)
        alarm_at = time.monotonic()
        # Once the target fails, its other rows wait for its retry (the notifier does
        # not try a target it knows is down once per row): the alarm, urgent, is tried
        # first at each retry, and a row queued with it may not have been tried yet.
        wait_until(
            lambda: (
                {r.record.kind for r in outbox_rows(site)} == {"armed", "pending", "alarm"}
                and any(r.record.kind == "alarm" and r.attempts for r in outbox_rows(site))
            ),
            timeout=15,
            what="every notification queued, and the alarm tried and failed",
        )
    rows = outbox_rows(site)
    assert all(r.state == "pending" for r in rows)
    assert all("Connection" in (r.last_error or "") for r in rows if r.attempts)
    # A new controller: the rows queued by the old one wait in the store, still undelivered.
    with controller(site, observer):
        observer.command("DISARM", "1234")
        observer.wait_for("home/alarm/state", "disarmed", timeout=10)
        wait_until(lambda: len(outbox_rows(site)) == 4, timeout=10, what="the disarm queued")
        assert receiver.got("/hook") == []
        time.sleep(max(0.0, alarm_at + 30 - time.monotonic()))  # the receiver is down 30 s
        receiver.start()
        wait_until(
            lambda: all(r.state == "delivered" for r in outbox_rows(site)),
            timeout=20,
            what="every notification delivered",
        )
    titles = sorted(post["title"] for post in receiver.got("/hook"))
    assert titles == sorted(
        [
            "homeguard: Armed away by alice",
            "homeguard: Entry delay - front",
            "homeguard: ALARM - front",
            "homeguard: Disarmed by alice",
        ]
    )
    alarm = next(p for p in receiver.got("/hook") if p["title"].startswith("homeguard: ALARM"))
    assert "Alarm triggered by front" in alarm["message"]
    assert alarm["type"] == "failure"  # urgent: shown as critical by the services
    assert {p["type"] for p in receiver.got("/hook") if p is not alarm} == {"info"}
    assert all(r.attempts >= 2 for r in outbox_rows(site) if r.record.kind == "alarm")


def test_duress_reaches_only_its_route_and_nothing_visible(
    house_factory: Callable[..., House], observer: Observer, receiver: Receiver
) -> None:
    receiver.start()
    site = configure(
        house_factory(supervision=600),
        f"""notifications:
  targets:
    owner: {{url: "json://127.0.0.1:{receiver.port}/owner"}}
    company: {{url: "json://127.0.0.1:{receiver.port}/company"}}
  routes:
    family: {{targets: [owner], events: [alarm, armed, disarmed, trouble]}}
    security: {{targets: [company], events: [alarm], duress: true}}
""",
    )
    with controller(site, observer):
        arm_away(observer)
        observer.command("DISARM", "9999")  # the duress user's code
        observer.wait_for("home/alarm/event", event("disarmed"), timeout=10)
        wait_until(lambda: receiver.got("/company"), timeout=10, what="the duress alert")
        wait_until(lambda: len(receiver.got("/owner")) == 2, timeout=10, what="arm and disarm")
    (alert,) = receiver.got("/company")
    assert alert["title"] == "homeguard: DURESS" and "coerced" in alert["message"]
    owner = receiver.got("/owner")
    titles = [p["title"] for p in owner]
    assert titles == ["homeguard: Armed away by alice", "homeguard: Disarmed by coerced"]
    assert not any("duress" in json.dumps(p).lower() for p in owner)
    # (The heartbeat names the data directory, which holds this test's name.)
    published = [
        (m.topic, m.payload) for _, m in observer.seen if m.topic != "home/alarm/controller"
    ]
    assert [p for p in published if b"duress" in p[1].lower()] == []
    assert observer.events("disarmed")[-1]["user"] == "coerced"
    # The outbox lists the duress row only where asked for (never the dashboard's list).
    assert [r.record.kind for r in outbox_rows(site)] == ["disarmed", "armed"]
    assert "duress" in [r.record.kind for r in outbox_rows(site, silent=True)]


def test_notify_test_reports_each_target_and_status_shows_the_delivery_state(
    house_factory: Callable[..., House], receiver: Receiver
) -> None:
    receiver.start()
    house = house_factory()
    dead = free_port()
    site = configure(
        house,
        f"""notifications:
  targets:
    hook: {{url: "json://127.0.0.1:{receiver.port}/hook"}}
    dead: {{url: "json://watcher:{{secret}}@127.0.0.1:{dead}/x", secret_env: TEST_HOOK_SECRET}}
    odd: {{url: "nonsense://somewhere/x"}}
  routes:
    works: {{targets: [hook], events: [alarm]}}
    broken: {{targets: [dead, hook], events: [alarm]}}
""",
    )
    os.environ["TEST_HOOK_SECRET"] = "s3cret-pass"
    try:
        ok = house.cli("notify-test", "works")
        everything = house.cli("notify-test")
    finally:
        del os.environ["TEST_HOOK_SECRET"]
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "works -> hook: delivered\n"
    assert receiver.got("/hook")[0]["title"] == "homeguard: test"
    assert everything.returncode == 1
    lines = everything.stdout.splitlines()
    assert lines[0] == "works -> hook: delivered" and lines[2] == "broken -> hook: delivered"
    assert lines[1].startswith("broken -> dead: FAILED: A Connection error")
    assert "s3cret" not in everything.stdout + everything.stderr
    assert house.cli("notify-test", "nobody").returncode != 0
    check = house.cli("check-config")  # the secret is not set here: that one is not checked
    assert check.returncode == 1
    assert "  target odd: apprise does not understand this nonsense:// URL" in check.stdout
    assert "  target dead: not checked (" in check.stdout and "  target hook" not in check.stdout
    assert "  route broken -> dead, hook: alarm\n" in check.stdout
    # What the outbox holds, as `homeguard status` tells it.
    now = time.time()
    rows = route_event(site_routing(site), "triggered", "alarm", {"sensors": ["front"]}, now)
    with site.open_store() as store:
        store.write(Batch(notifications=rows))
        outbox = Outbox(store)
        first, second, third = outbox.due(now)
        outbox.delivered(first.id, now)
        outbox.delivered(third.id, now)
        outbox.retry(second.id, now + 60, "A Connection error occurred sending JSON notification")
    status = house.cli("status", "--timeout", "0.5")
    assert "notify:     1 pending, 2 delivered\n" in status.stdout
    assert "last error: dead: A Connection error occurred" in status.stdout


JPEG = b"\xff\xd8\xff\xe0" + b"not really a picture, but bytes all the same" + b"\xff\xd9"


class Camera(Receiver):
    """A Frigate-like HTTP server: GET /api/front/latest.jpg answers a JPEG."""

    def start(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/api/front/latest.jpg" else 404)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(JPEG)))
                self.end_headers()
                self.wfile.write(JPEG)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("source", ["url", "topic"])
def test_an_alarm_carries_the_camera_snapshot(
    house_factory: Callable[..., House], observer: Observer, receiver: Receiver, source: str
) -> None:
    receiver.start()
    camera = Camera(free_port())
    camera.start()
    snapshot = (
        f'url: "http://127.0.0.1:{camera.port}/api/front/latest.jpg"'
        if source == "url"
        else "topic: frigate/front/person/snapshot"
    )
    site = configure(
        house_factory(supervision=600),
        f"""notifications:
  targets:
    hook: {{url: "json://127.0.0.1:{receiver.port}/hook"}}
  routes:
    family: {{targets: [hook], events: [alarm, armed], snapshot: true}}
  snapshot: {{{snapshot}}}
""",
    )
    try:
        with controller(site, observer):
            observer.publish("frigate/front/person/snapshot", JPEG, retain=True)
            arm_away(observer)
            observer.publish("home/security/window/living", "OPEN")
            wait_until(lambda: len(receiver.got("/hook")) == 2, timeout=10, what="arm, alarm")
    finally:
        camera.stop()
    armed, alarm = receiver.got("/hook")
    assert armed["attachments"] == []  # a picture for alarms only
    (picture,) = alarm["attachments"]
    assert base64.b64decode(picture["base64"]) == JPEG
    assert picture["mimetype"] == "image/jpeg"


def test_a_rules_notify_action_reaches_exactly_its_route(
    house_factory: Callable[..., House], observer: Observer, receiver: Receiver
) -> None:
    """Edge rules and notifications together: a rule's ``notify`` goes to the route it
    names, with its message, and to no other route."""
    receiver.start()
    site = configure(
        house_factory(supervision=600),
        f"""notifications:
  targets:
    owner: {{url: "json://127.0.0.1:{receiver.port}/owner"}}
    company: {{url: "json://127.0.0.1:{receiver.port}/company"}}
  routes:
    family: {{targets: [owner], events: [alarm]}}
    security: {{targets: [company], events: [alarm]}}
rules:
  list:
    - name: hall_motion
      trigger: {{sensor: hall, state: motion}}
      actions:
        - notify: {{route: family, message: "someone is in the hall"}}
""",
    )
    with controller(site, observer):
        observer.publish("home/security/motion/hall", "MOTION")
        observer.wait_for("home/alarm/event", event("rule_fired"), timeout=10)
        wait_until(lambda: receiver.got("/owner"), timeout=10, what="the rule's notification")
        time.sleep(0.5)  # a second delivery, or one to the other route, would show by now
    (post,) = receiver.got("/owner")
    assert "someone is in the hall" in post["message"].lower()
    assert receiver.got("/company") == []
    assert [r.record.route for r in outbox_rows(site)] == ["family"]
