"""Section ``notifications``: who is told what, through which services (apprise URLs),
when, and how often. See docs/notifications.md."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import tzinfo
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from homeguard.config.base import ID_PATTERN, FileNextToConfig, Misplaced, Seconds, Section
from homeguard.config.base import TopicName as _TopicName
from homeguard.core.notifications import NotificationKind, QuietHours, RateLimit, Route, Routing
from homeguard.errors import ConfigError

Name = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
SECRET = "{secret}"  # where a target's secret goes in its URL
_NOT_ASKED = frozenset({NotificationKind.DURESS, NotificationKind.RULE, NotificationKind.TEST})
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class TargetConfig(Section):
    """One service to send to: an apprise URL, with its secret apart if you like."""

    url: SecretStr = Field(
        description="An apprise URL (ntfy://, mailto://, pover://, tgram://, json://...; "
        "see the apprise wiki). It may hold `{secret}`, replaced by the secret from "
        "`secret_env` or `secret_file`. Never printed."
    )
    secret_env: str | None = Field(
        default=None, min_length=1, description="Environment variable holding the secret."
    )
    secret_file: FileNextToConfig | None = Field(
        default=None,
        description="File holding the secret (its first line); relative to the config file.",
    )

    @model_validator(mode="after")
    def _secret_placed(self) -> Self:
        given = [k for k in ("secret_env", "secret_file") if getattr(self, k) is not None]
        placeholder = SECRET in self.url.get_secret_value()
        if len(given) > 1:
            raise Misplaced("give secret_env or secret_file, not both", given[1])
        if given and not placeholder:
            raise Misplaced(f"{given[0]} needs {SECRET} in the url, where it goes", "url")
        if placeholder and not given:
            raise Misplaced(f"{SECRET} in the url needs secret_env or secret_file", "url")
        return self

    def resolved_url(self, name: str) -> str:
        """The URL with its secret in place; ConfigError when the secret is missing."""
        url = self.url.get_secret_value()
        if self.secret_env is not None:
            secret = os.environ.get(self.secret_env)
            if not secret:
                raise ConfigError(
                    f"notifications target {name}: environment variable "
                    f"{self.secret_env} is not set"
                )
        elif self.secret_file is not None:
            try:
                lines = self.secret_file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(
                    f"notifications target {name}: cannot read {self.secret_file}: "
                    f"{exc.strerror or type(exc).__name__}"
                ) from None
            secret = lines[0].strip() if lines else ""
        else:
            return url
        return url.replace(SECRET, secret)


class QuietHoursConfig(Section):
    """Local times between which a route's non-urgent notifications wait (never alarms
    or duress)."""

    start: str = Field(description='Start, "HH:MM" local time (e.g. "22:30").')
    end: str = Field(description='End, "HH:MM"; before start: across midnight.')

    @field_validator("start", "end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError('is not a time of day "HH:MM" (00:00 to 23:59)')
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if _minutes(self.start) == _minutes(self.end):
            raise Misplaced("end equals start: quiet hours of no length", "end")
        return self

    def quiet(self) -> QuietHours:
        return QuietHours(_minutes(self.start), _minutes(self.end))


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class NotifyRateConfig(Section):
    """At most ``count`` non-urgent messages per ``per`` seconds to each target of the
    route; the surplus is told in the next one allowed ("and N more")."""

    count: int = Field(ge=1, description="Messages allowed per period.")
    per: Seconds = Field(gt=0, description="The period, in seconds.")


class RouteConfig(Section):
    """Which events go to which targets."""

    targets: tuple[Name, ...] = Field(min_length=1, description="Target names (targets:).")
    events: tuple[NotificationKind, ...] = Field(
        default=(),
        description="alarm, pending, armed (or armed_away, armed_home, armed_night, "
        "armed_vacation), disarmed, trouble, restored, low_battery, locked_out, "
        "messages_lost, storage, anomaly, maintenance.",
    )
    duress: bool = Field(
        default=False,
        description="This route gets duress alerts, silently; duress goes to no other route.",
    )
    quiet_hours: QuietHoursConfig | None = Field(
        default=None, description="Non-urgent notifications wait for the end of these."
    )
    rate_limit: NotifyRateConfig | None = Field(
        default=None, description="At most so many non-urgent messages per period."
    )
    snapshot: bool = Field(
        default=False, description="Attach a camera snapshot (notifications.snapshot) to alarms."
    )

    @model_validator(mode="after")
    def _takes_something(self) -> Self:
        if not self.events and not self.duress:
            raise Misplaced("a route needs events, or duress: true", "events")
        return self

    @field_validator("events")
    @classmethod
    def _routable(cls, events: tuple[NotificationKind, ...]) -> tuple[NotificationKind, ...]:
        for index, kind in enumerate(events):
            if kind in _NOT_ASKED:
                hint = " (use duress: true)" if kind is NotificationKind.DURESS else ""
                raise Misplaced(f"{kind.value!r} is not an event a route asks for{hint}", index)
        return events


class SnapshotConfig(Section):
    """Where alarm notifications take a camera picture from: a URL or an MQTT topic."""

    url: SecretStr | None = Field(
        default=None,
        description="An image URL fetched at the alarm (e.g. Frigate's "
        "http://frigate:5000/api/<camera>/latest.jpg); may hold a login: never printed.",
    )
    topic: _TopicName | None = Field(
        default=None,
        description="An MQTT topic whose latest JPEG is kept (e.g. Frigate's "
        "frigate/<camera>/<label>/snapshot).",
    )
    timeout: Seconds = Field(default=3.0, gt=0, le=30, description="Seconds to wait for the URL.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.topic is None):
            raise Misplaced("give url or topic (one of them)", "url")
        return self


class RetryConfig(Section):
    """How a notification the service did not take is tried again."""

    first: Seconds = Field(default=10.0, gt=0, description="Seconds before the first retry.")
    max: Seconds = Field(default=600.0, gt=0, description="Longest wait between retries.")
    give_up_after: Seconds = Field(
        default=86400.0, gt=0, description="Seconds after the event to stop trying (failed)."
    )


class NotificationsConfig(Section):
    """Notifications through apprise; docs/notifications.md."""

    timezone: str | None = Field(
        default=None,
        description="IANA time zone for quiet hours and message times (e.g. Europe/Paris); "
        "none: the machine's.",
    )
    title: str = Field(default="homeguard", min_length=1, description="Start of every title.")
    targets: dict[Name, TargetConfig] = Field(default_factory=dict, description="By name.")
    routes: dict[Name, RouteConfig] = Field(default_factory=dict, description="By name.")
    snapshot: SnapshotConfig | None = Field(default=None, description="Camera snapshot source.")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retries.")
    keep_days: int = Field(
        default=30, ge=1, description="Days delivered or given-up notifications are listed."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r} (e.g. Europe/Paris, UTC)") from None
        return zone

    @model_validator(mode="after")
    def _known_targets(self) -> Self:
        for name, route in self.routes.items():
            for index, target in enumerate(route.targets):
                if target in route.targets[:index]:
                    raise Misplaced(
                        f"target {target!r} twice: it would get each message twice",
                        "routes",
                        name,
                        "targets",
                        index,
                    )
                if target not in self.targets:
                    known = ", ".join(self.targets) or "none"
                    raise Misplaced(
                        f"unknown target {target!r} (known: {known})",
                        "routes",
                        name,
                        "targets",
                        index,
                    )
            if route.snapshot and self.snapshot is None:
                raise Misplaced("snapshot needs notifications.snapshot", "routes", name, "snapshot")
        return self

    def routing(self, zone: tzinfo) -> Routing:
        """The core's view: ``zone`` is this section's time zone, resolved by the caller
        (:func:`homeguard.adapters.clock.local_zone` when none is configured)."""
        routes = tuple(
            Route(
                name=name,
                targets=route.targets,
                kinds=frozenset(route.events),
                duress=route.duress,
                quiet=route.quiet_hours.quiet() if route.quiet_hours else None,
                rate=RateLimit(route.rate_limit.count, route.rate_limit.per)
                if route.rate_limit
                else None,
                snapshot=route.snapshot,
            )
            for name, route in self.routes.items()
        )
        return Routing(routes, zone, self.title)

    def urls(self) -> Mapping[str, str]:
        """Each target's URL with its secret; ConfigError when a secret is missing."""
        return {name: target.resolved_url(name) for name, target in self.targets.items()}
