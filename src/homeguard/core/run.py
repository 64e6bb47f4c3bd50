"""One call of the engine, shared by the parts that carry it out (core.alarm,
core.arming, core.supervision): each is a set of functions taking the :class:`Run`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from homeguard.core.evolve import evolve
from homeguard.core.model import ArmMode, ModeTiming, PanelSettings, PanelState, SensorSpec
from homeguard.core.signals import (
    Effect,
    EventKind,
    PublishState,
    RecordEvent,
    WakeAt,
)
from homeguard.core.state import (
    REJECTIONS_WITHOUT_EVENT,
    Outcome,
    Panel,
    Rejection,
    RejectReason,
    SensorStatus,
    sensor_map,
)
from homeguard.core.timers import next_wake


class Run:
    """One call of the engine: the panel being changed, the effects so far, and the
    steps that every part of the engine takes (record, refuse, change state)."""

    def __init__(self, panel: Panel, settings: PanelSettings) -> None:
        self.panel = panel
        self.settings = settings
        self.effects: list[Effect] = []
        self.rejection: Rejection | None = None

    def outcome(self) -> Outcome:
        wake = next_wake(self.panel, self.settings)
        if wake is not None:
            self.effects.append(WakeAt(wake))
        return Outcome(self.panel, tuple(self.effects), self.rejection)

    def event(self, kind: EventKind, description: str, **data: object) -> None:
        self.effects.append(RecordEvent(kind, description, data))

    def reject(self, reason: RejectReason, message: str, sensors: tuple[str, ...] = ()) -> None:
        self.rejection = Rejection(reason, message, sensors)
        if reason in REJECTIONS_WITHOUT_EVENT:
            self.event(EventKind.COMMAND_REJECTED, message, reason=reason.value)

    def become(self, state: PanelState, t: float, deadline: float | None = None) -> None:
        self.update(replace(self.panel, state=state, since=t, deadline=deadline))
        self.effects.append(PublishState(state))

    def update(self, panel: Panel) -> None:
        """Take ``panel`` as the panel, switching the siren and the light whose state
        (``Panel.actuators``) changes with it; both, when the alarm starts or ends (a
        light switched by hand meanwhile is set right)."""
        before = self.panel.actuators(self.settings)
        alarm = self.panel.siren_on
        self.panel = panel
        after = self.panel.actuators(self.settings)
        every = alarm != panel.siren_on
        self.effects.extend(
            new for new, old in zip(after, before, strict=True) if every or new != old
        )

    def timing(self) -> ModeTiming:
        return self.settings.timing(self.panel.mode or ArmMode.AWAY)

    def set_sensor(
        self,
        sensor_id: str,
        status: SensorStatus,
        *,
        message_seqs: Mapping[str, int] | None = None,
    ) -> None:
        """The sensor's new status (and the panel's new seqs, when given)."""
        sensors = sensor_map(self.panel.sensors, self.settings).set(sensor_id, status)
        if message_seqs is None:
            self.panel = evolve(self.panel, sensors=sensors)
        else:
            self.panel = evolve(self.panel, sensors=sensors, message_seqs=message_seqs)

    def known_sensor(self, sensor_id: str) -> SensorSpec | None:
        spec = self.settings.sensor(sensor_id)
        if spec is None:
            self.reject(RejectReason.UNKNOWN_SENSOR, f"no sensor {sensor_id!r} is configured")
        return spec
