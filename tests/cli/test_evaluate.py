"""``homeguard evaluate``: the measurement of anomaly detection and sensor health, as a
command of its own; the same seed gives the same numbers."""

from __future__ import annotations

import json

import pytest

from homeguard.cli import main


def _evaluate(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["evaluate", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_the_same_seed_prints_the_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--seed", "31", "--weeks", "3", "--no-forest", "--json")
    first = json.loads(_evaluate(capsys, *args))
    assert json.loads(_evaluate(capsys, *args)) == first
    assert first["seed"] == 31 and first["weeks"] == 3
    detectors = [d["detector"] for d in first["detection"]]
    assert detectors == ["surprise", "baseline 01-05h"]
    assert first["detection"][0]["intrusions"] >= 2
    assert {f["kind"] for f in first["faults"]} == {
        "battery_failure",
        "chatter",
        "silent",
        "report_delay",
    }
    other = json.loads(_evaluate(capsys, "--seed", "32", "--weeks", "3", "--no-forest", "--json"))
    assert other["detection"] != first["detection"] or other["faults"] != first["faults"]


@pytest.mark.slow
def test_the_older_spelling_gives_the_same_text(capsys: pytest.CaptureFixture[str]) -> None:
    text = _evaluate(capsys, "--seed", "31", "--weeks", "3")
    assert main(["simulate", "--household", "--evaluate", "--seed", "31", "--weeks", "3"]) == 0
    assert capsys.readouterr().out == text
    assert text.startswith("seed 31: 3 weeks, trained on the first 2")
    assert "intrusions caught" in text and "maintenance false alarms" in text


def test_too_few_weeks_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--weeks", "2"]) == 1
    assert "at least 3" in capsys.readouterr().err
