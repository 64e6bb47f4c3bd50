"""What the controller queues for the notifier: for each effect it carries out, the
outbox rows (:class:`~homeguard.core.records.NotificationRecord`) that go into the same
turn, so the store commits them with the event that caused them.

The decisions are the core's (:mod:`homeguard.core.notifications`): a recorded event goes
to the routes that take its kind, a duress alert (a :class:`SilentAlert`) only to the
routes marked ``duress``, a rule's :class:`Notify` with a ``route`` to that route alone.
A :class:`Notify` without a route adds nothing: the event recorded with it is what the
routes follow.
"""

from __future__ import annotations

from homeguard.core.notifications import Routing, notify_route, route_duress, route_event
from homeguard.core.records import NotificationRecord
from homeguard.core.signals import EventKind, Notify, RecordEvent, SilentAlert

__all__ = ["NotificationQueue"]


class NotificationQueue:
    """The routes of a site, applied to the controller's effects."""

    def __init__(self, routing: Routing | None = None) -> None:
        self._routing = routing or Routing()

    def rows(
        self, effect: RecordEvent | SilentAlert | Notify, now: float
    ) -> list[NotificationRecord]:
        routing = self._routing
        if not routing.routes:
            return []
        match effect:
            case RecordEvent(kind=kind, description=description, data=data):
                return route_event(routing, kind.value, description, data, now)
            case SilentAlert(kind=EventKind.DURESS, description=description, data=data):
                return route_duress(routing, description, data, now)
            case Notify(route=str(route), message=message):
                return notify_route(routing, route, message, now)
        return []
