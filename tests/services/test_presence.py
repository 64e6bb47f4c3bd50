"""Whether a controller is alive, from what a probe hears on the broker."""

from __future__ import annotations

import queue
import time

import pytest

from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import SiteTopics
from homeguard.services.presence import Identity, live_controller

TOPICS = SiteTopics("home")
ALIVE = Identity("homeguard-controller", "pi", 42, 1_764_288_000.0, "/var/lib/homeguard")


def heard(*messages: tuple[str, bytes, bool]) -> queue.Queue[Message]:
    inbox: queue.Queue[Message] = queue.Queue()
    for mid, (topic, payload, retain) in enumerate(messages, 1):
        inbox.put(Message(topic, payload, 1, retain, mid, False))
    return inbox


def test_a_heartbeat_names_the_live_controller() -> None:
    inbox = heard(
        (TOPICS.controller_availability, b"online", True),
        (TOPICS.controller_heartbeat, ALIVE.to_json().encode(), False),
    )
    found = live_controller(inbox, TOPICS)
    assert found == ALIVE
    assert "pid 42 on pi" in found.describe()


@pytest.mark.parametrize("retained", [b"offline", b"OFFLINE", b""])
def test_offline_means_nobody(retained: bytes) -> None:
    inbox = heard((TOPICS.controller_availability, retained, True))
    assert live_controller(inbox, TOPICS, wait=600) is None  # no waiting for a heartbeat


def test_nothing_retained_means_nobody() -> None:
    assert live_controller(heard(), TOPICS) is None


def test_a_stale_online_is_given_its_wait_then_ignored(caplog: pytest.LogCaptureFixture) -> None:
    inbox = heard((TOPICS.controller_availability, b"online", True))
    started = time.monotonic()
    assert live_controller(inbox, TOPICS, wait=0.5) is None
    assert time.monotonic() - started >= 0.5
    assert "stale" in caplog.text


def test_a_garbled_heartbeat_proves_nothing() -> None:
    inbox = heard(
        (TOPICS.controller_availability, b"online", True),
        (TOPICS.controller_heartbeat, b"{not json", False),
    )
    assert live_controller(inbox, TOPICS, wait=0.2) is None
