"""The door chime (a chirp of the siren when an entry door opens while disarmed), the
arm/disarm squawk, and switching the chime at run time (``CHIME_ON`` / ``CHIME_OFF``).
All are holds of the siren (core.holds); none changes the panel state."""

from __future__ import annotations

from dataclasses import replace

from homeguard.core import holds
from homeguard.core.features import Chirps
from homeguard.core.model import PanelSettings, PanelState, ZoneKind
from homeguard.core.run import Run
from homeguard.core.signals import ActuatorKind, EventKind
from homeguard.core.state import Panel


def chime_on(panel: Panel, settings: PanelSettings) -> bool:
    """Whether the door chime is on: as switched at run time, else as configured."""
    return settings.features.chime if panel.chime is None else panel.chime


def chimes(settings: PanelSettings, sensor_id: str) -> bool:
    """Whether ``sensor_id`` chimes: one of the configured chime sensors, or by default
    a sensor of an entry zone."""
    chosen = settings.features.chime_sensors
    if chosen is not None:
        return sensor_id in chosen
    spec = settings.sensor(sensor_id)
    return spec is not None and spec.zone_kind is ZoneKind.ENTRY


def door_opened(run: Run, sensor_id: str, t: float) -> None:
    """A sensor became active: chime, if the panel is disarmed (and in no walk test,
    which chimes for itself), the chime is on, and the sensor chimes."""
    panel = run.panel
    if (
        panel.state is PanelState.DISARMED
        and panel.walk_test is None
        and chime_on(panel, run.settings)
        and chimes(run.settings, sensor_id)
    ):
        chirp(run, run.settings.features.chime_chirp, t)


def chirp(run: Run, chirps: Chirps, t: float) -> None:
    """Sound ``chirps`` on the siren, unless the alarm has it."""
    if chirps.count and not run.panel.siren_on:
        holds.steps(run, ActuatorKind.SIREN, chirps.steps(), t)


def squawk_arm(run: Run, t: float) -> None:
    chirp(run, run.settings.features.squawk_arm, t)


def squawk_disarm(run: Run, t: float) -> None:
    chirp(run, run.settings.features.squawk_disarm, t)


def switch(run: Run, on: bool, who: str | None, source: str) -> None:
    """Switch the door chime at run time (kept across restarts)."""
    run.panel = replace(run.panel, chime=on)
    run.event(
        EventKind.CHIME,
        f"door chime {'on' if on else 'off'}",
        on=on,
        user=who,
        source=source,
    )
