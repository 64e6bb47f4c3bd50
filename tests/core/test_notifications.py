"""Routing, quiet hours and rate limits of notifications: pure, no broker, no clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from homeguard.core.notifications import (
    NotificationKind,
    QuietHours,
    RateLimit,
    Route,
    Routing,
    kinds_of,
    notify_route,
    rate_plan,
    route_duress,
    route_event,
)

K = NotificationKind
PARIS = ZoneInfo("Europe/Paris")
NIGHT = QuietHours(22 * 60, 7 * 60)  # 22:00 to 07:00, across midnight


def at(text: str, zone: ZoneInfo = PARIS) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


ROUTING = Routing(
    (
        Route(
            "family", ("phone", "mail"), frozenset({K.ALARM, K.TROUBLE, K.DISARMED}), quiet=NIGHT
        ),
        Route("company", ("monitor",), frozenset({K.ALARM}), duress=True),
        Route("night-owl", ("pager",), frozenset({K.ARMED_NIGHT, K.LOW_BATTERY})),
    ),
    PARIS,
    "home",
)


def test_an_alarm_goes_to_every_target_of_every_route_that_takes_it() -> None:
    now = at("2026-11-30T14:00:00")
    rows = route_event(
        ROUTING, "triggered", "alarm triggered by front", {"sensors": ["front"]}, now
    )
    assert [(r.route, r.target) for r in rows] == [
        ("family", "phone"),
        ("family", "mail"),
        ("company", "monitor"),
    ]
    assert all(r.urgent and not r.silent and r.kind == "alarm" and r.due == now for r in rows)
    assert rows[0].title == "home: ALARM - front"
    assert "Alarm triggered by front" in rows[0].body and "2026-11-30 14:00:00 CET" in rows[0].body


def test_event_kinds_are_told_apart_by_their_data() -> None:
    # Armed: when the user arms (the exit delay starts, or arming without one), not
    # again when the exit delay ends (no source: the panel's timer).
    assert kinds_of("arming", {"mode": "night", "source": "mqtt"}) == {K.ARMED, K.ARMED_NIGHT}
    assert kinds_of("armed", {"mode": "armed_night", "source": "web"}) == {K.ARMED, K.ARMED_NIGHT}
    assert kinds_of("armed", {"mode": "night", "source": None}) == set()
    assert kinds_of("trouble", {"sensor": "front", "trouble": "low_battery"}) == {K.LOW_BATTERY}
    assert kinds_of("trouble", {"sensor": "front", "trouble": "offline"}) == {K.TROUBLE}
    assert kinds_of("trouble", {"part": "storage"}) == {K.STORAGE}
    assert kinds_of("restored", {"part": "storage"}) == {K.STORAGE}
    assert kinds_of("records_dropped", {"part": "storage"}) == {K.STORAGE}
    assert kinds_of("maintenance", {}) == {K.MAINTENANCE}
    assert kinds_of("anomaly", {}) == {K.ANOMALY}
    assert kinds_of("messages_lost", {}) == {K.MESSAGES_LOST}
    # Never routed by their event type: duress (silent alerts only), and what is no event.
    assert kinds_of("duress", {}) == kinds_of("flood", {}) == kinds_of("clock_step", {}) == set()


def test_a_specific_armed_mode_reaches_only_the_routes_that_ask_for_it() -> None:
    now = at("2026-11-30T23:00:00")
    mode = {"mode": "armed_night", "user": "al"}  # as the panel says it
    night = route_event(ROUTING, "arming", "arming armed_night", mode, now)
    away = route_event(ROUTING, "arming", "arming away", {"mode": "away", "user": "al"}, now)
    assert [r.route for r in night] == ["night-owl"] and away == []
    assert night[0].title == "home: Armed night by al"


def test_duress_goes_only_to_duress_routes_and_silently() -> None:
    now = at("2026-11-30T14:00:00")
    rows = route_duress(ROUTING, "duress code used by bob", {"user": "bob"}, now)
    assert [(r.route, r.target) for r in rows] == [("company", "monitor")]
    assert rows[0].silent and rows[0].urgent and rows[0].kind == "duress"
    # The disarm the duress code made is an ordinary one for the other routes.
    disarm = route_event(ROUTING, "disarmed", "disarmed", {"user": "alice"}, now)
    assert {r.route for r in disarm} == {"family"}
    assert not any(r.silent for r in disarm)


def test_a_rule_notifies_exactly_its_route() -> None:
    now = at("2026-11-30T14:00:00")
    rows = notify_route(ROUTING, "night-owl", "garage left open", now)
    assert [(r.route, r.target, r.kind) for r in rows] == [("night-owl", "pager", "rule")]
    assert notify_route(ROUTING, "nobody", "x", now) == []


def test_quiet_hours_hold_a_trouble_until_morning_but_never_an_alarm() -> None:
    now = at("2026-11-30T23:30:00")
    trouble = route_event(ROUTING, "trouble", "sensor shed offline", {"sensor": "shed"}, now)
    alarm = route_event(ROUTING, "triggered", "alarm", {"sensors": ["front"]}, now)
    assert {r.due for r in trouble} == {at("2026-12-01T07:00:00")}
    assert trouble[0].title == "home: Trouble - shed"
    assert all(r.due == now for r in alarm)
    day = at("2026-11-30T12:00:00")
    assert {r.due for r in route_event(ROUTING, "trouble", "x", {}, day)} == {day}


def test_quiet_hours_follow_the_local_clock_across_a_dst_change() -> None:
    # The night of the change to summer time: 07:00 local is 05:00 UTC, not 06:00.
    quiet = QuietHours(22 * 60, 7 * 60)
    until = quiet.until(at("2026-03-28T23:00:00"), PARIS)
    assert until == datetime(2026, 3, 29, 5, 0, tzinfo=UTC).timestamp()
    assert QuietHours(1 * 60, 5 * 60).until(at("2026-03-28T23:00:00"), PARIS) is None


@given(
    start=st.integers(0, 1439),
    end=st.integers(0, 1439),
    minute=st.integers(0, 1439),
)
def test_quiet_hours_end_is_the_first_free_minute(start: int, end: int, minute: int) -> None:
    if start == end:
        return
    quiet = QuietHours(start, end)
    now = datetime(2026, 6, 1, minute // 60, minute % 60, tzinfo=UTC).timestamp()
    until = quiet.until(now, UTC)
    if until is None:
        assert not quiet.contains(minute)
        return
    assert quiet.contains(minute) and now < until <= now + 86400
    end_local = datetime.fromtimestamp(until, UTC)
    assert end_local.hour * 60 + end_local.minute == end
    assert not quiet.contains(end)


def test_rate_limit_sends_what_is_allowed_and_tells_the_rest() -> None:
    limit = RateLimit(3, 600.0)
    plan = rate_plan([1, 2, 3, 4, 5, 6], sent=[1000.0], limit=limit, now=1100.0)
    assert plan.send == (1, 2) and plan.folded == {2: (3, 4, 5, 6)} and plan.wait_until is None
    full = rate_plan([7], sent=[900.0, 1000.0, 1050.0], limit=limit, now=1100.0)
    assert full.send == () and full.wait_until == 1500.0  # when the first send leaves
    old = rate_plan([7], sent=[100.0, 200.0, 300.0], limit=limit, now=1100.0)
    assert old.send == (7,)
    assert rate_plan([1, 2], sent=[], limit=None, now=0.0).send == (1, 2)


@given(
    due=st.lists(st.integers(1, 10_000), unique=True, max_size=30).map(sorted),
    sent=st.lists(st.floats(0, 1000), max_size=10),
    count=st.integers(1, 6),
    per=st.floats(1, 500),
)
def test_rate_limit_never_exceeds_and_never_loses(
    due: list[int], sent: list[float], count: int, per: float
) -> None:
    now = 1000.0
    plan = rate_plan(due, sent, RateLimit(count, per), now)
    recent = [t for t in sent if t > now - per]
    assert len(plan.send) <= max(0, count - len(recent))  # never more than the limit
    told = [*plan.send, *(i for ids in plan.folded.values() for i in ids)]
    if plan.send:
        assert sorted(told) == due  # every row sent or told in a message that is sent
        assert set(plan.folded) <= set(plan.send)
    elif due:
        assert plan.wait_until is not None and plan.wait_until > now  # held, not lost
