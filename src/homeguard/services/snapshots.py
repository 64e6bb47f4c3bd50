"""Camera snapshots for alarm notifications (``notifications.snapshot``): fetched from a
URL at the alarm, or the latest image published on an MQTT topic (Frigate's
``frigate/<camera>/<label>/snapshot``), kept in memory as it arrives."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from homeguard.adapters.mqtt import Message, MessageSink
from homeguard.adapters.snapshot import fetch_image
from homeguard.config import NotificationsConfig

__all__ = ["LatestImage", "snapshot_source"]


class LatestImage:
    """The latest image published on ``topic``; :meth:`in_front_of` puts it in front of
    the controller's inbox, where it keeps that topic's messages from the panel."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._lock = threading.Lock()
        self._image: bytes | None = None

    def in_front_of(self, inbox: MessageSink) -> MessageSink:
        return _Tap(self, inbox)

    def keep(self, payload: bytes) -> None:
        if payload:  # an empty retained message clears it: keep the last real image
            with self._lock:
                self._image = bytes(payload)

    def latest(self) -> bytes | None:
        with self._lock:
            return self._image


class _Tap:
    def __init__(self, images: LatestImage, inbox: MessageSink) -> None:
        self._images = images
        self._inbox = inbox

    def put(self, item: Message, /) -> None:
        if item.topic == self._images.topic:
            self._images.keep(item.payload)
        else:
            self._inbox.put(item)


def snapshot_source(
    config: NotificationsConfig, images: LatestImage | None
) -> Callable[[], bytes | None] | None:
    """What the notifier calls for an alarm's snapshot; None when none is configured."""
    snapshot = config.snapshot
    if snapshot is None:
        return None
    if snapshot.url is not None:
        return partial(fetch_image, snapshot.url.get_secret_value(), snapshot.timeout)
    return images.latest if images is not None else None
