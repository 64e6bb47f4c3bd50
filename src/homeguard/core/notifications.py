"""Notifications, decided: which recorded event goes to which route, with what words,
when (quiet hours), and how many a route may send (rate limits).

Pure: the event, the routes and ``now`` in; :class:`~homeguard.core.records.NotificationRecord`
rows out, one per route target, for the outbox the store keeps in the same commit as the
event. The worker that delivers them (``services/notifier.py``) asks :func:`rate_plan`
what a rate limit allows. Alarms and duress are *urgent*: neither quiet hours nor rate
limits ever hold them back. Duress goes only to the routes marked ``duress`` and is
``silent`` there (never listed on the dashboard, its API or ``homeguard status``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from homeguard.core.records import NotificationRecord

__all__ = [
    "NotificationKind",
    "QuietHours",
    "RateLimit",
    "RatePlan",
    "Route",
    "Routing",
    "kinds_of",
    "notify_route",
    "rate_plan",
    "route_duress",
    "route_event",
    "summary",
    "test_message",
]


class NotificationKind(StrEnum):
    """What a route can ask for (``events:`` in the config)."""

    ALARM = "alarm"  # the siren sounds (triggered)
    PENDING = "pending"  # the entry delay started
    ARMED = "armed"  # armed in any mode, with who: told when the exit delay starts
    ARMED_AWAY = "armed_away"
    ARMED_HOME = "armed_home"
    ARMED_NIGHT = "armed_night"
    ARMED_VACATION = "armed_vacation"
    DISARMED = "disarmed"  # with who
    TROUBLE = "trouble"  # a sensor offline, silent, revoked, unheard since the start
    RESTORED = "restored"  # a trouble is over
    LOW_BATTERY = "low_battery"
    LOCKED_OUT = "locked_out"  # too many wrong codes
    MESSAGES_LOST = "messages_lost"
    STORAGE = "storage"  # the event store cannot write, works again, dropped records
    ANOMALY = "anomaly"
    MAINTENANCE = "maintenance"
    DURESS = "duress"  # only to routes marked duress: never asked for in ``events``
    RULE = "rule"  # a rule's notify action, to the route it names
    TEST = "test"  # homeguard notify-test


URGENT = frozenset({NotificationKind.ALARM, NotificationKind.DURESS})

_HEADLINES: Mapping[NotificationKind, str] = {
    NotificationKind.ALARM: "ALARM",
    NotificationKind.PENDING: "Entry delay",
    NotificationKind.ARMED: "Armed",
    NotificationKind.DISARMED: "Disarmed",
    NotificationKind.TROUBLE: "Trouble",
    NotificationKind.RESTORED: "Restored",
    NotificationKind.LOW_BATTERY: "Low battery",
    NotificationKind.LOCKED_OUT: "Code entry locked",
    NotificationKind.MESSAGES_LOST: "Messages lost",
    NotificationKind.STORAGE: "Storage",
    NotificationKind.ANOMALY: "Unusual activity",
    NotificationKind.MAINTENANCE: "Maintenance",
    NotificationKind.DURESS: "DURESS",
    NotificationKind.RULE: "Notice",
    NotificationKind.TEST: "Test",
}


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From ``start`` to ``end`` (minutes after local midnight; across midnight when
    ``end`` <= ``start``), non-urgent notifications wait for the end."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def until(self, now: float, zone: tzinfo) -> float | None:
        """The end of the quiet hours ``now`` falls in (Unix seconds), None outside."""
        local = datetime.fromtimestamp(now, zone)
        minute = local.hour * 60 + local.minute
        if not self.contains(minute):
            return None
        day = local.date() if minute < self.end else local.date() + timedelta(days=1)
        wall = datetime(day.year, day.month, day.day, self.end // 60, self.end % 60)
        # Wall time in the zone; a wall time a DST jump skips resolves to just after it.
        end = wall.replace(tzinfo=zone).astimezone(UTC).timestamp()
        return max(end, now)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` non-urgent messages per ``per`` seconds to each target."""

    count: int
    per: float


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    targets: tuple[str, ...]
    kinds: frozenset[NotificationKind]
    duress: bool = False
    quiet: QuietHours | None = None
    rate: RateLimit | None = None
    snapshot: bool = False  # attach a camera snapshot to alarm notifications


@dataclass(frozen=True, slots=True)
class Routing:
    routes: tuple[Route, ...] = ()
    zone: tzinfo = UTC
    title: str = "homeguard"

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)


def kinds_of(event_type: str, data: Mapping[str, Any]) -> frozenset[NotificationKind]:
    """What a recorded system event is, for routing (nothing: no route takes it)."""
    K = NotificationKind
    part, trouble = data.get("part"), data.get("trouble")
    match event_type:
        case "triggered":
            return frozenset({K.ALARM})
        case "armed" if data.get("source") is None:
            return frozenset()  # the exit delay's end: told when it started (arming)
        case "arming" | "armed":
            mode = "armed_" + str(data.get("mode")).removeprefix("armed_")
            specific = {K(mode)} if mode in _ROUTED_BY_TYPE else set()
            return frozenset({K.ARMED, *specific})
        case "trouble" | "restored" if part == "storage":
            return frozenset({K.STORAGE})
        case "trouble" if trouble == "low_battery":
            return frozenset({K.LOW_BATTERY})
        case "records_dropped":
            return frozenset({K.STORAGE})
        case _ if event_type in _ROUTED_BY_TYPE:
            return frozenset({K(event_type)})
    return frozenset()


# Kinds an event of the same name is: not duress (only ever a silent alert), nor what no
# recorded event is (a rule's action, a test, "alarm", which is the triggered event).
_ROUTED_BY_TYPE = frozenset(k.value for k in NotificationKind) - {"duress", "rule", "test", "alarm"}


def route_event(
    routing: Routing, event_type: str, description: str, data: Mapping[str, Any], now: float
) -> list[NotificationRecord]:
    """The rows to queue for a recorded (visible) system event."""
    kinds = kinds_of(event_type, data)
    if not kinds:
        return []
    # The kind the rows say: the general one of an armed mode (armed), else the only one.
    kind = NotificationKind.ARMED if NotificationKind.ARMED in kinds else next(iter(kinds))
    body = _body(description, data, now, routing.zone)
    rows = []
    for route in routing.routes:
        if route.kinds & kinds:
            rows += _rows(routing, route, kind, _title(routing, kind, data), body, now=now)
    return rows


def route_duress(
    routing: Routing, description: str, data: Mapping[str, Any], now: float
) -> list[NotificationRecord]:
    """A duress code: to the routes marked ``duress`` only, silently."""
    kind = NotificationKind.DURESS
    body = _body(description, data, now, routing.zone)
    rows = []
    for route in routing.routes:
        if route.duress:
            rows += _rows(routing, route, kind, _title(routing, kind, data), body, now=now)
    return rows


def notify_route(
    routing: Routing, route_name: str, message: str, now: float
) -> list[NotificationRecord]:
    """A rule's notify action: to exactly that route (unknown: nothing)."""
    route = routing.route(route_name)
    if route is None:
        return []
    body = _body(message, {}, now, routing.zone)
    title = f"{routing.title}: {message}"
    return _rows(routing, route, NotificationKind.RULE, title, body, now=now)


def test_message(routing: Routing, now: float) -> tuple[str, str]:
    """The title and body ``homeguard notify-test`` sends."""
    text = "a test notification: if you read this, the route works"
    return f"{routing.title}: test", _body(text, {}, now, routing.zone)


def _rows(
    routing: Routing, route: Route, kind: NotificationKind, title: str, body: str, *, now: float
) -> list[NotificationRecord]:
    urgent = kind in URGENT
    due = now
    if not urgent and route.quiet is not None:
        due = route.quiet.until(now, routing.zone) or now
    return [
        NotificationRecord(
            ts=now,
            route=route.name,
            target=target,
            kind=kind.value,
            title=title,
            body=body,
            due=due,
            urgent=urgent,
            silent=kind is NotificationKind.DURESS,
            snapshot=route.snapshot and kind is NotificationKind.ALARM,
        )
        for target in route.targets
    ]


def _title(routing: Routing, kind: NotificationKind, data: Mapping[str, Any]) -> str:
    headline = _HEADLINES[kind]
    if kind is NotificationKind.ALARM and data.get("sensors"):
        headline += " - " + ", ".join(str(s) for s in data["sensors"])
    if kind is NotificationKind.ARMED and data.get("mode"):
        headline += " " + str(data["mode"]).removeprefix("armed_")
    if kind in (NotificationKind.ARMED, NotificationKind.DISARMED) and data.get("user"):
        headline += f" by {data['user']}"
    elif kind is not NotificationKind.DURESS and data.get("sensor"):
        headline += f" - {data['sensor']}"  # entry delay, trouble, low battery...
    return f"{routing.title}: {headline}"


def _body(description: str, data: Mapping[str, Any], now: float, zone: tzinfo) -> str:
    local = datetime.fromtimestamp(now, zone)
    when = local.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    details = [f"{key}: {value}" for key, value in data.items() if key in _DETAILS]
    return "\n".join([f"{description[:1].upper()}{description[1:]}", f"at {when}", *details])


_DETAILS = ("user", "source", "mode", "exit_delay", "sensors", "sensor", "trouble", "detail")


# ------------------------------------------------------------------- rate limits


@dataclass(frozen=True, slots=True)
class RatePlan:
    """What a target may send now: ``send`` (row ids, in order), each with the ids it
    summarises (``folded``: suppressed, their count told as "and N more"), and
    ``wait_until`` for the rows it must hold back (None: nothing held)."""

    send: tuple[int, ...]
    folded: Mapping[int, tuple[int, ...]]
    wait_until: float | None


def rate_plan(
    due: Sequence[int], sent: Sequence[float], limit: RateLimit | None, now: float
) -> RatePlan:
    """For non-urgent rows ``due`` (ids, oldest first) of one target, which already sent
    at the times ``sent``: the first rows the limit allows go out as they are, the last
    one allowed carries the rest as "and N more"; with nothing allowed the rows wait for
    the oldest send to leave the window. Nothing is dropped without being told."""
    if limit is None or not due:
        return RatePlan(tuple(due), {}, None)
    recent = sorted(t for t in sent if t > now - limit.per)
    allowed = limit.count - len(recent)
    if allowed <= 0:
        return RatePlan((), {}, recent[-limit.count] + limit.per if recent else now)
    if allowed >= len(due):
        return RatePlan(tuple(due), {}, None)
    send = tuple(due[:allowed])
    return RatePlan(send, {send[-1]: tuple(due[allowed:])}, None)


def summary(folded: Sequence[str]) -> str:
    """The line that tells a message's readers what the rate limit folded into it."""
    return f"\n\n... and {len(folded)} more: " + "; ".join(folded)
