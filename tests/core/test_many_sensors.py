"""The work of one input does not grow with the sensors configured (issue 13: flat cost
from 10 to 100,000 sensors), counted, not timed: how many configured sensors an input
walks over, how many sensors' timers it works out, how many entries of the panel's
per-sensor maps it copies; and the snapshot's rows, written only for what changed,
bring back the same panel."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from homeguard.core import snapshot
from homeguard.core.model import (
    Action,
    ArmMode,
    ModeTiming,
    PanelSettings,
    SensorSpec,
    SensorState,
    SensorType,
    ZoneKind,
)
from homeguard.core.panel import Panel, block_reason, blocking_sensors, handle, new_panel, resume
from homeguard.core.persistent_map import PersistentMap, changed_keys
from homeguard.core.signals import (
    Availability,
    BypassRequest,
    ClockStep,
    Command,
    Input,
    SensorReport,
    Tick,
)
from homeguard.core.state import SensorStatus
from homeguard.core.timers import _sensor_timer

T0 = 1_000_000.0


class CountedSpecs(tuple[SensorSpec, ...]):
    """The configured sensors, counting how many an input walks over."""

    walked = 0

    def __iter__(self) -> Iterator[SensorSpec]:
        for spec in super().__iter__():
            CountedSpecs.walked += 1
            yield spec


class CountedMap(PersistentMap[str, Any]):
    """A panel's per-sensor map, counting the entries read by walking over it (a copy)."""

    walked = 0

    def __iter__(self) -> Iterator[str]:
        for key in super().__iter__():
            CountedMap.walked += 1
            yield key


def site(count: int) -> PanelSettings:
    """Every sensor supervised (each has a timer), half of them doors."""
    specs = [
        SensorSpec(f"s{n}", SensorType.DOOR if n % 2 else SensorType.MOTION, supervision=600)
        for n in range(count)
    ]
    return PanelSettings(sensors=CountedSpecs(specs), report_grace=120.0, restart_grace=30.0)


def inputs(count: int) -> list[tuple[float, Input]]:
    """Reports from a few sensors (with seqs, state changes, an offline and back), and
    the timers that fall due meanwhile (supervision, report grace)."""
    rng = random.Random(7)
    given: list[tuple[float, Input]] = []
    seqs: dict[str, int] = {}
    for n in range(60):
        sensor_id = f"s{rng.randrange(min(count, 8))}"
        seqs[sensor_id] = seqs.get(sensor_id, 0) + rng.choice((1, 1, 2))
        state = rng.choice((SensorState.OPEN, SensorState.CLOSED, None))
        given.append((T0 + n * 3.0, SensorReport(sensor_id, state, seq=seqs[sensor_id])))
    given.append((T0 + 181.0, Availability("s1", online=False)))
    given.append((T0 + 182.0, Availability("s1", online=True)))
    given.append((T0 + 200.0, Tick()))  # past the report grace: the silent ones' troubles
    return given


def run(count: int) -> tuple[int, int, Panel]:
    """Configured sensors walked over and sensors' timers worked out by the inputs,
    after a start (which looks at every sensor once)."""
    settings = site(count)
    panel = resume(new_panel(T0), settings, T0).panel
    walked, worked = CountedSpecs.walked, settings.timer_index.worked_out
    for now, given in inputs(count):
        panel = handle(panel, settings, given, now).panel
    return (
        CountedSpecs.walked - walked,
        settings.timer_index.worked_out - worked,
        panel,
    )


def test_the_work_of_an_input_does_not_grow_with_the_sensors_configured() -> None:
    small_walked, small_worked, _ = run(10)
    big_walked, big_worked, big = run(5_000)
    # Past the report grace, every silent sensor is in trouble: that input (one of 63)
    # is about every sensor, and works out each one's timer again, once.
    troubled = sum(1 for status in big.sensors.values() if status.trouble is not None)
    assert troubled > 4_900
    assert big_worked - small_worked == 5_000 - 10
    assert small_worked < 10 * len(inputs(10)) + 10
    # No input walks over the configured sensors, not even that one: the timers that
    # fell due ran one by one, earliest first.
    assert (small_walked, big_walked) == (0, 0)


def test_a_report_copies_none_of_the_other_sensors() -> None:
    settings = site(5_000)
    statuses = CountedMap((f"s{n}", SensorStatus(last_seen=T0)) for n in range(5_000))
    seqs = CountedMap((f"s{n}", 1) for n in range(5_000))
    panel = Panel(since=T0, supervised_since=T0, sensors=statuses, message_seqs=seqs)
    CountedMap.walked = 0
    for n in range(20):
        report = SensorReport(f"s{n}", SensorState.OPEN, seq=2)
        panel = handle(panel, settings, report, T0 + n).panel
    assert CountedMap.walked == 0
    assert panel.sensor("s3").state is SensorState.OPEN
    assert panel.message_seqs["s3"] == 2
    assert panel.sensor("s4999") is statuses["s4999"]  # shared, not copied


def test_timers_fire_as_a_walk_over_every_sensor_would_fire_them() -> None:
    """The earliest first; of those due at once, the first configured."""
    settings = site(300)
    panel = resume(new_panel(T0), settings, T0).panel
    troubles: list[str] = []
    for second in range(0, 800, 7):
        outcome = handle(panel, settings, Tick(), T0 + second)
        panel = outcome.panel
        troubles += [str(e.data["sensor"]) for e in outcome.effects if hasattr(e, "data")]
    # All silent since the start: the report grace (120 s) makes each one's trouble, in
    # the order configured, all at once.
    assert troubles == [f"s{n}" for n in range(300)]


def test_the_timer_index_agrees_with_a_walk_over_every_sensor() -> None:
    """After each input of a random run (reports, offlines, restarts, clock steps),
    the index's earliest sensor timer is the one a walk over every sensor finds."""
    specs = [
        SensorSpec(
            f"s{n}",
            SensorType.DOOR,
            supervision=(None, 40.0, 90.0)[n % 3],
            trigger_unavailable=n % 4 == 0,
            unavailable_debounce=15.0,
            event_only=n % 5 == 0,
        )
        for n in range(40)
    ]
    settings = PanelSettings(sensors=tuple(specs), report_grace=60.0, restart_grace=20.0)
    rng = random.Random(11)
    now = T0
    panel = resume(new_panel(now), settings, now).panel
    for _ in range(400):
        now += rng.choice((0.0, 1.0, 7.0, 30.0))
        sensor_id = f"s{rng.randrange(40)}"
        given: Input = rng.choice(
            (
                SensorReport(sensor_id, rng.choice((SensorState.OPEN, SensorState.CLOSED))),
                Availability(sensor_id, online=rng.random() < 0.5),
                Tick(),
            )
        )
        if rng.random() < 0.02:
            panel = resume(panel, settings, now).panel
        elif rng.random() < 0.02:
            step = rng.choice((-50.0, 50.0))
            now += step
            panel = handle(panel, settings, ClockStep(step), now).panel
        panel = handle(panel, settings, given, now).panel
        walked = [
            (due, rank, spec.id)
            for rank, spec in enumerate(specs)
            if (due := _sensor_timer(panel, settings, spec, panel.sensor(spec.id))) is not None
        ]
        expected = min(walked, default=None)
        found = settings.timer_index.earliest(panel, settings)
        assert found == (None if expected is None else (expected[0], expected[2]))


def test_arming_looks_at_the_sensors_open_or_in_trouble_not_at_every_one() -> None:
    """Arming (and being refused) costs about the same at 10 sensors as at 5,000, the
    first time after a start too: the readiness index, built by the start, follows the
    sensors that changed, not the ones configured."""

    def arm_and_disarm(count: int) -> tuple[int, int, list[str]]:
        settings = replace(site(count), modes={ArmMode.HOME: ModeTiming(exit_delay=0)})
        heard = {f"s{n}": SensorStatus(last_seen=T0) for n in range(count)}
        panel = resume(Panel(since=T0, supervised_since=T0, sensors=heard), settings, T0).panel
        for n in (1, 3):  # two doors open
            panel = handle(panel, settings, SensorReport(f"s{n}", SensorState.OPEN), T0).panel
        arm = Command(Action.ARM_AWAY, source="test", trusted=True)
        arm_home = Command(Action.ARM_HOME, source="test", trusted=True, force=True)
        disarm = Command(Action.DISARM, source="test", trusted=True)
        walked, looked = CountedSpecs.walked, settings.readiness.looked_at
        refused = handle(panel, settings, arm, T0 + 1)  # every sensor looked at in resume
        for n in range(20):
            now = T0 + 2 + n
            closing = SensorReport(f"s{n % 2 * 2 + 1}", SensorState.CLOSED)
            panel = handle(panel, settings, closing, now).panel
            panel = handle(panel, settings, arm, now).panel  # with an exit delay
            panel = handle(panel, settings, disarm, now).panel
            panel = handle(panel, settings, arm_home, now).panel  # armed at once
            panel = handle(panel, settings, disarm, now).panel
            opening = SensorReport(f"s{n % 2 * 2 + 1}", SensorState.OPEN)
            panel = handle(panel, settings, opening, now).panel
        assert refused.rejection is not None
        looked = settings.readiness.looked_at - looked
        return CountedSpecs.walked - walked, looked, list(refused.rejection.sensors)

    small = arm_and_disarm(10)
    big = arm_and_disarm(5_000)
    assert small[2] == big[2] == ["s1", "s3"]
    assert small[0] == big[0] == 0  # no walk over the configured sensors
    assert small[1] == big[1] < 100  # only the sensors each input changed


def test_the_sensors_that_block_arming_are_those_a_walk_over_every_sensor_finds() -> None:
    """After each input of a random run (reports with batteries and tampers, offlines,
    silences, restarts, bypasses), in every mode: the same blockers, in the same order
    (the order configured)."""
    zones = (None, ZoneKind.PERIMETER, ZoneKind.INTERIOR, ZoneKind.ALWAYS)
    specs = [
        SensorSpec(
            f"s{n}",
            (SensorType.DOOR, SensorType.MOTION)[n % 2],
            zones[n % 4],
            supervision=(None, 40.0)[n % 3 == 0],
        )
        for n in range(30)
    ]
    settings = PanelSettings(sensors=tuple(reversed(specs)), report_grace=60.0)
    rng = random.Random(5)
    now = T0
    panel = resume(new_panel(now), settings, now).panel
    for _ in range(500):
        now += rng.choice((0.0, 1.0, 13.0))
        sensor_id = f"s{rng.randrange(32)}"  # two of them not configured
        given: Input = rng.choice(
            (
                SensorReport(
                    sensor_id,
                    rng.choice((SensorState.OPEN, SensorState.CLOSED, None)),
                    battery=rng.choice((None, 5, 90)),
                    tamper=rng.choice((None, False, True)),
                ),
                Availability(sensor_id, online=rng.random() < 0.5),
                BypassRequest(sensor_id, bypass=rng.random() < 0.5, code=None, source="t"),
                Tick(),
            )
        )
        if rng.random() < 0.03:
            panel = resume(panel, settings, now).panel
        panel = handle(panel, settings, given, now).panel
        for mode in ArmMode:
            walked = {
                spec.id: reason
                for spec in settings.sensors
                if (reason := block_reason(panel, spec, mode)) is not None
            }
            found = blocking_sensors(panel, settings, mode)
            assert list(found.items()) == list(walked.items())


# ------------------------------------------------------------------ PersistentMap


def test_a_persistent_map_is_a_mapping_like_a_dict() -> None:
    rng = random.Random(3)
    versions: list[tuple[PersistentMap[str, int], dict[str, int]]] = []
    current: PersistentMap[str, int] = PersistentMap()
    plain: dict[str, int] = {}
    for n in range(3_000):  # grows past two depths
        key = f"k{rng.randrange(2_500)}"
        before = current
        current, plain = current.set(key, n), {**plain, key: n}
        assert changed_keys(before, current) in ({key}, None)  # None: it deepened
        if n % 300 == 0:
            versions.append((current, plain))
    assert current == plain and plain == current and len(current) == len(plain)
    assert sorted(current.items()) == sorted(plain.items())
    assert current.get("nope") is None and "nope" not in current
    for old, then in versions:  # each version unchanged by what came after
        assert dict(old) == then
        keys = changed_keys(old, current)
        if keys is not None:
            assert keys == {k for k in plain.keys() | then.keys() if plain.get(k) != then.get(k)}
    assert changed_keys(current, plain) is None  # a dict: compare some other way
    with pytest.raises(KeyError):
        current["nope"]


def test_a_panel_with_a_persistent_map_equals_one_with_a_dict() -> None:
    statuses = {"a": SensorStatus(last_seen=1.0), "b": SensorStatus()}
    assert Panel(sensors=PersistentMap(statuses)) == Panel(sensors=statuses)
    assert Panel(sensors=PersistentMap(statuses)) != Panel(sensors={"a": SensorStatus()})


# ------------------------------------------------------------------ snapshot rows


def test_the_snapshot_writes_a_row_for_each_sensor_changed_and_loads_back() -> None:
    settings = site(1_000)
    heard = {f"s{n}": SensorStatus(last_seen=T0) for n in range(1_000)}  # since the start
    panel = resume(Panel(since=T0, supervised_since=T0, sensors=heard), settings, T0).panel
    stored_body, stored_rows = snapshot.dump_body(panel), snapshot.sensor_rows(None, panel)
    assert len(stored_rows) == len(panel.sensors) == 1_000  # the first: all of them
    for now, given in inputs(1_000):
        before = panel
        panel = handle(panel, settings, given, now).panel
        rows = snapshot.sensor_rows(before, panel)
        if isinstance(given, SensorReport | Availability):
            assert set(rows) == {given.sensor_id}
        stored_body = snapshot.dump_body(panel)
        stored_rows.update(rows)
        assert len(stored_body) < 1_000  # the panel's own part: no sensor in it
        rows_only = {k: v for k, v in stored_rows.items() if v is not None}
        assert snapshot.load(stored_body, settings, rows_only) == panel
    assert snapshot.load(snapshot.dump(panel), settings) == panel  # whole, as before


def test_rows_win_over_the_sensors_of_an_older_whole_snapshot() -> None:
    settings = site(3)
    older = Panel(sensors={"s0": SensorStatus(last_seen=1.0)}, message_seqs={"s0": 4})
    newer = replace(older, sensors={"s0": SensorStatus(last_seen=2.0)}, message_seqs={})
    rows = snapshot.sensor_rows(None, newer)
    loaded = snapshot.load(snapshot.dump(older), settings, {k: v for k, v in rows.items() if v})
    assert loaded == newer
