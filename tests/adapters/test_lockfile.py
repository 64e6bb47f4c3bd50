"""The controller's lock: one holder, named to whoever finds it taken, gone with it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from homeguard.adapters.lockfile import FileLock, lock_holder
from tests.conftest import wait_until


def test_one_holder_at_a_time_and_it_is_named(tmp_path: Path) -> None:
    path = tmp_path / "controller.lock"
    assert lock_holder(path) is None
    first = FileLock(path, "pid 1 on here")
    assert first.try_acquire() is None
    assert FileLock(path, "pid 2 on there").try_acquire() == "pid 1 on here"
    assert lock_holder(path) == "pid 1 on here"
    first.release()
    assert lock_holder(path) is None
    second = FileLock(path, "pid 2 on there")
    assert second.try_acquire() is None
    second.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "controller.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from homeguard.adapters.lockfile import FileLock; "
            f"assert FileLock({str(path)!r}, 'the crashing one').try_acquire() is None; "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert lock_holder(path) == "the crashing one"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    wait_until(lambda: lock_holder(path) is None, timeout=5, what="the lock to be free")
    assert FileLock(path, "the restarted one").try_acquire() is None
