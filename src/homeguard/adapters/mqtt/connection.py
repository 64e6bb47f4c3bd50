"""A paho client that stays connected: the connection half of `MqttClient`.

* a fixed client id with a persistent session (``clean_session=False``), so QoS 1
  messages published while we are down are delivered when we return;
* login, TLS and the Last Will;
* reconnection forever, with exponential backoff *and* jitter (:mod:`.backoff`: we
  choose each delay ourselves and hand it to paho before it waits), and the
  subscriptions made again after every reconnect;
* TCP_NODELAY, and on Linux TCP_QUICKACK, on every socket, and reads and writes in
  few system calls (:mod:`.sockets`);
* a refused login, and a session taken over by another client with our id, noticed
  (:mod:`.session`); a takeover is logged once, as an error, and
  `Connection.session_contested` says so until a connection lasts.

What goes over the connection is the subclass's: it learns of each connection through
`Connection._connection_up` and `Connection._connection_down`.

Who runs the network loop: by default paho, in a background thread (``loop_start``).
With ``threaded=False`` the caller does, by calling `Connection.poll` again and again
(paho's documented external-loop calls: ``loop_read``, ``loop_write``, ``loop_misc``):
one thread then reads, decides and writes, and no second busy thread makes it wait for
Python's interpreter lock at every socket call (the controller's trip path). Other
threads may still publish and acknowledge: they `Connection.wake` the poller, which
writes for them. Connecting, which blocks, runs in a short-lived thread of its own.
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
from .sockets import BufferedSocket, gathering, nodelay, pending, quick_ack, set_nodelay

__all__ = ["Connection", "ConnectionOptions"]

_log = logging.getLogger(__name__)

READ_AHEAD = 64  # paho's reads per poll at most (each reads one packet or more)
BRIDGE_POLL = 0.05  # seconds each poll of `Connection.poll_meanwhile` waits at most


class _Client(paho.Client):
    """paho's client on a :class:`~.sockets.BufferedSocket`."""

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())


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
    threaded: bool


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
        threaded: bool = True,
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

        # threaded=False: the caller's loop (`poll`). The I/O lock keeps two threads
        # from reading or writing paho's socket at once; `_io_thread` holds it now.
        self._threaded = threaded
        self._io_lock = threading.RLock()
        self._io_thread: int | None = None
        self._loop_thread: int | None = None  # the last thread that polled
        self._wake: tuple[socket.socket, socket.socket] | None = None  # reader, writer
        self._held = threading.local()  # this thread's wake, held (`waking_once`)
        if not threaded:
            self._wake = socket.socketpair()
            for end in self._wake:
                end.setblocking(False)
        self._next_attempt = 0.0  # monotonic time of the next connection attempt
        self._connecting: threading.Thread | None = None

        self._client = self._build_paho_client()

    def _build_paho_client(self) -> paho.Client:
        client = _Client(
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
        if not self._threaded:  # paho then never writes from the publishing thread
            client.on_socket_register_write = self._want_write
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
            if self._threaded:
                self._client.loop_start()
        except (OSError, ValueError) as err:
            self._abort_start()
            raise BrokerError(f"cannot connect to MQTT broker at {self.address}: {err}") from None
        deadline = time.monotonic() + timeout
        while not self._await_ready(min(0.05, max(0.0, deadline - time.monotonic()))):
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

    def _await_ready(self, timeout: float) -> bool:
        if self._threaded:
            return self._ready.wait(timeout)
        self.poll(timeout)
        return self._ready.is_set()

    # ------------------------------------------------------------------ the caller's loop

    def poll(self, timeout: float, *, read: bool = True) -> None:
        """``threaded=False`` only: wait up to ``timeout`` seconds for the network (or
        `wake`), then read what came (the callbacks run here; not with ``read=False``:
        the caller cannot keep up, and the broker holds the rest meanwhile), write what
        waits and keep the connection alive; start a connection attempt when due."""
        if self._wake is None:
            raise RuntimeError("poll() is for a client built with threaded=False")
        self._loop_thread = threading.get_ident()
        with self._io_lock:
            if self._connecting is not None and not self._connecting.is_alive():
                self._connecting = None
            sock = None if self._connecting is not None else self._client.socket()
            if sock is None:
                self._connect_when_due()
        if sock is None:
            if self._connecting is None:
                timeout = min(timeout, max(0.0, self._next_attempt - time.monotonic()))
            self._wait_for([self._wake[0]], timeout)
            return
        # Bytes already read (TLS records, the buffer) wait in the socket object, unseen
        # by select.
        held = read and pending(sock) > 0
        ready = self._wait_for(
            [sock, self._wake[0]] if read else [self._wake[0]], 0 if held else timeout
        )
        with self._io_lock:
            self._io_thread = threading.get_ident()
            try:
                if held or sock in ready:
                    self._read(sock)
                with gathering(sock):  # what paho writes now goes out in one send
                    if self._client.want_write():
                        self._client.loop_write()
                    self._client.loop_misc()
            finally:
                self._io_thread = None

    def poll_meanwhile(self) -> None:
        """``threaded=False``: poll on a thread of its own until another thread polls
        (the loop is its from then on) or the client stops; for the time between
        `start` and the first poll of the thread that will run the loop."""

        def bridge() -> None:
            me = threading.get_ident()
            while self._state == "running" and self._loop_thread in (None, me):
                self.poll(BRIDGE_POLL)

        self._loop_thread = None
        name = f"mqtt-poll ({self.client_id})"
        threading.Thread(target=bridge, name=name, daemon=True).start()

    def _read(self, sock: Any) -> None:
        # paho reads a few packets a call: read on while more wait, up to a bound.
        for _ in range(READ_AHEAD):
            if self._client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if self._client.socket() is not sock:
                return
            if pending(sock) > 0:
                continue
            if not self._wait_for([sock], 0):
                return

    def write_now(self) -> bool:
        """``threaded=False``, on the polling thread: write what waits at once, not at
        the next `poll` (an urgent command). False when this thread does not poll."""
        if self._threaded or threading.get_ident() != self._loop_thread:
            return False
        with self._io_lock:
            self._io_thread = threading.get_ident()
            try:
                with gathering(self._client.socket()):
                    self._client.loop_write()
            finally:
                self._io_thread = None
        return True

    def _close_loop(self) -> None:
        for end in self._wake or ():
            end.close()

    def wake(self) -> None:
        """From any thread: end the `poll` in progress (or the next one) at once."""
        if self._wake is not None:
            with contextlib.suppress(OSError):  # already woken (full), or closed
                self._wake[1].send(b"\0")

    def _wait_for(self, sockets: list[Any], timeout: float) -> list[Any]:
        try:
            ready, _, _ = select.select(sockets, [], [], max(0.0, timeout))
        except (OSError, ValueError):  # a socket closed under us: the next poll sees it
            return []
        if self._wake is not None and self._wake[0] in ready:
            with contextlib.suppress(OSError):
                while self._wake[0].recv(4096):
                    pass
        return ready

    @contextlib.contextmanager
    def waking_once(self) -> Iterator[None]:
        """What this thread has paho write meanwhile wakes the poller once, at the end."""
        self._held.waking, self._held.wanted = True, False
        try:
            yield
        finally:
            self._held.waking = False
            if self._held.wanted:
                self.wake()

    def _want_write(self, _client: paho.Client, _userdata: Any, _sock: Any) -> None:
        # paho has something to write: the poller writes it (on its own thread, now).
        if threading.get_ident() == self._io_thread:
            return
        if getattr(self._held, "waking", False):
            self._held.wanted = True
        else:
            self.wake()

    def _connect_when_due(self) -> None:
        if self._state != "running" or time.monotonic() < self._next_attempt:
            return
        self._next_attempt = float("inf")  # until this attempt fails
        self._connecting = threading.Thread(
            target=self._attempt, name=f"mqtt-connect ({self.client_id})", daemon=True
        )
        self._connecting.start()

    def _attempt(self) -> None:
        try:
            self._client.reconnect()  # blocks: TCP connect, TLS handshake, CONNECT queued
        except (OSError, ValueError) as err:
            _log.debug("MQTT connection to %s failed: %s", self.address, err)
            self._handle_connect_fail(self._client, None)
        finally:
            self.wake()

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
        if self._threaded:
            self._client.disconnect()
            self._client.loop_stop()
        else:
            if self._connecting is not None:
                self._connecting.join()  # at most paho's connect_timeout
                self._connecting = None
            self._client.disconnect()
            with self._io_lock:  # the DISCONNECT out; paho then closes the socket
                self._client.loop_write()
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
        self._next_attempt = time.monotonic() + delay
        self._client.reconnect_delay_set(min_delay=delay, max_delay=delay)  # type: ignore[arg-type]

    # paho callbacks: they run in the thread that runs the loop (paho's, or a poller).

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
