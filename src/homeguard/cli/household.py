"""``homeguard simulate --household``: a simulated family's weeks, into the store, over
MQTT, or measured (``homeguard evaluate``, also ``simulate --household --evaluate``).
The ``simulate`` command hands over to :func:`run` when ``--household`` is given (its
options: :mod:`.parser`)."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime

from homeguard.adapters.clock import wall_clock
from homeguard.app import Site
from homeguard.core.household import (
    HouseholdSpec,
    Incident,
    layout_from_sensors,
    simulate_household,
)
from homeguard.core.records import SensorRecord
from homeguard.errors import HomeguardError
from homeguard.services.evaluation import evaluate
from homeguard.services.household_player import play, write_into
from homeguard.services.message_security import DeviceSigner, load_security

DAY = 86400.0


def evaluate_command(args: argparse.Namespace) -> int:
    """``homeguard evaluate``: simulate a household with known incidents and measure
    anomaly detection and sensor health on it (docs/intelligence.md). Needs neither a
    config nor a broker."""
    if args.weeks < 3:
        raise HomeguardError("--weeks must be at least 3: two to learn from, one to score")
    result = evaluate(args.seed, weeks=args.weeks, forest=getattr(args, "forest", True))
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0


def run(
    args: argparse.Namespace, site: Callable[[], Site], stop: Callable[[], threading.Event]
) -> int:
    """Carry out ``simulate --household``; ``site`` and ``stop`` are asked for only when
    needed (an evaluation needs neither a config nor a broker)."""
    check(args)
    if args.evaluate:  # the older spelling of ``homeguard evaluate``
        return evaluate_command(args)
    the_site = site()
    layout = layout_from_sensors(the_site.settings.sensors)
    today = wall_clock() // DAY * DAY
    spec = HouseholdSpec(days=args.days, seed=args.seed, layout=layout)
    spec = replace(spec, start=today - args.days * DAY if args.into_store else today)
    household = simulate_household(spec)
    if args.into_store:
        with the_site.open_store() as store:
            sensors, systems = write_into(store, household)
        print(
            f"homeguard: wrote {sensors} sensor events and {systems} system events"
            f" ({args.days} days, seed {args.seed}) into {the_site.store_path}"
        )
        _print_incidents(household.incidents)
        return 0
    keys = load_security(the_site.config, the_site.data_dir).keys
    signers = {
        s.id: DeviceSigner(s.id, keys[s.id]).payload for s in household.sensors if s.id in keys
    }
    with ExitStack() as stack:
        clients = {}
        for sensor in household.sensors:
            client = the_site.client(f"homeguard-household-{sensor.id}", account=sensor.id)
            client.start()
            stack.callback(client.stop, 1.0)
            clients[sensor.id] = client
        _print_incidents(household.incidents)
        sent = play(
            household,
            clients=clients,
            topic=lambda r: _topic(the_site, r),
            sign=signers,
            speed=args.speed,
            clock=wall_clock,
            stop=stop(),
        )
    print(f"homeguard: published {sent} sensor reports")
    return 0


def _topic(site: Site, record: SensorRecord) -> str:
    return site.topics.sensor(record.sensor_type, record.device_id)


def _print_incidents(incidents: Sequence[Incident]) -> None:
    for incident in incidents:
        when = datetime.fromtimestamp(incident.start, UTC).strftime("%Y-%m-%d %H:%M")
        print(f"  incident {when} UTC  {incident.kind.value:<16} {incident.detail}")


def check(args: argparse.Namespace) -> None:
    """Refuse options that only make sense with ``--household``."""
    if not args.household and (args.into_store or args.evaluate):
        raise HomeguardError("--into-store and --evaluate go with --household")
