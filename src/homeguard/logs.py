"""How homeguard logs: one format for the command and for the processes it starts (the
dashboard's, the scoring's), so that their lines read as one log."""

from __future__ import annotations

import logging

__all__ = ["configure"]

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"


def configure(level: int) -> None:
    """Log to standard error at ``level``, in homeguard's format."""
    logging.basicConfig(level=level, format=FORMAT, datefmt=DATE_FORMAT)
