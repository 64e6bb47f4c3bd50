"""``homeguard up|controller|simulate|actuators``: the long-running services, and how
``up`` starts and stops the others."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from homeguard import __version__
from homeguard.app import (
    check_sole_controller,
    needs_local_broker,
    run_actuators,
    run_controller,
    run_simulation,
    start_local_broker,
)
from homeguard.cli import household
from homeguard.cli.site import is_demo, load_site
from homeguard.config import bundled_example
from homeguard.errors import HomeguardError

log = logging.getLogger("homeguard")

DEMO_BANNER = """\
homeguard: !!! DEMO: no ./homeguard.yaml (nor --config), so this runs the bundled
homeguard: !!! example house ({path}),
homeguard: !!! whose PIN, duress code and dashboard password are PUBLISHED (README).
homeguard: !!! Anyone can disarm it. Never protect a real house with it: copy that file
homeguard: !!! to ./homeguard.yaml and change its users."""


# Set by `homeguard up` for the services it starts: they run in process groups of their
# own (so that Ctrl-C reaches `up` alone, which stops them in order) and stop by
# themselves if `up` disappears without stopping them.
SUPERVISOR_ENV = "HOMEGUARD_SUPERVISOR_PID"
# `up` stops everything within this many seconds of a signal: the controller first
# (within CONTROLLER_STOP), so that it never sees the devices' Last Wills as news.
STOP_BUDGET = 4.5
CONTROLLER_STOP = 2.5


def _until_signalled() -> threading.Event:
    """An event set by SIGTERM or SIGINT (which then raise nothing), or when the `up`
    that started this service is gone."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if supervisor is not None and supervisor.isdigit():
        threading.Thread(
            target=_stop_when_orphaned, args=(int(supervisor), stop), daemon=True
        ).start()
    return stop


def _stop_when_orphaned(supervisor: int, stop: threading.Event) -> None:
    while os.getppid() == supervisor:
        if stop.wait(0.5):
            return
    log.warning("homeguard up (pid %d) is gone: stopping", supervisor)
    stop.set()


def up(args: argparse.Namespace) -> int:
    # Signals only set ``stop`` from here on: a start-up step is never torn in half, and
    # whatever was started is stopped in the finally clause.
    stop = _until_signalled()
    site = load_site(args)
    demo = is_demo(args)
    if demo:
        print(DEMO_BANNER.format(path=bundled_example()), file=sys.stderr, flush=True)
    broker = None
    children: list[subprocess.Popen[bytes]] = []
    try:
        broker = start_local_broker(site) if needs_local_broker(site) else None
        # One controller per site: refuse here, before anything else is started.
        check_sole_controller(site, probe_broker=broker is None)
        address = site.broker_address()
        print(
            f"homeguard {__version__}: broker {address.host}:{address.port}"
            + (f" ({broker.kind}, started here)" if broker else "")
            + f", data in {site.data_dir}",
            flush=True,
        )
        base = [sys.executable, "-m", "homeguard"]
        shared = ["--data-dir", str(site.data_dir), "--broker", f"{address.host}:{address.port}"]
        if args.config is not None:
            shared += ["--config", str(args.config)]
        services = ["controller", "actuators"]  # the controller first: see _stop_services
        if site.config.simulation.enabled:
            services.append("simulate")
        env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}
        controller_flags = ["--broker-started-here"] if broker is not None else []  # no check
        if demo:
            controller_flags.append("--demo")
        for name in services:
            if stop.is_set():
                break
            flags = controller_flags if name == "controller" else []
            children.append(
                subprocess.Popen([*base, name, *shared, *flags], env=env, process_group=0)
            )
        while not stop.wait(0.5):
            if any(child.poll() is not None for child in children):
                print("homeguard: a service stopped; stopping the others", file=sys.stderr)
                break
    finally:
        deadline = time.monotonic() + STOP_BUDGET
        _stop_services(children, deadline)
        if broker is not None:
            broker.stop(timeout=max(0.1, deadline + 0.4 - time.monotonic()))
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed and not stop.is_set() else 0


def _stop_services(children: list[subprocess.Popen[bytes]], deadline: float) -> None:
    """Stop the controller, then the devices: the controller commits its last turn and
    says offline before the devices' Last Wills could reach it. What outlives its share
    of ``deadline`` is killed (the store is consistent at every commit)."""
    first, rest = children[:1], children[1:]
    _terminate(first, min(deadline, time.monotonic() + CONTROLLER_STOP))
    _terminate(rest, deadline)


def _terminate(children: list[subprocess.Popen[bytes]], deadline: float) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time: killed", child.args)
            child.kill()
            child.wait()


def controller(args: argparse.Namespace) -> int:
    if is_demo(args) and not args.demo:
        raise HomeguardError(
            f"the controller refuses the bundled example house ({bundled_example()}, "
            "used when there is no ./homeguard.yaml), whose codes are published: copy it "
            "to ./homeguard.yaml and change its users, or pass --demo to try it"
        )
    # No cyclic garbage collection while startup builds its objects per configured device
    # (config, settings, topic routes: millions at 100,000 sensors, each pass of the
    # collector scanning them all, a third of the startup time): run_controller turns
    # it on again once it has frozen them (gc.freeze).
    gc.disable()
    try:
        site = load_site(args)
        run_controller(site, _until_signalled(), check_broker=not args.broker_started_here)
    finally:
        gc.enable()  # a failed start, too
    return 0


def simulate(args: argparse.Namespace) -> int:
    if args.household or args.into_store or args.evaluate:
        return household.run(args, lambda: load_site(args), _until_signalled)
    site = load_site(args)
    only = set(args.sensor) if args.sensor else None
    if only is not None and (unknown := only - {s.id for s in site.config.sensors}):
        raise HomeguardError(f"no such sensor: {', '.join(sorted(unknown))}")
    run_simulation(site, _until_signalled(), only)
    return 0


def actuators(args: argparse.Namespace) -> int:
    run_actuators(load_site(args), _until_signalled())
    return 0
