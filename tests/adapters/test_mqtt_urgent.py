"""The siren goes ahead of bookkeeping: an urgent publish overtakes the outbox."""

from __future__ import annotations

from homeguard.adapters.mqtt import MqttClient
from tests.conftest import MosquittoProcess, client_id, collect

QUEUED = 300


def test_an_urgent_message_overtakes_what_waits_in_the_outbox(
    mosquitto: MosquittoProcess,
) -> None:
    address = mosquitto.address
    with (
        MqttClient(
            address=address, client_id=client_id("watch"), subscriptions=[("t/#", 1)]
        ) as watcher,
        MqttClient(address=address, client_id=client_id("pub"), max_inflight=1) as publisher,
    ):
        for n in range(QUEUED):  # one in flight at a time: the rest wait in the outbox
            publisher.publish("t/bookkeeping", str(n), qos=1)
        publisher.publish("t/siren", "ON", qos=2, urgent=True)
        assert publisher.wait_published(30)
        topics = [m.topic for m in collect(watcher.messages, QUEUED + 1)]
    assert topics.count("t/siren") == 1
    assert topics.index("t/siren") < QUEUED  # not last, behind everything queued before


def test_an_urgent_publish_returns_once_the_broker_has_the_message(
    mosquitto: MosquittoProcess,
) -> None:
    """The publisher (the controller thread) holds off its bookkeeping until the siren's
    command is out: Python runs one thread at a time, and paho's network thread, which
    writes the command to the socket, would otherwise wait for the rest of the turn."""
    address = mosquitto.address
    with (
        MqttClient(
            address=address, client_id=client_id("siren"), subscriptions=[("t/siren", 2)]
        ) as siren,
        MqttClient(address=address, client_id=client_id("ctl")) as controller,
    ):
        for qos in (1, 2):
            controller.publish("t/siren", "ON", qos=qos, urgent=True)
            assert controller.unpublished == 0  # acknowledged before publish returned
            assert collect(siren.messages, 1)[0].payload == b"ON"
