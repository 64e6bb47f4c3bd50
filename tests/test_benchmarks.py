"""The benchmark runs (small sizes) and reports every section, so that it cannot rot.

No timings are asserted: the numbers only have to exist and make sense (rates above
zero, percentiles in order, memory growing with the sensors configured).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.broker,
    pytest.mark.skipif(
        shutil.which("mosquitto_sub") is None, reason="needs mosquitto_sub (mosquitto-clients)"
    ),
]


def test_the_benchmark_runs_small_and_reports_every_section(tmp_path: Path) -> None:
    results_file = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--small",
            "--json",
            str(results_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Commands are timed as an installed package runs them, its modules compiled.
    assert "# homeguard's bytecode compiled: yes" in done.stdout
    for section in ("(a)", "(b)", "(c)", "(d)", "(e)"):
        assert section in done.stdout
    results = json.loads(results_file.read_text())
    assert set(results["brokers"]) == {"stock", "generated"}
    for broker in results["brokers"].values():
        assert broker["limit"]["received"] > 0 and broker["limit"]["rate"] > 0
        ingest = broker["ingest"]
        assert 0 < ingest["stored"] <= ingest["sent"]
        assert ingest["dropped"] == 0  # by the controller: a stock broker's drops are not
        assert ingest["percent_of_limit"] > 0
        for qos in (1, 2):
            for load in ("idle", "loaded1000"):
                row = broker[f"qos{qos}-{load}"]
                assert row["trips"] + row["missed"] > 0
                if row["trips"]:
                    assert 0 < row["p50"] <= row["p95"] <= row["p99"] <= row["max"]
    sizes = results["sizes"]
    assert [row["sensors"] for row in sizes] == sorted(row["sensors"] for row in sizes)
    assert len(sizes) >= 2
    for row in sizes:
        assert row["ready_s"] > 0 and row["rss_mb"] > 0 and row["us_per_event"] > 0
        assert row["state_ms"] > 0 and row["system_ms"] > 0 and row["status_api_ms"] > 0
        assert row["state_first_ms"] >= row["state_ms"] and row["attention_ms"] > 0
        assert row["health_first_ms"] >= row["health_ms"] > 0
        assert row["state_after_change_ms"] > 0 and row["status_ms"] > 0
        assert row["stored"] > 0
        assert 0 < row["trip_ms"] <= row["trip_p99_ms"]
        assert 0 < row["busy_trip_ms"] <= row["busy_trip_p99_ms"] and row["busy_requests"] > 0
        assert row["dashboard_rss_mb"] > 0
        assert row["broker_pause_ms"] > 0 and 0 <= row["broker_paused_pct"] <= 100
    assert all("kb_per_sensor" in row for row in sizes[1:])
    lived_in = results["lived_in"]
    assert lived_in["stored"] >= lived_in["events"] > 0  # the week was there
    assert lived_in["health_ms"] > 0 and lived_in["attention_ms"] > 0
    assert lived_in["health_first_ms"] >= lived_in["health_ms"]
    assert lived_in["dashboard_rss_mb"] > 0
    assert lived_in["status_ms"] > 0 and lived_in["status_api_ms"] > 0
    assert 0 < lived_in["trip_ms"] <= lived_in["trip_p99_ms"]
