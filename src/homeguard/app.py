"""The one place that builds homeguard's parts from a site (homeguard.site) and connects them."""

from __future__ import annotations

import gc
import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from homeguard.adapters.broker import LocalBroker, broker_answers
from homeguard.adapters.broker_auth import accepts_tcp
from homeguard.adapters.clock import SteppingClock, wall_clock
from homeguard.adapters.lockfile import FileLock, lock_holder
from homeguard.adapters.mqtt import MessageSink, MqttClient, Will
from homeguard.adapters.store import Outbox
from homeguard.core.notifications import Routing
from homeguard.errors import BrokerError, ControllerRunning, HomeguardError
from homeguard.services.accounts import CONTROLLER
from homeguard.services.broker_check import QueueCheck, check_queue, queue_warning
from homeguard.services.controller import Controller, Inbox
from homeguard.services.devices import Actuators, SimulatedSensor, SimulationSettings
from homeguard.services.health import HealthReader
from homeguard.services.home_assistant import discovery
from homeguard.services.inbox import FairInbox, device_of
from homeguard.services.intelligence import watching
from homeguard.services.message_security import DeviceSigner, load_security
from homeguard.services.notifier import build_notifier, notifying, site_routing
from homeguard.services.outbound import Outbound
from homeguard.services.presence import Identity, heartbeat, live_controller
from homeguard.services.provisioning import provision
from homeguard.services.security_files import broker_security, security_folder
from homeguard.services.snapshots import LatestImage, snapshot_source
from homeguard.services.uplinking import forget_uplink, uplink_figures, uplinking
from homeguard.site import LOOPBACK, Site, default_data_dir, quiet_client

if TYPE_CHECKING:
    from homeguard.adapters.web import Backend
    from homeguard.adapters.web.process import RemotePanel

__all__ = [
    "STOP_FLUSH",
    "Site",
    "check_sole_controller",
    "connected_controller",
    "default_data_dir",
    "needs_local_broker",
    "quiet_client",
    "routing",
    "run_actuators",
    "run_controller",
    "run_simulation",
    "serve_dashboard",
    "start_local_broker",
    "warn_about_broker",
]

log = logging.getLogger("homeguard")

STOP_FLUSH = 1.0  # seconds a stopping service waits for the broker to take its last words


def needs_local_broker(site: Site) -> bool:
    """True when no broker host is configured and none answers on loopback at its port."""
    if site.broker_override is not None or site.config.mqtt.host is not None:
        return False
    if site.config.mqtt.tls is not None:
        return not accepts_tcp(LOOPBACK, site.config.mqtt.port)
    return not broker_answers(LOOPBACK, site.config.mqtt.port)


def start_local_broker(site: Site) -> LocalBroker:
    """Mosquitto if installed, else the embedded broker, on loopback at the config's port,
    with a login per device and the ACL on: the site is provisioned first (into
    ``<data-dir>/security`` unless ``security.provisioned`` names a folder), new devices
    added, and Mosquitto speaks TLS when ``mqtt.tls`` is configured."""
    site.private_data_dir()
    folder = security_folder(site.config, site.data_dir)
    report = provision(site.config, folder, wall_clock())
    if report.added:
        log.info("provisioned %s in %s", ", ".join(report.added), report.root)
    security = broker_security(folder, tls=site.config.mqtt.tls is not None)
    broker = LocalBroker.start(
        site.data_dir / "broker",
        site.config.mqtt.port,
        security=security,
        store_bytes=site.broker_store_bytes,
    )
    log.info("started a local %s broker on %s:%d", broker.kind, broker.host, broker.port)
    return broker


# ------------------------------------------------------------------------ services


def controller_lock(site: Site) -> Path:
    return site.data_dir / "controller.lock"


def check_sole_controller(site: Site, *, probe_broker: bool = True) -> None:
    """Raise `ControllerRunning`, naming it, when a controller for ``site`` is alive:
    its lock in the data directory is held, or (``probe_broker``) the broker says it
    is online and its heartbeat is heard (see services.presence)."""
    holder = lock_holder(controller_lock(site))
    if holder is not None:
        raise ControllerRunning(_running(site, holder))
    if probe_broker:
        _probe_broker(site)


def _probe_broker(site: Site) -> None:
    topics = site.topics
    subscriptions = [(topics.controller_availability, 1), (topics.controller_heartbeat, 0)]
    try:
        with quiet_client(site, "probe", subscriptions) as client:
            running = live_controller(client.messages, topics)
    except BrokerError as exc:  # cannot tell: the lock and the session watch remain
        log.warning("could not look for another controller on the broker: %s", exc)
        return
    if running is not None:
        raise ControllerRunning(_running(site, running.describe()))


def _running(site: Site, who: str) -> str:
    address = site.broker_address()
    return (
        f"a controller for site {site.topics.base!r} on {address.host}:{address.port} "
        f"is already running ({who}): stop it first"
    )


def _claim_site(site: Site, stack: ExitStack) -> Identity:
    """Take the site's controller lock for the life of ``stack``, after checking that no
    controller is alive elsewhere; raises `ControllerRunning`."""
    identity = Identity(
        client_id=site.config.mqtt.client_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        started=wall_clock(),
        data_dir=str(site.data_dir),
    )
    lock = FileLock(controller_lock(site), identity.describe())
    holder = lock.try_acquire()
    if holder is not None:
        raise ControllerRunning(_running(site, holder))
    stack.callback(lock.release)
    _probe_broker(site)
    return identity


@contextmanager
def connected_controller(
    site: Site, clock: SteppingClock | None = None, images: LatestImage | None = None
) -> Iterator[Controller]:
    """A controller with its store open and its client connected; closed on exit. Its
    clock (the wall clock unless given) reports steps: the panel's timers follow them.
    ``images``: keeps the camera snapshots of an MQTT topic (notifications.snapshot).

    Raises `ControllerRunning` when another controller for the site is alive."""
    topics = site.topics
    clock = SteppingClock() if clock is None else clock
    will = Will(topics.controller_availability, "offline", qos=1, retain=True)
    flood = site.config.rate_limit.policy()
    known = {s.id for s in site.config.sensors} | {a.id for a in site.config.actuators}
    inbox: Inbox = FairInbox(
        device_of=partial(device_of, site.topic_map, known), policy=flood, clock=wall_clock
    )
    with ExitStack() as stack:
        identity = _claim_site(site, stack)
        store = stack.enter_context(site.open_store())
        subscriptions = site.topic_map.subscriptions()
        sink: MessageSink = inbox
        if images is not None:  # the snapshots go to the notifier, not to the panel
            sink, subscriptions = images.in_front_of(inbox), [*subscriptions, (images.topic, 0)]
        client = site.client(
            site.config.mqtt.client_id,
            persistent=True,
            manual_ack=True,
            will=will,
            subscriptions=subscriptions,
            inbox=sink,
            account=CONTROLLER,
            threaded=False,  # its loop runs on the controller's thread
        )
        client.start()
        client.poll_meanwhile()  # until the controller's thread runs the loop
        stack.callback(_stop_client, client, topics.controller_availability)
        beating = threading.Event()
        stack.callback(beating.set)  # stops before the client does
        _thread(
            "controller-heartbeat",
            partial(heartbeat, client, topics.controller_heartbeat, identity),
            beating,
        )
        address = site.broker_address()
        log.info("controller connected to %s, base topic %r", address, topics.base)
        controller = Controller(
            settings=site.settings,
            topics=site.topic_map,
            outbound=Outbound(client, topics, site.actuator_topics()),
            client=client,
            inbox=inbox,
            store=store,
            clock=clock,
            clock_steps=clock.take_step,
            retention=_days(site.config.storage.retention_days),
            security=load_security(site.config, site.data_dir),
            flood=flood,
            discovery={m.topic: m.payload for m in discovery(site.config)},
            notifications=routing(site),
            network=client,
        )
        _uplink(site, controller, stack)
        yield controller


def _uplink(site: Site, controller: Controller, stack: ExitStack) -> None:
    """Forward the event log upstream when configured (docs/uplink.md), from before the
    controller's first commit; otherwise make sure the store keeps no outbox for it."""
    config = site.config.uplink
    if config is None:
        with site.open_store() as store:
            forget_uplink(store)
        return
    stack.enter_context(uplinking(config, site.open_store, controller.after_commit, wall_clock))


def _days(days: int | None) -> float | None:
    return None if days is None else days * 86400.0


def run_controller(site: Site, stop: threading.Event, *, check_broker: bool = True) -> None:
    """Run the controller (and its dashboard, when enabled) until ``stop`` is set.

    ``check_broker``: test once, in the background, whether the broker drops messages
    queued for an offline client, and warn if so (False: ``up`` started the broker with
    the generated config)."""
    notifications = site.config.notifications
    snapshot = notifications.snapshot
    images = LatestImage(snapshot.topic) if snapshot and snapshot.topic else None
    with connected_controller(site, images=images) as controller, ExitStack() as web:
        if check_broker:
            threading.Thread(
                target=warn_about_broker, args=(site,), name="broker-check", daemon=True
            ).start()
        else:
            log.info("the broker runs homeguard's generated config: its queue is not checked")
        if site.config.web.enabled:
            try:
                url = web.enter_context(serve_dashboard(site, controller))
            except HomeguardError as exc:  # the panel runs on without its dashboard
                log.error("%s", exc)
            else:
                print(f"homeguard dashboard: {url}", flush=True)
        # Sensor health and anomaly scoring, in a process of its own (docs/intelligence.md).
        # What it finds, the controller records and publishes (Controller.advise).
        sensors = site.settings.sensors
        opener = site.store_opener()
        web.enter_context(watching(opener, sensors, controller.advise, wall_clock))
        # Notifications: the outbox delivered off the hot path (docs/notifications.md).
        if notifications.routes:
            make = partial(build_notifier, notifications, snapshot_source(notifications, images))
            web.enter_context(notifying(site.open_store, controller.after_commit, make))
        # What startup built (config, settings, topic routes: objects per configured
        # device) lives as long as the process: out of the collector's full passes,
        # which would otherwise scan it all and pause the controller thread. The
        # collector may be off until here (`homeguard controller` builds without it).
        gc.freeze()
        gc.enable()
        controller.run(stop)


def routing(site: Site) -> Routing:
    """The site's notification routes, in its time zone (the machine's unless set)."""
    return site_routing(site.config.notifications)


def warn_about_broker(site: Site) -> QueueCheck:
    """Check the broker's queue for an offline client (services.broker_check) and log
    one warning line if it drops, with what it drops and how to fix it."""
    address = site.broker_address(CONTROLLER)
    check = check_queue(address, f"{site.config.mqtt.client_id}-probe")
    warning = queue_warning(address, check)
    if warning is None:
        log.info("MQTT broker at %s keeps what is queued for an offline controller", address)
    else:
        log.warning("%s", warning)
    return check


@contextmanager
def serve_dashboard(
    site: Site, controller: Controller, *, port: int | None = None
) -> Iterator[str]:
    """The web dashboard and API for ``controller``, served by a process of its own
    until exit (adapters.web.process: its work never holds up an alarm); yields its URL.

    ``port`` overrides the config's (0: any free port)."""
    from homeguard.adapters.web import DashboardProcess

    web = site.config.web
    client = controller.client
    server = DashboardProcess(
        partial(dashboard_backend, site),
        controller,
        lambda: isinstance(client, MqttClient) and client.connected,
        host=web.host,
        port=web.port if port is None else port,
    )
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def dashboard_backend(site: Site, panel: RemotePanel) -> Iterator[Backend]:
    """The dashboard's backend, in its process: ``panel`` is the controller there."""
    from homeguard.adapters.web import Backend, WebSettings

    address = site.broker_address()
    web = site.config.web
    with site.open_store() as store:
        yield Backend(
            panel=panel,
            settings=site.settings,
            store=store,
            actuators=[(a.id, a.type) for a in site.config.actuators],
            broker=lambda: f"{address.host}:{address.port}",
            broker_connected=panel.broker_connected,
            clock=wall_clock,
            health=HealthReader(store, [sensor.id for sensor in site.settings.sensors]),
            web=WebSettings(
                users={u.name: u.password_hash for u in site.config.users if u.password_hash},
                loopback_without_login=web.loopback_without_login,
                session_seconds=web.session_hours * 3600.0,
                trusted_proxies=web.trusted_proxies,
            ),
            uplink=partial(uplink_figures, store),
            notifications=Outbox(store) if site.config.notifications.routes else None,
        )


def _stop_client(client: MqttClient, availability_topic: str) -> None:
    """Say offline and disconnect. Waits for the broker only while connected, and
    briefly: without a broker, the Last Will says offline for us."""
    client.publish(availability_topic, "offline", qos=1, retain=True)
    client.stop(timeout=STOP_FLUSH)


def run_simulation(site: Site, stop: threading.Event, only: set[str] | None = None) -> None:
    """Run the simulated sensors (all, or those in ``only``) until ``stop`` is set."""
    simulation = site.config.simulation
    settings = SimulationSettings(**simulation.model_dump(exclude={"enabled"}))
    specs = [s for s in site.settings.sensors if only is None or s.id in only]
    keys = load_security(site.config, site.data_dir).keys  # signing sensors sign
    with ExitStack() as stack:
        threads = []
        for spec in specs:
            client = site.client(
                f"homeguard-sim-{spec.id}",
                will=SimulatedSensor.will(site.topics, spec.id),
                account=spec.id,
            )
            client.start()
            stack.callback(_stop_client, client, site.topics.availability(spec.id))
            sensor = SimulatedSensor(
                spec,
                topics=site.topics,
                client=client,
                settings=settings,
                clock=wall_clock,
                rng=random.Random(),
                signer=DeviceSigner(spec.id, keys[spec.id]) if spec.id in keys else None,
            )
            threads.append(_thread(f"sim-{spec.id}", sensor.run, stop))
        log.info("simulating %d sensors: %s", len(specs), ", ".join(s.id for s in specs))
        for thread in threads:
            thread.join()


def run_actuators(site: Site, stop: threading.Event) -> None:
    """Run the siren and light until ``stop`` is set, each as its own device (own
    client and credentials)."""
    threads = []
    for actuator in site.config.actuators:
        actuators = Actuators(topics=site.topics, actuators=[(actuator.id, actuator.type)])
        client = site.client(
            f"homeguard-actuator-{actuator.id}",
            subscriptions=actuators.subscriptions,
            account=actuator.id,
        )
        client.start()
        threads.append(
            _thread(f"actuator-{actuator.id}", partial(_run_actuator, actuators, client), stop)
        )
    for thread in threads:
        thread.join()


def _run_actuator(actuators: Actuators, client: MqttClient, stop: threading.Event) -> None:
    try:
        actuators.run(client, stop)
    finally:
        client.stop(timeout=STOP_FLUSH)


def _thread(
    name: str, target: Callable[[threading.Event], None], stop: threading.Event
) -> threading.Thread:
    thread = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
    thread.start()
    return thread
