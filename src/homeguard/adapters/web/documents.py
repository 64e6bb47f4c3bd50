"""The JSON documents the dashboard and the API show: plain functions of a panel view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from homeguard.core.model import ArmMode, PanelSettings
from homeguard.core.panel import blocking_sensors
from homeguard.core.records import EventRecord, SensorRecord, SystemRecord
from homeguard.core.signals import ActuatorKind

from .backend import PanelView

ALARM_EVENTS = ("triggered", "locked_out")  # duress is never among the events shown


def sensor_status(
    view: PanelView, settings: PanelSettings, battery: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Every configured sensor with its status light, in config order."""
    panel = view.panel
    rows = []
    for spec in settings.sensors:
        status = panel.sensor(spec.id)
        device = view.devices.get(spec.id)
        bypassed = spec.id in panel.bypassed
        if bypassed:
            light = "bypassed"
        elif status.trouble is not None:
            light = "offline" if status.trouble.value == "offline" else "trouble"
        elif status.battery_low:
            light = "trouble"
        elif status.state is None:
            light = "unknown"
        elif status.state.value in ("MOTION",):
            light = "motion"
        elif status.active:
            light = "open"
        else:
            light = "closed"
        last_seen = status.last_seen
        if device is not None and device.last_seen is not None:
            last_seen = max(last_seen or 0.0, device.last_seen)
        rows.append(
            {
                "id": spec.id,
                "name": spec.name or spec.id,
                "type": spec.type.value,
                "zone": spec.zone_kind.value,
                "state": status.state.value if status.state is not None else None,
                "status": light,
                "trouble": status.trouble_name,
                "bypassed": bypassed,
                "online": device.online if device is not None else None,
                "battery": status.battery if status.battery is not None else battery.get(spec.id),
                "last_seen": last_seen,
            }
        )
    return rows


def state_document(
    view: PanelView,
    settings: PanelSettings,
    actuators: Sequence[tuple[str, ActuatorKind]],
    battery: Mapping[str, float],
    system: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the live view shows, in one document."""
    panel = view.panel
    lock = panel.code_lock
    return {
        "state": panel.state.value,
        "mode": panel.mode.value if panel.mode is not None else None,
        "since": panel.since,
        "deadline": panel.deadline,
        "now": view.at,
        "triggered_by": list(panel.triggered_by),
        "code_locked_until": lock.locked_until if lock.locked(view.at) else None,
        "sensors": sensor_status(view, settings, battery),
        "blocking": {mode.value: blocking_sensors(panel, settings, mode) for mode in ArmMode},
        "actuators": [
            {"id": ident, "type": kind.value, "on": view.stats.actuators.get(ident)}
            for ident, kind in actuators
        ],
        "siren_commanded": panel.siren_on,
        # Parts of homeguard itself in trouble (e.g. "storage": the event store cannot
        # write; events wait in memory), with the time each began.
        "system_troubles": {part.value: since for part, since in panel.system_troubles.items()},
        "system": dict(system),
    }


def event_row(record: EventRecord) -> dict[str, Any]:
    """One row of the API's event log."""
    if isinstance(record, SensorRecord):
        return _sensor_event_row(record)
    return _system_event_row(record)


def _sensor_event_row(record: SensorRecord) -> dict[str, Any]:
    return {
        "id": f"s{record.id}",
        "timestamp": record.ts,
        "kind": "sensor",
        "type": record.state.lower(),
        "device": record.device_id,
        "description": f"{record.device_id} ({record.sensor_type}) {record.state}",
        "alarm": False,
        "data": dict(record.metadata or {}),
    }


def _system_event_row(record: SystemRecord) -> dict[str, Any]:
    data = dict(record.data or {})
    device = data.get("sensor")
    if device is None and isinstance(data.get("sensors"), list) and data["sensors"]:
        device = ",".join(str(s) for s in data["sensors"])
    return {
        "id": f"y{record.id}",
        "timestamp": record.ts,
        "kind": "system",
        "type": record.event_type,
        "device": device,
        "description": record.description,
        "alarm": record.event_type in ALARM_EVENTS,
        "data": data,
    }
