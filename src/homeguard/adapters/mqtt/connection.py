"""A paho client that stays connected: the connection half of `MqttClient`.

* a fixed client id with a persistent session (``clean_session=False``), so QoS 1
  messages published while we are down are delivered when we return;
* login, TLS and the Last Will;
* reconnection forever, with exponential backoff *and* jitter (:mod:`.backoff`: we
  choose each delay ourselves and hand it to paho before it waits), and the
  subscriptions made again after every reconnect;
* TCP_NODELAY, and on Linux TCP_QUICKACK, on every socket (:mod:`.sockets`);
* a refused login, and a session taken over by another client with our id, noticed
  (:mod:`.session`); a takeover is logged once, as an error, and
  `Connection.session_contested` says so until a connection lasts.

What goes over the connection is the subclass's: it learns of each connection through
`Connection._connection_up` and `Connection._connection_down`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from homeguard.core.topic import filter_problem
from homeguard.errors import BrokerError, BrokerUnavailable

from .backoff import Backoff
from .message import BrokerAddress, Will, as_bytes, check_qos
from .session import KICKS_TO_REPORT, TakeoverWatch, refusal
from .sockets import nodelay, quick_ack, set_nodelay

__all__ = ["Connection", "ConnectionOptions"]

_log = logging.getLogger(__name__)


class ConnectionOptions(TypedDict, total=False):
    """`Connection`'s keyword arguments besides the address and client id, for a
    subclass to pass on; the defaults are `Connection`'s."""

    persistent: bool
    manual_ack: bool
    will: Will | None
    subscriptions: Sequence[tuple[str, int]]
    on_connection_change: Callable[[bool], None] | None
    keepalive: int
    min_reconnect_delay: float
    max_reconnect_delay: float
    quiet: bool


class Connection:
    """Connects, and reconnects until stopped; see the module doc.

    The constructor does no I/O; `start` connects. A connection is started once.
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
        quiet: bool = False,
    ) -> None:
        if not client_id:
            raise ValueError("client_id must not be empty: a persistent session needs it")
        for topic_filter, qos in subscriptions:
            check_qos(qos)
            if (problem := filter_problem(topic_filter)) is not None:
                raise ValueError(f"subscription topic filter {topic_filter!r} {problem}")
        if will is not None:
            check_qos(will.qos)
        self.address = address
        self.client_id = client_id
        self.persistent = persistent
        self.manual_ack = manual_ack
        self.will = will
        self.subscriptions: tuple[tuple[str, int], ...] = tuple(subscriptions)

        self._on_connection_change = on_connection_change
        # quiet: connections are logged at debug level (short-lived helper clients).
        self._info_level = logging.DEBUG if quiet else logging.INFO
        self._keepalive = keepalive
        self._backoff = Backoff(min_reconnect_delay, max_reconnect_delay)
        self._rng = random.Random()

        self._lock = threading.Lock()
        self._state = "new"  # new -> running -> stopped
        self._connected = False
        self._connection_count = 0
        self._takeover = TakeoverWatch()  # monotonic time
        self._ready = threading.Event()  # connected and subscribed
        self._refused: BrokerError | None = None  # a refusal that retrying will not fix
        self._subscribe_mid: int | None = None

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
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.will is not None:
            will = self.will
            client.will_set(will.topic, as_bytes(will.payload), will.qos, will.retain)
        client.on_socket_open = self._handle_socket_open
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        return client

    # ------------------------------------------------------------------ for the subclass

    def _connection_up(self) -> None:
        """A connection was accepted (the subscriptions are on their way)."""

    def _connection_down(self) -> None:
        """The connection is gone, or the start was given up."""

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

    def subscribe_once(self, topic_filter: str, qos: int = 1) -> bool:
        """Subscribe to one more filter, on the current connection only: it is not made
        again after a reconnect, the broker's answer is not awaited and a refusal is not
        reported (nothing arrives then). For a short-lived client's own topic. Returns
        False when not connected.

        The broker handles a client's packets in order: a message published after this
        call reaches a subscription made by it."""
        check_qos(qos)
        if (problem := filter_problem(topic_filter)) is not None:
            raise ValueError(f"subscription topic filter {topic_filter!r} {problem}")
        rc, _mid = self._client.subscribe(topic_filter, qos)
        return bool(rc == MQTTErrorCode.MQTT_ERR_SUCCESS)

    def _disconnect(self) -> None:
        """Disconnect cleanly (no Last Will) and join the network loop."""
        self._client.disconnect()
        self._client.loop_stop()
        self._set_connected(False)

    def _abort_start(self) -> None:
        self._disconnect()
        self._connection_down()
        with self._lock:
            self._state = "new"

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
    def tcp_nodelay(self) -> bool | None:
        """Whether the current socket has TCP_NODELAY set; None while disconnected."""
        return nodelay(self._client.socket())

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
        self._connection_up()

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
        self._connection_down()
        with self._lock:
            stopping = self._state != "running"
            kicks = self._takeover.kicks
            if was_connected and not stopping:
                kicks = self._takeover.closed(time.monotonic())
        self._set_connected(False)
        if stopping:
            return
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
