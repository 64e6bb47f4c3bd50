"""The one place homeguard reads the wall clock; everything else is handed ``now``."""

from __future__ import annotations

import time


def wall_clock() -> float:
    """Unix seconds: the panel's timers survive restarts, so they need a shared epoch."""
    return time.time()
