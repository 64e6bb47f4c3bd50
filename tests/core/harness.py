"""A fake clock and a panel driven through the engine, for the core's tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from homeguard.core.codes import hash_pin
from homeguard.core.model import (
    Action,
    ArmMode,
    ModeTiming,
    PanelSettings,
    PanelState,
    SensorSpec,
    SensorState,
    SensorType,
    User,
    ZoneKind,
)
from homeguard.core.panel import Outcome, Panel, handle, new_panel
from homeguard.core.signals import (
    ActuatorKind,
    Command,
    Effect,
    EventKind,
    Input,
    RecordEvent,
    SensorReport,
    SetActuator,
    Tick,
    WakeAt,
)

# Cheap hashes: the cost parameter travels with the hash, so tests stay fast.
PINS = {"alice": "1234", "bob": "5555", "coerced": "9999", "guest": "4321"}


def cheap_hash(pin: str) -> str:
    return hash_pin(pin, b"testsalt" + pin.encode(), log2_n=2, r=1)


USERS = (
    User("alice", cheap_hash(PINS["alice"])),
    User("bob", cheap_hash(PINS["bob"]), can_disarm=False),
    User("coerced", cheap_hash(PINS["coerced"]), duress=True),
    User("guest", cheap_hash(PINS["guest"]), can_arm=False),
)

SENSORS = (
    SensorSpec("front", SensorType.DOOR),
    SensorSpec("back", SensorType.DOOR, entry_delay=10),
    SensorSpec("living", SensorType.WINDOW),
    SensorSpec("hall", SensorType.MOTION),
    SensorSpec("lid", SensorType.TAMPER),
    SensorSpec("garage", SensorType.DOOR, zone=ZoneKind.PERIMETER, modes=frozenset({ArmMode.AWAY})),
    SensorSpec(
        "shed", SensorType.DOOR, supervision=60, trigger_unavailable=True, unavailable_debounce=20
    ),
)

MODES = {
    ArmMode.AWAY: ModeTiming(exit_delay=60, entry_delay=30, siren_time=300),
    ArmMode.HOME: ModeTiming(exit_delay=0, entry_delay=30, siren_time=300),
    ArmMode.NIGHT: ModeTiming(exit_delay=10, entry_delay=0, siren_time=120),
}


def settings(**overrides: object) -> PanelSettings:
    base: dict[str, object] = {"sensors": SENSORS, "users": USERS, "modes": MODES}
    base.update(overrides)
    return PanelSettings(**base)  # type: ignore[arg-type]


@dataclass
class House:
    """The panel, a fake clock and what the outside world would have seen."""

    settings: PanelSettings = field(default_factory=settings)
    now: float = 1_000_000.0
    panel: Panel = field(init=False)
    siren: bool = False
    light: bool = False
    wake: float | None = None
    effects: list[Effect] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.panel = new_panel(self.now)

    def send(self, event: Input) -> Outcome:
        outcome = handle(self.panel, self.settings, event, self.now)
        self.apply(outcome)
        return outcome

    def apply(self, outcome: Outcome) -> None:
        self.panel = outcome.panel
        self.effects.extend(outcome.effects)
        self.wake = None
        for effect in outcome.effects:
            if isinstance(effect, SetActuator):
                if effect.actuator is ActuatorKind.SIREN:
                    self.siren = effect.on
                else:
                    self.light = effect.on
            elif isinstance(effect, WakeAt):
                self.wake = effect.at

    def at(self, seconds_later: float) -> House:
        """Advance the clock, waking the panel as a controller would."""
        target = self.now + seconds_later
        while self.wake is not None and self.wake <= target:
            self.now = max(self.now, self.wake)
            self.send(Tick())
        self.now = target
        self.send(Tick())
        return self

    def sensor(self, sensor_id: str, state: str | None) -> Outcome:
        return self.send(SensorReport(sensor_id, SensorState(state) if state else None))

    def cmd(self, action: str, code: str | None = None, force: bool = False) -> Outcome:
        return self.send(Command(Action(action), code, force))

    @property
    def state(self) -> PanelState:
        return self.panel.state

    def events(self, kind: EventKind) -> list[RecordEvent]:
        return [e for e in self.effects if isinstance(e, RecordEvent) and e.kind is kind]
