"""The ``uplink`` section: off unless configured, its defaults, its errors by line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from homeguard.config import parse_config
from homeguard.core.records import SensorRecord, SystemRecord
from homeguard.core.uplink import Forwarded, alarm_body, batch_body, event_body
from homeguard.errors import ConfigError
from homeguard.services.uplinking import settings_of, upstream_address

UPLINK = """\
uplink:
  host: mqtt.example.net
  site_id: house-1
"""


def test_off_unless_configured() -> None:
    assert parse_config("{}\n").uplink is None


def test_defaults_follow_the_site_id() -> None:
    uplink = parse_config(UPLINK).uplink
    assert uplink is not None
    assert (uplink.port, uplink.batch_size, uplink.batch_interval) == (8883, 100, 5.0)
    assert uplink.events_topic == "homeguard/house-1/events"
    assert uplink.alarms_topic == "homeguard/house-1/alarms"
    assert uplink.mqtt_client_id == "homeguard-uplink-house-1"
    settings = settings_of(uplink)
    assert settings.alarm_events == frozenset({"triggered"})
    assert not settings.duress


def test_tls_and_a_password_file_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret\nignored\n")
    text = UPLINK + (
        "  tls: {ca_file: ca.crt, cert_file: c.crt, key_file: c.key}\n"
        "  username: house-1\n  password_file: secret\n"
    )
    uplink = parse_config(text, base_dir=tmp_path).uplink
    assert uplink is not None
    address = upstream_address(uplink)
    assert (address.username, address.password) == ("house-1", "s3cret")
    assert address.tls is not None
    assert address.tls.ca_file == tmp_path / "ca.crt"


def test_a_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    uplink = parse_config(UPLINK + "  password_env: UPLINK_TEST_PASSWORD\n").uplink
    assert uplink is not None
    monkeypatch.delenv("UPLINK_TEST_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="UPLINK_TEST_PASSWORD is not set"):
        upstream_address(uplink)
    monkeypatch.setenv("UPLINK_TEST_PASSWORD", "from env")
    assert upstream_address(uplink).password == "from env"


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("  password: a\n  password_env: B\n", r"line 5: uplink\.password_env: give one"),
        ("  alarm_events: [triggered, duress]\n", r"line 4: uplink\.alarm_events.*forward_duress"),
        ("  batch_size: 0\n", r"line 4: uplink\.batch_size"),
        ("  site_id2: x\n", r"line 4: uplink\.site_id2"),
        ("  topic: a/#\n", r"line 4: uplink\.topic"),
    ],
)
def test_errors_name_the_line(extra: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        parse_config(UPLINK + extra, "site.yaml")


def test_site_id_is_required() -> None:
    with pytest.raises(ConfigError, match=r"uplink\.site_id"):
        parse_config("uplink: {host: a}\n", "site.yaml")


def _blocks(language: str) -> list[str]:
    text = (Path(__file__).parent.parent / "docs" / "uplink.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_the_documented_config_is_valid(tmp_path: Path) -> None:
    (config_text,) = _blocks("yaml")
    uplink = parse_config(config_text, "uplink.md", base_dir=tmp_path).uplink
    assert uplink is not None
    assert uplink.tls is not None and uplink.tls.cert_file is not None
    assert uplink.password_env == "HOMEGUARD_UPLINK_PASSWORD"


def test_the_documented_messages_have_the_fields_homeguard_sends() -> None:
    batch_doc, alarm_doc = (json.loads(block) for block in _blocks("json"))
    sensor = Forwarded(4101, SensorRecord(1.0, "door", "front", "OPEN", {}, None, 1))
    system = Forwarded(4102, SystemRecord(2.0, "triggered", "alarm", {}, 2))
    batch = batch_body("house-1", 42, [sensor, system], 3.0)
    assert set(batch_doc) == set(batch)
    assert set(batch_doc["events"][0]) == set(event_body(sensor))
    assert set(batch_doc["events"][1]) == set(event_body(system))
    assert batch_doc["count"] == batch_doc["last_seq"] - batch_doc["first_seq"] + 1
    assert [e["seq"] for e in batch_doc["events"]] == list(range(4101, 4104))
    alarm = alarm_body("house-1", system, 3.0)
    assert set(alarm_doc) == set(alarm)
    assert alarm_doc["event"] in batch_doc["events"]  # the same event, in the stream too
