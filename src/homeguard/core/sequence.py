"""Gaps in a device's ``seq``: how many of its messages never arrived.

A sensor that sends ``seq`` counts its messages, one up each time. Comparing each
``seq`` with the last one accepted from the device (kept in ``Panel.message_seqs``,
so the count survives a controller restart) tells, with no clock and no I/O:

=========================================  ==========  ============================
``seq`` compared with ``last``             step        lost / new last
=========================================  ==========  ============================
nothing accepted yet (``last`` is None)    first       0 / seq
``seq == last + 1``                        next        0 / seq
``seq > last + 1``                         gap         ``seq - last - 1`` / seq
``seq == last``                            duplicate   0 / last (a QoS 1 redelivery)
``seq`` 0 or 1, or far below ``last``      restart     0 / seq (the device restarted)
``seq`` a little below ``last``            late        0 / last (redelivered, reordered)
``seq`` or ``last`` is a millisecond clock clock       0 / the larger
=========================================  ==========  ============================

"Far below" is more than :data:`REORDER_WINDOW` below: a broker redelivers at most its
in-flight window (Mosquitto: 20) out of order, so an older ``seq`` within the window is a
late copy, and a device that starts counting again from 0 or 1 (or from any number far
below) has restarted: that is a new count, not billions of lost messages.

Devices without storage that must never reuse a ``seq`` (signing, docs/security.md)
count in milliseconds of the clock: ``seq`` at or above :data:`CLOCK_SEQ` (10^12, which
no counter reaches) is such a clock, whose steps say nothing about loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

REORDER_WINDOW = 1000  # older seqs within this distance are late copies, not a restart
CLOCK_SEQ = 10**12  # seqs from here on are milliseconds of a clock, not a counter

__all__ = ["CLOCK_SEQ", "REORDER_WINDOW", "SeqCheck", "SeqStep", "check_seq"]


class SeqStep(StrEnum):
    FIRST = "first"
    NEXT = "next"
    GAP = "gap"
    DUPLICATE = "duplicate"
    LATE = "late"
    RESTART = "restart"
    CLOCK = "clock"


@dataclass(frozen=True, slots=True)
class SeqCheck:
    """What one ``seq`` says: the step, how many messages went missing before it, and
    the ``seq`` to remember as the device's last."""

    step: SeqStep
    lost: int
    last: int


def check_seq(last: int | None, seq: int) -> SeqCheck:
    """Compare ``seq`` with the device's ``last`` accepted one; see the module table."""
    if last is None:
        return SeqCheck(SeqStep.FIRST, 0, seq)
    if seq >= CLOCK_SEQ or last >= CLOCK_SEQ:
        if seq >= CLOCK_SEQ and last >= CLOCK_SEQ:
            return SeqCheck(SeqStep.CLOCK, 0, max(seq, last))
        return SeqCheck(SeqStep.RESTART, 0, seq)  # switched between clock and counter
    if seq == last + 1:
        return SeqCheck(SeqStep.NEXT, 0, seq)
    if seq > last:
        return SeqCheck(SeqStep.GAP, seq - last - 1, seq)
    if seq == last:
        return SeqCheck(SeqStep.DUPLICATE, 0, last)
    if seq <= 1 or last - seq > REORDER_WINDOW:
        return SeqCheck(SeqStep.RESTART, 0, seq)
    return SeqCheck(SeqStep.LATE, 0, last)
