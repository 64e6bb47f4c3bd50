"""Threads that follow the committed events off the controller's path: the notifier and
the uplink (DESIGN.md, "After the commit"). Each is woken after every commit through
:meth:`~homeguard.services.controller.Controller.after_commit` and keeps its own durable
outbox, so a thread left behind at a stop loses nothing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Follower", "following_commits"]


class Follower(Protocol):
    def run(self, stop: threading.Event) -> None: ...
    def wake(self) -> None: ...


@contextmanager
def following_commits(
    follower: Follower,
    name: str,
    after_commit: Callable[[Callable[[], None]], None],
    *,
    stop_wait: float,
    log: logging.Logger,
    left_behind: str,
) -> Iterator[None]:
    """Run ``follower`` on a daemon thread ``name``, woken after every commit, until exit.
    Then stop it, waiting at most ``stop_wait`` seconds: the process must stop within
    seconds, so a thread still busy (sending, connecting) is left behind, with
    ``left_behind`` logged; what it was doing stays in its outbox."""
    after_commit(follower.wake)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        follower.wake()
        thread.join(timeout=stop_wait)
        if thread.is_alive():
            log.warning("%s", left_behind)
