"""Snapshots survive a restart; PIN hashes check as they should."""

from __future__ import annotations

import os

import pytest

from homeguard.core import codes, snapshot
from homeguard.core.codes import CodeLock, check_code, hash_pin, is_pin_hash, verify_pin
from homeguard.core.model import CodePolicy, PanelState
from homeguard.core.panel import resume
from homeguard.core.signals import ActuatorKind, PublishState, SetActuator
from homeguard.errors import PayloadError
from tests.core.harness import PINS, House, settings

A = PINS["alice"]


def test_restart_during_entry_delay_keeps_the_original_deadline() -> None:
    house = House()
    house.cmd("ARM_AWAY", A)
    house.at(60)
    house.sensor("front", "OPEN")
    house.at(10)
    saved = snapshot.dump(house.panel)
    # The controller is down for 15 s, then resumes: 5 s of entry delay remain.
    later = house.now + 15
    out = resume(snapshot.load(saved, house.settings), house.settings, later)
    assert out.panel.state is PanelState.PENDING
    assert out.panel.deadline == later + 5
    assert PublishState(PanelState.PENDING) in out.effects
    assert SetActuator(ActuatorKind.SIREN, False) in out.effects


def test_restart_after_the_deadline_runs_what_was_missed() -> None:
    house = House()
    house.cmd("ARM_HOME", A)
    house.sensor("front", "OPEN")
    saved = snapshot.dump(house.panel)
    out = resume(snapshot.load(saved, house.settings), house.settings, house.now + 40)
    assert out.panel.state is PanelState.TRIGGERED
    assert out.panel.since == house.now + 30  # at the original deadline
    assert SetActuator(ActuatorKind.SIREN, True) in out.effects


def test_resume_gives_sensors_a_fresh_supervision_interval() -> None:
    house = House()
    saved = snapshot.dump(house.panel)
    out = resume(snapshot.load(saved, house.settings), house.settings, house.now + 1000)
    assert out.panel.sensor("shed").trouble is None
    assert out.panel.supervised_since == house.now + 1000


def test_snapshot_forgets_sensors_removed_from_the_config() -> None:
    house = House()
    house.sensor("living", "OPEN")
    house.cmd("ARM_AWAY", A, force=True)
    smaller = settings(sensors=tuple(s for s in house.settings.sensors if s.id != "living"))
    panel = snapshot.load(snapshot.dump(house.panel), smaller)
    assert "living" not in panel.sensors and "living" not in panel.bypassed


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"version": 99}', '{"version": 1}', '{"version": 1, "state": "x"}']
)
def test_bad_snapshot_is_a_payload_error(text: str) -> None:
    with pytest.raises(PayloadError, match="bad_snapshot"):
        snapshot.load(text, settings())


def test_pin_hash_round_trip() -> None:
    hashed = hash_pin("2468", b"0123456789abcdef", log2_n=4, r=1)
    assert is_pin_hash(hashed)
    assert "2468" not in hashed
    assert verify_pin(hashed, "2468")
    assert not verify_pin(hashed, "2469")
    assert not verify_pin(hashed, "")


def test_default_cost_is_memory_hard() -> None:
    hashed = hash_pin("2468", b"0123456789abcdef")
    assert hashed.split("$")[1:3] == ["14", "8"]
    assert verify_pin(hashed, "2468")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1234",
        "bcrypt$1$2$3$4$5",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$4$1$1$!!$AAAA",
        "scrypt$30$8$1$AAAAAAAAAAA=$" + "A" * 44,
        "scrypt$4$1$1$AAAAAAAAAAA=$AAAA",
    ],
)
def test_malformed_hashes_are_refused(text: str) -> None:
    assert not is_pin_hash(text)
    with pytest.raises(ValueError):
        verify_pin(text, "1234")


def test_hash_pin_refuses_empty_pin_and_short_salt() -> None:
    with pytest.raises(ValueError):
        hash_pin("", b"0123456789abcdef")
    with pytest.raises(ValueError):
        hash_pin("1234", b"short")


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    scrypt = codes._scrypt

    def counted(pin: str, *args: object) -> bytes:
        calls.append(pin)
        return scrypt(pin, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(codes, "_scrypt", counted)
    return calls


def test_a_code_once_checked_right_is_checked_without_scrypt(scrypt_calls: list[str]) -> None:
    # scrypt is about 30 ms on the controller's thread, in front of an alarm behind it.
    hashed = hash_pin("2468", os.urandom(16), log2_n=4, r=1)
    scrypt_calls.clear()
    assert not check_code(hashed, "1357")  # a wrong code before: not remembered
    assert not check_code(hashed, "1357")
    assert check_code(hashed, "2468")
    assert scrypt_calls == ["1357", "1357", "2468"]
    assert check_code(hashed, "2468")
    assert not check_code(hashed, "1357")
    assert not check_code(hashed, "")
    assert scrypt_calls == ["1357", "1357", "2468"]  # none more
    assert verify_pin(hashed, "2468")  # the dashboard's logins: scrypt each time
    assert scrypt_calls[-1] == "2468" and len(scrypt_calls) == 4


def test_the_keypad_checks_a_code_it_knows_without_scrypt(scrypt_calls: list[str]) -> None:
    house = House()
    house.cmd("ARM_AWAY", PINS["alice"])
    house.cmd("DISARM", PINS["alice"])
    scrypt_calls.clear()
    house.cmd("ARM_AWAY", PINS["alice"])
    assert house.cmd("DISARM", "0000").rejection is not None
    house.cmd("DISARM", PINS["alice"])
    assert house.state is PanelState.DISARMED
    # alice's code is known, and tried first; the wrong code is compared with the
    # codes known (alice's), and scrypt runs only for those not seen yet
    assert scrypt_calls.count(PINS["alice"]) == 0
    assert set(scrypt_calls) <= {"0000"}


def test_code_lock_doubles() -> None:
    policy = CodePolicy(max_failures=2, window=10, lockout=5)
    lock = CodeLock().after_failure(policy, 0).after_failure(policy, 1)
    assert lock.locked(5.9) and not lock.locked(6)
    lock = lock.after_failure(policy, 7).after_failure(policy, 8)
    assert lock.locked_until == 18
    assert lock.after_success() == CodeLock()
