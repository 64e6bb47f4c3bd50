"""Sending notifications through apprise: the only module that imports :mod:`apprise`.

:func:`send` delivers one message (a title, a body, optionally a JPEG) to one apprise
URL (``mailto://``, ``ntfy://``, ``pover://``, ``tgram://``, ``json://``...) and raises
:class:`~homeguard.errors.NotifyError` when the service does not take it. The URLs hold
passwords and tokens: apprise's own log is kept out of ours (it would name hosts and
payloads), and the reason an error gives is apprise's warning with every part of the URL
but its scheme and host blanked out (:func:`scrub`).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import apprise
from apprise.attachment.memory import AttachMemory

from homeguard.errors import NotifyError

__all__ = ["DEFAULT_TIMEOUT", "send", "url_problem"]

DEFAULT_TIMEOUT = 15.0  # seconds one service may take

# Apprise logs to its own logger (and urllib3 to its): nothing of it reaches our handlers.
for _name in (apprise.LOGGER_NAME, "urllib3"):
    _logger = logging.getLogger(_name)
    _logger.propagate = False
    _logger.addHandler(logging.NullHandler())

_ASSET = apprise.AppriseAsset(storage_mode="memory", secure_logging=True)


def url_problem(url: str) -> str | None:
    """What is wrong with an apprise URL (None: apprise knows how to send to it)."""
    if apprise.Apprise.instantiate(url, asset=_ASSET) is None:
        return _not_understood(url)
    return None


def _not_understood(url: str) -> str:
    scheme = urlsplit(url).scheme or "?"
    return f"apprise does not understand this {scheme}:// URL (see its wiki for the form)"


def send(
    url: str,
    title: str,
    body: str,
    *,
    attachment: tuple[bytes, str] | None = None,
    urgent: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Deliver one message to one target; raises NotifyError (without secrets).
    ``urgent`` (alarm, duress) sends it as apprise's ``failure`` type, which services
    show as critical (red, high priority); others are ``info``."""
    service = apprise.Apprise(asset=_ASSET)
    if not service.add(url):
        raise NotifyError(_not_understood(url))
    attach = None
    if attachment is not None:
        data, name = attachment
        attach = AttachMemory(content=data, name=name, mimetype="image/jpeg")  # type: ignore[no-untyped-call]
    try:
        kind = apprise.NotifyType.FAILURE if urgent else apprise.NotifyType.INFO
        result = service.notify(
            body=body, title=title, notify_type=kind, attach=attach, timeout=timeout
        )
    except Exception as exc:  # apprise should not raise; if it does, it is ours to say
        raise NotifyError(scrub(f"{type(exc).__name__}: {exc}", url)) from None
    if result:
        return
    reasons = [str(entry.message) for entry in result.logs() if entry.level != "DEBUG"]
    reason = "; ".join(dict.fromkeys(reasons)) or f"not delivered ({result.status.name})"
    raise NotifyError(scrub(reason, url)[:500])


def scrub(text: str, url: str) -> str:
    """``text`` with every piece of ``url`` that could be a secret (user, password, path
    segments, query values: anything but the scheme, host and port) blanked out."""
    parts = urlsplit(url)
    secrets = {parts.username or "", parts.password or "", url, parts.netloc.split("@")[0]}
    secrets.update(re.split(r"[/?&=#,]", f"{parts.path}?{parts.query}"))
    host = (parts.hostname or "").lower()
    if parts.scheme in _TOKEN_IN_HOST:  # e.g. tgram://<bot token>/<chat id>
        secrets.add(parts.hostname or "")
        host = ""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4 and secret.lower() != host and secret not in _HARMLESS:
            text = text.replace(secret, "***")
    return text


_TOKEN_IN_HOST = frozenset({"tgram", "pover", "pushover", "discord", "slack", "matrix"})
_HARMLESS = frozenset({"POST", "http", "https", "json", "mailto"})
