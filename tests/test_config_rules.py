"""The ``rules`` section: what loads, what the engine gets, and every refusal's line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homeguard.config import Config, parse_config
from homeguard.config.base import Misplaced
from homeguard.config.notifications import NotificationsConfig
from homeguard.config.rule_checks import check_rules
from homeguard.config.rules import RulesConfig
from homeguard.core.model import ArmMode, PanelState
from homeguard.core.rulebook import (
    ArmPanel,
    HoldActuatorFor,
    PublishMessage,
    RaiseAlarm,
    ScheduleTrigger,
    SequenceTrigger,
    StateMatch,
    TimeWindow,
)
from homeguard.core.signals import ActuatorKind
from homeguard.errors import ConfigError

HOUSE = """\
mqtt: {host: 127.0.0.1, base_topic: home}
sensors:
  - {id: front, type: door}
  - {id: living, type: window}
  - {id: hall, type: motion}
  - {id: garage, type: door, family: zigbee2mqtt}
actuators:
  - {id: siren, type: siren}
  - {id: light, type: light}
"""

RULES = """\
rules:
  timezone: Europe/Berlin
  list:
    - name: intruder_inside
      trigger:
        sequence:
          - type: motion
          - sensor: front
            state: open
        within: 30
        ordered: true
      conditions:
        panel: [armed_away, pending]
      actions:
        - alarm: true
    - name: night_arming
      trigger: {at: "22:30", days: weekdays}
      actions:
        - {arm: armed_night, force: true}
    - name: hall_light
      trigger: {sensor: hall, state: motion}
      conditions:
        time: {start: "22:00", end: "06:00"}
      actions:
        - hold: {actuator: light, state: on, seconds: 120}
        - publish: {topic: home/rules/hall_light, payload: "on", retain: true}
"""


def load(rules: str) -> object:
    return parse_config(HOUSE + rules, "house.yaml")


def refusal(rules: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(rules)
    return str(caught.value)


def test_rules_become_the_engine_s_rule_book() -> None:
    config = parse_config(HOUSE + RULES, "house.yaml")
    book = config.panel_settings().rules
    assert book.timezone == "Europe/Berlin"
    guide, arming, light = book.rules
    assert isinstance(guide.trigger, SequenceTrigger) and guide.trigger.ordered
    assert guide.trigger.within == 30 and guide.trigger.steps[1].state is StateMatch.OPEN
    assert guide.conditions.panel == {PanelState.ARMED_AWAY, PanelState.PENDING}
    assert guide.actions == (RaiseAlarm(),)
    assert arming.trigger == ScheduleTrigger(22 * 3600 + 1800, frozenset(range(5)))
    assert arming.actions == (ArmPanel(ArmMode.NIGHT, force=True),)
    assert light.conditions.window == TimeWindow(22 * 3600, 6 * 3600)
    assert light.actions == (
        HoldActuatorFor(ActuatorKind.LIGHT, True, 120),
        PublishMessage("home/rules/hall_light", "on", 1, True),
    )


@pytest.mark.parametrize(
    ("change", "line", "says"),
    [
        (("sensor: front", "sensor: frnt"), 8, "no sensor 'frnt' is configured"),
        (('at: "22:30"', 'at: "25:30"'), 17, "is not a time of day"),
        (('at: "22:30"', "at: 22:30"), 17, "in quotes"),
        (("- alarm: true", "- alarm_now: true"), 15, "unknown key"),
        (("state: motion}", "state: open}"), 21, "is ever open"),
        (("topic: home/rules/hall_light", "topic: home/alarm/set"), 26, "may not command"),
        (("topic: home/rules/hall_light", "topic: zigbee2mqtt/garage"), 26, "may not command"),
        (("  timezone: Europe/Berlin\n", ""), 15, "needs rules.timezone"),
        (("days: weekdays", "days: [mon, someday]"), 17, "not a day"),
        (("within: 30", "within: -1"), 10, "greater than 0"),
    ],
)
def test_a_bad_rule_names_its_line(change: tuple[str, str], line: int, says: str) -> None:
    rules = RULES.replace(*change)
    assert rules != RULES
    message = refusal(rules)
    offset = HOUSE.count("\n")
    assert f"house.yaml line {line + offset}:" in message and says in message, message


def test_a_rule_needs_exactly_one_trigger_and_one_action_per_item() -> None:
    both = RULES.replace(
        "trigger: {sensor: hall, state: motion}", "trigger: {sensor: hall, panel: [disarmed]}"
    )
    assert "exactly one trigger" in refusal(both)
    two = RULES.replace("- alarm: true", "- {alarm: true, disarm: true}")
    assert "exactly one action" in refusal(two)


def test_check_config_lists_the_rules_and_names_the_line_of_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "homeguard.yaml"
    path.write_text(HOUSE + RULES)
    command = [sys.executable, "-m", "homeguard", "check-config", "--config", str(path)]
    good = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert good.returncode == 0, good.stderr
    assert "3 rules (times in Europe/Berlin):" in good.stdout
    assert "intruder_inside  when motion active then front open within 30 s" in good.stdout
    assert "night_arming     when at 22:30 weekdays: arm armed_night" in good.stdout
    path.write_text(HOUSE + RULES.replace("sensor: front", "sensor: frnt"))
    bad = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert (
        f"line {HOUSE.count(chr(10)) + 8}: rules.list[0].trigger.sequence[1].sensor" in bad.stderr
    )


def test_every_example_in_the_rules_guide_loads() -> None:
    guide = Path(__file__).parent.parent / "docs" / "rules.md"
    blocks = re.findall(r"```yaml\n(.*?)```", guide.read_text(), re.DOTALL)
    assert len(blocks) == 5
    # The guide's `notify` names the route `family`, which must then exist wherever the
    # config has notification routes.
    routes = ""
    if "notifications" in Config.model_fields:
        routes = (
            "notifications:\n  targets: {phone: {url: 'json://127.0.0.1:9/'}}\n"
            "  routes: {family: {targets: [phone], events: [alarm]}}\n"
        )
    for block in blocks:
        config = parse_config(HOUSE + routes + block, "rules.md")
        assert config.panel_settings().rules.rules


def test_the_controller_s_broker_login_may_publish_on_the_rules_topics() -> None:
    from homeguard.services.accounts import CONTROLLER, site_accounts

    config = parse_config(HOUSE + RULES, "house.yaml")
    controller = next(a for a in site_accounts(config) if a.name == CONTROLLER)
    assert "home/rules/hall_light" in controller.publish
    plain = next(a for a in site_accounts(parse_config(HOUSE)) if a.name == CONTROLLER)
    assert "home/rules/hall_light" not in plain.publish


def test_a_notify_action_names_an_existing_notification_route() -> None:
    """Checked against the config's notification routes; with none, every route is
    unknown."""
    house = parse_config(HOUSE)
    where = {
        "sensors": house.sensors,
        "actuators": house.actuators,
        "base_topic": "home",
        "discovery_prefix": None,
    }

    def rules(route: str) -> RulesConfig:
        text = RULES.replace("- alarm: true", f"- notify: {{route: {route}, message: hi}}")
        return RulesConfig.model_validate(yaml.safe_load(text)["rules"])

    routes = NotificationsConfig.model_validate(
        {
            "targets": {"phone": {"url": "json://localhost/hook"}},
            "routes": {"family": {"targets": ["phone"], "events": ["alarm"]}},
        }
    )
    check_rules(rules("family"), **where, notifications=routes)
    with pytest.raises(Misplaced, match="no notification route 'famly'"):
        check_rules(rules("famly"), **where, notifications=routes)
    with pytest.raises(Misplaced, match="no notification route 'family'"):
        check_rules(rules("family"), **where, notifications=NotificationsConfig())


def test_a_config_without_rules_does_not_index_every_sensors_topics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The index (every sensor's topics) is only for checking what rules publish: with
    # 100,000 sensors and no rule it cost half a second of every start.
    from homeguard.config import rule_checks

    def index(*args: object) -> None:
        raise AssertionError("the sensors' topics were indexed")

    monkeypatch.setattr(rule_checks, "_panel_topics", index)
    config = parse_config("sensors:\n  - {id: front, type: door}\n")
    assert [s.id for s in config.sensors] == ["front"]
