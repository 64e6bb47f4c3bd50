"""The panel as JSON, so that a restarted controller resumes exactly where it was: whole
(:func:`dump`), or as the store keeps it, the panel's own part (:func:`dump_body`) and a
row per sensor written only when the sensor changed (:func:`sensor_rows`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from homeguard.core.codes import CodeLock
from homeguard.core.model import ArmMode, PanelSettings, PanelState, SensorState
from homeguard.core.panel import Panel, SensorStatus, Trouble
from homeguard.core.persistent_map import changed_keys
from homeguard.core.rulebook import SequenceTrigger
from homeguard.core.signals import ActuatorKind, SystemPart
from homeguard.core.state import Hold, RuleState, StepSeen, WalkTest, sensor_map
from homeguard.errors import PayloadError

VERSION = 1
_STATUS_FIELDS = tuple(f.name for f in fields(SensorStatus))  # flat: asdict, cheaper
# The panel's own part (dump_body); its sensors' statuses and seqs are in rows.
_BODY_FIELDS = tuple(f.name for f in fields(Panel) if f.name not in ("sensors", "message_seqs"))
_MISSING = object()
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # what json.dumps would build each call


def dump(panel: Panel) -> str:
    """The whole panel as one JSON text."""
    data = _panel_data(panel)
    data["sensors"] = {sid: asdict(status) for sid, status in sorted(panel.sensors.items())}
    data["message_seqs"] = dict(sorted(panel.message_seqs.items()))
    return _COMPACT.encode(data)


def dump_body(panel: Panel) -> str:
    """The panel without its sensors' statuses and seqs, which go in rows of their own
    (:func:`sensor_rows`): what a turn stores does not grow with the sensors."""
    return _COMPACT.encode(_panel_data(panel))


def body_changed(before: Panel | None, after: Panel) -> bool:
    """Whether :func:`dump_body` may give ``after`` another text than ``before``: one of
    its fields is not the very object it was (a panel changes by copies, core.evolve), so
    a turn of sensor reports alone writes no body, only the sensors' rows."""
    return before is None or any(
        getattr(before, name) is not getattr(after, name) for name in _BODY_FIELDS
    )


def sensor_rows(before: Panel | None, after: Panel) -> dict[str, str | None]:
    """A row (JSON: its status and seq) for each sensor whose status or seq differs in
    ``after`` from ``before`` (every one when ``before`` is None), found from what their
    maps do not share (core.persistent_map)."""
    if before is None:
        changed = set(after.sensors) | set(after.message_seqs)
    else:
        changed = _changed(before.sensors, after.sensors) | _changed(
            before.message_seqs, after.message_seqs
        )
    rows: dict[str, str | None] = {sid: _sensor_row(after, sid) for sid in sorted(changed)}
    return rows


def _changed(before: Mapping[str, object], after: Mapping[str, object]) -> set[str]:
    keys = changed_keys(before, after)
    if keys is None:
        keys = {k for k, v in after.items() if before.get(k, _MISSING) is not v}
        keys.update(k for k in before if k not in after)
    return keys


def _sensor_row(panel: Panel, sensor_id: str) -> str:
    row: dict[str, Any] = {}
    if (status := panel.sensors.get(sensor_id)) is not None:
        row["status"] = {name: getattr(status, name) for name in _STATUS_FIELDS}  # asdict
    if (seq := panel.message_seqs.get(sensor_id)) is not None:
        row["seq"] = seq
    return _COMPACT.encode(row)


def _panel_data(panel: Panel) -> dict[str, Any]:
    return {
        "version": VERSION,
        "state": panel.state.value,
        "mode": panel.mode.value if panel.mode else None,
        "since": panel.since,
        "deadline": panel.deadline,
        "triggered_by": list(panel.triggered_by),
        "sensors": {},
        "bypassed": sorted(panel.bypassed),
        "alarm_trips": dict(sorted(panel.alarm_trips.items())),
        "code_lock": asdict(panel.code_lock),
        "supervised_since": panel.supervised_since,
        "quiet_until": panel.quiet_until,
        "message_seqs": {},
        "system_troubles": {part.value: t for part, t in sorted(panel.system_troubles.items())},
        "holds": {
            kind.value: [[step.on, step.until] for step in held]
            for kind, held in sorted(panel.holds.items())
        },
        "walk_test": None if panel.walk_test is None else asdict(panel.walk_test),
        "chime": panel.chime,
        "rules": {
            "last_fired": dict(sorted(panel.rules.last_fired.items())),
            "steps": {
                name: [None if s is None else [s.at, s.sensor] for s in seen]
                for name, seen in sorted(panel.rules.steps.items())
            },
            "scheduled_until": panel.rules.scheduled_until,
        },
    }


def load(text: str, settings: PanelSettings, rows: Mapping[str, str] | None = None) -> Panel:
    """Rebuild a panel from :func:`dump`'s text, or from :func:`dump_body`'s and the
    sensors' rows (they win over what the text holds of a sensor: a text from before
    the rows holds them all); sensors no longer configured are forgotten."""
    try:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ValueError(f"unknown snapshot version {data.get('version')!r}")
        known = {spec.id for spec in settings.sensors}
        statuses = dict(data["sensors"])
        seqs = dict(data.get("message_seqs", {}))  # absent from snapshots older than signing
        for sid, row in (rows or {}).items():
            saved = json.loads(row)
            statuses.pop(sid, None)
            seqs.pop(sid, None)
            if "status" in saved:
                statuses[sid] = saved["status"]
            if "seq" in saved:
                seqs[sid] = saved["seq"]
        lock = data["code_lock"]
        return Panel(
            state=PanelState(data["state"]),
            mode=ArmMode(data["mode"]) if data["mode"] else None,
            since=float(data["since"]),
            deadline=None if data["deadline"] is None else float(data["deadline"]),
            triggered_by=tuple(str(s) for s in data["triggered_by"]),
            sensors=sensor_map(
                {sid: _sensor_status(raw) for sid, raw in statuses.items() if sid in known},
                settings,
            ),
            bypassed=frozenset(str(s) for s in data["bypassed"]) & known,
            alarm_trips={
                str(sid): int(n) for sid, n in data["alarm_trips"].items() if sid in known
            },
            code_lock=CodeLock(
                failures=tuple(float(t) for t in lock["failures"]),
                locked_until=float(lock["locked_until"]),
                lockouts=int(lock["lockouts"]),
            ),
            supervised_since=float(data["supervised_since"]),
            quiet_until=float(data.get("quiet_until", 0.0)),  # absent before restart grace
            message_seqs=sensor_map({str(sid): int(n) for sid, n in seqs.items()}, settings),
            system_troubles={  # absent from older snapshots
                SystemPart(part): float(t) for part, t in data.get("system_troubles", {}).items()
            },
            # The rest is absent from snapshots older than holds and the walk test.
            holds={
                ActuatorKind(kind): tuple(Hold(bool(on), float(until)) for on, until in held)
                for kind, held in data.get("holds", {}).items()
                if held
            },
            walk_test=_walk_test(data.get("walk_test"), known),
            chime=None if data.get("chime") is None else bool(data["chime"]),
            rules=_rule_state(data.get("rules"), settings),  # absent before rules
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PayloadError("bad_snapshot", str(exc)) from exc


def _sensor_status(raw: dict[str, Any]) -> SensorStatus:
    return SensorStatus(
        state=SensorState(raw["state"]) if raw["state"] else None,
        last_seen=None if raw["last_seen"] is None else float(raw["last_seen"]),
        trouble=Trouble(raw["trouble"]) if raw["trouble"] else None,
        trouble_since=None if raw["trouble_since"] is None else float(raw["trouble_since"]),
        unavailable_tripped=bool(raw["unavailable_tripped"]),
        tampered=bool(raw.get("tampered", False)),  # absent from older snapshots
        battery_low=bool(raw.get("battery_low", False)),
        battery=None if raw.get("battery") is None else int(raw["battery"]),
        offline_since=None if raw.get("offline_since") is None else float(raw["offline_since"]),
    )


def _walk_test(raw: dict[str, Any] | None, known: set[str]) -> WalkTest | None:
    if raw is None:
        return None
    return WalkTest(
        started=float(raw["started"]),
        until=float(raw["until"]),
        user=None if raw["user"] is None else str(raw["user"]),
        tested=tuple(str(s) for s in raw["tested"] if s in known),
    )


def _rule_state(raw: dict[str, Any] | None, settings: PanelSettings) -> RuleState:
    """The rules' memory; rules no longer configured, or whose sequence changed, are
    forgotten."""
    if raw is None:
        return RuleState()
    book = settings.rules
    steps: dict[str, tuple[StepSeen | None, ...]] = {}
    for name, seen in raw["steps"].items():
        rule = book.rule(name)
        if (
            rule is not None
            and isinstance(rule.trigger, SequenceTrigger)
            and len(seen) == len(rule.trigger.steps)
        ):
            steps[name] = tuple(
                None if s is None else StepSeen(float(s[0]), str(s[1])) for s in seen
            )
    until = raw["scheduled_until"]
    return RuleState(
        last_fired={
            str(name): float(t) for name, t in raw["last_fired"].items() if book.rule(name)
        },
        steps=steps,
        scheduled_until=None if until is None else float(until),
    )
