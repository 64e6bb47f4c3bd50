"""``homeguard events``: the event log, read from the store."""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import datetime
from typing import Any

from homeguard.cli.site import load_site
from homeguard.core.records import EventQuery, EventRecord, SensorRecord
from homeguard.errors import HomeguardError


def events(args: argparse.Namespace) -> int:
    site = load_site(args, codes=False)
    if not site.store_path.exists():
        raise HomeguardError(f"no event store at {site.store_path} (has the controller run?)")
    now = time.time()
    since = _when(args.since, now)
    until = _when(args.until, now) if args.until else None
    query = EventQuery(since, until, device=args.device, event_type=args.event_type)
    with site.open_store() as store:
        if args.duress:
            found: list[EventRecord] = [
                *store.silent_alerts(since=since, until=until, limit=args.limit)
            ]
        else:
            found = store.events(query, limit=args.limit)
    rows = [_event_row(record) for record in found]
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


def _event_row(record: EventRecord) -> dict[str, Any]:
    if isinstance(record, SensorRecord):
        return {
            "timestamp": record.ts,
            "kind": "sensor",
            "device": record.device_id,
            "type": record.sensor_type,
            "state": record.state,
            "metadata": dict(record.metadata or {}),
        }
    return {
        "timestamp": record.ts,
        "kind": "system",
        "type": record.event_type,
        "description": record.description,
        "data": dict(record.data or {}),
    }


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
