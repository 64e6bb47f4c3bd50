"""The HTTP API and the dashboard's pages: :func:`create_app` builds the FastAPI app.

Every refusal is JSON ``{"error": <tag>, "message": <text>, "sensors": [...]}``:

* 401 ``not_logged_in``: no session (or it expired); 401 ``login_failed``: wrong login;
* 403 ``bad_csrf_token``: a state-changing request without the session's CSRF token, or
  from another origin;
* 429 ``login_locked``: too many wrong passwords (``Retry-After`` says how long);
* 422: a command the panel refused for its code: ``invalid_code``, ``code_required``,
  ``not_authorized``, ``unknown_sensor``; and ``invalid_request`` for a malformed body;
* 409: a command refused by the panel's state: ``sensors_not_ready`` (with the sensors),
  ``locked_out`` (code entry locked), ``not_allowed``;
* 503 ``controller_unavailable``: the controller did not answer in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import Sessions
from .backend import Backend
from .features import features
from .live import LiveHub
from .routes import ROUTERS, WebState
from .rule_routes import rules
from .schemas import ApiError

STATIC = Path(__file__).parent / "static"
_HTTP_ERRORS = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(backend: Backend) -> FastAPI:
    """The dashboard and the API over ``backend``; the live view starts with the app."""
    web = WebState(
        backend=backend,
        sessions=Sessions(
            backend.web.users, clock=backend.clock, lifetime=backend.web.session_seconds
        ),
        hub=LiveHub(backend),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        web.hub.attach(asyncio.get_running_loop())
        yield
        web.hub.close()

    app = FastAPI(
        title="homeguard",
        summary="See and control the alarm panel.",
        description=__doc__ or "",
        version="1",
        lifespan=lifespan,
        # Swagger UI and ReDoc load from a CDN: the description stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = web
    for router in (*ROUTERS, features, rules):
        app.include_router(router)
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.middleware("http")(_security_headers)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    body = {"error": exc.error, "message": exc.message, "sensors": exc.sensors}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    ]
    body = {"error": "invalid_request", "message": "; ".join(problems), "sensors": []}
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    tag = _HTTP_ERRORS.get(exc.status_code) or str(exc.detail).lower().replace(" ", "_")
    body = {"error": tag, "message": str(exc.detail), "sensors": []}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
