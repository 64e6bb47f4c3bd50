"""The uplink's line in ``homeguard status``: read from the event store, where the
running controller's uplink keeps its cursor (docs/uplink.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from homeguard.adapters.store.uplink import UplinkOutbox
from homeguard.site import Site


def uplink_report(site: Site) -> dict[str, Any] | None:
    """The uplink's state as last stored; None when no uplink is configured."""
    config = site.config.uplink
    if config is None:
        return None
    report: dict[str, Any] = {"topic": config.events_topic, "on": False}
    if not site.store_path.exists():
        return report
    with site.open_store() as store:
        cursor = UplinkOutbox(store).cursor()
    if cursor is None:  # configured, but no controller has run with it yet
        return report
    report.update(
        on=True,
        connected=cursor.connected,
        connected_changed=cursor.connected_changed,
        backlog=cursor.backlog,
        sent_seq=cursor.sent_seq,
        batches=cursor.batches,
        last_sent_at=cursor.sent_at,
    )
    return report


def uplink_line(report: dict[str, Any]) -> str:
    """One line for a person."""
    if not report["on"]:
        return f"not started yet ({report['topic']})"
    link = "connected" if report["connected"] else "not connected"
    last = "nothing sent yet"
    if report["last_sent_at"] is not None:
        when = datetime.fromtimestamp(report["last_sent_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        last = f"last batch #{report['batches']} (to seq {report['sent_seq']}) at {when} UTC"
    return f"{link}, {report['backlog']} event(s) waiting, {last}"
