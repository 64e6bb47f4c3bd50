"""Does the broker keep what is queued for an offline controller? Asked by trying it.

A stock Mosquitto keeps at most ``max_queued_messages`` (1000) QoS 1 messages for a
client that is away and silently drops the rest; the config ``homeguard broker-config``
writes keeps them all. The broker's config cannot be read over MQTT, so
:func:`check_queue` tests what the broker does: a probe client with a persistent session
subscribes and goes away, :data:`PROBE_MESSAGES` messages are published to it, and it
comes back and counts what it receives. Its session is removed afterwards (and before,
in case an earlier probe was interrupted). It takes about a second on loopback.

`diagnose` (``homeguard doctor``) adds reachability, the login and the round-trip
time. The controller runs the queue check once at start, in a thread of its own,
unless ``homeguard up`` started the broker itself with the generated config;
:func:`queue_warning` turns the result into the one log line that says what the broker
drops and how to fix it.
"""

from __future__ import annotations

import queue
import statistics
import time
from dataclasses import dataclass

from homeguard.adapters.broker import broker_answers
from homeguard.adapters.broker_auth import accepts_tcp
from homeguard.adapters.mqtt import BrokerAddress, Message, MqttClient
from homeguard.errors import BrokerError

__all__ = [
    "PROBE_MESSAGES",
    "Finding",
    "QueueCheck",
    "check_queue",
    "diagnose",
    "queue_warning",
    "round_trips",
]

PROBE_MESSAGES = 1100  # more than Mosquitto's default max_queued_messages (1000)
PROBE_TOPIC = "homeguard-probe"  # outside every site's base topic
_QUIET = 1.0  # seconds without a message that end the count
SLOW_ROUND_TRIP = 0.020  # seconds: more than a healthy broker on a LAN takes


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


@dataclass(frozen=True, slots=True)
class Finding:
    """One check of `diagnose`: its name, whether it passed, and what to do if not."""

    check: str
    ok: bool
    text: str


def diagnose(address: BrokerAddress, client_id: str) -> list[Finding]:
    """`homeguard doctor`: reachability, the login, the queue for an offline client and
    the round-trip time, in that order; stops at the first of the first two that fails."""
    answers = (
        accepts_tcp(address.host, address.port)
        if address.tls is not None
        else broker_answers(address.host, address.port, timeout=3.0)
    )
    if not answers:
        fix = "start the broker, or set mqtt.host and mqtt.port (or --broker HOST:PORT)"
        return [Finding("reachable", False, f"nothing answers MQTT at {address}: {fix}")]
    found = [Finding("reachable", True, f"an MQTT broker answers at {address}")]
    who = address.username or "anonymous"
    login = _client(address, f"{client_id}-login", persistent=False)
    try:
        login.start(timeout=10.0)
    except BrokerError as exc:
        fix = "check mqtt.username and mqtt.password, or run homeguard provision"
        return [*found, Finding("login", False, f"{exc}; {fix}")]
    login.stop()
    found.append(Finding("login", True, f"logged in as {who}"))
    check = check_queue(address, client_id)
    warning = queue_warning(address, check)
    if warning is None:
        found.append(Finding("queue", True, f"all {check.sent} messages queued came back"))
    else:
        found.append(Finding("queue", False, warning))
    try:
        samples = sorted(round_trips(address, f"{client_id}-rtt"))
    except BrokerError as exc:
        found.append(Finding("latency", False, f"round trip not measured: {exc}"))
        return found
    median = statistics.median(samples)
    text = (
        f"QoS 1 round trip median {median * 1000:.1f} ms, "
        f"slowest {samples[-1] * 1000:.1f} ms ({len(samples)} messages)"
    )
    if median > SLOW_ROUND_TRIP:
        text += (
            ": slow for an alarm; on the broker set `set_tcp_nodelay true` (small packets "
            "otherwise wait for Nagle's algorithm), or use a nearer, less busy broker"
        )
    found.append(Finding("latency", median <= SLOW_ROUND_TRIP, text))
    return found


def round_trips(address: BrokerAddress, client_id: str, count: int = 20) -> list[float]:
    """Seconds from publishing a small QoS 1 message to receiving it back, ``count``
    times, one at a time. Raises BrokerError (refused, or no message came back)."""
    topic = f"{PROBE_TOPIC}/{client_id}"
    client = _client(address, client_id, persistent=False, subscriptions=[(topic, 1)])
    client.start(timeout=10.0)
    samples = []
    try:
        for n in range(count):
            started = time.perf_counter()
            client.publish(topic, str(n), qos=1)
            try:
                client.messages.get(timeout=5.0)
            except queue.Empty:
                raise BrokerError(f"nothing published to {topic} came back (an ACL?)") from None
            samples.append(time.perf_counter() - started)
    finally:
        client.stop()
    return samples


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


def _count(messages: queue.Queue[Message], expected: int, deadline: float) -> int:
    kept = 0
    while kept < expected and time.monotonic() < deadline:
        try:
            messages.get(timeout=_QUIET)
        except queue.Empty:
            break
        kept += 1
    return kept
