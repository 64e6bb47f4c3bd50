"""The controller's inbox: one noisy device can never hold up another one's alarm.

The MQTT client's network thread puts every message here as it arrives; the controller
thread takes them. Each message spends its device's budget (:mod:`homeguard.core.flood`):

* in budget, it joins the one FIFO lane, with the requests of other threads (the
  dashboard): everything there is taken first, in order;
* over budget it is *surplus* and waits in its device's own lane, taken only when the
  FIFO lane is empty, one device after another (round robin), in rounds at most every
  :data:`SURPLUS_PAUSE` seconds (so that the controller does not spend the time the
  MQTT client needs to read the next messages off the socket); but at once while a
  QoS 1/2 message waits, because the broker sends the controller only 20 unacknowledged
  messages at a time and holds everything else, other devices' messages included,
  behind them;
* while surplus waits, a newer message with the same topic and payload replaces it
  (consecutive repeats are *coalesced*: only the latest is handed on, with how many it
  stands for), and a lane holds at most :data:`SURPLUS_KEEP` messages, the newest
  replacing the last beyond that: the memory a flood takes is bounded, the device's
  latest state is kept, and a change of state in the surplus (OPEN, CLOSED, OPEN) still
  reaches the panel;
* while a device has surplus waiting, its new messages queue behind it, so each
  device's messages keep their order.

So a message from a device within its budget waits at most for the message the
controller is handling when it arrives. Surplus is handed on as :class:`Surplus`, with
the QoS 1/2 messages it replaced, which the controller acknowledges with it: nothing the
broker delivered is lost silently, it is counted.

A subclass of :class:`queue.Queue` (the documented way to order a queue differently),
so its locking and waiting are the standard library's.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import (
    ActuatorStateRoute,
    AnnounceRoute,
    AvailabilityRoute,
    CommandRoute,
    SensorRoute,
    TopicMap,
)
from homeguard.core.flood import Budget, FloodPolicy, spend
from homeguard.errors import PayloadError

SURPLUS_KEEP = 64  # distinct messages waiting per device before the newest replaces the last
SURPLUS_PAUSE = 0.02  # seconds between two rounds of surplus
SURPLUS_ROUND = 256  # surplus messages taken at most per round
UNKNOWN = "?"  # the one budget shared by topics and devices nobody configured


@dataclass(frozen=True, slots=True)
class Surplus:
    """A message over its device's budget, and the ones it replaced while waiting."""

    device: str
    message: Message
    coalesced: int = 0  # earlier messages it stands for (not handled on their own)
    replaced: tuple[Message, ...] = ()  # those of them that need an ack (QoS 1/2)


@dataclass(slots=True)
class _Waiting:
    message: Message
    coalesced: int = 0
    replaced: list[Message] = field(default_factory=list)

    def replace_with(self, newer: Message) -> None:
        self.coalesced += 1
        if self.message.qos > 0:
            self.replaced.append(self.message)
        self.message = newer


def _same(one: Message, other: Message) -> bool:
    return one.payload == other.payload and one.topic == other.topic


def device_of(topics: TopicMap, known: Collection[str], topic: str) -> str:
    """Whose budget a message on ``topic`` spends: the configured sensor or actuator
    (``known``) it is about; panel commands share one; everything else (topics nobody
    configured, announcements of unconfigured devices) shares another, so that made-up
    names cannot make the budgets grow."""
    try:
        route = topics.route(topic)
    except PayloadError:
        return UNKNOWN
    match route:
        case SensorRoute(sensor_id=sensor_id):
            return sensor_id
        case AnnounceRoute(device_id=device_id) | AvailabilityRoute(device_id=device_id):
            return device_id if device_id in known else UNKNOWN
        case ActuatorStateRoute(actuator_id=actuator_id):
            return actuator_id
        case CommandRoute():
            return "alarm/set"
    return UNKNOWN


class FairInbox(queue.Queue[Any]):
    """Takes ``Message`` and any request object; gives them back, and :class:`Surplus`,
    in the order described in the module docstring. ``put`` never blocks."""

    def __init__(
        self,
        *,
        device_of: Callable[[str], str],
        policy: FloodPolicy,
        clock: Callable[[], float],
        keep: int = SURPLUS_KEEP,
    ) -> None:
        self._device_of = device_of
        self._policy = policy
        self._clock = clock
        self._keep = keep
        super().__init__()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Never blocks (the queue has no bound). Wakes the controller only when there
        is something it may take: not for every message of a flood that it coalesces."""
        with self.mutex:
            self._put(item)
            if self._qsize():
                self.not_empty.notify()

    # queue.Queue calls these with its mutex held.

    def _init(self, maxsize: int) -> None:
        self._fifo: deque[Any] = deque()
        self._lanes: dict[str, deque[_Waiting]] = {}
        self._turns: deque[str] = deque()  # devices with surplus, in round-robin order
        self._waiting = 0
        self._budgets: dict[str, Budget] = {}
        self._round_due = 0.0  # when surplus may be taken again
        self._round_left = SURPLUS_ROUND
        self._unacked = 0  # waiting QoS 1/2 messages: the broker waits for their ack

    def _qsize(self) -> int:
        if self._waiting and (self._unacked or self._clock() >= self._round_due):
            return len(self._fifo) + self._waiting
        return len(self._fifo)

    def _put(self, item: Any) -> None:
        if not isinstance(item, Message):
            self._fifo.append(item)
            return
        device = self._device_of(item.topic)
        lane = self._lanes.get(device)
        if lane is None:
            now = self._clock()
            budget, allowed = spend(self._budgets.get(device), self._policy, now)
            self._budgets[device] = budget
            if allowed:
                self._fifo.append(item)
                return
            lane = self._lanes[device] = deque()
            self._turns.append(device)
        if item.qos > 0:
            self._unacked += 1
        if lane and (_same(lane[-1].message, item) or len(lane) >= self._keep):
            lane[-1].replace_with(item)
        else:
            lane.append(_Waiting(item))
            self._waiting += 1

    def _get(self) -> Any:
        if self._fifo:
            return self._fifo.popleft()
        device = self._turns.popleft()
        lane = self._lanes[device]
        waiting = lane.popleft()
        self._waiting -= 1
        self._unacked -= len(waiting.replaced) + (waiting.message.qos > 0)
        if lane:
            self._turns.append(device)
        else:
            del self._lanes[device]
        self._round_left -= 1
        if not self._waiting or not self._round_left:  # the round ends
            self._round_due = self._clock() + SURPLUS_PAUSE
            self._round_left = SURPLUS_ROUND
        return Surplus(device, waiting.message, waiting.coalesced, tuple(waiting.replaced))


__all__ = ["SURPLUS_KEEP", "FairInbox", "Surplus", "device_of"]
