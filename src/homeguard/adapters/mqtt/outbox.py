"""The outgoing side of the MQTT client: what we published and the broker has not yet
acknowledged, and the in-flight window that keeps paho within the broker's quota.

No paho here: the client hands `Outbox.pump` a ``send`` function that gives one message
to paho and returns its message id. Why a window of our own, found by testing paho 2.2:
it keeps QoS 1/2 messages published while disconnected and sends them after
reconnecting, but (1) the ``MQTTMessageInfo`` it returns keeps ``rc=MQTT_ERR_NO_CONN``
for ever, so ``is_published()``/``wait_for_publish()`` raise even after delivery, and
(2) on reconnect it sends *all* of them at once, ignoring its in-flight limit; more than
20 unacknowledged QoS 2 messages exceed Mosquitto's receive quota, Mosquitto drops the
connection, paho reconnects and floods again, for ever: the messages past the first few
are never delivered. So QoS 1/2 messages wait here, and at most ``max_inflight`` of them
are handed to paho at a time:

* in the order published; after a reconnect paho first resends what was in flight, and
  new messages wait until those are acknowledged, so that the order is kept;
* kept while disconnected (and before the first connection), never dropped;
* a message paho refuses stays first in line for the next round;
* urgent messages (the siren and light commands) go ahead of every message waiting and
  are not held by the window (they keep their own order, and are few, so QoS 2 stays
  within the broker's receive quota): alarms before bookkeeping. `Outbox.wait_urgent`
  lets their publisher wait until the broker has them;
* *replaceable* messages (retained states that a later message on the same topic makes
  moot: what the panel knows of each sensor) go after every other message waiting, and
  a later message on the topic takes the place of one still waiting: 100,000 sensors
  restated at start do not hold up the answer to a command, a sensor that changes
  faster than the broker takes its messages is said once, with its latest state, and
  a topic's messages still reach the broker in order.

QoS 0 messages cannot wait: sent while disconnected, or written to paho but not yet on
the wire when the connection drops, they are lost, and counted (`Outbox.dropped`).

Thread-safe: `pump` may be called from any thread, paho's callbacks included.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Outbox", "Outgoing", "Send"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to publish."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


# Hands a message to paho; returns the message id paho gave it (the message is then in
# paho's hands: in flight), or None when paho refused it.
Send = Callable[[Outgoing], int | None]


class Outbox:
    """QoS 1/2 messages waiting to be sent and in flight, within a window of
    ``max_inflight``; QoS 0 messages written but not yet on the wire. See the module doc.
    """

    def __init__(self, max_inflight: int) -> None:
        if max_inflight < 1:
            raise ValueError("max_inflight must be at least 1")
        # Mosquitto's default max_inflight_messages, 20, is also its receive quota for
        # our QoS 2 messages.
        self.max_inflight = max_inflight
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiting: deque[Outgoing] = deque()
        self._urgent: deque[Outgoing] = deque()  # handed on first, whatever the window
        self._replaceable: dict[str, Outgoing] = {}  # by topic: handed on last
        self._inflight: dict[int, Outgoing] = {}
        self._urgent_out: set[int] = set()  # mids of urgent messages not yet acknowledged
        self._urgent_handing = 0  # urgent messages taken from the queue, not yet sent
        self._handing = 0  # messages taken from the queue, not yet back from ``send``
        self._open = False  # connected: messages may be handed on
        self._replaying = False  # paho resends what was in flight first
        self._qos0_written: set[int] = set()  # QoS 0 mids given to paho, not yet sent
        # mids whose acknowledgement arrived before ``send`` returned them
        self._acked_early: set[int] = set()
        self._dropped = 0
        # Only one thread hands messages on at a time. It is a try-lock: paho calls
        # `acknowledged` (and so `pump`) while holding its own lock, so blocking on ours
        # there could deadlock with a thread inside paho's publish().
        self._pump_lock = threading.Lock()
        self._pump_wanted = False

    @property
    def pending(self) -> int:
        """QoS 1/2 messages not yet acknowledged by the broker (waiting or in flight)."""
        with self._lock:
            return self._pending()

    @property
    def dropped(self) -> int:
        """QoS 0 messages lost: not sent because we were disconnected, or lost with it."""
        return self._dropped

    def _pending(self) -> int:
        waiting = len(self._waiting) + len(self._urgent) + len(self._replaceable)
        return waiting + self._handing + len(self._inflight)

    def add(self, message: Outgoing, *, urgent: bool = False, replaceable: bool = False) -> None:
        """Queue a QoS 1/2 message; `pump` sends it when the window allows, or
        (``urgent``) ahead of the waiting ones as soon as connected, or (``replaceable``)
        after them, unless a later message on its topic replaces it first."""
        if message.qos == 0:
            raise ValueError("QoS 0 messages do not wait in the outbox")
        with self._lock:
            if replaceable:
                self._replaceable[message.topic] = message
                return
            if self._replaceable:
                self._replaceable.pop(message.topic, None)  # this one is later
            (self._urgent if urgent else self._waiting).append(message)

    def resume(self) -> None:
        """Connected: messages may be handed on, after paho's resends are acknowledged."""
        with self._lock:
            self._open = True
            self._replaying = bool(self._inflight)

    def pause(self) -> int:
        """Disconnected: hand nothing on. The messages in flight stay (paho resends
        them); the QoS 0 messages not yet on the wire are lost: returns how many."""
        with self._changed:
            self._open = False
            lost = len(self._qos0_written)
            self._qos0_written.clear()
            self._dropped += lost
            self._changed.notify_all()
        return lost

    def drop_qos0(self) -> None:
        """Count a QoS 0 message that could not be sent."""
        with self._lock:
            self._dropped += 1

    def written_qos0(self, mid: int) -> None:
        """paho took a QoS 0 message (``mid``) to write to the socket."""
        with self._lock:
            if mid in self._acked_early:
                self._acked_early.discard(mid)
            else:
                self._qos0_written.add(mid)

    def acknowledged(self, mid: int) -> None:
        """paho says ``mid`` is done: acknowledged by the broker (QoS 1/2), or written
        to the socket (QoS 0). May come before ``send`` returned the mid."""
        with self._changed:
            if self._inflight.pop(mid, None) is not None:
                self._urgent_out.discard(mid)
                if not self._inflight:
                    self._replaying = False
            elif mid in self._qos0_written:
                self._qos0_written.discard(mid)
            else:
                self._acked_early.add(mid)
            self._changed.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Wait until every QoS 1/2 message added so far is acknowledged; False if some
        are not after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._pending():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def wait_urgent(self, timeout: float) -> bool:
        """Wait until every urgent message added so far is acknowledged; False if some
        are not after ``timeout`` seconds (or we are disconnected: they wait)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._urgent or self._urgent_handing or self._urgent_out:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._open:
                    return False
                self._changed.wait(remaining)
        return True

    def pump(self, send: Send) -> None:
        """Hand waiting messages to ``send`` while open and within the window.

        If another thread is pumping, it is asked to go round once more instead of being
        waited for.
        """
        self._pump_wanted = True
        while self._pump_wanted:
            if not self._pump_lock.acquire(blocking=False):
                return  # the holder sees _pump_wanted after it releases the lock
            try:
                self._pump_wanted = False
                self._fill_window(send)
            finally:
                self._pump_lock.release()

    def _fill_window(self, send: Send) -> None:
        while True:
            with self._lock:
                if not self._open or self._replaying:
                    return
                line = self._urgent
                if not line:
                    line = self._waiting
                    if len(self._inflight) >= self.max_inflight:
                        return
                if line:
                    message = line.popleft()
                elif self._replaceable:  # if refused, first in line: before later ones
                    message = self._replaceable.pop(next(iter(self._replaceable)))
                else:
                    return
                self._handing += 1
                urgent = line is self._urgent
                self._urgent_handing += urgent
            mid: int | None = None
            try:
                mid = send(message)
            finally:
                with self._changed:
                    self._handing -= 1
                    self._urgent_handing -= urgent
                    if mid is None:  # refused (or send raised): first in line again
                        line.appendleft(message)
                    elif mid in self._acked_early:
                        self._acked_early.discard(mid)
                        self._changed.notify_all()
                    else:
                        self._inflight[mid] = message
                        if urgent:
                            self._urgent_out.add(mid)
            if mid is None:
                return
