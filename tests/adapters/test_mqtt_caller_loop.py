"""``MqttClient(threaded=False)``: the caller runs the network loop (`poll`), as the
controller does on its own thread; no paho thread, and other threads' messages are
still written, by the poller."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from homeguard.adapters.mqtt import Message, MqttClient
from tests.conftest import MosquittoProcess, client_id, collect


def _paho_threads(client: MqttClient) -> list[str]:
    paho = f"paho-mqtt-client-{client.client_id}"  # paho's name for its thread
    return [t.name for t in threading.enumerate() if t.name == paho]


@contextmanager
def polled(client: MqttClient, timeout: float = 60.0) -> Iterator[None]:
    """``client`` polled in a thread of its own, each poll waiting up to ``timeout``
    seconds: only a wake ends one early."""
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            client.poll(timeout)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        client.wake()
        thread.join(10)


def _poll_until(client: MqttClient, messages: list[Message], count: int) -> None:
    deadline = time.monotonic() + 15
    while len(messages) < count:
        assert time.monotonic() < deadline, f"{len(messages)} of {count} messages came"
        client.poll(0.1)
        while not client.messages.empty():
            messages.append(client.messages.get_nowait())


def test_the_caller_runs_the_loop_no_thread_of_pahos(mosquitto: MosquittoProcess) -> None:
    address = mosquitto.address
    with MqttClient(
        address=address, client_id=client_id("peer"), subscriptions=[("t/#", 1)]
    ) as peer:
        own = MqttClient(
            address=address,
            client_id=client_id("own"),
            subscriptions=[("in/#", 1)],
            threaded=False,
        )
        own.start()  # polls until connected and subscribed
        assert own.connected
        assert _paho_threads(own) == []
        assert _paho_threads(peer)  # a threaded client has one
        peer.publish("in/x", "hello", qos=1)
        received: list[Message] = []
        _poll_until(own, received, 1)
        assert received[0].payload == b"hello"
        own.publish("t/out", "back", qos=1)
        assert own.wait_published(10)  # runs the loop meanwhile
        assert collect(peer.messages, 1)[0].payload == b"back"
        own.stop()
        assert not own.connected


def test_another_threads_publish_wakes_the_poller(mosquitto: MosquittoProcess) -> None:
    """The poller sleeps in a 60-second poll: another thread's message (a heartbeat, a
    manual siren from the dashboard, an ack from the store's writer) goes out at once
    all the same."""
    address = mosquitto.address
    with MqttClient(
        address=address, client_id=client_id("peer"), subscriptions=[("t/#", 2)]
    ) as peer:
        own = MqttClient(address=address, client_id=client_id("own"), threaded=False)
        own.start()
        with polled(own):
            time.sleep(0.2)  # the poller is asleep in select
            for qos in (0, 1, 2):
                own.publish("t/other", f"qos{qos}", qos=qos)
            got = collect(peer.messages, 3, timeout=10)
        assert sorted(m.payload for m in got) == [b"qos0", b"qos1", b"qos2"]
        own.stop()


def test_an_urgent_publish_on_the_polling_thread_is_written_at_once(
    mosquitto: MosquittoProcess,
) -> None:
    """The siren's command is not left for the next poll (after the turn's bookkeeping):
    it is on the wire before publish returns, and at QoS 2 (the contract's) so is the
    PUBREL without which Mosquitto does not forward it."""
    address = mosquitto.address
    with MqttClient(
        address=address, client_id=client_id("siren"), subscriptions=[("t/siren", 2)]
    ) as siren:
        own = MqttClient(address=address, client_id=client_id("ctl"), threaded=False)
        own.start()
        own.poll(0)  # this thread is the poller
        for qos in (1, 2):
            own.publish("t/siren", f"ON{qos}", qos=qos, urgent=True)
            # No poll since: only what publish did itself can have sent it.
            assert collect(siren.messages, 1, timeout=10)[0].payload == f"ON{qos}".encode()
        own.stop()


def test_the_caller_run_loop_reconnects_and_resends(mosquitto: MosquittoProcess) -> None:
    address = mosquitto.address
    own = MqttClient(
        address=address,
        client_id=client_id("own"),
        subscriptions=[("in/#", 1)],
        threaded=False,
        min_reconnect_delay=0.05,
        max_reconnect_delay=0.2,
    )
    own.start()
    mosquitto.stop()
    deadline = time.monotonic() + 10
    while own.connected:
        assert time.monotonic() < deadline, "the broker's end was not noticed"
        own.poll(0.05)
    own.publish("in/kept", "while away", qos=1)  # waits in the outbox
    mosquitto.start()
    with MqttClient(
        address=address, client_id=client_id("peer"), subscriptions=[("in/#", 1)]
    ) as peer:
        deadline = time.monotonic() + 15
        while own.connection_count < 2:
            assert time.monotonic() < deadline, "no reconnect"
            own.poll(0.05)
        assert own.wait_published(10)
        assert collect(peer.messages, 1)[0].payload == b"while away"
        assert _paho_threads(own) == []  # connecting ran in a short-lived thread
    own.stop()


def test_poll_meanwhile_runs_the_loop_until_its_owner_polls(
    mosquitto: MosquittoProcess,
) -> None:
    """Between `start` and the controller's first turn (its dashboard starting, say),
    a thread of the client's runs the loop: the heartbeat goes out, pings are sent. It
    ends once the owner polls."""
    address = mosquitto.address
    with MqttClient(
        address=address, client_id=client_id("peer"), subscriptions=[("t/#", 1)]
    ) as peer:
        own = MqttClient(address=address, client_id=client_id("own"), threaded=False)
        own.start()
        own.poll_meanwhile()
        own.publish("t/early", "before the owner polls", qos=1)
        assert collect(peer.messages, 1, timeout=10)[0].topic == "t/early"
        bridge = f"mqtt-poll ({own.client_id})"
        assert bridge in [t.name for t in threading.enumerate()]
        deadline = time.monotonic() + 10
        while bridge in [t.name for t in threading.enumerate()]:
            assert time.monotonic() < deadline, "the bridge went on polling"
            own.poll(0.05)  # the owner takes over
        own.stop()


def test_messages_acknowledged_together_wake_the_poller_once(
    mosquitto: MosquittoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's writer acknowledges a turn's messages together once they are
    committed: the poller is woken once for them all (woken for each, it woke while
    they were acknowledged and wrote them in as many turns), and each reaches the
    broker, which delivers none of them again."""
    address = mosquitto.address
    name = client_id("ctl")

    def controller() -> MqttClient:
        return MqttClient(
            address=address,
            client_id=name,
            subscriptions=[("in/#", 1)],
            persistent=True,
            manual_ack=True,
            threaded=False,
        )

    own = controller()
    own.start()
    with MqttClient(address=address, client_id=client_id("peer")) as peer:
        for n in range(10):
            peer.publish(f"in/{n}", str(n), qos=1)
        assert peer.wait_published(10)
    received: list[Message] = []
    _poll_until(own, received, 10)
    wakes = []
    wake = own.wake

    def counted_wake() -> None:
        wakes.append(threading.current_thread().name)
        wake()

    monkeypatch.setattr(own, "wake", counted_wake)
    with polled(own):
        time.sleep(0.2)  # the poller is asleep in select
        writer = threading.Thread(target=own.ack, args=received, name="writer")
        writer.start()  # as the store's writer
        writer.join(10)
        assert wakes == ["writer"]
        time.sleep(0.5)  # the poller writes the PUBACKs
    own.stop()  # a clean disconnect keeps the session: what was not acked comes again
    again = controller()
    again.start()
    redelivered: list[Message] = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        again.poll(0.1)
        while not again.messages.empty():
            redelivered.append(again.messages.get_nowait())
    again.stop()
    assert redelivered == []
