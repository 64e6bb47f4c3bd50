"""``homeguard controller`` serves the dashboard, prints its URL, and stops cleanly; a
busy dashboard port never keeps the panel from running."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MosquittoProcess, free_port, wait_until
from tests.services.conftest import Observer, stop_process
from tests.web.conftest import PASSWORD, write_house

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_the_controller_serves_the_dashboard_and_stops_cleanly(
    mosquitto: MosquittoProcess, tmp_path: Path, observer: Observer
) -> None:
    port = free_port()
    house = write_house(mosquitto, tmp_path, web_port=port)
    process = house.process("controller")
    log = house.data_dir / "controller.log"
    try:
        wait_until(lambda: "homeguard dashboard:" in log.read_text(), 20, "the dashboard URL")
        url = re.search(r"homeguard dashboard: (\S+)", log.read_text())
        assert url is not None and url[1] == f"http://127.0.0.1:{port}/"
        page = httpx.get(url[1], timeout=5)
        assert page.status_code == 200 and "homeguard" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert httpx.get(f"{url[1]}api/state", timeout=5).status_code == 401
        # A live stream still open must not hold the stop up.
        client = httpx.Client(base_url=url[1], timeout=10)
        login = client.post("/api/login", json={"user": "alice", "password": PASSWORD})
        assert login.status_code == 200
        ended = threading.Event()

        def watch() -> None:
            with contextlib.suppress(httpx.HTTPError), client.stream("GET", "/api/live") as live:
                for _ in live.iter_lines():
                    pass
            ended.set()

        threading.Thread(target=watch, daemon=True).start()
        time.sleep(0.3)
        stopping = time.monotonic()
        stop_process(process, signal.SIGTERM)
        stopped = time.monotonic() - stopping
        assert stopped < 5, f"stopping took {stopped:.1f} s"
        assert ended.wait(5)
        client.close()
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_busy_dashboard_port_leaves_the_panel_running(
    mosquitto: MosquittoProcess, tmp_path: Path, observer: Observer
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        house = write_house(mosquitto, tmp_path, web_port=port)
        process = house.process("controller")
        try:
            observer.wait_for("home/alarm/state", "disarmed", timeout=20)
            log = house.data_dir / "controller.log"
            wait_until(lambda: "dashboard cannot listen" in log.read_text(), 10, "the error")
            assert process.poll() is None
        finally:
            stop_process(process)
