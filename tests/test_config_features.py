"""The panel's comforts in the config: chime, walk_test, squawk, lights."""

from __future__ import annotations

import pytest

from homeguard.config import parse_config
from homeguard.core.features import Chirps, Features
from homeguard.errors import ConfigError

SENSORS = """
sensors:
  - {id: front, type: door}
  - {id: living, type: window}
"""


def test_the_sections_reach_the_engine() -> None:
    config = parse_config(
        SENSORS
        + """
panel:
  chime: {enabled: true, sensors: [living], chirp: 0.5}
  walk_test: {timeout: 600}
  squawk: {arm: 1, disarm: 2, chirp: 0.1, gap: 0.2}
  lights: {entry_delay: false}
""",
        "homeguard.yaml",
    )
    assert config.panel_settings().features == Features(
        chime=True,
        chime_sensors=frozenset({"living"}),
        chime_chirp=Chirps(1, 0.5),
        walk_test_timeout=600,
        squawk_arm=Chirps(1, 0.1, 0.2),
        squawk_disarm=Chirps(2, 0.1, 0.2),
        light_entry_delay=False,
        light_alarm=True,
    )


def test_by_default_no_chime_no_squawk_and_the_light_in_entry_delay_and_alarm() -> None:
    features = parse_config(SENSORS, "homeguard.yaml").panel_settings().features
    assert features == Features()
    assert not features.chime and features.chime_sensors is None
    assert not features.squawk_arm.steps() and not features.squawk_disarm.steps()
    assert features.light_entry_delay and features.light_alarm


@pytest.mark.parametrize(
    ("panel", "message"),
    [
        ("  chime: {sensors: [front, ghost]}", "line 6: panel.chime.sensors[1]: no such sensor"),
        ("  squawk: {arm: 9}", "line 6: panel.squawk.arm"),
        ("  chime: {chirp: 0}", "line 6: panel.chime.chirp"),
        ("  walk_test: {timeout: -1}", "line 6: panel.walk_test.timeout"),
        ("  lights: {hall: true}", "line 6: panel.lights.hall"),
    ],
)
def test_a_mistake_names_its_key_and_line(panel: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(SENSORS + "panel:\n" + panel + "\n", "homeguard.yaml")
    assert str(error.value).startswith(f"homeguard.yaml {message}")


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Chirps(-1),
        lambda: Chirps(1, 0),
        lambda: Chirps(1, 0.1, float("inf")),
        lambda: Features(walk_test_timeout=0),
    ],
)
def test_the_engine_refuses_impossible_settings(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]
