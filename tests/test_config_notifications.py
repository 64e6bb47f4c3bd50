"""The notifications section: what it accepts, and errors that name the YAML line."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from homeguard.config import parse_config
from homeguard.core.notifications import NotificationKind, QuietHours, RateLimit
from homeguard.errors import ConfigError

GOOD = """\
notifications:
  timezone: Europe/Paris
  targets:
    phone: {url: "ntfy://ntfy.sh/house-7f3a"}
    mail:
      url: "mailto://alarm:{secret}@smtp.example.com?to=me@example.com"
      secret_env: TEST_SMTP_SECRET
    monitor:
      url: "json://monitor.example.com/hook/{secret}"
      secret_file: monitor.token
  routes:
    family:
      targets: [phone, mail]
      events: [alarm, pending, armed_night, disarmed, low_battery]
      quiet_hours: {start: "22:30", end: "07:00"}
      rate_limit: {count: 5, per: 3600}
    company:
      targets: [monitor]
      events: [alarm]
      duress: true
"""


def problem(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "house.yaml")
    return str(caught.value)


def test_a_good_section_becomes_routes_and_urls_with_their_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "monitor.token").write_text("s3cr3t-token\n")
    monkeypatch.setenv("TEST_SMTP_SECRET", "pa55word")
    config = parse_config(GOOD, "house.yaml", base_dir=tmp_path).notifications
    routing = config.routing(ZoneInfo("Europe/Paris"))
    family = routing.route("family")
    assert family is not None and family.targets == ("phone", "mail")
    assert family.quiet == QuietHours(22 * 60 + 30, 7 * 60)
    assert family.rate == RateLimit(5, 3600.0)
    assert NotificationKind.ARMED_NIGHT in family.kinds and not family.duress
    company = routing.route("company")
    assert company is not None and company.duress
    urls = config.urls()
    assert urls["mail"] == "mailto://alarm:pa55word@smtp.example.com?to=me@example.com"
    assert urls["monitor"] == "json://monitor.example.com/hook/s3cr3t-token"
    assert "pa55word" not in repr(config) and "ntfy.sh" not in repr(config)


def test_a_missing_secret_is_named_when_the_urls_are_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_SMTP_SECRET", raising=False)
    config = parse_config(GOOD, "house.yaml", base_dir=Path("/nonexistent")).notifications
    with pytest.raises(ConfigError, match="TEST_SMTP_SECRET is not set"):
        config.targets["mail"].resolved_url("mail")
    with pytest.raises(ConfigError, match=r"cannot read /nonexistent/monitor\.token"):
        config.targets["monitor"].resolved_url("monitor")


def test_an_unknown_target_in_a_route_is_refused_on_its_line() -> None:
    text = GOOD.replace("targets: [monitor]", "targets: [monitor, pager]")
    assert problem(text) == (
        "house.yaml line 18: notifications.routes.company.targets[1]: unknown target "
        "'pager' (known: phone, mail, monitor)"
    )


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("7pm", 'start: is not a time of day "HH:MM"'),
        ("25:00", 'start: is not a time of day "HH:MM"'),
        ("07:00", "end: end equals start: quiet hours of no length"),
    ],
)
def test_bad_quiet_hours_are_refused_on_their_line(start: str, message: str) -> None:
    found = problem(GOOD.replace('start: "22:30"', f'start: "{start}"'))
    assert found.startswith("house.yaml line 15: notifications.routes.family.quiet_hours.")
    assert message in found


def test_other_mistakes_name_their_line() -> None:
    duress_event = GOOD.replace("events: [alarm]\n", "events: [alarm, duress]\n")
    assert problem(duress_event).startswith(
        "house.yaml line 19: notifications.routes.company.events[1]: 'duress' is not an "
        "event a route asks for (use duress: true)"
    )
    unknown_event = GOOD.replace("armed_night", "armed_nite")
    assert problem(unknown_event).startswith(
        "house.yaml line 14: notifications.routes.family.events[2]: Input should be"
    )
    no_placeholder = GOOD.replace("hook/{secret}", "hook/x")
    assert problem(no_placeholder).startswith(
        "house.yaml line 9: notifications.targets.monitor.url: secret_file needs {secret}"
    )
    snapshot = GOOD.replace("duress: true", "duress: true\n      snapshot: true")
    assert problem(snapshot).startswith(
        "house.yaml line 21: notifications.routes.company.snapshot: snapshot needs"
    )
    zone = GOOD.replace("Europe/Paris", "Mars/Olympus")
    assert problem(zone).startswith("house.yaml line 2: notifications.timezone: unknown time zone")
    idle = GOOD.replace("      events: [alarm]\n      duress: true\n", "")
    assert problem(idle).startswith(
        "house.yaml line 18: notifications.routes.company.events: a route needs events, or "
        "duress: true"
    )
    twice = GOOD.replace("targets: [phone, mail]", "targets: [phone, mail, phone]")
    assert problem(twice).startswith(
        "house.yaml line 13: notifications.routes.family.targets[2]: target 'phone' twice"
    )
    typo = GOOD.replace("quiet_hours:", "quiet_hour:")
    assert "did you mean 'quiet_hours'?" in problem(typo)


def test_the_controllers_login_may_read_the_snapshot_topic() -> None:
    from homeguard.services.accounts import CONTROLLER, site_accounts

    text = GOOD + "  snapshot: {topic: frigate/front/person/snapshot}\n"
    config = parse_config(text, "house.yaml")
    (controller,) = [a for a in site_accounts(config) if a.name == CONTROLLER]
    assert "frigate/front/person/snapshot" in controller.subscribe
    plain = parse_config(GOOD, "house.yaml")
    (before,) = [a for a in site_accounts(plain) if a.name == CONTROLLER]
    assert not [t for t in before.subscribe if t.startswith("frigate")]


def test_the_documented_examples_are_valid() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "notifications.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    assert len(blocks) >= 3
    full = parse_config(blocks[0], "notifications.md").notifications
    assert set(full.routes) == {
        "family",
        "maintenance",
        "night-shift",
        "security-company",
        "sister",
    }
    assert full.routes["sister"].duress and not full.routes["sister"].events
    route = (
        '  targets: {t: {url: "json://x/y"}}\n'
        "  routes: {r: {targets: [t], snapshot: true, events: [alarm]}}\n"
    )
    for block in blocks[1:]:  # the snapshot sources
        assert parse_config(block + route, "notifications.md").notifications.snapshot
