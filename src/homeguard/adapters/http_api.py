"""A client of homeguard's own HTTP API, for the CLI (``--api URL``); standard library
only, so that the command line never loads the web server's libraries.

It logs in when the server asks for it (or takes the loopback session the server may
offer), keeps the session cookie, and sends the CSRF token with every command. A
refusal by the panel becomes :class:`~homeguard.errors.CommandRejected`; anything else
that goes wrong becomes :class:`~homeguard.errors.HomeguardError`.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request
from typing import Any

from homeguard.errors import CommandRejected, HomeguardError

_PANEL_REFUSALS = (409, 422)


class ApiClient:
    def __init__(
        self, url: str, *, user: str | None = None, password: str | None = None, timeout: float = 10
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise HomeguardError(f"--api wants an http:// or https:// URL, not {url!r}")
        self._base = url.rstrip("/")
        self._user = user
        self._password = password
        self._timeout = timeout
        self._csrf: str | None = None
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def state(self) -> dict[str, Any]:
        self._ensure_session()
        return self._call("GET", "/api/state")

    def arm(self, mode: str, code: str | None, force: bool) -> dict[str, Any]:
        return self._command("/api/arm", {"mode": mode, "code": code, "force": force})

    def disarm(self, code: str | None) -> dict[str, Any]:
        return self._command("/api/disarm", {"code": code})

    # ------------------------------------------------------------------ internals

    def _command(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self._ensure_session()
        return self._call("POST", path, body)

    def _ensure_session(self) -> None:
        if self._csrf is not None:
            return
        try:
            session = self._call("GET", "/api/session")
        except HomeguardError:
            if self._user is None or self._password is None:
                raise HomeguardError(
                    f"{self._base} wants a login: give --user and set HOMEGUARD_PASSWORD"
                ) from None
            session = self._call(
                "POST", "/api/login", {"user": self._user, "password": self._password}
            )
        self._csrf = str(session["csrf_token"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method != "GET" and self._csrf is not None:
            headers["X-CSRF-Token"] = self._csrf
        request = urllib.request.Request(self._base + path, data, headers, method=method)
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                answer = lenient_json_object(response.read())
        except urllib.error.HTTPError as exc:
            error = lenient_json_object(exc.read())
            message = str(error.get("message") or exc.reason)
            if exc.code in _PANEL_REFUSALS and path != "/api/login":
                sensors = tuple(str(s) for s in error.get("sensors") or ())
                raise CommandRejected(str(error.get("error", exc.code)), message, sensors) from None
            raise HomeguardError(f"{self._base}{path}: {exc.code} {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HomeguardError(
                f"cannot reach the homeguard API at {self._base}: {reason}"
            ) from None
        return answer


def lenient_json_object(payload: bytes) -> dict[str, Any]:
    """The JSON object in ``payload``; an empty one for anything else."""
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
