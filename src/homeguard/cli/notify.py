"""``homeguard notify-test [ROUTE]``, and the notifications' delivery state that
``homeguard status`` shows (docs/notifications.md).

Each function imports what only it needs: ``status --api`` loads this module for
:func:`print_deliveries` alone, and should not load the config, the store or apprise."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from homeguard.errors import ConfigError, HomeguardError, NotifyError

if TYPE_CHECKING:
    from homeguard.site import Site

__all__ = ["check_targets", "deliveries", "notify_test", "print_deliveries"]


def notify_test(args: argparse.Namespace) -> int:
    """Send a test message to every target of ROUTE (or of every route), now, without
    the outbox; print each target's result. Exit 1 when any failed."""
    from homeguard.adapters.clock import wall_clock
    from homeguard.app import routing
    from homeguard.cli.site import load_site
    from homeguard.core.notifications import test_message

    site = load_site(args, codes=False)
    config = site.config.notifications
    names = [args.route] if args.route else list(config.routes)
    if not names:
        raise HomeguardError("no notification routes are configured (notifications.routes)")
    unknown = [name for name in names if name not in config.routes]
    if unknown:
        known = ", ".join(config.routes)
        raise HomeguardError(f"unknown route {unknown[0]!r} (known: {known})")
    from homeguard.adapters.notifier import send  # apprise: only for this command

    title, body = test_message(routing(site), wall_clock())
    failed = 0
    for name in names:
        for target in config.routes[name].targets:
            try:
                send(config.targets[target].resolved_url(target), title, body)
            except (NotifyError, ConfigError) as exc:
                failed += 1
                print(f"{name} -> {target}: FAILED: {exc}")
            else:
                print(f"{name} -> {target}: delivered")
    return 1 if failed else 0


def check_targets(site: Site) -> tuple[list[str], bool]:
    """For ``check-config``: the routes, and whether apprise understands each target's
    URL (with its secret, when the secret is available here; never printed)."""
    config = site.config.notifications
    if not config.targets:
        return [], True
    from homeguard.adapters.notifier import url_problem  # apprise: only when needed

    lines = [f"notifications: {len(config.routes)} routes, {len(config.targets)} targets"]
    ok = True
    for name, target in config.targets.items():
        try:
            problem = url_problem(target.resolved_url(name))
        except ConfigError as exc:
            lines.append(f"  target {name}: not checked ({exc})")
            continue
        if problem is not None:
            ok = False
            lines.append(f"  target {name}: {problem}")
    for name, route in config.routes.items():
        events = ", ".join(event.value for event in route.events) or "no events"
        duress = " (and duress, silently)" if route.duress else ""
        lines.append(f"  route {name} -> {', '.join(route.targets)}: {events}{duress}")
    return lines, ok


def deliveries(site: Site) -> dict[str, Any]:
    """Notifications per delivery state and the newest error, from the store when there
    is one here; duress rows are never counted (they are silent)."""
    if not site.config.notifications.routes or not site.store_path.exists():
        return {}
    from homeguard.adapters.store import Outbox

    with site.open_store() as store:
        outbox = Outbox(store)
        counts = outbox.counts()
        recent = outbox.recent(20)
    waiting = [r for r in recent if r.state in ("pending", "failed") and r.last_error]
    error = None
    if waiting:
        row = waiting[0]
        error = f"{row.record.target}: {row.last_error}"
    return {"counts": counts, "last_error": error}


def print_deliveries(report: dict[str, Any]) -> None:
    counts = report.get("counts")
    if not counts:
        return
    order = ("pending", "delivered", "suppressed", "failed")
    print("notify:     " + ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s)))
    if report.get("last_error"):
        print(f"            last error: {report['last_error']}")
