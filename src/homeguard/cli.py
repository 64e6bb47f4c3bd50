"""The ``homeguard`` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from homeguard import __version__, cli_api
from homeguard.adapters.broker import mosquitto_config, reload_local_broker
from homeguard.adapters.clock import wall_clock
from homeguard.adapters.codecs import Family, decode_availability, decode_sensor
from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import availability_topics
from homeguard.app import (
    Site,
    check_sole_controller,
    default_data_dir,
    needs_local_broker,
    quiet_client,
    run_actuators,
    run_controller,
    run_simulation,
    start_local_broker,
)
from homeguard.cli_api import add_api_options
from homeguard.cli_codes import CODE_VARIABLE, read_code
from homeguard.config import bundled_example, default_config_path, load_config
from homeguard.core.model import Action, ArmMode
from homeguard.errors import HomeguardError, PayloadError
from homeguard.services.accounts import CONTROLLER
from homeguard.services.broker_check import diagnose
from homeguard.services.home_assistant import discovery
from homeguard.services.message_security import DeviceSigner, load_security
from homeguard.services.provisioning import SecurityFiles, provision, revoke, security_folder

log = logging.getLogger("homeguard")

_SERVICES = {"up", "controller", "simulate", "actuators"}
_CODE_HELP = (
    f"'-': read your code from standard input. Without it: ${CODE_VARIABLE}, else a "
    "prompt. A code written here is visible to every user of the machine (ps): unsafe"
)
_DEMO_BANNER = """\
homeguard: !!! DEMO: no ./homeguard.yaml (nor --config), so this runs the bundled
homeguard: !!! example house ({path}),
homeguard: !!! whose PIN, duress code and dashboard password are PUBLISHED (README).
homeguard: !!! Anyone can disarm it. Never protect a real house with it: copy that file
homeguard: !!! to ./homeguard.yaml and change its users."""
_REFUSALS = {"failed_to_arm", "invalid_code", "locked_out", "not_authorized", "command_rejected"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("config", "data_dir", "broker"):
        setattr(args, name, getattr(args, name, None))
    level = logging.INFO if args.command in _SERVICES else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        result: int = args.run(args)
    except HomeguardError as exc:
        print(f"homeguard: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


def _events_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", default="24h", help="e.g. 30m, 1h, 7d, or an ISO date (default 24h)")
    p.add_argument("--until", help="same forms as --since")
    p.add_argument("--device", help="only this device")
    p.add_argument("--type", dest="event_type", help="only this system event type")
    p.add_argument(
        "--duress",
        action="store_true",
        help="only the silent duress alerts, which nothing else ever shows",
    )
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")


def _parser() -> argparse.ArgumentParser:
    # SUPPRESS: options may come before or after the command without one hiding the other.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--config",
        type=Path,
        help="config file (default: ./homeguard.yaml, else the bundled example house)",
    )
    common.add_argument(
        "--data-dir",
        type=Path,
        help="where the event store lives "
        "(default: $HOMEGUARD_DATA_DIR or ~/.local/share/homeguard)",
    )
    common.add_argument(
        "--broker", metavar="HOST:PORT", help="use this broker, whatever the config says"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    parser = argparse.ArgumentParser(
        prog="homeguard", description="A home alarm system on MQTT.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"homeguard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, run: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.set_defaults(run=run)
        return p

    command(
        "up", _up, "run everything: broker if needed, controller, simulated house, siren and light"
    )
    p = command("controller", _controller, "run the controller")
    # Set by `up` when it started the broker itself with the generated config.
    p.add_argument("--broker-started-here", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--demo",
        action="store_true",
        help="allow the bundled example house, whose codes are published (no homeguard.yaml)",
    )
    p = command("simulate", _simulate, "run the simulated sensors")
    p.add_argument("--sensor", action="append", help="only this sensor (repeatable)")
    command("actuators", _actuators, "run the siren and light")
    p = command("sensor", _sensor, "publish one sensor event, e.g. 'homeguard sensor front open'")
    p.add_argument("sensor_id")
    p.add_argument("state", help="open, closed, motion, no_motion, tamper, on, off")
    p = add_api_options(command("arm", _arm, "arm the panel"))
    p.add_argument(
        "mode", choices=[m.name.lower() for m in ArmMode], help="away, home, night or vacation"
    )
    p.add_argument("--code", metavar="CODE", help=_CODE_HELP)
    p.add_argument("--force", action="store_true", help="bypass open sensors")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p = add_api_options(command("disarm", _disarm, "disarm the panel"))
    p.add_argument("--code", metavar="CODE", help=_CODE_HELP)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p = add_api_options(command("status", _status, "show the panel state and devices"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for retained state")
    _events_arguments(command("events", _events, "show logged events"))
    command("check-config", _check_config, "validate the config and summarise it")
    p = command("broker-config", _broker_config, "write a Mosquitto config that loses nothing")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--out", type=Path, help="write here instead of standard output")
    command(
        "doctor",
        _doctor,
        "check the broker: reachable, login, queue for an offline controller, latency",
    )
    out_help = "the folder (default: security.provisioned, else <data-dir>/security)"
    p = command(
        "provision",
        _provision,
        "create or complete broker logins, ACL, certificates and device secrets",
    )
    p.add_argument("--out", type=Path, help=out_help)
    p = command("revoke", _revoke, "revoke a device's login, certificate and secret for good")
    p.add_argument("device", help="a device id, 'controller' or a client name")
    p.add_argument("--out", type=Path, help=out_help)
    return parser


# ---------------------------------------------------------------------------- site


def _config_path(args: argparse.Namespace) -> Path:
    path: Path = args.config or default_config_path()
    return path


def _is_demo(args: argparse.Namespace) -> bool:
    """True when the config is the bundled example, whose codes are published."""
    return _config_path(args).resolve() == bundled_example().resolve()


def _site(args: argparse.Namespace) -> Site:
    config = load_config(_config_path(args))
    override = None
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        if not host or not port.isdigit():
            raise HomeguardError(f"--broker wants HOST:PORT, not {args.broker!r}")
        override = (host, int(port))
    return Site(config, args.data_dir or default_data_dir(), override)


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


# ------------------------------------------------------------------------ services


def _up(args: argparse.Namespace) -> int:
    # Signals only set ``stop`` from here on: a start-up step is never torn in half, and
    # whatever was started is stopped in the finally clause.
    stop = _until_signalled()
    site = _site(args)
    demo = _is_demo(args)
    if demo:
        print(_DEMO_BANNER.format(path=bundled_example()), file=sys.stderr, flush=True)
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


def _controller(args: argparse.Namespace) -> int:
    if _is_demo(args) and not args.demo:
        raise HomeguardError(
            f"the controller refuses the bundled example house ({bundled_example()}, "
            "used when there is no ./homeguard.yaml), whose codes are published: copy it "
            "to ./homeguard.yaml and change its users, or pass --demo to try it"
        )
    site = _site(args)
    run_controller(site, _until_signalled(), check_broker=not args.broker_started_here)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    site = _site(args)
    only = set(args.sensor) if args.sensor else None
    if only is not None and (unknown := only - {s.id for s in site.config.sensors}):
        raise HomeguardError(f"no such sensor: {', '.join(sorted(unknown))}")
    run_simulation(site, _until_signalled(), only)
    return 0


def _actuators(args: argparse.Namespace) -> int:
    run_actuators(_site(args), _until_signalled())
    return 0


# ------------------------------------------------------------------------ commands


def _sensor(args: argparse.Namespace) -> int:
    site = _site(args)
    spec = site.settings.sensor(args.sensor_id)
    if spec is None:
        known = ", ".join(s.id for s in site.settings.sensors)
        raise HomeguardError(f"no sensor {args.sensor_id!r} in the config (known: {known})")
    payload = args.state.strip().upper().encode()
    decode_sensor(Family.HOMEGUARD, spec.type, payload)  # a clear error for a wrong state
    topic = site.topics.sensor(spec.type.value, spec.id)
    shown = payload.decode()
    keys = load_security(site.config, site.data_dir).keys
    if spec.id in keys:  # a signing sensor: sign (and seal) as the device would
        now = wall_clock()
        body = {"state": shown, "seq": int(now * 1000), "ts": now}
        payload = DeviceSigner(spec.id, keys[spec.id]).payload(body, now)
        shown += " (signed)"
    with quiet_client(site, "sensor", account=spec.id) as client:
        client.publish(topic, payload, qos=1)
    print(f"{topic} {shown}")
    return 0


def _arm(args: argparse.Namespace) -> int:
    ask = bool(args.api) or _codes_asked(args, arming=True)
    args.code = read_code(args.code, ask=ask)
    if args.api:
        return cli_api.arm(args, ArmMode[args.mode.upper()].value)
    action = Action[f"ARM_{args.mode.upper()}"]
    mode = ArmMode[args.mode.upper()]
    return _command(args, {"action": action.value, "force": args.force}, {"arming", mode.value})


def _disarm(args: argparse.Namespace) -> int:
    args.code = read_code(args.code, ask=bool(args.api) or _codes_asked(args, arming=False))
    if args.api:
        return cli_api.disarm(args)
    return _command(args, {"action": Action.DISARM.value}, {"disarmed"})


def _codes_asked(args: argparse.Namespace, *, arming: bool) -> bool:
    """Whether the panel may want a code: it has users, and this is a disarm or arming
    needs a code. (Only then is there a prompt.)"""
    config = _site(args).config
    return bool(config.users) and (not arming or config.panel.code_arm_required)


def _command(args: argparse.Namespace, body: dict[str, Any], success: set[str]) -> int:
    """Publish a panel command, then wait for the controller's answer."""
    site = _site(args)
    if args.code is not None:
        body["code"] = args.code
    topics = site.topics
    subscriptions = [(topics.alarm_event, 1), (topics.alarm_state, 1)]
    with quiet_client(site, "command", subscriptions) as client:
        _drain_retained(client.messages, 0.3)
        client.publish(topics.alarm_set, json.dumps(body), qos=1)
        deadline = time.monotonic() + args.timeout
        state = None
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = client.messages.get(timeout=left)
            except queue.Empty:
                break
            if message.topic == topics.alarm_state:
                state = message.payload.decode(errors="replace")
                if state in success:
                    print(f"panel: {state}")
                    return 0
                continue
            event = _json(message.payload)
            kind = event.get("event")
            if kind in _REFUSALS:
                print(f"refused: {event.get('description', kind)}", file=sys.stderr)
                return 2
    if state is not None:
        print(f"panel: {state}")
        return 0
    raise HomeguardError("no answer from the controller (is it running?)")


def _drain_retained(messages: queue.Queue[Message], seconds: float) -> list[Message]:
    """Collect what arrives in the first moments after subscribing (retained values)."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(messages.get(timeout=left))
        except queue.Empty:
            break
    return got


_TROUBLES = {"storage": " (the event store cannot write: events are kept in memory)"}


def _status(args: argparse.Namespace) -> int:
    if args.api:
        return cli_api.status(args)
    site = _site(args)
    topics = site.topics
    # Every configured sensor is listed, whatever its family: by the contract's
    # availability topic or its family's own (zigbee2mqtt/<dev>/availability, LWT...).
    family_topics: dict[str, list[str]] = {}  # one bridge's LWT speaks for its sensors
    for sensor in site.config.sensors:
        for topic in availability_topics(sensor.binding()):
            family_topics.setdefault(topic, []).append(sensor.id)
    subscriptions = [
        (topics.alarm_state, 1),
        (topics.status, 1),
        (topics.controller_availability, 1),
        (topics.availability("+"), 1),
        (topics.actuator_state("+"), 1),
        *((topic, 1) for topic in family_topics),
    ]
    with quiet_client(site, "status", subscriptions) as client:
        messages = _drain_retained(client.messages, args.timeout)
    report: dict[str, Any] = {
        "state": None,
        "controller": None,
        "status": None,
        "devices": {sensor.id: "unknown" for sensor in site.config.sensors},
        "actuators": {},
    }
    for message in messages:
        text = message.payload.decode(errors="replace")
        if message.topic in family_topics:
            try:
                online = decode_availability(message.payload)
            except PayloadError:
                continue
            for sensor_id in family_topics[message.topic]:
                report["devices"][sensor_id] = "online" if online else "offline"
        elif message.topic == topics.alarm_state:
            report["state"] = text
        elif message.topic == topics.controller_availability:
            report["controller"] = text
        elif message.topic == topics.status:
            report["status"] = _json(message.payload)
        elif message.topic.endswith("/availability"):
            report["devices"][message.topic.split("/")[-2]] = text
        elif message.topic.endswith("/state"):
            report["actuators"][message.topic.split("/")[-2]] = text
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"panel:      {report['state'] or 'unknown (no controller has published)'}")
    print(f"controller: {report['controller'] or 'unknown'}")
    status = report["status"] or {}
    if status.get("breaches"):
        print(f"breach:     {', '.join(map(str, status['breaches']))}")
    for part in status.get("system_troubles", []):
        print(f"trouble:    {part}{_TROUBLES.get(part, '')}")
    for name, value in sorted(report["actuators"].items()):
        print(f"{name + ':':<11} {value}")
    troubles = status.get("troubles") or {}
    for device, value in sorted(report["devices"].items()):
        trouble = f" ({troubles[device]})" if device in troubles else ""
        print(f"  {device:<12} {value}{trouble}")
    return 0


def _events(args: argparse.Namespace) -> int:
    site = _site(args)
    if not site.store_path.exists():
        raise HomeguardError(f"no event store at {site.store_path} (has the controller run?)")
    now = time.time()
    since = _when(args.since, now)
    until = _when(args.until, now) if args.until else None
    with site.open_store() as store:
        if args.duress:
            sensor, system = [], store.silent_alerts(since=since, until=until, limit=args.limit)
        else:
            sensor = (
                []
                if args.event_type
                else store.sensor_events(
                    since=since, until=until, device=args.device, limit=args.limit
                )
            )
            system = (
                []
                if args.device
                else store.system_events(
                    since=since, until=until, event_type=args.event_type, limit=args.limit
                )
            )
    rows: list[dict[str, Any]] = [
        {
            "timestamp": e.ts,
            "kind": "sensor",
            "device": e.device_id,
            "type": e.sensor_type,
            "state": e.state,
            "metadata": dict(e.metadata or {}),
        }
        for e in sensor
    ] + [
        {
            "timestamp": e.ts,
            "kind": "system",
            "type": e.event_type,
            "description": e.description,
            "data": dict(e.data or {}),
        }
        for e in system
    ]
    rows.sort(key=lambda row: row["timestamp"], reverse=True)
    rows = rows[: args.limit]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        when = datetime.fromtimestamp(row["timestamp"]).strftime("%Y-%m-%d %H:%M:%S")
        if row["kind"] == "sensor":
            print(f"{when}  {row['device']:<12} {row['type']:<8} {row['state']}")
        else:
            print(f"{when}  {'(system)':<12} {row['type']:<16} {row['description']}")
    if not rows:
        print("no events in that range")
    return 0


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _when(text: str, now: float) -> float:
    """``30m``/``1h``/``7d`` ago, or an ISO date/time."""
    if match := _SPAN.match(text):
        return now - float(match[1]) * _UNIT[match[2]]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise HomeguardError(f"cannot read time {text!r}: use 30m, 1h, 7d or an ISO date") from None


def _check_config(args: argparse.Namespace) -> int:
    site = _site(args)
    config = site.config
    site.topic_map  # noqa: B018 - building it checks the topics
    discovery(config)  # and the Home Assistant entities
    print(
        f"config OK: {len(config.sensors)} sensors, {len(config.actuators)} actuators, "
        f"{len(config.users)} users, base topic {config.mqtt.base_topic!r}"
    )
    for sensor in config.sensors:
        print(
            f"  {sensor.id:<12} {sensor.type.value:<7} zone {sensor.zone_kind.value:<9} "
            f"family {sensor.family}"
        )
    return 0


def _security_folder(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return Path(args.out)
    site = _site(args)
    site.private_data_dir()
    return security_folder(site.config, site.data_dir)


def _provision(args: argparse.Namespace) -> int:
    report = provision(_site(args).config, _security_folder(args), time.time())
    print("\n".join(report.lines()))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    folder = _security_folder(args)
    revoke(args.device, folder, time.time())
    data_dir = args.data_dir or default_data_dir()
    pid = reload_local_broker(data_dir / "broker", SecurityFiles(folder).password_file)
    if pid is not None:
        print(
            f"revoked {args.device}: the broker homeguard started (pid {pid}) reloaded "
            "its logins, ACL and CRL: the device is out"
        )
        return 0
    print(
        f"revoked {args.device} in {folder}. No broker started by homeguard uses it: "
        "copy passwd, acl and crl.pem to your broker if it runs elsewhere, then reload it "
        "(Mosquitto: systemctl reload mosquitto, or kill -HUP its pid); until then the "
        "device can still log in"
    )
    return 0


def _broker_config(args: argparse.Namespace) -> int:
    site = _site(args)
    text = mosquitto_config(port=args.port, bind=args.bind, data_dir=site.data_dir / "broker")
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    site = _site(args)
    address = site.broker_address(CONTROLLER)
    print(f"checking the MQTT broker at {address} as the controller would use it")
    findings = diagnose(address, f"{site.config.mqtt.client_id}-probe")
    for finding in findings:
        print(f"{'ok ' if finding.ok else 'FIX'} {finding.check}: {finding.text}")
    return 0 if all(f.ok for f in findings) else 1


def _json(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
