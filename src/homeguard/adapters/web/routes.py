"""The API's routes. Each handler finds the backend, the sessions and the live hub on
``request.app.state.web`` (a :class:`WebState`), put there by :func:`create_app`."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from homeguard.core.model import Action
from homeguard.core.panel import Outcome, RejectReason
from homeguard.core.records import EventQuery
from homeguard.core.signals import ActuatorKind, ActuatorRequest, BypassRequest, Command, Input
from homeguard.errors import LoginFailed, LoginLocked

from .auth import (
    COOKIE,
    CSRF_HEADER,
    LOOPBACK_USER,
    Session,
    Sessions,
    host_name,
    is_loopback,
)
from .backend import Backend
from .documents import ALARM_EVENTS, event_row
from .live import LiveHub
from .rendering import SEPARATORS, every_health
from .schemas import (
    COMMAND_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ActuatorBody,
    ActuatorResult,
    ApiError,
    ArmBody,
    Bucket,
    BypassBody,
    Chart,
    CommandResult,
    DisarmBody,
    ErrorBody,
    EventPage,
    EventRow,
    LoginBody,
    NotificationPage,
    NotificationRow,
    SensorDocument,
    SessionInfo,
    StateDocument,
    SystemFigures,
)

log = logging.getLogger("homeguard.web")

REQUEST_TIMEOUT = 10.0
MAX_PAGE = 500
MAX_OFFSET = 100_000
MAX_CSV = 10_000
_CONFLICTS = frozenset(
    {RejectReason.SENSORS_NOT_READY, RejectReason.LOCKED_OUT, RejectReason.NOT_ALLOWED}
)


@dataclass(frozen=True)
class WebState:
    backend: Backend
    sessions: Sessions
    hub: LiveHub


def _web(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


Web = Annotated[WebState, Depends(_web)]


# ------------------------------------------------------------------------- auth


def _current_session(request: Request, web: Web) -> Session:
    session = web.sessions.get(request.cookies.get(COOKIE))
    # A session opened without a login is only good where it could be opened.
    if session is None or (session.user == LOOPBACK_USER and not _loopback_allowed(request, web)):
        raise ApiError(401, "not_logged_in", "log in first")
    return session


def _csrf_checked(
    request: Request, web: Web, session: Annotated[Session, Depends(_current_session)]
) -> Session:
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and origin.partition("://")[2].lower() != host.lower():
        raise ApiError(403, "bad_csrf_token", "request from another origin")
    if not web.sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "bad_csrf_token", f"missing or wrong {CSRF_HEADER} header")
    return session


Reader = Annotated[Session, Depends(_current_session)]
Writer = Annotated[Session, Depends(_csrf_checked)]


def _set_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=_over_tls(request),
        path="/",
    )


def _over_tls(request: Request) -> bool:
    """The request came over HTTPS: directly, or through a proxy in
    ``web.trusted_proxies`` that said so in X-Forwarded-Proto (the server applies the
    forwarded headers of those proxies only)."""
    return request.url.scheme == "https"


def _loopback_allowed(request: Request, web: WebState) -> bool:
    """Loopback without login: the config says so, the client is on this machine, and
    the page was asked for by a loopback name (not a DNS-rebound one)."""
    client = request.client.host if request.client else None
    return (
        web.backend.web.loopback_without_login
        and is_loopback(client)
        and is_loopback(host_name(request.headers.get("host")))
    )


sessions = APIRouter(prefix="/api", tags=["session"])


@sessions.get("/session", responses=READ_ERRORS)
def get_session(request: Request, response: Response, web: Web) -> SessionInfo:
    """Who is logged in, and this session's CSRF token. On loopback, when the config
    allows it (``web.loopback_without_login``), opens a session without a login."""
    session = web.sessions.get(request.cookies.get(COOKIE))
    if session is None and _loopback_allowed(request, web):
        session = web.sessions.open(LOOPBACK_USER)
        _set_cookie(request, response, session)
    if session is None:
        raise ApiError(401, "not_logged_in", "log in first")
    return SessionInfo(user=session.user, csrf_token=session.csrf)


@sessions.post(
    "/login",
    responses={
        401: {"model": ErrorBody, "description": "Unknown user or wrong password."},
        429: {"model": ErrorBody, "description": "Too many failed logins."},
    },
)
def login(body: LoginBody, request: Request, response: Response, web: Web) -> SessionInfo:
    """Log in with a user's dashboard password; sets the session cookie."""
    client = request.client.host if request.client else "unknown"
    try:
        session = web.sessions.login(body.user, body.password, client)
    except LoginLocked as exc:
        retry = str(math.ceil(exc.retry_after))
        raise ApiError(429, "login_locked", str(exc), headers={"Retry-After": retry}) from None
    except LoginFailed as exc:
        log.warning("failed dashboard login for %r from %s", body.user[:40], client)
        raise ApiError(401, "login_failed", str(exc)) from None
    log.info("dashboard login: %s from %s", session.user, client)
    _set_cookie(request, response, session)
    return SessionInfo(user=session.user, csrf_token=session.csrf)


@sessions.post("/logout", status_code=204, responses=WRITE_ERRORS)
def logout(session: Writer, request: Request, response: Response, web: Web) -> None:
    """End this session."""
    web.sessions.close(session.token)
    response.delete_cookie(
        COOKIE, path="/", secure=_over_tls(request), httponly=True, samesite="strict"
    )


# ---------------------------------------------------------------------- reading

panel = APIRouter(prefix="/api", tags=["panel"])


@panel.get("/state", responses=READ_ERRORS, response_model=StateDocument)
def state(session: Reader, web: Web) -> Response:
    """The panel, every sensor, what blocks arming in each mode, siren and light, and
    the system figures: the same document the live stream sends, rendered once per
    change of the panel."""
    return Response(web.hub.rendered(fresh=True), media_type="application/json")


@panel.get("/sensors", responses=READ_ERRORS, response_model=list[SensorDocument])
def sensors(session: Reader, web: Web) -> Response:
    """Every configured sensor: state, status light, zone, battery, last seen (the state
    document's ``sensors``)."""
    return Response(web.hub.rendered_sensors(), media_type="application/json")


@panel.get("/system", responses=READ_ERRORS)
def system(session: Reader, web: Web) -> SystemFigures:
    """Broker connection, uptime, messages per second, store size, devices, rejects."""
    return web.hub.system_now()  # not the whole document: 100,000 sensors take seconds


@panel.get("/health", responses=READ_ERRORS, response_model=list[dict[str, Any]])
def health(
    session: Reader,
    web: Web,
    attention: Annotated[
        bool, Query(description="Only the sensors that need a visit: service or failed.")
    ] = False,
) -> Response:
    """Every configured sensor's health (docs/intelligence.md): ``ok``, ``watch``, ``service``
    or ``failed``, the reason, battery and days until it is empty (``attention``: only
    those that need a visit, what the dashboard shows)."""
    backend = web.backend
    reported = backend.health(backend.clock(), reported_only=True)
    ids = [sensor.id for sensor in backend.settings.sensors]
    # Written as they are: FastAPI's checking and serialising them again doubled the time.
    if not attention:
        return Response(every_health(ids, reported), media_type="application/json")
    found = [h.as_dict() for h in reported if h.state.needs_attention]
    text = json.dumps(found, separators=SEPARATORS, allow_nan=False)
    return Response(text, media_type="application/json")


@panel.get("/notifications", responses=READ_ERRORS)
def notifications(
    session: Reader, web: Web, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50
) -> NotificationPage:
    """The newest notifications (docs/notifications.md) and the count per delivery state:
    ``pending`` (waiting or retrying), ``delivered``, ``suppressed`` (told as "and N
    more" under a rate limit), ``failed`` (given up); the last error names no secret."""
    log_ = web.backend.notifications
    if log_ is None:
        return NotificationPage(counts={}, rows=[])
    rows = [
        NotificationRow(
            id=d.id,
            timestamp=d.record.ts,
            route=d.record.route,
            target=d.record.target,
            kind=d.record.kind,
            title=d.record.title,
            state=d.state,  # type: ignore[arg-type]
            attempts=d.attempts,
            last_error=d.last_error,
            due=d.record.due,
            finished=d.finished,
        )
        for d in log_.recent(limit)
    ]
    return NotificationPage(counts=log_.counts(), rows=rows)


@panel.get(
    "/live",
    responses={
        **READ_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "`state` events"},
    },
    response_class=StreamingResponse,
)
async def live(request: Request, session: Reader, web: Web) -> StreamingResponse:
    """Server-Sent Events: an ``event: state`` carrying the state document after every
    change of the panel, and every few seconds for the system figures."""
    return StreamingResponse(
        web.hub.stream(request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# ----------------------------------------------------------------------- events

Since = Annotated[
    float | None, Query(allow_inf_nan=False, ge=0, le=1e11, description="Unix seconds.")
]


@dataclass(frozen=True)
class EventFilter:
    """Which events: a device or a sensor state (upper case, e.g. OPEN) selects sensor
    events; a system event type (lower case, e.g. triggered) or kind=alarm selects
    system events."""

    since: Since = None
    until: Since = None
    device: Annotated[str | None, Query(max_length=64, description="Only this sensor.")] = None
    kind: Annotated[Literal["sensor", "system", "alarm"] | None, Query()] = None
    type: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A sensor state (OPEN, MOTION, ...) or a system event type "
            "(triggered, armed, invalid_code, ...).",
        ),
    ] = None

    def query(self, web: WebState, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """(how many match, the page of rows), newest first."""
        state = self.type if self.type is not None and self.type.isupper() else None
        types: str | tuple[str, ...] | None = self.type if state is None else None
        if self.kind == "alarm" and types is None:
            types = ALARM_EVENTS
        query = EventQuery(
            since=self.since,
            until=self.until,
            device=self.device,
            state=state,
            event_type=types,
            sensor=self.kind in (None, "sensor"),
            system=self.kind in (None, "system", "alarm"),
        )
        store = web.backend.store
        page = store.events(query, limit=limit, offset=offset)
        return store.count_events(query), [event_row(record) for record in page]


Filter = Annotated[EventFilter, Depends()]
events = APIRouter(prefix="/api", tags=["events"])


@events.get("/events", responses=READ_ERRORS)
def list_events(
    session: Reader,
    web: Web,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> EventPage:
    """The event log, newest first, filtered and paged."""
    total, rows = where.query(web, limit, offset)
    items = [EventRow.model_validate(row) for row in rows]
    return EventPage(total=total, offset=offset, limit=limit, items=items)


@events.get(
    "/events.csv",
    responses={**READ_ERRORS, 200: {"content": {"text/csv": {}}, "description": "CSV"}},
    response_class=Response,
)
def events_csv(session: Reader, web: Web, where: Filter) -> Response:
    """The same events as CSV (at most 10,000 rows, newest first), for a spreadsheet."""
    _, rows = where.query(web, MAX_CSV, 0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time_utc", "timestamp", "kind", "type", "device", "alarm", "description"])
    for row in rows:
        when = datetime.fromtimestamp(row["timestamp"], UTC).isoformat(timespec="seconds")
        writer.writerow(
            [
                when,
                f"{row['timestamp']:.3f}",
                row["kind"],
                row["type"],
                row["device"] or "",
                "yes" if row["alarm"] else "",
                _csv_safe(row["description"]),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="homeguard-events.csv"'},
    )


@events.get("/events/chart", responses=READ_ERRORS)
def chart(
    session: Reader,
    web: Web,
    span: Annotated[Literal["24h", "30d"], Query()] = "24h",
    tz_offset: Annotated[
        int, Query(ge=-1080, le=1080, description="Minutes east of UTC, for day buckets.")
    ] = 0,
) -> Chart:
    """Events per hour over the last 24 hours, or per day over the last 30 days."""
    bucket = 3600.0 if span == "24h" else 86400.0
    count = 24 if span == "24h" else 30
    offset = tz_offset * 60.0
    now = web.backend.clock()
    last = math.floor((now + offset) / bucket) * bucket - offset
    since = last - (count - 1) * bucket
    counted = web.backend.store.event_counts(
        since=since, until=last + bucket, bucket=bucket, offset=offset
    )
    found = {start: (s, y, a) for start, s, y, a in counted}
    buckets = []
    for index in range(count):
        start = since + index * bucket
        s, y, a = found.get(start, (0, 0, 0))
        buckets.append(Bucket(start=start, sensor=s, system=y, alarms=a))
    return Chart(span=span, bucket=bucket, since=since, until=last + bucket, buckets=buckets)


def _csv_safe(text: str) -> str:
    """A spreadsheet runs a cell that starts with =, +, - or @ as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


# --------------------------------------------------------------------- commands

commands = APIRouter(prefix="/api", tags=["commands"])


def _outcome(web: WebState, event: Input) -> Outcome:
    """What the panel made of ``event``; its refusal as an ApiError."""
    try:
        outcome: Outcome = web.backend.panel.request(event, REQUEST_TIMEOUT)
    except TimeoutError:
        raise ApiError(
            503, "controller_unavailable", "the controller did not answer in time"
        ) from None
    rejection = outcome.rejection
    if rejection is not None:
        status = 409 if rejection.reason in _CONFLICTS else 422
        raise ApiError(status, rejection.reason.value, rejection.message, rejection.sensors)
    return outcome


def _carry_out(web: WebState, event: Input) -> CommandResult:
    result = _outcome(web, event).panel
    return CommandResult(
        state=result.state.value,
        mode=result.mode.value if result.mode is not None else None,
        bypassed=sorted(result.bypassed),
    )


def _source(session: Session) -> str:
    return f"web:{session.user}"


@commands.post("/arm", responses=COMMAND_ERRORS)
def arm(body: ArmBody, session: Writer, web: Web) -> CommandResult:
    """Arm a mode with a code; ``force`` bypasses the sensors that block it."""
    action = Action[f"ARM_{body.mode.name}"]
    return _carry_out(web, Command(action, body.code, body.force, source=_source(session)))


@commands.post("/disarm", responses=COMMAND_ERRORS)
def disarm(body: DisarmBody, session: Writer, web: Web) -> CommandResult:
    """Disarm with a code."""
    return _carry_out(web, Command(Action.DISARM, body.code, source=_source(session)))


@commands.post("/bypass", responses=COMMAND_ERRORS)
def bypass(body: BypassBody, session: Writer, web: Web) -> CommandResult:
    """Bypass a sensor until the next disarm (or lift its bypass), with a code."""
    request = BypassRequest(body.sensor, body.bypass, body.code, source=_source(session))
    return _carry_out(web, request)


@commands.post("/actuators/{kind}", responses=COMMAND_ERRORS)
def actuator(kind: ActuatorKind, body: ActuatorBody, session: Writer, web: Web) -> ActuatorResult:
    """Switch the siren or the light by hand. During an alarm (pending or triggered)
    switching one off silences the alarm, which is disarming: it needs the code of a
    user who may disarm (wrong ones count towards the lockout) and disarms the panel.
    On is always carried out (the panel still switches both off when an alarm ends)."""
    request = ActuatorRequest(kind, body.on, body.code, source=_source(session))
    outcome = _outcome(web, request)
    log.warning("%s switched the %s %s by hand", session.user, kind.value, _on(body.on))
    return ActuatorResult(actuator=kind, on=body.on, state=outcome.panel.state.value)


def _on(on: bool) -> str:
    return "on" if on else "off"


ROUTERS = (sessions, panel, events, commands)
