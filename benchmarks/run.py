"""homeguard's benchmark: throughput, trip→siren latency and memory, each next to the
broker's own limit measured in the same run. Nothing is mocked. Usage::

    python benchmarks/run.py            # full size, a few minutes
    python benchmarks/run.py --small    # every section at small sizes, well under a minute

It starts its own brokers on free ports, a default-config Mosquitto (``stock``:
``listener`` and ``allow_anonymous`` only) and the config homeguard generates
(``generated``), and ``homeguard controller`` in a process of its own for every
measurement (a real SQLite store, ``synchronous: full``), then prints:

(a) the broker's own pub→sub limit: a bare ``mosquitto_sub`` at QoS 1 counting the
    same load the controller gets (QoS 1 motion reports from a raw socket);
(b) durable ingest: events decided, committed and acknowledged per second, as a
    percentage of (a), how many of them were stored (a stock broker drops what
    exceeds its 1,000 queued messages) and how many the controller dropped (its
    ``records_dropped`` events: a backlog over its bound);
(c) trip→siren latency, from publishing a window's OPEN to the siren client (subscribed
    to ``<base>/control/alarm`` only) receiving ON: p50/p95/p99, idle and under
    ``--rate`` events/s of background sensor traffic, on both brokers, with the siren
    command at QoS 1 and QoS 2;
(d) for each configured sensor count, on the broker ``homeguard up`` starts for such a
    site (its store saved less often when large: docs/broker.md): the controller's RSS,
    the time from starting the process to answering a command (ready) and until the
    broker has every sensor's retained state (restated: what follows is measured after
    it), how long the dashboard takes to answer ``GET /api/state`` (the first after the
    start, and the best of 3), ``GET /api/system``, ``GET /api/health`` and ``GET
    /api/health?attention=true`` (the best of 3, on a kept-alive connection), ``GET
    /api/state`` right after a sensor's report (the median of 5: the document rendered
    again), ``homeguard status --api`` and ``homeguard status`` (over MQTT, with the
    controller's store) to run (a process each, Python's start included; the best of
    3, homeguard's modules compiled to bytecode first as ``pip install`` does), the RSS
    of the dashboard's process once it has answered those, how long the broker stops
    serving everyone (a client's message to itself every millisecond for
    ``--pause-seconds``: the longest round trip, and the share of the time in round
    trips over 5 ms; Mosquitto saves its whole store meanwhile), ``--trips`` trips idle
    (p50, p99) and while a client fetches ``GET /api/health`` in a loop (``busy_``:
    what the dashboard's work costs the alarms; the client is a process of its own at
    nice 19), and the cost of one event at that
    size;
(e) a house that has run a while: a site of ``--sensors`` whose store holds
    ``--week-events`` sensor events of the last 8 days, the history sensor health reads:
    the same dashboard and ``homeguard status`` times as (d) (and the first ``GET
    /api/health``: the dashboard keeps the reports it read, and reads after that only
    those stored since), the dashboard's RSS, and idle trips.

The machine is shared and noisy: compare the rows of one run, not runs with each other.
"""

from __future__ import annotations

import argparse
import compileall
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from controller_process import ControllerProcess
from load import (
    BareSubscriber,
    RawClient,
    free_port,
    generated_broker,
    send,
    sensor_packets,
    stock_broker,
)

import homeguard
from homeguard.adapters.mqtt import BrokerAddress
from homeguard.site import STORE_BYTES_PER_DEVICE


def pub_sub_limit(address: BrokerAddress, events: int, *, paho: bool = False) -> dict[str, float]:
    """(a) What the broker itself forwards: the same packets, a bare subscriber (or,
    ``paho``, a bare paho-mqtt subscriber in Python: what the library alone reads)."""
    base = "plimit" if paho else "limit"
    subscriber = BareSubscriber(address, f"{base}/security/#", paho=paho)
    time.sleep(1.0 if paho else 0.5)  # subscribed
    packets = sensor_packets(base, [f"m{n}" for n in range(100)], events)
    started = time.perf_counter()
    send(address, packets)
    subscriber.settle(events)
    subscriber.close()
    elapsed = subscriber.last - started
    return {"received": subscriber.count, "rate": subscriber.count / elapsed}


def stored(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return int(connection.execute("SELECT count(*) FROM sensor_events").fetchone()[0])


def dropped(db: Path) -> int:
    """Sensor events the controller's backlog dropped (its ``records_dropped`` events):
    stored rows alone cannot tell them from what the broker never delivered."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        row = connection.execute(
            "SELECT COALESCE(SUM(json_extract(data, '$.count')), 0) FROM system_events"
            " WHERE event_type = 'records_dropped'"
        ).fetchone()
    return int(row[0])


def ingest(ctl: ControllerProcess, events: int, cap: float) -> dict[str, float]:
    """(b) Publish ``events`` as fast as the socket goes; until all are committed (the
    writer acknowledges each turn's messages right after its commit), nothing new comes
    for a while (lost: a stock broker drops what exceeds its queue), or ``cap``
    seconds have passed."""
    packets = sensor_packets(ctl.base, ctl.motion, events)
    before, lost = stored(ctl.db), dropped(ctl.db)
    sender = threading.Thread(target=send, args=(ctl.address, packets), daemon=True)
    started = time.perf_counter()
    sender.start()
    count, last_change, last = before, started, before
    while count - before < events:
        time.sleep(0.01)
        count = stored(ctl.db)
        now = time.perf_counter()
        if count != last:
            last, last_change = count, now
        elif now - last_change > min(10.0, cap / 3) or now - started > cap:
            break
    sender.join()
    done = count - before
    rate = done / max(1e-3, last_change - started)
    return {"stored": done, "sent": events, "dropped": dropped(ctl.db) - lost, "rate": rate}


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": statistics.median(ordered), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


def latency(ctl: ControllerProcess, trips: int, rate: float) -> dict[str, float]:
    """(c) Trips, each: arm, open the window, wait for the siren's ON, disarm, close."""
    stop = threading.Event()
    background = None
    if rate:
        packets = sensor_packets(ctl.base, ctl.motion, int(rate * (2 + trips * 0.5)))
        background = threading.Thread(
            target=send, args=(ctl.address, packets, rate, stop), daemon=True
        )
        background.start()
        time.sleep(1.0)  # under way
    samples: list[float] = []
    missed = 0
    for _ in range(trips):
        try:
            samples.append(ctl.trip())
        except TimeoutError:  # the siren, or an answer to arm or disarm, never came
            missed += 1
            if missed == 2:
                break
    stop.set()
    if background is not None:
        background.join()
    return {**percentiles(samples or [float("inf")]), "trips": len(samples), "missed": missed}


def dashboard(ctl: ControllerProcess, port: int) -> dict[str, float]:
    """Milliseconds the dashboard takes to answer, and ``homeguard status [--api]``."""
    url = f"http://127.0.0.1:{port}"
    row = {}
    with httpx.Client(base_url=url, timeout=120) as http:
        http.get("/api/session").raise_for_status()  # loopback: a session without a login
        for name, path in (
            ("state_ms", "/api/state"),
            ("system_ms", "/api/system"),
            ("health_ms", "/api/health"),
            ("attention_ms", "/api/health?attention=true"),
        ):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                http.get(path).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            row[name] = min(times)
            if path in ("/api/state", "/api/health"):  # the first after a start (state:
                # rendered ahead, or not; health: reading the span, kept after)
                row[name.replace("_ms", "_first_ms")] = times[0]
        row["state_after_change_ms"] = state_after_change(ctl, http)
    status = [sys.executable, "-m", "homeguard", "status", "--config", ctl.config]
    row["status_api_ms"] = command_ms([*status, "--api", url])
    # Over MQTT, reading the controller's store as well.
    row["status_ms"] = command_ms([*status, "--data-dir", ctl.db.parent])
    return row


def command_ms(command: Sequence[str | Path], runs: int = 3) -> float:
    """Milliseconds a command takes to run, a process of its own: the best of ``runs``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, timeout=300)
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def compile_homeguard() -> bool:
    """Compile homeguard's modules to bytecode, as ``pip install`` does. Run from a
    checkout (an editable install) where Python may not write its cache
    (``PYTHONDONTWRITEBYTECODE``), every process started compiled each module it
    imported, and (d) and (e) counted that in ``status`` and the start (the thirteenth
    pass, docs/performance.md)."""
    return compileall.compile_dir(Path(homeguard.__file__).parent, quiet=2)


# The busy client of (d): a process of its own at nice 19, so that neither its CPU nor
# its hold on an interpreter lock is counted against the alarms (a thread of the
# benchmark's own process held the lock the trips' measuring thread needs).
FETCH = """
import os, signal, sys, httpx
os.nice(19)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
done = 0
with httpx.Client(base_url=sys.argv[1], timeout=120) as http:
    http.get("/api/session").raise_for_status()  # loopback: a session, no login
    while not stop:
        http.get("/api/health").raise_for_status()
        done += 1
        if done == 2:
            print("under way", flush=True)
print(done, flush=True)
"""


def busy_dashboard_latency(ctl: ControllerProcess, port: int, trips: int) -> dict[str, float]:
    """(d) Trips while a client fetches ``GET /api/health`` (every sensor's) in a loop,
    as fast as it is answered: what the dashboard's work costs the alarms. The client
    runs at nice 19 in a process of its own, as a browser on another machine would
    cost this one nothing."""
    url = f"http://127.0.0.1:{port}"
    client = subprocess.Popen([sys.executable, "-c", FETCH, url], stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout is not None
        if client.stdout.readline().strip() != "under way":
            raise TimeoutError("the dashboard did not answer GET /api/health")
        result = latency(ctl, trips, 0)
        client.terminate()
        answered = client.stdout.read().strip()
        if not answered.isdigit():
            raise RuntimeError("the client fetching GET /api/health failed (its error above)")
        requests = int(answered)
    finally:
        client.kill()
        client.wait()
    return {**result, "requests": requests}


def state_after_change(ctl: ControllerProcess, http: httpx.Client, rounds: int = 5) -> float:
    """Milliseconds of ``GET /api/state`` right after a sensor's report reached the
    dashboard (so the document is rendered for it, not the one cached): the median."""
    times = []
    for n in range(rounds):
        before = http.get("/api/system").json()["messages"]
        state = b"NO_MOTION" if n % 2 else b"MOTION"
        ctl.window.publish(f"{ctl.base}/security/motion/{ctl.motion[0]}", state, acked=True)
        deadline = time.monotonic() + ctl.timeout
        while http.get("/api/system").json()["messages"] <= before:
            if time.monotonic() > deadline:
                raise TimeoutError("the report did not reach the dashboard")
            time.sleep(0.005)
        started = time.perf_counter()
        http.get("/api/state").raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def broker_pauses(ctl: ControllerProcess, seconds: float) -> dict[str, float]:
    """(d) How long the broker stops serving everyone while the site idles: a message of
    a client's to itself, every millisecond for ``seconds``; the longest round trip, and
    the share of the time spent in round trips over 5 ms (Mosquitto saving its store,
    docs/broker.md)."""
    topic = f"{ctl.base}/echo"
    client = RawClient(ctl.address, f"{ctl.base}-echo")
    longest = paused = 0.0
    try:
        client.subscribe(topic, 0)
        started = time.perf_counter()
        while (sent := time.perf_counter()) - started < seconds:
            client.publish(topic, b"1")
            client.expect(topic, b"1", ctl.timeout)
            took = time.perf_counter() - sent
            longest = max(longest, took)
            paused += took if took > 0.005 else 0.0
            time.sleep(0.001)
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    return {"broker_pause_ms": longest * 1000, "broker_paused_pct": 100 * paused / elapsed}


def sizes(workdir: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """(d) RSS, ready time, the dashboard and the cost of an event by sensor count, each
    on the broker ``homeguard up`` would start for that site (the benchmark's sites have
    no discovery: a retained state per sensor and for the siren)."""
    rows = []
    for count in args.sizes:
        port = free_port()
        store_bytes = (count + 1) * STORE_BYTES_PER_DEVICE
        with (
            generated_broker(workdir / f"broker-{count}", store_bytes) as address,
            ControllerProcess(
                address,
                workdir / f"size-{count}",
                sensors=count,
                timeout=args.timeout,
                web_port=port,
            ) as ctl,
        ):
            row: dict[str, Any] = {"sensors": count, "ready_s": ctl.ready_s}
            row["rss_mb"] = ctl.rss_mb()
            row["restated_s"] = ctl.await_restated(f"m{count - 1}")
            row.update(dashboard(ctl, port))
            row.update(broker_pauses(ctl, args.pause_seconds))
            row["dashboard_rss_mb"] = ctl.dashboard_rss_mb()
            idle = latency(ctl, args.trips, 0)
            row["trip_ms"], row["trip_p99_ms"] = idle["p50"], idle["p99"]
            busy = busy_dashboard_latency(ctl, port, args.trips)
            row["busy_trip_ms"], row["busy_trip_p99_ms"] = busy["p50"], busy["p99"]
            row["busy_requests"] = busy["requests"]
            result = ingest(ctl, args.size_events, cap=args.cap)
            row["events_per_s"] = result["rate"]
            row["us_per_event"] = 1e6 / result["rate"] if result["rate"] else float("inf")
            row["stored"] = result["stored"]
            row["rss_after_mb"] = ctl.rss_mb()
        rows.append(row)
    for row in rows[1:]:
        grown = (row["rss_mb"] - rows[0]["rss_mb"]) * 1024
        row["kb_per_sensor"] = grown / (row["sensors"] - rows[0]["sensors"])
    return rows


def lived_in(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """(e) The dashboard and ``homeguard status`` of a site of ``--sensors`` whose store
    holds ``--week-events`` sensor events of the last 8 days, the history that sensor
    health reads (``GET /api/health``, the maintenance lines of ``status``)."""
    port = free_port()
    with (
        generated_broker(workdir / "broker-lived-in") as address,
        ControllerProcess(
            address,
            workdir / "lived-in",
            sensors=args.sensors,
            timeout=args.timeout,
            web_port=port,
            history=args.week_events,
        ) as ctl,
    ):
        row: dict[str, Any] = {"sensors": args.sensors, "events": args.week_events}
        row["ready_s"] = ctl.ready_s
        row.update(dashboard(ctl, port))
        row["dashboard_rss_mb"] = ctl.dashboard_rss_mb()  # with the reports health keeps
        row["stored"] = stored(ctl.db)
        idle = latency(ctl, args.trips, 0)
        row["trip_ms"], row["trip_p99_ms"] = idle["p50"], idle["p99"]
    return row


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"brokers": {}, "sizes": []}
    for name in args.brokers:
        opener = stock_broker if name == "stock" else generated_broker
        with opener(workdir / name) as address:
            result: dict[str, Any] = {}
            result["limit"] = pub_sub_limit(address, args.events)
            _say(f"(a) {name:<9} broker pub->sub limit", result["limit"])
            result["paho"] = pub_sub_limit(address, args.events, paho=True)
            result["paho"]["percent_of_limit"] = (
                100 * result["paho"]["rate"] / result["limit"]["rate"]
            )
            _say(f"(a) {name:<9} bare paho subscriber", result["paho"])
            with ControllerProcess(
                address, workdir / name / "ingest", args.sensors, timeout=args.timeout
            ) as ctl:
                result["ingest"] = ingest(ctl, args.events, cap=args.cap)
            result["ingest"]["percent_of_limit"] = (
                100 * result["ingest"]["rate"] / result["limit"]["rate"]
            )
            _say(f"(b) {name:<9} durable ingest", result["ingest"])
            for qos in args.qos:
                folder = workdir / name / f"latency-qos{qos}"
                with ControllerProcess(
                    address, folder, args.sensors, siren_qos=qos, timeout=args.timeout
                ) as ctl:
                    for rate in (0, args.rate):
                        load = f"loaded{rate:g}" if rate else "idle"
                        result[f"qos{qos}-{load}"] = latency(ctl, args.trips, rate)
                        _say(
                            f"(c) {name:<9} siren QoS {qos} {load:<10} ms",
                            result[f"qos{qos}-{load}"],
                        )
            results["brokers"][name] = result
    results["sizes"] = sizes(workdir, args)
    for row in results["sizes"]:
        _say("(d) generated sensors", row)
    if args.week_events:
        results["lived_in"] = lived_in(workdir, args)
        _say("(e) a week of events", results["lived_in"])
    return results


def _say(what: str, values: dict[str, Any]) -> None:
    shown = " ".join(
        f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in values.items()
    )
    print(f"{what}: {shown}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small sizes (well under a minute)")
    parser.add_argument("--events", type=int, default=50_000, help="for (a) and (b)")
    parser.add_argument("--trips", type=int, default=200, help="per row of (c)")
    parser.add_argument("--rate", type=float, default=1000, help="background events/s in (c)")
    parser.add_argument("--sensors", type=int, default=100, help="configured, for (a)-(c)")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(n) for n in s.split(",") if n],
        default=[100, 10_000, 100_000],
    )
    parser.add_argument("--size-events", type=int, default=10_000, help="per size in (d)")
    parser.add_argument("--cap", type=float, default=120, help="seconds at most per ingest")
    parser.add_argument(
        "--week-events", type=int, default=300_000, help="in the store for (e); 0: no (e)"
    )
    parser.add_argument(
        "--pause-seconds", type=float, default=10, help="seconds of broker pauses per size in (d)"
    )
    parser.add_argument("--qos", type=lambda s: [int(n) for n in s.split(",") if n], default=[1, 2])
    parser.add_argument(
        "--brokers", type=lambda s: [b for b in s.split(",") if b], default=["stock", "generated"]
    )
    parser.add_argument("--timeout", type=float, default=30, help="seconds for an answer")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.small:
        args.events, args.trips, args.sizes, args.size_events = 1000, 3, [10, 200], 200
        args.cap, args.sensors, args.timeout, args.pause_seconds = 6, 10, 3, 0.5
        args.week_events = 3000
    print(f"# {' '.join(sys.argv)}", flush=True)
    print(f"# homeguard's bytecode compiled: {'yes' if compile_homeguard() else 'no'}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args, Path(tmp))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
