"""What a process the controller's process starts beside it (the dashboard's, the health
and anomaly scoring's) does first."""

from __future__ import annotations

import contextlib
import os
import signal

from homeguard import logs

__all__ = ["NICENESS", "settle"]

# Its niceness: on shared cores the controller and the broker go first. On two cores, a
# client fetching GET /api/health in a loop made the trips' p99 3.6-4.5 ms with the
# dashboard at the controller's priority, 1.8-1.9 ms at 10 (docs/performance.md).
NICENESS = 10


def settle(level: int) -> None:
    """Ignore SIGINT and SIGTERM (the controller's process stops this one), give way
    (:data:`NICENESS`, where the system has it) and log at ``level`` as the controller
    does."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)
    logs.configure(level)
