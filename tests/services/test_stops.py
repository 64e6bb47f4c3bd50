"""`homeguard up` stops cleanly at any moment: every process gone within 5 s of a signal,
the event store consistent and its last panel state committed."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from homeguard.adapters.broker import find_mosquitto
from homeguard.adapters.store import EventStore
from homeguard.config import load_config
from homeguard.core import snapshot
from homeguard.core.model import PanelState
from tests.conftest import free_port, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]

STOP_LIMIT = 5.0
HOUSE = """
mqtt: {{port: {port}}}
storage: {{path: events.db, synchronous: normal}}
web: {{port: {web}}}
panel:
  modes:
    armed_away: {{exit_delay: 30}}
sensors:
  - {{id: front, type: door}}
  - {{id: living, type: window}}
  - {{id: hall, type: motion}}
actuators:
  - {{id: siren, type: siren}}
  - {{id: light, type: light}}
simulation: {{heartbeat: 1, door_change_probability: 0, motion_probability: 0}}
"""

Signal = Callable[[subprocess.Popen[bytes]], None]


def group_sigint(up: subprocess.Popen[bytes]) -> None:
    """Ctrl-C in a terminal: SIGINT to the whole foreground process group."""
    os.killpg(up.pid, signal.SIGINT)


def process_sigint(up: subprocess.Popen[bytes]) -> None:
    up.send_signal(signal.SIGINT)


def process_sigterm(up: subprocess.Popen[bytes]) -> None:
    up.send_signal(signal.SIGTERM)


def group_sigterm(up: subprocess.Popen[bytes]) -> None:
    os.killpg(up.pid, signal.SIGTERM)


SIGNALS: list[Signal] = [group_sigint, process_sigint, process_sigterm, group_sigterm]


def processes_of(marker: str) -> list[tuple[int, str]]:
    """Every process whose command line names ``marker`` (our data directory): `up`,
    its services and the broker it started, whatever process group they are in."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (entry / "stat").read_text()
        except OSError:
            continue
        zombie = status.rsplit(")", 1)[-1].split()[0] == "Z"
        if marker in command and not zombie:
            found.append((int(entry.name), command[:120]))
    return found


@pytest.fixture
def home(tmp_path: Path) -> Path:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed: `up` would start the embedded broker")
    path = tmp_path / "homeguard.yaml"
    path.write_text(HOUSE.format(port=free_port(), web=free_port()))
    return path


def start_up(config: Path, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # Its own process group, as a shell gives a foreground job.
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homeguard",
                "up",
                "--config",
                str(config),
                "--data-dir",
                str(data_dir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


def stop_and_check(up: subprocess.Popen[bytes], send: Signal, marker: str, log: Path) -> None:
    signalled = time.monotonic()
    send(up)
    while processes_of(marker) and time.monotonic() - signalled < STOP_LIMIT:
        time.sleep(0.05)
    left = processes_of(marker)
    for pid, _command in left:  # leave nothing behind for the next run or test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    up.wait(timeout=10)
    assert not left, (
        f"{send.__name__}: still running {STOP_LIMIT:g} s after the signal: {left}\n"
        + log.read_text(errors="replace")[-3000:]
    )


def snapshot_state(config: Path, data_dir: Path) -> PanelState | None:
    """The committed panel state; None if the controller never committed one."""
    path = data_dir / "events.db"
    if not path.exists():
        return None
    with EventStore(path) as store:
        saved = store.load_snapshot()
    if saved is None:
        return None
    return snapshot.load(saved, load_config(config).panel_settings()).state


def test_signals_at_random_moments_of_start_up_stop_everything(home: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "up.log"
    rng = random.Random()
    runs, budget = 0, time.monotonic() + 90
    while runs < 10 and time.monotonic() < budget:
        delay, send = rng.uniform(0.0, 3.0), rng.choice(SIGNALS)
        with log.open("a") as out:
            out.write(f"--- run {runs}: {send.__name__} after {delay:.2f} s\n")
        up = start_up(home, data_dir, log)
        time.sleep(delay)
        stop_and_check(up, send, str(data_dir), log)
        snapshot_state(home, data_dir)  # readable, or not written yet: never broken
        runs += 1
    assert runs >= 5


@pytest.mark.parametrize(
    "send", [group_sigint, process_sigterm, group_sigterm], ids=lambda f: f.__name__
)
def test_the_last_panel_state_is_committed(home: Path, tmp_path: Path, send: Signal) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "up.log"
    up = start_up(home, data_dir, log)
    try:
        security = data_dir / "security"
        wait_until(lambda: "controller connected" in log.read_text(), timeout=30)
        cli = [sys.executable, "-m", "homeguard", "arm", "away", "--config", str(home)]
        cli += ["--data-dir", str(data_dir)]

        def armed() -> bool:
            return subprocess.run(cli, capture_output=True, check=False).returncode == 0

        wait_until(armed, timeout=20, what="homeguard arm away")
        assert security.is_dir()
    except BaseException:
        os.killpg(up.pid, signal.SIGKILL)
        raise
    stop_and_check(up, send, str(data_dir), log)
    assert snapshot_state(home, data_dir) is PanelState.ARMING


def test_services_stop_by_themselves_when_up_is_killed(home: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "up.log"
    up = start_up(home, data_dir, log)
    marker = f"--data-dir {data_dir}"  # the services, not the broker
    try:
        # Every service past its start (a start is never torn in half, and on a busy
        # machine importing alone can take seconds): what is timed is the stop.
        started = ("controller connected", "dashboard at", "simulating 3 sensors")
        wait_until(lambda: all(line in log.read_text() for line in started), timeout=60)
        wait_until(lambda: len(processes_of(marker)) == 4, timeout=30, what="up and 3 services")
        up.kill()  # kill -9: nobody left to stop them
        up.wait()
        wait_until(lambda: not processes_of(marker), timeout=STOP_LIMIT, what="services gone")
    finally:
        for pid, _command in processes_of(str(data_dir)):  # the broker it had started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
