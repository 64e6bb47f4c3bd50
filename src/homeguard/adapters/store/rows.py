"""Records to table rows and back: the SQL that writes them, and their JSON columns.

A value that cannot be stored (metadata that is not JSON) is a bug in what the caller
wrote: :class:`~homeguard.errors.StoreRejected`, never a reason to retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from homeguard.core.records import DeviceRecord, EventRecord, SensorRecord, SystemRecord
from homeguard.errors import StoreRejected

Row: TypeAlias = tuple[Any, ...]

# ON CONFLICT (dedup_key) rather than INSERT OR IGNORE: only a repeated delivery is
# skipped; a NULL in a NOT NULL column still fails the batch instead of vanishing.
INSERT_SENSOR = """INSERT INTO sensor_events
    (timestamp, sensor_type, device_id, state, metadata, dedup_key) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (dedup_key) DO NOTHING"""
INSERT_SYSTEM = """INSERT INTO system_events
    (timestamp, event_type, description, data) VALUES (?, ?, ?, ?)"""
INSERT_SILENT = """INSERT INTO silent_alerts
    (timestamp, event_type, description, data) VALUES (?, ?, ?, ?)"""
UPSERT_DEVICE = """INSERT INTO devices
    (device_id, type, capabilities, online, last_seen, announced_at, info)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (device_id) DO UPDATE SET type = excluded.type,
        capabilities = excluded.capabilities, online = excluded.online,
        last_seen = excluded.last_seen, announced_at = excluded.announced_at,
        info = excluded.info"""
REPLACE_SNAPSHOT = """INSERT INTO panel_snapshot (id, body) VALUES (1, ?)
    ON CONFLICT (id) DO UPDATE SET body = excluded.body"""
REPLACE_PANEL_SENSOR = """INSERT INTO panel_sensors (sensor_id, body) VALUES (?, ?)
    ON CONFLICT (sensor_id) DO UPDATE SET body = excluded.body"""
DELETE_PANEL_SENSOR = "DELETE FROM panel_sensors WHERE sensor_id = ?"

# Both kinds of event in one column layout, so that one query can merge them:
# kind (0 sensor, 1 system), id, timestamp, then the kind's own columns.
SENSOR_EVENT_COLUMNS = "0, id, timestamp, sensor_type, device_id, state, metadata, dedup_key"
SYSTEM_EVENT_COLUMNS = "1, id, timestamp, event_type, description, data, NULL, NULL"
DEVICE_COLUMNS = "device_id, type, capabilities, online, last_seen, announced_at, info"


def sensor_row(r: SensorRecord) -> Row:
    metadata = _to_json(r.metadata, lambda: f"metadata of the {r.device_id} event at {r.ts}")
    return (r.ts, r.sensor_type, r.device_id, r.state, metadata, r.dedup_key)


def system_row(r: SystemRecord) -> Row:
    data = _to_json(r.data, lambda: f"data of the {r.event_type} event at {r.ts}")
    return (r.ts, r.event_type, r.description, data)


def device_row(r: DeviceRecord) -> Row:
    capabilities = _to_json(r.capabilities, lambda: f"capabilities of device {r.device_id}")
    info = _to_json(r.info, lambda: f"info of device {r.device_id}")
    return (r.device_id, r.type, capabilities, r.online, r.last_seen, r.announced_at, info)


def event_record(row: Row) -> EventRecord:
    """A row laid out as :data:`SENSOR_EVENT_COLUMNS` or :data:`SYSTEM_EVENT_COLUMNS`."""
    kind, id_, ts, first, second, third, fourth, fifth = row
    if kind == 0:
        return SensorRecord(ts, first, second, third, _from_json(fourth), fifth, id_)
    return SystemRecord(ts, first, second, _from_json(third), id_)


def device_record(row: Row) -> DeviceRecord:
    device_id, type_, capabilities, online, last_seen, announced_at, info = row
    return DeviceRecord(
        device_id=device_id,
        type=type_,
        capabilities=tuple(_from_json(capabilities)),
        online=None if online is None else bool(online),
        last_seen=last_seen,
        announced_at=announced_at,
        info=_from_json(info),
    )


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # one for every row


def _to_json(
    value: Mapping[str, Any] | Sequence[str] | None, what: Callable[[], str]
) -> str | None:
    """``value`` as compact JSON; ``what`` names it in the error if it cannot be."""
    if value is None:
        return None
    plain = value if type(value) in (dict, list) else _plain(value)
    try:
        return _ENCODER.encode(plain)
    except (TypeError, ValueError) as exc:
        raise StoreRejected(f"{what()} is not JSON-serialisable: {exc}") from exc


def _plain(value: Mapping[str, Any] | Sequence[str]) -> dict[str, Any] | list[str]:
    return dict(value) if isinstance(value, Mapping) else list(value)


def _from_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StoreRejected(f"the event store holds malformed JSON: {exc}") from exc
