"""Gaps in a device's seq: lost messages counted, redeliveries and restarts not."""

from __future__ import annotations

import pytest

from homeguard.core import snapshot
from homeguard.core.panel import handle
from homeguard.core.sequence import CLOCK_SEQ, REORDER_WINDOW, SeqCheck, SeqStep, check_seq
from homeguard.core.signals import EventKind, Notify, RecordEvent, SensorReport
from tests.core.harness import House


@pytest.mark.parametrize(
    ("last", "seq", "expected"),
    [
        (None, 5000, SeqCheck(SeqStep.FIRST, 0, 5000)),
        (None, 0, SeqCheck(SeqStep.FIRST, 0, 0)),
        (7, 8, SeqCheck(SeqStep.NEXT, 0, 8)),
        (7, 10, SeqCheck(SeqStep.GAP, 2, 10)),
        (1019, 20000, SeqCheck(SeqStep.GAP, 18980, 20000)),
        (8, 8, SeqCheck(SeqStep.DUPLICATE, 0, 8)),
        (520, 501, SeqCheck(SeqStep.LATE, 0, 520)),
        (5000, 5000 - REORDER_WINDOW, SeqCheck(SeqStep.LATE, 0, 5000)),
        (5000, 4999 - REORDER_WINDOW, SeqCheck(SeqStep.RESTART, 0, 4999 - REORDER_WINDOW)),
        (5000, 1, SeqCheck(SeqStep.RESTART, 0, 1)),
        (5000, 0, SeqCheck(SeqStep.RESTART, 0, 0)),
        (3, 1, SeqCheck(SeqStep.RESTART, 0, 1)),
        (4_000_000_000, 17, SeqCheck(SeqStep.RESTART, 0, 17)),
        (CLOCK_SEQ + 5, CLOCK_SEQ + 30_000, SeqCheck(SeqStep.CLOCK, 0, CLOCK_SEQ + 30_000)),
        (CLOCK_SEQ + 5, CLOCK_SEQ + 2, SeqCheck(SeqStep.CLOCK, 0, CLOCK_SEQ + 5)),
        (12, CLOCK_SEQ + 5, SeqCheck(SeqStep.RESTART, 0, CLOCK_SEQ + 5)),
        (CLOCK_SEQ + 5, 1, SeqCheck(SeqStep.RESTART, 0, 1)),
    ],
)
def test_each_step_of_a_seq(last: int | None, seq: int, expected: SeqCheck) -> None:
    assert check_seq(last, seq) == expected


def _report(house: House, seq: int, state: str | None = None) -> None:
    from homeguard.core.model import SensorState

    house.send(SensorReport("front", SensorState(state) if state else None, seq))


def test_a_gap_is_one_messages_lost_event_with_the_count_and_a_notification() -> None:
    house = House()
    for seq in (1, 2, 3, 10, 11):
        _report(house, seq)
    lost = house.events(EventKind.MESSAGES_LOST)
    assert len(lost) == 1
    assert lost[0].data == {"sensor": "front", "lost": 6, "last_seq": 3, "seq": 10}
    assert any(isinstance(e, Notify) and e.kind is EventKind.MESSAGES_LOST for e in house.effects)
    assert house.panel.message_seqs["front"] == 11


def test_redeliveries_reordering_and_restarts_lose_nothing() -> None:
    house = House()
    for seq in (1, 2, 3, 3, 2, 4, 5, 1, 2, 3, 2, 4):  # dup, late, restart from 1, late
        _report(house, seq)
    assert house.events(EventKind.MESSAGES_LOST) == []
    assert house.panel.message_seqs["front"] == 4


def test_the_first_message_after_a_restart_counts_from_the_stored_seq() -> None:
    house = House()
    _report(house, 41)
    restored = snapshot.load(snapshot.dump(house.panel), house.settings)
    outcome = handle(restored, house.settings, SensorReport("front", None, 50), house.now)
    lost = [e for e in outcome.effects if isinstance(e, RecordEvent)]
    assert [(e.kind, e.data["lost"]) for e in lost] == [(EventKind.MESSAGES_LOST, 8)]


def test_an_unknown_sensor_keeps_no_seq() -> None:
    house = House()
    house.send(SensorReport("nobody", None, 5))
    assert "nobody" not in house.panel.message_seqs
