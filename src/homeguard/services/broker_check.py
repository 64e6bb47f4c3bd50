"""Does the broker keep what is queued for an offline controller? Asked by trying it.

A stock Mosquitto keeps at most ``max_queued_messages`` (1000) QoS 1 messages for a
client that is away and silently drops the rest; the config ``homeguard broker-config``
writes keeps them all. The broker's config cannot be read over MQTT, so
:func:`check_queue` tests what the broker does: a probe client with a persistent session
subscribes and goes away, :data:`PROBE_MESSAGES` messages are published to it, and it
comes back and counts what it receives. Its session is removed afterwards (and before,
in case an earlier probe was interrupted). It takes about a second on loopback.

The controller runs it once at start, in a thread of its own, unless ``homeguard up``
started the broker itself with the generated config; :func:`queue_warning` turns the
result into the one log line that says what the broker drops and how to fix it.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from homeguard.adapters.mqtt import BrokerAddress, MqttClient
from homeguard.errors import BrokerError

__all__ = ["PROBE_MESSAGES", "QueueCheck", "check_queue", "queue_warning"]

PROBE_MESSAGES = 1100  # more than Mosquitto's default max_queued_messages (1000)
PROBE_TOPIC = "homeguard-probe"  # outside every site's base topic
_QUIET = 1.0  # seconds without a message that end the count


@dataclass(frozen=True, slots=True)
class QueueCheck:
    """``kept`` of ``sent`` messages queued for an offline client came back; ``kept`` is
    None when the check could not be made (``problem`` says why)."""

    sent: int
    kept: int | None
    problem: str | None = None

    @property
    def drops(self) -> bool:
        return self.kept is not None and self.kept < self.sent


def check_queue(
    address: BrokerAddress,
    client_id: str,
    *,
    messages: int = PROBE_MESSAGES,
    timeout: float = 30.0,
) -> QueueCheck:
    """Queue ``messages`` for an offline persistent session at ``address`` and count
    how many the broker delivers when it returns. Never raises for a broker problem."""
    topic = f"{PROBE_TOPIC}/{client_id}"
    try:
        _forget_session(address, client_id)
        away = _client(address, client_id, persistent=True, subscriptions=[(topic, 1)])
        away.start(timeout=min(timeout, 10.0))
        away.stop()
        publisher = _client(address, f"{client_id}-pub", persistent=False)
        publisher.start(timeout=min(timeout, 10.0))
        try:
            for n in range(messages):
                publisher.publish(topic, str(n), qos=1)
            if not publisher.wait_published(timeout):
                return QueueCheck(messages, None, "the broker did not acknowledge the probe")
        finally:
            publisher.stop()
        back = _client(address, client_id, persistent=True, subscriptions=[(topic, 1)])
        back.start(timeout=min(timeout, 10.0))
        try:
            kept = _count(back.messages, messages, time.monotonic() + timeout)
        finally:
            back.stop()
        _forget_session(address, client_id)
    except BrokerError as exc:
        return QueueCheck(messages, None, str(exc))
    if kept == 0:  # not even one: the probe topic is refused (an ACL), not a queue limit
        return QueueCheck(messages, None, f"nothing published to {topic} came back (an ACL?)")
    return QueueCheck(messages, kept)


def queue_warning(address: BrokerAddress, check: QueueCheck) -> str | None:
    """The one log line for a broker that drops (or could not be checked); None when it
    kept everything."""
    fix = (
        "fix: the settings in docs/broker.md, e.g. run Mosquitto with the config of "
        "`homeguard broker-config`"
    )
    if check.kept is None:
        return (
            f"MQTT broker at {address} was not started by homeguard and its queue could "
            f"not be checked ({check.problem}): a stock Mosquitto keeps only 1000 messages "
            "for a controller that is away or slow, drops the rest and, without "
            f"persistence, loses them all when it restarts; {fix}"
        )
    if not check.drops:
        return None
    return (
        f"MQTT broker at {address} kept only {check.kept} of {check.sent} messages queued "
        "for an offline client: what sensors send beyond that while the controller is "
        "away or slow is dropped (reported as messages_lost where sensors send a seq), and "
        f"a stock Mosquitto without persistence loses the queue when it restarts; {fix}"
    )


def _client(
    address: BrokerAddress,
    client_id: str,
    *,
    persistent: bool,
    subscriptions: list[tuple[str, int]] | None = None,
) -> MqttClient:
    return MqttClient(
        address=address,
        client_id=client_id,
        persistent=persistent,
        subscriptions=subscriptions or [],
        quiet=True,
    )


def _forget_session(address: BrokerAddress, client_id: str) -> None:
    """A clean-session connect removes the probe's persistent session and its queue."""
    client = _client(address, client_id, persistent=False)
    client.start(timeout=10.0)
    client.stop()


def _count(messages: queue.Queue[object], expected: int, deadline: float) -> int:
    kept = 0
    while kept < expected and time.monotonic() < deadline:
        try:
            messages.get(timeout=_QUIET)
        except queue.Empty:
            break
        kept += 1
    return kept
