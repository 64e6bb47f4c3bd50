"""The JSON documents the dashboard and the API show: plain functions of a panel view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from homeguard.core.chime import chime_on
from homeguard.core.model import ArmMode, PanelSettings, SensorSpec, SensorState
from homeguard.core.panel import SensorStatus, Trouble, blocking_sensors
from homeguard.core.records import DeviceRecord, EventRecord, SensorRecord, SystemRecord
from homeguard.core.signals import ActuatorKind
from homeguard.core.state import WalkTest

from .backend import PanelView
from .schemas import (
    ActuatorStatus,
    SensorDocument,
    SensorLight,
    StateDocument,
    SystemFigures,
    WalkTestDocument,
)

ALARM_EVENTS = ("triggered", "locked_out")  # duress is never among the events shown


def sensor_status(
    view: PanelView, settings: PanelSettings, battery: Mapping[str, float]
) -> list[SensorDocument]:
    """Every configured sensor with its status light, in config order."""
    panel, devices = view.panel, view.devices
    return [
        sensor_document(
            spec, panel.sensor(spec.id), devices.get(spec.id), spec.id in panel.bypassed, battery
        )
        for spec in settings.sensors
    ]


def sensor_document(
    spec: SensorSpec,
    status: SensorStatus,
    device: DeviceRecord | None,
    bypassed: bool,
    battery: Mapping[str, float],
) -> SensorDocument:
    """One sensor's row: made of these and nothing else (StateRenderer relies on it)."""
    last_seen = status.last_seen
    if device is not None and device.last_seen is not None:
        last_seen = max(last_seen or 0.0, device.last_seen)
    return SensorDocument(
        id=spec.id,
        name=spec.name or spec.id,
        type=spec.type,
        zone=spec.zone_kind,
        state=status.state,
        status=_light(status, bypassed=bypassed),
        trouble=status.trouble_name,
        bypassed=bypassed,
        online=device.online if device is not None else None,
        battery=status.battery if status.battery is not None else battery.get(spec.id),
        last_seen=last_seen,
    )


def _light(status: SensorStatus, *, bypassed: bool) -> SensorLight:
    if bypassed:
        return SensorLight.BYPASSED
    if status.trouble is not None:
        return SensorLight.OFFLINE if status.trouble is Trouble.OFFLINE else SensorLight.TROUBLE
    if status.battery_low:
        return SensorLight.TROUBLE
    if status.state is None:
        return SensorLight.UNKNOWN
    if status.state is SensorState.MOTION:
        return SensorLight.MOTION
    return SensorLight.OPEN if status.active else SensorLight.CLOSED


def state_document(
    view: PanelView,
    settings: PanelSettings,
    actuators: Sequence[tuple[str, ActuatorKind]],
    battery: Mapping[str, float],
    system: SystemFigures,
    *,
    sensors: list[SensorDocument] | None = None,
    blocking: dict[ArmMode, dict[str, str]] | None = None,
) -> StateDocument:
    """Everything the live view shows, in one document. ``sensors`` and ``blocking``:
    as the caller worked them out (StateRenderer: from the sensors that changed);
    by default from every sensor."""
    panel = view.panel
    lock = panel.code_lock
    if sensors is None:
        sensors = sensor_status(view, settings, battery)
    if blocking is None:
        blocking = {mode: blocking_sensors(panel, settings, mode) for mode in ArmMode}
    return StateDocument(
        state=panel.state,
        mode=panel.mode,
        since=panel.since,
        deadline=panel.deadline,
        now=view.at,
        triggered_by=list(panel.triggered_by),
        code_locked_until=lock.locked_until if lock.locked(view.at) else None,
        sensors=sensors,
        blocking=blocking,
        actuators=[
            ActuatorStatus(id=ident, type=kind, on=view.stats.actuators.get(ident))
            for ident, kind in actuators
        ],
        siren_commanded=panel.siren_on,
        system_troubles=dict(panel.system_troubles),
        system=system,
        walk_test=walk_test_document(panel.walk_test),
        chime=chime_on(panel, settings),
    )


def walk_test_document(walk: WalkTest | None) -> WalkTestDocument | None:
    if walk is None:
        return None
    return WalkTestDocument(
        started=walk.started, until=walk.until, user=walk.user, tested=list(walk.tested)
    )


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
