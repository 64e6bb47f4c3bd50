"""A site: one loaded config, where its data lives, and what derives from them (the
engine's settings, the topics, the event store, the broker and each client's login).
The application (homeguard.app) is built from one."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path

from homeguard.adapters.mqtt import BrokerAddress, MessageSink, MqttClient, TlsFiles, Will
from homeguard.adapters.store import EventStore
from homeguard.adapters.topics import SiteTopics, TopicMap
from homeguard.config import Config
from homeguard.core.model import PanelSettings
from homeguard.core.signals import ActuatorKind
from homeguard.services.home_assistant import home_assistant_topics
from homeguard.services.security_files import (
    load_credentials,
    private_dir,
    provisioned_folder,
    with_credentials,
)

log = logging.getLogger("homeguard")

LOOPBACK = "127.0.0.1"
# What a configured device keeps in the broker's store, measured (mosquitto.db once the
# controller had said every one of 10,000 sensors): its retained state, and with Home
# Assistant's discovery, its retained discovery configs.
STORE_BYTES_PER_DEVICE = 220
DISCOVERY_BYTES_PER_DEVICE = 3_250


def default_data_dir() -> Path:
    """``$HOMEGUARD_DATA_DIR``, else ``~/.local/share/homeguard``."""
    configured = os.environ.get("HOMEGUARD_DATA_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".local" / "share" / "homeguard"


@dataclass(frozen=True)
class Site:
    """A loaded config, where its data lives, and everything derived from them."""

    config: Config
    data_dir: Path
    broker_override: tuple[str, int] | None = None

    def __reduce__(self) -> tuple[type[Site], tuple[Config, Path, tuple[str, int] | None]]:
        """Pickled (for the dashboard's process) without what it derived: that is
        derived again there."""
        return (Site, (self.config, self.data_dir, self.broker_override))

    @cached_property
    def settings(self) -> PanelSettings:
        return self.config.panel_settings()

    @cached_property
    def topics(self) -> SiteTopics:
        return SiteTopics(self.config.mqtt.base_topic)

    @cached_property
    def topic_map(self) -> TopicMap:
        bindings = [s.binding() for s in self.config.sensors]
        return TopicMap.build(
            self.config.mqtt.base_topic,
            bindings,
            [a.id for a in self.config.actuators],
            discovery=home_assistant_topics(self.config),
        )

    @property
    def store_path(self) -> Path:
        return self.data_dir / self.config.storage.path

    def open_store(self) -> EventStore:
        self.private_data_dir()
        return EventStore(self.store_path, synchronous=self.config.storage.synchronous)

    def store_opener(self) -> Callable[[], EventStore]:
        """What opens the store once its directory is there, without the site: light to
        hand to another process (the site pickles every configured device)."""
        return partial(EventStore, self.store_path, synchronous=self.config.storage.synchronous)

    @property
    def broker_store_bytes(self) -> int:
        """About what the site keeps in the broker's store (the broker homeguard starts
        saves it less often when it is large: docs/broker.md)."""
        config = self.config
        per_device = STORE_BYTES_PER_DEVICE
        if config.home_assistant.discovery:
            per_device += DISCOVERY_BYTES_PER_DEVICE
        return per_device * (len(config.sensors) + len(config.actuators))

    def private_data_dir(self) -> Path:
        """The data directory, created (or tightened) for its owner only (0700): it holds
        the event store, the broker's files and the site's secrets."""
        private_dir(self.data_dir)
        return self.data_dir

    def broker_address(self, account: str | None = None) -> BrokerAddress:
        """The broker to use; with no host configured, the one on loopback at its port.

        ``account`` (the controller, a device id, a client such as ``cli``) logs in
        with its own provisioned credentials when the site has been provisioned.
        """
        mqtt = self.config.mqtt
        host, port = self.broker_override or (mqtt.host or LOOPBACK, mqtt.port)
        tls = None
        if mqtt.tls is not None:
            tls = TlsFiles(mqtt.tls.ca_file, mqtt.tls.cert_file, mqtt.tls.key_file)
        password = mqtt.password.get_secret_value() if mqtt.password else None
        address = BrokerAddress(host, port, mqtt.username, password, tls)
        folder = self.security_folder
        if account is None or folder is None:
            return address
        credentials = load_credentials(folder, account)
        if credentials is None:
            log.warning("no credentials for %r in %s: run homeguard provision", account, folder)
            return address
        return with_credentials(address, credentials)

    @cached_property
    def security_folder(self) -> Path | None:
        """The provisioned folder the site's clients take their credentials from."""
        return provisioned_folder(self.config.security.provisioned, self.data_dir)

    @property
    def user_account(self) -> str | None:
        """The account the CLI's commands log in with."""
        clients = self.config.security.clients
        return "cli" if "cli" in clients else next(iter(clients), None)

    def client(
        self,
        client_id: str,
        *,
        persistent: bool = False,
        manual_ack: bool = False,
        will: Will | None = None,
        subscriptions: list[tuple[str, int]] | None = None,
        inbox: MessageSink | None = None,
        account: str | None = None,
        threaded: bool = True,
    ) -> MqttClient:
        return MqttClient(
            address=self.broker_address(account),
            client_id=client_id,
            persistent=persistent,
            manual_ack=manual_ack,
            will=will,
            subscriptions=subscriptions or [],
            keepalive=self.config.mqtt.keepalive,
            inbox=inbox,
            threaded=threaded,
        )

    def actuator_topics(self) -> dict[ActuatorKind, list[str]]:
        topics: dict[ActuatorKind, list[str]] = {}
        for actuator in self.config.actuators:
            topic = actuator.topic or self.topics.control(actuator.type)
            if topic not in topics.setdefault(actuator.type, []):
                topics[actuator.type].append(topic)
        return topics


@contextmanager
def quiet_client(
    site: Site,
    name: str,
    subscriptions: list[tuple[str, int]] | None = None,
    account: str | None = None,
) -> Iterator[MqttClient]:
    """A short-lived client for one CLI command, logged in as ``account`` (default: the
    site's user account, e.g. ``cli``)."""
    client = site.client(
        f"homeguard-{name}-{os.getpid()}",
        subscriptions=subscriptions,
        account=account or site.user_account,
    )
    client.start(timeout=5)
    try:
        yield client
    finally:
        client.wait_published(5.0)
        client.stop()
