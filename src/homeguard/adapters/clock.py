"""The one place homeguard reads the wall clock; everything else is handed ``now``.

The panel's timers are wall-clock times (they survive restarts, so they need a shared
epoch), which makes them hostage to the clock being set: NTP stepping the clock of a
Raspberry Pi that booted without a real-time clock, or a ``date -s``. A
:class:`SteppingClock` notices such a step by holding the wall clock against a clock
that is never set, and reports it so that the panel can move its timers along with it
(:func:`homeguard.core.panel.shift_times`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STEP_THRESHOLD = 2.0  # seconds the wall clock may differ from the elapsed time unnoticed


def wall_clock() -> float:
    """Unix seconds: the panel's timers survive restarts, so they need a shared epoch."""
    return time.time()


def elapsed_clock() -> float:
    """Seconds that only ever run forward at the pace of time: never set. Suspend counts
    (CLOCK_BOOTTIME where there is one), so a suspended machine is no clock step."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()  # pragma: no cover - Linux has CLOCK_BOOTTIME


class SteppingClock:
    """The wall clock, followed (records keep the corrected time after NTP fixes a
    wrong boot time), and the steps it made: a reading that differs from the previous
    one plus the elapsed time by more than ``threshold`` seconds is a step of the
    difference. Thread-safe; steps add up until :meth:`take_step` collects them."""

    def __init__(
        self,
        wall: Callable[[], float] = wall_clock,
        elapsed: Callable[[], float] = elapsed_clock,
        threshold: float = STEP_THRESHOLD,
    ) -> None:
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        self._wall = wall
        self._elapsed = elapsed
        self._threshold = threshold
        self._lock = threading.Lock()
        self._last: tuple[float, float] | None = None  # (wall, elapsed) of the last reading
        self._step = 0.0

    def __call__(self) -> float:
        with self._lock:
            wall, elapsed = self._wall(), self._elapsed()
            if self._last is not None:
                last_wall, last_elapsed = self._last
                difference = wall - (last_wall + (elapsed - last_elapsed))
                if abs(difference) > self._threshold:
                    self._step += difference
            self._last = (wall, elapsed)
            return wall

    def take_step(self) -> float:
        """Seconds the wall clock was stepped (forward > 0) since the last call; 0.0: none."""
        with self._lock:
            step, self._step = self._step, 0.0
            return step


def local_zone(name: str | None = None) -> tzinfo:
    """The time zone ``name`` (IANA), or the machine's: ``$TZ``, then /etc/localtime's
    link into the zone database, else the current UTC offset (which misses DST)."""
    candidates = [name] if name else [os.environ.get("TZ", "").lstrip(":")]
    if not name:
        with suppress(OSError):
            link = os.readlink("/etc/localtime")
            candidates.append(link.split("zoneinfo/", 1)[-1] if "zoneinfo/" in link else "")
    for candidate in candidates:
        if candidate:
            with suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(candidate)
    if name:
        raise ValueError(f"unknown time zone {name!r}")
    return datetime.now().astimezone().tzinfo or UTC
