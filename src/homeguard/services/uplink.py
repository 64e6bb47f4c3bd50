"""The uplink: forwards the committed event log to an upstream MQTT broker, off the
controller's path (docs/uplink.md).

One thread, with a store and an MQTT connection of its own. The store keeps the outbox
(``adapters/store/uplink.py``: every committed event, numbered in commit order); the
thread is woken by the controller after each commit (``Controller.after_commit``), by its
batch timer and by its connection coming and going. Each round it:

1. publishes, on the alarm topic and ahead of everything waiting (``urgent``), each alarm
   committed since it last looked (at start: every alarm still unsent);
2. when the batch in flight is acknowledged (PUBACK), deletes it from the outbox and
   advances the cursor, in one transaction;
3. when connected, nothing is in flight and a batch is due (``core.uplink.Pacer``),
   publishes the next batch (QoS 1).

One batch in flight at a time, and none handed to the client while disconnected: after
an outage, the alarms queued meanwhile go first, then the backlog in order. A batch whose
PUBACK never came is sent again (after a reconnection by the client, after a restart from
the cursor): the receiver drops events whose seq it has already seen.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from homeguard.adapters.mqtt import MAX_PAYLOAD, MqttClient
from homeguard.adapters.mqtt.backoff import Backoff
from homeguard.adapters.store.uplink import UplinkOutbox
from homeguard.core.uplink import Forwarded, Pacer, alarm_body, batch_body, event_body
from homeguard.errors import BrokerError, HomeguardError

__all__ = ["Uplink", "UplinkSettings", "UplinkStatus"]

log = logging.getLogger("homeguard.uplink")

CONNECT_TIMEOUT = 5.0  # seconds one attempt to reach the upstream broker may take
ACK_POLL = 0.02  # seconds between looks for the PUBACK of the batch in flight
IDLE = 1.0  # seconds between rounds when nothing wakes the thread
STOP_FLUSH = 1.0  # seconds the stopping uplink waits for its last PUBACKs

Connect = Callable[[Callable[[bool], None]], MqttClient]


@dataclass(frozen=True, slots=True)
class UplinkSettings:
    site: str
    topic: str
    alarm_topic: str
    batch_size: int
    batch_interval: float
    alarm_events: frozenset[str]
    duress: bool = False


@dataclass(frozen=True, slots=True)
class UplinkStatus:
    """What ``homeguard status`` and the dashboard show of the uplink."""

    connected: bool
    backlog: int  # events committed, not yet acknowledged upstream
    sent_seq: int  # the last event acknowledged upstream
    batches: int  # batches acknowledged so far
    last_sent_at: float | None  # when the last one was (Unix time)


class Uplink:
    """See the module docstring. `run` on a thread of its own; `wake` from any thread."""

    def __init__(
        self,
        *,
        outbox: UplinkOutbox,
        connect: Connect,
        settings: UplinkSettings,
        clock: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
        max_retry: float = 30.0,
    ) -> None:
        self._outbox = outbox
        self._connect = connect
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self._max_retry = max_retry
        self._wake = threading.Event()
        self._pacer = Pacer(settings.batch_size, settings.batch_interval)
        self._client: MqttClient | None = None
        self._alerted = 0  # alarms up to this seq were published on the alarm topic
        # The batch awaiting its PUBACK: its last seq, its number, and how many events
        # were waiting after it when it went.
        self._in_flight: tuple[int, int, int] | None = None
        self._noted: bool | None = None  # the connection as last noted in the store

    def wake(self) -> None:
        """Something was committed (or the connection changed): look again."""
        self._wake.set()

    def status(self) -> UplinkStatus:
        cursor = self._outbox.cursor()
        client = self._client
        connected = client is not None and client.connected
        if cursor is None:
            return UplinkStatus(connected, 0, 0, 0, None)
        return UplinkStatus(
            connected, cursor.backlog, cursor.sent_seq, cursor.batches, cursor.sent_at
        )

    # ------------------------------------------------------------------ the thread

    def resume(self) -> None:
        """Start from the stored cursor: the alarms still unsent go out again, first."""
        cursor = self._outbox.open(duress=self._settings.duress)
        self._alerted = cursor.sent_seq
        self._in_flight = None
        log.info(
            "uplink to %s: %d event(s) to send, next seq %d",
            self._settings.topic,
            cursor.backlog,
            cursor.sent_seq + 1,
        )

    def run(self, stop: threading.Event) -> None:
        """`resume`, then forward until ``stop`` is set; never raises (errors are logged
        and retried)."""
        self.resume()
        backoff = Backoff(0.5, self._max_retry)
        try:
            while not stop.is_set():
                try:
                    if self._client is None:
                        self._client = self._connected(stop, backoff)
                        continue
                    timeout = self.round(self._client)
                except HomeguardError as exc:  # the store, mostly: try again shortly
                    if stop.is_set():
                        break
                    log.error("uplink: %s; retrying", exc)
                    timeout = backoff.next_delay(random.Random())
                self._wake.wait(timeout)
                self._wake.clear()
        finally:
            if self._client is not None:
                self._client.stop(timeout=STOP_FLUSH)
            with suppress(HomeguardError):
                self._note(False)

    def round(self, client: MqttClient) -> float:
        """One look at the outbox (see the module docstring); returns the seconds to
        wait for before the next one unless woken."""
        self._send_alarms(client)
        self._note(client.connected)
        now = self._monotonic()
        if self._in_flight is not None:
            if client.unpublished:
                return ACK_POLL if client.connected else IDLE
            last_seq, number, left = self._in_flight
            self._outbox.sent(last_seq, number, self._clock())
            self._in_flight = None
            self._pacer.sent(left)
        if not client.connected:
            return IDLE  # the connection's return wakes us
        cursor = self._outbox.cursor()
        backlog = 0 if cursor is None else cursor.backlog
        if cursor is None or not self._pacer.due(backlog, now):
            wake_in = self._pacer.wake_in(now)
            return IDLE if wake_in is None else min(IDLE, wake_in)
        items = self._outbox.unsent(self._settings.batch_size)
        if not items:
            return IDLE
        last_seq = self._publish_batch(client, cursor.batches + 1, items)
        self._in_flight = (last_seq, cursor.batches + 1, cursor.last_seq - last_seq)
        return ACK_POLL

    def _note(self, connected: bool) -> None:
        if connected != self._noted:
            self._outbox.note_connection(connected, self._clock())
            self._noted = connected

    def _send_alarms(self, client: MqttClient) -> None:
        upto = self._outbox.last_seq()
        if upto <= self._alerted:
            return
        kinds = self._settings.alarm_events
        for item in self._outbox.alarms(self._alerted, upto, kinds):
            body = alarm_body(self._settings.site, item, self._clock())
            client.publish(self._settings.alarm_topic, _encode(body), qos=1, urgent=True)
            log.info("uplink: alarm seq %d (%s) sent ahead", item.seq, body["event"]["event"])
        self._alerted = upto

    def _publish_batch(self, client: MqttClient, number: int, items: list[Forwarded]) -> int:
        """Publish batch ``number`` of ``items`` (fewer if too big); its last seq."""
        sent_at = self._clock()
        payload = _encode(batch_body(self._settings.site, number, items, sent_at))
        while len(payload) > MAX_PAYLOAD and len(items) > 1:  # large metadata: fewer
            items = items[: len(items) // 2]
            payload = _encode(batch_body(self._settings.site, number, items, sent_at))
        if len(payload) > MAX_PAYLOAD:  # one event alone too big: say so, in its place
            body = batch_body(self._settings.site, number, items, sent_at)
            body["events"] = [_too_large(items[0])]
            payload = _encode(body)
        client.publish(self._settings.topic, payload, qos=1)
        return items[-1].seq

    def _connected(self, stop: threading.Event, backoff: Backoff) -> MqttClient | None:
        """A started client, or None after a failed attempt (having waited a while)."""
        client = self._connect(lambda _up: self._wake.set())
        try:
            client.start(timeout=CONNECT_TIMEOUT)
        except BrokerError as exc:
            delay = backoff.next_delay(random.Random())
            log.warning("uplink: %s; trying again in %.1f s", exc, delay)
            stop.wait(delay)
            return None
        backoff.reset()
        return client


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def _too_large(item: Forwarded) -> dict[str, Any]:
    body = event_body(item)
    kept = ("seq", "kind", "id", "ts", "device", "type", "state", "event")
    return {**{k: v for k, v in body.items() if k in kept}, "too_large": True}
