"""What the broker says about our connection, without a broker: refusals and takeovers."""

from __future__ import annotations

from homeguard.adapters.mqtt.session import KICK_WINDOW, KICKS_TO_REPORT, TakeoverWatch, refusal


def kicked(watch: TakeoverWatch, times: int, at: float = 100.0) -> float:
    """The broker closes ``times`` connections right after accepting them."""
    for _ in range(times):
        watch.accepted(at)
        watch.closed(at + 0.1)
        at += 1.0
    return at


def test_connections_closed_right_after_acceptance_are_counted_until_one_lasts() -> None:
    watch = TakeoverWatch()
    at = kicked(watch, KICKS_TO_REPORT - 1)
    assert not watch.contested(connected=False, now=at)

    at = kicked(watch, 1, at)
    assert watch.kicks == KICKS_TO_REPORT
    assert watch.contested(connected=False, now=at)

    watch.accepted(at)
    assert watch.contested(connected=True, now=at + KICK_WINDOW - 0.1)  # not lasted yet
    assert not watch.contested(connected=True, now=at + KICK_WINDOW)
    assert watch.closed(at + KICK_WINDOW + 60) == 0  # a lasting connection ends the run


def test_a_broker_that_is_away_is_no_rival() -> None:
    watch = TakeoverWatch()
    kicked(watch, KICKS_TO_REPORT)

    watch.broker_away()

    assert not watch.contested(connected=False, now=1000.0)


def refused(code: int, reason: str, user: str | None = None) -> str | None:
    return refusal(code, reason, broker="mqtt.local:1883", client_id="homeguard", user=user)


def test_refusals_say_what_to_check_and_unavailable_is_only_retried() -> None:
    assert refused(136, "Server unavailable") is None

    bad_login = refused(134, "Bad user name or password")
    assert bad_login is not None
    assert "user anonymous" in bad_login and "check the username, password and ACL" in bad_login
    assert "(user panel)" in (refused(135, "Not authorized", user="panel") or "")
    assert refused(132, "Unsupported protocol version") == (
        "MQTT broker at mqtt.local:1883 refused the connection: Unsupported protocol version"
    )
