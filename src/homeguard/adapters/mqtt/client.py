"""The MQTT client: `MqttClient` wraps a paho 2 client speaking MQTT 3.1.1 and adds
what an alarm system needs on top of it.

Its connection (:mod:`.connection`): a persistent session, reconnection forever with
backoff and jitter, subscriptions made again, low-latency sockets, refusals and session
takeovers noticed. Its messages (here):

* incoming messages in a thread-safe queue (`MqttClient.messages`, or the caller's
  ``inbox``); with ``manual_ack=True`` a QoS 1/2 message is acknowledged only when
  `MqttClient.ack` is called, so a crash before that makes the broker deliver it again;
* a publish that never drops silently: QoS 1/2 messages wait in our own outbox, and at
  most ``max_inflight`` of them are handed to paho at a time, in order, because paho
  2.2 alone would flood the broker past its quota after a reconnect (:mod:`.outbox`);
  `MqttClient.wait_published` waits for the broker's acknowledgements. Messages
  published before `MqttClient.start` wait in the outbox too. QoS 0 messages published
  while disconnected are dropped; we log each one and count them (`MqttClient.dropped`);
* paho and socket errors translated into `homeguard.errors` types.

Thread model: paho runs its network loop in one background thread (``loop_start``), or
with ``threaded=False`` in the caller's own, through `MqttClient.poll` (see
:mod:`.connection`); the callbacks run there and only touch thread-safe state.
``publish``, ``ack`` and ``wait_published`` may be called from any thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Protocol, Self, Unpack

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from homeguard.core.topic import name_problem
from homeguard.errors import BrokerError

from .connection import Connection, ConnectionOptions
from .message import MAX_PAYLOAD, BrokerAddress, Message, as_bytes, check_qos
from .outbox import Outbox, Outgoing

__all__ = ["MessageSink", "MqttClient"]

_log = logging.getLogger(__name__)

# Seconds an urgent message's publisher waits for the broker's acknowledgement: it holds
# the thread (and Python's lock with it) off other work until the command is out.
URGENT_WAIT = 0.01


class MessageSink(Protocol):
    """Where received messages go: a `queue.Queue`, or a queue of more than messages."""

    def put(self, item: Message, /) -> None: ...


class MqttClient(Connection):
    """A reconnecting MQTT 3.1.1 client with a persistent session; see the module doc.

    The constructor does no I/O; `start` connects. A client is started once: after
    `stop`, build a new one (with the same ``client_id`` to resume the session).
    Received messages go to `messages`, or to ``inbox`` when one is given (a queue the
    caller also puts other work in; `messages` then stays empty).
    """

    def __init__(
        self,
        *,
        address: BrokerAddress,
        client_id: str,
        inbox: MessageSink | None = None,
        max_inflight: int = 20,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        # QoS 1/2 messages waiting and in flight; QoS 0 messages not yet on the wire.
        self._outbox = Outbox(max_inflight)
        super().__init__(address=address, client_id=client_id, **options)
        # Received messages, unless the caller gave an ``inbox`` to wait on other work
        # too: they go there instead.
        self.messages: queue.Queue[Message] = queue.Queue()
        self._inbox: MessageSink = self.messages if inbox is None else inbox
        # Received QoS 1/2 messages awaiting ack() on the current connection.
        self._unacked: dict[int, Message] = {}
        self._network_thread: int | None = None  # paho's loop: it must never wait on it
        self._client.max_queued_messages_set(0)  # no limit: never refuse a publish
        # Our own window bounds what paho holds; paho's limit would only add its buggy
        # "queued" state.
        self._client.max_inflight_messages_set(0)
        self._client.on_message = self._handle_message
        self._client.on_publish = self._handle_publish

    def stop(self, timeout: float = 5.0) -> None:
        """Flush outgoing messages (up to ``timeout``), disconnect cleanly, join the loop.

        A clean disconnect does not fire the Last Will. Messages still unacknowledged
        after ``timeout`` are reported in the log (they are lost with this process).
        """
        with self._lock:
            running = self._state == "running"
        if running and self.connected:
            self.wait_published(timeout)
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
        unsent = self._outbox.pending
        if unsent:
            _log.warning(
                "MQTT client %s stopping with %d unacknowledged message(s): they are lost",
                self.client_id,
                unsent,
            )
        if running:
            self._disconnect()
        self._close_loop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ state

    @property
    def dropped(self) -> int:
        """QoS 0 messages not sent because we were disconnected (each one also logged)."""
        return self._outbox.dropped

    @property
    def unpublished(self) -> int:
        """QoS 1/2 messages published but not yet acknowledged by the broker."""
        return self._outbox.pending

    # ------------------------------------------------------------------ messages

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        *,
        urgent: bool = False,
        replaceable: bool = False,
    ) -> None:
        """Publish; QoS 1/2 messages are kept while disconnected and sent on reconnect.

        ``urgent`` (the siren and light commands): ahead of every QoS 1/2 message waiting
        in the outbox, and not held by the in-flight window; keep such messages few. The
        call returns once the broker has acknowledged it (at most :data:`URGENT_WAIT`,
        and not while disconnected). On the thread that runs the loop
        (``threaded=False``) it is written, and its acknowledgement read, at once.
        Elsewhere the call waits: the loop's thread writes it to the socket, and Python
        would run that thread only once the caller blocks or its time slice (5 ms) is
        up, so the caller's next work would come first.
        ``replaceable`` (a retained state that a later message on its topic makes moot):
        after every other QoS 1/2 message waiting, and replaced by a later message on
        its topic while it waits.

        Raises ``ValueError`` for an invalid topic, QoS or payload size (a programming
        error), `BrokerError` if the client was stopped.
        """
        check_qos(qos)
        if (problem := name_problem(topic)) is not None:
            raise ValueError(f"invalid MQTT topic to publish to: {topic!r} {problem}")
        data = as_bytes(payload)
        if len(data) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(data)} bytes is above the {MAX_PAYLOAD}-byte limit")
        if self._state == "stopped":
            raise BrokerError(f"MQTT client {self.client_id!r} is stopped; cannot publish")
        message = Outgoing(topic, data, qos, retain)
        if qos == 0:
            self._send_qos0(message)
            return
        self._outbox.add(message, urgent=urgent, replaceable=replaceable)
        self._pump()
        if urgent:
            self._see_out()

    def _see_out(self) -> None:
        """An urgent message: on the wire, and acknowledged, before the caller goes on
        (at most :data:`URGENT_WAIT`). Mosquitto forwards a QoS 2 message only once the
        PUBREL that answers its PUBREC is in: on the loop's own thread, that exchange
        is polled for here, not left for the next poll."""
        if self.write_now():
            deadline = time.monotonic() + URGENT_WAIT
            while self.connected and not self._outbox.wait_urgent(0):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.poll(left)
        elif threading.get_ident() != self._network_thread:
            self._outbox.wait_urgent(URGENT_WAIT)

    def _send_qos0(self, message: Outgoing) -> None:
        if not self._connected:
            self._drop_qos0(message.topic)
            return
        info = self._client.publish(message.topic, message.payload, 0, message.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._drop_qos0(message.topic)
            return
        self._outbox.written_qos0(info.mid)

    def _drop_qos0(self, topic: str) -> None:
        self._outbox.drop_qos0()
        _log.warning("MQTT disconnected: QoS 0 message to %s dropped", topic)

    def wait_published(self, timeout: float) -> bool:
        """Wait until the broker acknowledged every message published so far.

        Returns False if some are still unacknowledged after ``timeout`` seconds.
        With ``threaded=False`` it runs the loop (`poll`) meanwhile.
        """
        if self._threaded:
            return self._outbox.wait_empty(timeout)
        deadline = time.monotonic() + timeout
        while not self._outbox.wait_empty(0):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.poll(min(left, 0.05))
        return True

    def ack(self, *messages: Message) -> None:
        """Acknowledge received messages (only meaningful with ``manual_ack=True``).

        Call it once they are durably handled, and promptly: the broker stops sending
        after ``max_inflight_messages`` (20) unacknowledged messages. A message received
        on an earlier connection cannot be acknowledged any more: the broker delivers it
        again (with ``dup=True``), so the ack is skipped and the redelivery must be
        acked instead. From a thread other than the one that polls (``threaded=False``),
        the poller is woken once for them all: woken for each, it could wake while they
        are acknowledged and write them in as many turns.
        """
        if not self.manual_ack:
            return
        with self.waking_once():
            for message in messages:
                self._ack(message)

    def _ack(self, message: Message) -> None:
        if message.qos == 0:
            return
        with self._lock:
            if self._unacked.get(message.mid) is not message:
                _log.debug("ack of mid %d from an earlier connection skipped", message.mid)
                return
            del self._unacked[message.mid]
        rc = self._client.ack(message.mid, message.qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            # The connection just dropped; the broker will deliver the message again.
            _log.info("ack of mid %d not sent (%s)", message.mid, paho.error_string(rc))

    # ------------------------------------------------------------------ internals

    def _connection_up(self) -> None:
        self._network_thread = threading.get_ident()  # paho calls this from its loop
        self._outbox.resume()
        self._pump()

    def _connection_down(self) -> None:
        lost = self._outbox.pause()  # QoS 0 messages not yet sent are lost with the socket
        with self._lock:
            # Messages received on this connection can no longer be acked; the broker
            # redelivers them.
            self._unacked.clear()
        if lost:
            _log.warning("MQTT connection lost: %d QoS 0 message(s) dropped", lost)

    def _pump(self) -> None:
        """Hand outbox messages to paho while connected and within the in-flight window."""
        self._outbox.pump(self._send)

    def _send(self, message: Outgoing) -> int | None:
        """Give one QoS 1/2 message to paho: its mid, or None if paho refused it."""
        try:
            info = self._client.publish(message.topic, message.payload, message.qos, message.retain)
        except (ValueError, OSError) as err:  # validated already; never expected
            _log.error("paho refused a message to %s: %s", message.topic, err)
            return None
        # NO_CONN: the connection dropped just now; paho keeps the message and resends it
        # after reconnecting, so it is in flight all the same.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            _log.error(
                "paho refused a message to %s: %s", message.topic, paho.error_string(info.rc)
            )
            return None
        return info.mid

    # paho callbacks: they run in the thread that runs the loop (paho's, or a poller).

    def _handle_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            # Unusable for ever: acknowledge it, or the broker would redeliver it for ever.
            _log.warning("MQTT message with a topic that is not UTF-8 rejected")
            if self.manual_ack and msg.qos > 0:
                self._client.ack(msg.mid, msg.qos)
            return
        message = Message(
            topic=topic,
            payload=bytes(msg.payload),
            qos=msg.qos,
            retain=bool(msg.retain),
            mid=msg.mid,
            dup=bool(msg.dup),
        )
        if self.manual_ack and message.qos > 0:
            with self._lock:
                self._unacked[message.mid] = message
        self._inbox.put(message)

    def _handle_publish(
        self,
        _client: paho.Client,
        _userdata: Any,
        mid: int,
        _reason: ReasonCode,
        _properties: Properties,
    ) -> None:
        self._outbox.acknowledged(mid)
        self._pump()
