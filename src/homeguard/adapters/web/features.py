"""The API of the panel's comforts: the walk test and the door chime
(docs/panel-features.md). Each is a command to the panel, with a code, like arming."""

from __future__ import annotations

from fastapi import APIRouter

from homeguard.core.model import Action
from homeguard.core.signals import Command

from .routes import Web, Writer, _carry_out, _source
from .schemas import COMMAND_ERRORS, ChimeBody, CommandResult, DisarmBody

features = APIRouter(prefix="/api", tags=["commands"])


@features.post("/walk-test", responses=COMMAND_ERRORS)
def walk_test(body: DisarmBody, session: Writer, web: Web) -> CommandResult:
    """Start a walk test (from disarmed, with a code that may disarm): every sensor's
    trip is recorded and chimes, none sounds the alarm, until it is ended or times out."""
    return _carry_out(web, Command(Action.WALK_TEST, body.code, source=_source(session)))


@features.post("/walk-test/end", responses=COMMAND_ERRORS)
def walk_test_end(body: DisarmBody, session: Writer, web: Web) -> CommandResult:
    """End the walk test (a code that may arm)."""
    return _carry_out(web, Command(Action.WALK_TEST_END, body.code, source=_source(session)))


@features.post("/chime", responses=COMMAND_ERRORS)
def chime(body: ChimeBody, session: Writer, web: Web) -> CommandResult:
    """Switch the door chime on or off (a code that may arm); kept across restarts."""
    action = Action.CHIME_ON if body.on else Action.CHIME_OFF
    return _carry_out(web, Command(action, body.code, source=_source(session)))
