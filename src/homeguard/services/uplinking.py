"""The uplink's place in the application: built from its config section, run beside the
controller, shown on the dashboard, and switched off when the section goes
(docs/uplink.md). The worker itself is :mod:`homeguard.services.uplink`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from homeguard.adapters.mqtt import BrokerAddress, MqttClient, TlsFiles
from homeguard.adapters.store import EventStore
from homeguard.adapters.store.uplink import UplinkOutbox
from homeguard.config.uplink import UplinkConfig
from homeguard.services.followers import following_commits
from homeguard.services.uplink import Uplink, UplinkSettings

__all__ = ["forget_uplink", "settings_of", "uplink_figures", "uplinking", "upstream_address"]

log = logging.getLogger("homeguard.uplink")

STOP_JOIN = 2.0  # seconds the controller's stop waits for the uplink's thread


def settings_of(config: UplinkConfig) -> UplinkSettings:
    return UplinkSettings(
        site=config.site_id,
        topic=config.events_topic,
        alarm_topic=config.alarms_topic,
        batch_size=config.batch_size,
        batch_interval=config.batch_interval,
        alarm_events=frozenset(config.alarm_events),
        duress=config.forward_duress,
    )


def upstream_address(config: UplinkConfig) -> BrokerAddress:
    """Where the upstream broker is and how to log in; reads the password (from its file
    or environment variable) now. Raises `ConfigError` when it cannot."""
    tls = config.tls
    files = None if tls is None else TlsFiles(tls.ca_file, tls.cert_file, tls.key_file)
    return BrokerAddress(config.host, config.port, config.username, config.secret(), files)


@contextmanager
def uplinking(
    config: UplinkConfig,
    open_store: Callable[[], AbstractContextManager[EventStore]],
    after_commit: Callable[[Callable[[], None]], None],
    clock: Callable[[], float],
) -> Iterator[Uplink]:
    """Turn the outbox on and run the uplink in a thread named ``uplink``, with a store
    of its own, until exit. Call before the controller writes its first event, so that
    none is missed."""
    address = upstream_address(config)

    def connect(on_change: Callable[[bool], None]) -> MqttClient:
        return MqttClient(
            address=address,
            client_id=config.mqtt_client_id,
            persistent=True,
            keepalive=config.keepalive,
            on_connection_change=on_change,
            max_reconnect_delay=config.max_reconnect_delay,
        )

    with open_store() as store:
        outbox = UplinkOutbox(store)
        outbox.open(duress=config.forward_duress)
        uplink = Uplink(
            outbox=outbox,
            connect=connect,
            settings=settings_of(config),
            clock=clock,
            max_retry=config.max_reconnect_delay,
        )
        # Not longer than STOP_JOIN: a thread still trying to reach the upstream broker
        # has nothing to lose, as the cursor only moves after a PUBACK.
        with following_commits(
            uplink,
            "uplink",
            after_commit,
            stop_wait=STOP_JOIN,
            log=log,
            left_behind=f"the uplink was still trying to reach {address}: left behind",
        ):
            yield uplink


def uplink_figures(store: EventStore) -> dict[str, Any] | None:
    """What the dashboard shows of the uplink, as its thread last stored it; None when
    it is off."""
    cursor = UplinkOutbox(store).cursor()
    if cursor is None:
        return None
    return {
        "connected": cursor.connected,
        "backlog": cursor.backlog,
        "sent_seq": cursor.sent_seq,
        "batches": cursor.batches,
        "last_sent_at": cursor.sent_at,
    }


def forget_uplink(store: EventStore) -> None:
    """The uplink is not configured: make sure its outbox is off (it would grow for ever
    otherwise), saying what was still unsent."""
    outbox = UplinkOutbox(store)
    if outbox.cursor() is None:
        return
    dropped = outbox.close()
    log.warning(
        "uplink removed from the config: its outbox is off; %d event(s) never sent upstream"
        " were dropped from it (they stay in the event log)",
        dropped,
    )
