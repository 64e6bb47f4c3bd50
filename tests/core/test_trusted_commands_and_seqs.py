"""Commands from a trusted channel, and the signing devices' last seq in the snapshot."""

from __future__ import annotations

import json
from dataclasses import replace

from homeguard.core import snapshot
from homeguard.core.model import Action, PanelState
from homeguard.core.panel import RejectReason, handle, new_panel
from homeguard.core.signals import Command, EventKind, SilentAlert
from tests.core.harness import PINS, SENSORS
from tests.core.harness import settings as settings_for

T0 = 1000.0


def test_a_trusted_command_needs_no_code_but_a_given_code_is_checked() -> None:
    settings = settings_for()
    panel = new_panel(T0)
    untrusted = handle(panel, settings, Command(Action.ARM_HOME), T0)
    assert untrusted.rejection is not None
    assert untrusted.rejection.reason is RejectReason.CODE_REQUIRED
    armed = handle(panel, settings, Command(Action.ARM_HOME, trusted=True), T0)
    assert armed.rejection is None and armed.panel.state is not PanelState.DISARMED
    wrong = handle(armed.panel, settings, Command(Action.DISARM, "0000", trusted=True), T0)
    assert wrong.rejection is not None and wrong.rejection.reason is RejectReason.INVALID_CODE
    assert len(wrong.panel.code_lock.failures) == 1
    duress = handle(
        armed.panel, settings, Command(Action.DISARM, PINS["coerced"], trusted=True), T0
    )
    assert duress.panel.state is PanelState.DISARMED
    kinds = [e.kind for e in duress.effects if isinstance(e, SilentAlert)]
    assert kinds == [EventKind.DURESS]


def test_a_lockout_refuses_codes_even_on_a_trusted_channel() -> None:
    settings = settings_for()
    panel = handle(new_panel(T0), settings, Command(Action.ARM_HOME, trusted=True), T0).panel
    for _ in range(settings.codes.max_failures):
        panel = handle(panel, settings, Command(Action.DISARM, "0000", trusted=True), T0).panel
    assert panel.code_lock.locked(T0)
    right = handle(panel, settings, Command(Action.DISARM, PINS["alice"], trusted=True), T0)
    assert right.rejection is not None and right.rejection.reason is RejectReason.LOCKED_OUT
    assert right.panel.state is panel.state


def test_last_seqs_survive_a_snapshot_and_old_snapshots_load() -> None:
    settings = settings_for()
    panel = replace(new_panel(T0), message_seqs={"front": 17, "gone": 3})
    assert snapshot.load(snapshot.dump(panel), settings) == panel
    old = json.loads(snapshot.dump(new_panel(T0)))
    del old["message_seqs"]
    assert snapshot.load(json.dumps(old), settings).message_seqs == {}
    assert {s.id for s in SENSORS} >= {"front"}
