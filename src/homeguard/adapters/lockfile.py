"""An exclusive lock on a file, held by a process for as long as it runs.

`flock` locks belong to the open file: the kernel drops them when the process ends, how
ever it ends (kill -9 included), so a crash never leaves a stale lock behind. The file
keeps a line of text from its holder (who it is) for whoever finds it locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["FileLock", "lock_holder"]


class FileLock:
    """A lock on ``path`` that says ``holder`` to whoever finds it taken."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = Path(path)
        self.holder = holder
        self._fd: int | None = None

    def try_acquire(self) -> str | None:
        """Take the lock: None when taken, else what its current holder wrote."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
            os.close(fd)
            return holder or "another process"
        os.ftruncate(fd, 0)
        os.pwrite(fd, self.holder.encode() + b"\n", 0)
        self._fd = fd
        return None

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def lock_holder(path: Path) -> str | None:
    """What the holder of the lock at ``path`` wrote, or None when nobody holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
