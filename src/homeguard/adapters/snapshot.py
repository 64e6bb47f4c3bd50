"""Camera snapshots for alarm notifications: an image fetched from a URL (e.g. Frigate's
``/api/<camera>/latest.jpg``) with a short timeout, standard library only."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

from homeguard.errors import NotifyError

__all__ = ["MAX_IMAGE", "fetch_image"]

MAX_IMAGE = 8 * 1024 * 1024  # bytes: a camera frame, not a video


def fetch_image(url: str, timeout: float) -> bytes:
    """The body at ``url`` (http or https); NotifyError, naming only the host, when it
    does not come within ``timeout`` seconds or is not an image."""
    parts = urlsplit(url)
    where = parts.hostname or "?"
    if parts.scheme not in ("http", "https"):
        raise NotifyError(f"a snapshot URL is http:// or https://, not {parts.scheme}://")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            kind = response.headers.get_content_type()
            data: bytes = response.read(MAX_IMAGE + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise NotifyError(f"no snapshot from {where}: {reason}") from None
    if not kind.startswith("image/") or len(data) > MAX_IMAGE:
        raise NotifyError(f"no snapshot from {where}: not an image ({kind}, {len(data)} bytes)")
    return data
