"""The MQTT client: the only module that imports paho-mqtt.

`MqttClient` wraps a paho 2 client speaking MQTT 3.1.1 and adds what an alarm system
needs on top of it:

* a fixed client id with a persistent session (``clean_session=False``), so QoS 1
  messages published while we are down are delivered when we return;
* reconnection forever, with exponential backoff *and* jitter (paho's own backoff has no
  jitter: we choose each delay ourselves and hand it to paho before it waits), and the
  subscriptions made again after every reconnect;
* incoming messages in a thread-safe queue (`MqttClient.messages`); with
  ``manual_ack=True`` a QoS 1/2 message is acknowledged only when `MqttClient.ack` is
  called, so a crash before that makes the broker deliver it again;
* a publish that never drops silently: QoS 1/2 messages wait in our own outbox, and at
  most ``max_inflight`` of them are handed to paho at a time, in order, because paho
  2.2 alone would flood the broker past its quota after a reconnect (:mod:`.outbox`);
  `MqttClient.wait_published` waits for the broker's acknowledgements. Messages
  published before `MqttClient.start` wait in the outbox too. QoS 0 messages published
  while disconnected are dropped; we log each one and count them (`MqttClient.dropped`);
* TCP_NODELAY, and on Linux TCP_QUICKACK, on every socket (:mod:`.sockets`);
* a session taken over noticed (:mod:`.session`): it is logged once, as an error, and
  `MqttClient.session_contested` says so until a connection lasts;
* paho and socket errors translated into `homeguard.errors` types.

Thread model: paho runs its network loop in one background thread (``loop_start``); the
callbacks below run there and only touch thread-safe state. ``publish``, ``ack`` and
``wait_published`` may be called from any thread.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from homeguard.errors import BrokerError, BrokerUnavailable

from .backoff import Backoff
from .message import (
    MAX_PAYLOAD,
    BrokerAddress,
    Message,
    Will,
    _as_bytes,
    _check_qos,
)
from .outbox import Outbox, Outgoing
from .session import KICKS_TO_REPORT, TakeoverWatch, refusal
from .sockets import nodelay, quick_ack, set_nodelay

__all__ = ["MqttClient"]

_log = logging.getLogger(__name__)


class MqttClient:
    """A reconnecting MQTT 3.1.1 client with a persistent session; see the module doc.

    The constructor does no I/O; `start` connects. A client is started once: after
    `stop`, build a new one (with the same ``client_id`` to resume the session).
    """

    def __init__(
        self,
        *,
        address: BrokerAddress,
        client_id: str,
        persistent: bool = True,
        manual_ack: bool = False,
        will: Will | None = None,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_connection_change: Callable[[bool], None] | None = None,
        keepalive: int = 30,
        min_reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 30.0,
        inbox: queue.Queue[Any] | None = None,
        max_inflight: int = 20,
        quiet: bool = False,
    ) -> None:
        if not client_id:
            raise ValueError("client_id must not be empty: a persistent session needs it")
        for topic_filter, qos in subscriptions:
            _check_qos(qos)
            if not topic_filter:
                raise ValueError("subscription topic filter must not be empty")
        if will is not None:
            _check_qos(will.qos)
        self.address = address
        self.client_id = client_id
        self.persistent = persistent
        self.manual_ack = manual_ack
        self.will = will
        self.subscriptions: tuple[tuple[str, int], ...] = tuple(subscriptions)
        # Incoming messages; a caller may pass its own queue to wait on other work too.
        self.messages: queue.Queue[Any] = inbox if inbox is not None else queue.Queue()

        self._on_connection_change = on_connection_change
        # quiet: connections are logged at debug level (short-lived helper clients).
        self._info_level = logging.DEBUG if quiet else logging.INFO
        self._keepalive = keepalive
        self._backoff = Backoff(min_reconnect_delay, max_reconnect_delay)
        self._rng = random.Random()
        # QoS 1/2 messages waiting and in flight; QoS 0 messages not yet on the wire.
        self._outbox = Outbox(max_inflight)

        self._lock = threading.Lock()
        self._state = "new"  # new -> running -> stopped
        self._connected = False
        self._connection_count = 0
        self._takeover = TakeoverWatch()  # monotonic time
        self._ready = threading.Event()  # connected and subscribed
        self._refused: BrokerError | None = None  # a refusal that retrying will not fix
        self._subscribe_mid: int | None = None
        # Received QoS 1/2 messages awaiting ack() on the current connection.
        self._unacked: dict[int, Message] = {}

        self._client = self._build_paho_client()

    def _build_paho_client(self) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=not self.persistent,
            protocol=paho.MQTTv311,
            manual_ack=self.manual_ack,
        )
        # An exception escaping a callback must never kill the network thread.
        client.suppress_exceptions = True
        client.max_queued_messages_set(0)  # no limit: never refuse a publish
        # Our own window bounds what paho holds; paho's limit would only add its buggy
        # "queued" state.
        client.max_inflight_messages_set(0)
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.will is not None:
            will = self.will
            client.will_set(will.topic, _as_bytes(will.payload), will.qos, will.retain)
        client.on_socket_open = self._handle_socket_open
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        return client

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10) -> None:
        """Connect, subscribe and run the network loop in a background thread.

        Returns once connected and subscribed. Raises `BrokerUnavailable` when no broker
        answers within ``timeout`` seconds, `BrokerError` when the broker refuses us
        (bad credentials, not authorised, subscription refused) or TLS files are bad.
        """
        with self._lock:
            if self._state != "new":
                raise BrokerError(f"MQTT client {self.client_id!r} was already started")
            self._state = "running"
            self._refused = None
            self._ready.clear()
        try:
            self._configure_tls()
            # A blocked TCP connect must not outlast the caller's patience, nor stop().
            self._client.connect_timeout = max(0.1, min(5.0, timeout))
            self._client.connect_async(
                self.address.host, self.address.port, keepalive=self._keepalive
            )
            self._client.loop_start()
        except (OSError, ValueError) as err:
            self._abort_start()
            raise BrokerError(f"cannot connect to MQTT broker at {self.address}: {err}") from None
        deadline = time.monotonic() + timeout
        while not self._ready.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
            refused = self._refused
            if refused is not None:
                self._abort_start()
                raise refused
            if time.monotonic() >= deadline:
                self._abort_start()
                raise BrokerUnavailable(
                    f"no MQTT broker answered at {self.address} within {timeout:g} s"
                )
        _log.log(self._info_level, "MQTT client %s connected to %s", self.client_id, self.address)

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
            self._client.disconnect()
            self._client.loop_stop()
            self._set_connected(False)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        """True while a CONNACK-accepted connection is up."""
        return self._connected

    @property
    def connection_count(self) -> int:
        """How many connections the broker has accepted so far.

        A poller that compares it between two looks sees a reconnect even when the
        outage fell between the looks (``connected`` was True both times).
        """
        return self._connection_count

    @property
    def session_contested(self) -> bool:
        """True while another client seems to use our client id: the broker closed our
        last connections right after accepting them, and the current one (if any) has
        not lasted `KICK_WINDOW` s yet."""
        with self._lock:
            return self._takeover.contested(self._connected, time.monotonic())

    @property
    def dropped(self) -> int:
        """QoS 0 messages not sent because we were disconnected (each one also logged)."""
        return self._outbox.dropped

    @property
    def unpublished(self) -> int:
        """QoS 1/2 messages published but not yet acknowledged by the broker."""
        return self._outbox.pending

    @property
    def tcp_nodelay(self) -> bool | None:
        """Whether the current socket has TCP_NODELAY set; None while disconnected."""
        return nodelay(self._client.socket())

    # ------------------------------------------------------------------ messages

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        """Publish; QoS 1/2 messages are kept while disconnected and sent on reconnect.

        Raises ``ValueError`` for an invalid topic, QoS or payload size (a programming
        error), `BrokerError` if the client was stopped.
        """
        _check_qos(qos)
        if not topic or "+" in topic or "#" in topic or "\0" in topic:
            raise ValueError(f"invalid MQTT topic to publish to: {topic!r}")
        data = _as_bytes(payload)
        if len(data) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(data)} bytes is above the {MAX_PAYLOAD}-byte limit")
        if self._state == "stopped":
            raise BrokerError(f"MQTT client {self.client_id!r} is stopped; cannot publish")
        message = Outgoing(topic, data, qos, retain)
        if qos == 0:
            self._send_qos0(message)
            return
        self._outbox.add(message)
        self._pump()

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
        """
        return self._outbox.wait_empty(timeout)

    def ack(self, message: Message) -> None:
        """Acknowledge a received message (only meaningful with ``manual_ack=True``).

        Call it once the message is durably handled, and promptly: the broker stops
        sending after ``max_inflight_messages`` (20) unacknowledged messages. A message
        received on an earlier connection cannot be acknowledged any more: the broker
        delivers it again (with ``dup=True``), so the ack is skipped and the redelivery
        must be acked instead.
        """
        if not self.manual_ack or message.qos == 0:
            return
        with self._lock:
            current = self._unacked.get(message.mid)
            if current is not message:
                _log.debug("ack of mid %d from an earlier connection skipped", message.mid)
                return
            del self._unacked[message.mid]
        rc = self._client.ack(message.mid, message.qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            # The connection just dropped; the broker will deliver the message again.
            _log.info("ack of mid %d not sent (%s)", message.mid, paho.error_string(rc))

    # ------------------------------------------------------------------ internals

    def _configure_tls(self) -> None:
        tls = self.address.tls
        if tls is None:
            return
        try:
            self._client.tls_set(
                ca_certs=None if tls.ca_file is None else str(tls.ca_file),
                certfile=None if tls.cert_file is None else str(tls.cert_file),
                keyfile=None if tls.key_file is None else str(tls.key_file),
            )
        except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
            raise BrokerError(f"cannot load TLS files for {self.address}: {err}") from None

    def _abort_start(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._outbox.pause()
        self._set_connected(False)
        with self._lock:
            self._state = "new"

    def _set_connected(self, connected: bool) -> None:
        with self._lock:
            changed = self._connected != connected
            self._connected = connected
        if changed and self._on_connection_change is not None:
            try:
                self._on_connection_change(connected)
            except Exception:
                _log.exception("on_connection_change callback failed")

    def _schedule_reconnect(self) -> None:
        # paho waits reconnect_delay before its next attempt; pinning min = max to our
        # own jittered delay gives exponential backoff with jitter.
        # paho annotates the delays as int but computes with floats.
        delay = self._backoff.next_delay(self._rng)
        self._client.reconnect_delay_set(min_delay=delay, max_delay=delay)  # type: ignore[arg-type]

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

    # paho callbacks: they run in paho's network thread.

    def _handle_socket_open(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        set_nodelay(sock)
        quick_ack(sock)

    def _handle_connect(
        self,
        _client: paho.Client,
        _userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._handle_refusal(reason)
            return
        self._backoff.reset()
        if self.persistent and not flags.session_present:
            _log.log(
                self._info_level,
                "MQTT broker at %s had no session for %s: starting a new one",
                self.address,
                self.client_id,
            )
        if self.subscriptions:
            rc, mid = self._client.subscribe(list(self.subscriptions))
            with self._lock:
                self._subscribe_mid = mid if rc == MQTTErrorCode.MQTT_ERR_SUCCESS else None
        else:
            self._ready.set()
        with self._lock:
            self._connection_count += 1
            self._takeover.accepted(time.monotonic())
        self._set_connected(True)
        self._outbox.resume()
        self._pump()

    def _handle_refusal(self, reason: ReasonCode) -> None:
        message = refusal(
            reason.value,
            str(reason),
            broker=str(self.address),
            client_id=self.client_id,
            user=self.address.username,
        )
        if message is None:
            _log.warning("MQTT broker at %s is unavailable; retrying", self.address)
            return
        _log.error("%s; retrying", message)
        if not self._ready.is_set():
            self._refused = BrokerError(message)

    def _handle_connect_fail(self, _client: paho.Client, _userdata: Any) -> None:
        with self._lock:
            self._takeover.broker_away()
        self._schedule_reconnect()

    def _handle_disconnect(
        self,
        _client: paho.Client,
        _userdata: Any,
        _flags: paho.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        was_connected = self._connected
        lost = self._outbox.pause()  # QoS 0 messages in flight are lost with the socket
        with self._lock:
            # Messages received on this connection can no longer be acked; the broker
            # redelivers them.
            self._unacked.clear()
            stopping = self._state != "running"
            kicks = self._takeover.kicks
            if was_connected and not stopping:
                kicks = self._takeover.closed(time.monotonic())
        if lost:
            _log.warning("MQTT connection lost: %d QoS 0 message(s) dropped", lost)
        self._set_connected(False)
        if not stopping:
            self._schedule_reconnect()
            if kicks == KICKS_TO_REPORT and was_connected:
                _log.error(
                    "MQTT broker at %s closed the session of %r %d times right after "
                    "accepting it: most likely another client is using this client id (a "
                    "second instance, or a takeover); reconnecting",
                    self.address,
                    self.client_id,
                    kicks,
                )
            elif kicks > KICKS_TO_REPORT:
                _log.debug("MQTT session of %r closed again (%s)", self.client_id, reason)
            elif was_connected:
                _log.warning("MQTT connection to %s lost (%s); reconnecting", self.address, reason)

    def _handle_subscribe(
        self,
        _client: paho.Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        with self._lock:
            if mid != self._subscribe_mid:
                return
            self._subscribe_mid = None
        refused = [
            topic
            for (topic, _qos), reason in zip(self.subscriptions, reasons, strict=False)
            if reason.is_failure
        ]
        if refused:
            message = f"MQTT broker at {self.address} refused subscription(s) to {refused}"
            _log.error(message)
            if not self._ready.is_set():
                self._refused = BrokerError(message)
                return
        self._ready.set()

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
        self.messages.put(message)
        quick_ack(self._client.socket())

    def _handle_publish(
        self,
        _client: paho.Client,
        _userdata: Any,
        mid: int,
        _reason: ReasonCode,
        _properties: Properties,
    ) -> None:
        self._outbox.acknowledged(mid)
        quick_ack(self._client.socket())
        self._pump()
