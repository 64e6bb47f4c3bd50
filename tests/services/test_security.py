"""Issue 5: a provisioned site on a real Mosquitto: logins, ACL, TLS, re-provision, revoke."""

from __future__ import annotations

import json
import queue
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeguard.adapters import pki
from homeguard.adapters.broker import LocalBroker, broker_answers
from homeguard.adapters.mqtt import BrokerAddress, Message, MqttClient, TlsFiles
from homeguard.config import Config, parse_config
from homeguard.errors import BrokerError
from homeguard.services.provisioning import (
    ProvisionReport,
    SecurityFiles,
    broker_security,
    load_credentials,
    provision,
    revoke,
)
from tests.conftest import MosquittoProcess, client_id, collect, free_port, wait_until

pytestmark = pytest.mark.broker

HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
sensors:
  - {{id: front, type: door}}
  - {{id: back, type: door}}
{more}
actuators:
  - {{id: siren, type: siren}}
"""
NOW = 1_764_288_000.0


def house(port: int, more: str = "") -> Config:
    return parse_config(HOUSE.format(port=port, more=more))


class Secured:
    """A provisioned folder and a Mosquitto enforcing it."""

    def __init__(self, root: Path, broker: MosquittoProcess) -> None:
        self.root = root
        self.broker = broker

    def address(self, account: str | None, password: str | None = None) -> BrokerAddress:
        if account is None:
            return BrokerAddress(self.broker.host, self.broker.port)
        creds = load_credentials(self.root, account)
        assert creds is not None, account
        return BrokerAddress(
            self.broker.host, self.broker.port, creds.username, password or creds.password
        )

    def client(
        self, account: str | None, subscriptions: list[tuple[str, int]] | None = None
    ) -> MqttClient:
        client = MqttClient(
            address=self.address(account),
            client_id=client_id(account or "anonymous"),
            subscriptions=subscriptions or [],
        )
        client.start(timeout=5)
        return client


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    root = tmp_path / "security"
    port = free_port()
    provision(house(port), root, NOW)
    files = SecurityFiles(root)
    broker = MosquittoProcess(
        tmp_path / "mosquitto", port, password_file=files.password_file, acl_file=files.acl_file
    )
    broker.start()
    try:
        yield Secured(root, broker)
    finally:
        broker.stop()


def refused(address: BrokerAddress, timeout: float = 5) -> str:
    client = MqttClient(address=address, client_id=client_id("refused"))
    with pytest.raises(BrokerError) as caught:
        client.start(timeout=timeout)
    client.stop()
    return str(caught.value)


def nothing_then(messages: queue.Queue[Message], topic: str) -> Message:
    """The next message, which must be the control message on ``topic``."""
    [message] = collect(messages, 1, timeout=10)
    assert message.topic == topic, f"a denied message got through: {message}"
    return message


# ------------------------------------------------------------------------ logins


def test_anonymous_and_wrong_passwords_are_refused(secured: Secured) -> None:
    assert "refused" in refused(secured.address(None))
    assert "refused" in refused(secured.address("front", password="not-the-password"))
    secured.client("front").stop()  # the right password works


def test_a_device_publishes_only_its_own_topics(secured: Secured) -> None:
    # The controller may read everything it subscribes to: it is the witness.
    witness = secured.client(
        "controller", [("home/security/#", 1), ("home/alarm/set", 1), ("home/devices/+/+", 1)]
    )
    front = secured.client("front")
    try:
        # MQTT 3.1.1 has no way to say "denied": Mosquitto acknowledges and drops.
        front.publish("home/security/door/back", "OPEN")  # another device's topic
        front.publish("home/devices/back/availability", "offline")
        front.publish("home/alarm/set", json.dumps({"action": "DISARM", "code": "1234"}))
        front.publish("home/control/alarm", "OFF")
        assert front.wait_published(5)
        front.publish("home/security/door/front", "OPEN")  # its own: the control message
        message = nothing_then(witness.messages, "home/security/door/front")
        assert message.payload == b"OPEN"
        assert witness.messages.empty()
    finally:
        front.stop()
        witness.stop()


def test_only_users_and_the_controller_command(secured: Secured) -> None:
    siren = secured.client("siren", [("home/control/alarm", 2)])
    witness = secured.client("controller", [("home/alarm/set", 1), ("home/security/#", 1)])
    cli = secured.client("cli", [("home/alarm/state", 1)])
    try:
        cli.publish("home/control/alarm", "ON")  # a user cannot sound the siren by hand
        cli.publish("home/security/door/front", "CLOSED")  # nor pretend to be a sensor
        cli.publish("home/alarm/state", "disarmed")  # nor speak for the controller
        assert cli.wait_published(5)
        cli.publish("home/alarm/set", "ARM_AWAY")  # but may command the panel
        assert nothing_then(witness.messages, "home/alarm/set").payload == b"ARM_AWAY"
        witness.publish("home/control/alarm", "ON", qos=2)  # the controller may
        witness.publish("home/alarm/state", "triggered", retain=True)
        assert nothing_then(siren.messages, "home/control/alarm").payload == b"ON"
        assert nothing_then(cli.messages, "home/alarm/state").payload == b"triggered"
    finally:
        for client in (siren, witness, cli):
            client.stop()


def test_a_users_client_has_topics_of_its_own(secured: Secured) -> None:
    """``<base>/clients/<login>/#``: where ``homeguard status`` sends itself the message
    that marks the end of the retained state. Nobody else may write there."""
    cli = secured.client("cli", [("home/clients/cli/#", 1)])
    front = secured.client("front")
    try:
        front.publish("home/clients/cli/status/1", "not yours")
        assert front.wait_published(5)
        cli.publish("home/clients/cli/status/1", "end")
        assert nothing_then(cli.messages, "home/clients/cli/status/1").payload == b"end"
    finally:
        for client in (front, cli):
            client.stop()


def test_a_device_reads_nothing_but_its_own(secured: Secured) -> None:
    witness = secured.client("controller")
    witness.publish("home/alarm/state", "armed_away", retain=True)
    front = secured.client("front")
    front.publish("home/devices/front/availability", "online", retain=True)
    assert witness.wait_published(5) and front.wait_published(5)
    try:
        nosy = secured.client("back", [("home/#", 1)])
    except BrokerError:
        return  # refusing the subscription outright is as good
    try:
        witness.publish("home/security/status", "{}", retain=True)
        front.publish("home/security/door/front", "OPEN")
        assert witness.wait_published(5) and front.wait_published(5)
        nosy.publish("home/devices/back/announce", "{}")  # its own: the control message
        assert nothing_then(nosy.messages, "home/devices/back/announce").payload == b"{}"
        assert nosy.messages.empty()
    finally:
        for client in (nosy, front, witness):
            client.stop()


# ------------------------------------------------------------------------ files


def test_secrets_are_private_and_each_device_file_is_complete(tmp_path: Path) -> None:
    root = tmp_path / "security"
    provision(house(1883), root, NOW)
    files = SecurityFiles(root)
    for path in (root, files.devices):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    private = [files.ca_key, files.server_key, files.password_file, files.acl_file]
    private += list(files.devices.glob("*.json")) + list(files.devices.glob("*.key"))
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    data = json.loads(files.device("front").read_text())
    assert {"device_id", "username", "password", "secret", "topics", "ca_file"} <= set(data)
    assert data["topics"]["publish"][0] == "home/security/door/front"
    assert len(bytes.fromhex(data["secret"])) == 32
    assert sorted(p.stem for p in files.devices.glob("*.json")) == [
        "back",
        "cli",
        "controller",
        "front",
        "siren",
    ]


def test_reprovisioning_keeps_credentials_and_adds_devices_and_revoke_removes(
    secured: Secured,
) -> None:
    files = SecurityFiles(secured.root)
    before = {p.name: p.read_bytes() for p in files.devices.iterdir() if p.suffix != ".json"}
    front = json.loads(files.device("front").read_text())
    more = "  - {id: hall, type: motion}"
    report = provision(house(secured.broker.port, more), secured.root, NOW + 60)
    assert report.added == ["hall"]
    assert "front" in report.kept
    again = json.loads(files.device("front").read_text())
    assert {k: again[k] for k in ("password", "secret", "cert_serial")} == {
        k: front[k] for k in ("password", "secret", "cert_serial")
    }
    for name, content in before.items():  # keys and certificates untouched
        assert (files.devices / name).read_bytes() == content
    assert secured.broker.process is not None
    secured.broker.process.send_signal(signal.SIGHUP)  # reloads password file and ACL

    def hall_works() -> bool:
        try:
            secured.client("hall").stop()
        except BrokerError:
            return False
        return True

    wait_until(hall_works, timeout=10, what="the new device to be let in")
    secured.client("front").stop()  # the old credentials still work

    creds = secured.address("front")
    still_open = secured.client("front")
    witness = secured.client("controller", [("home/security/#", 1)])
    revoke("front", secured.root, NOW + 120)
    assert not files.device("front").exists() and not files.device_key("front").exists()
    assert "front" not in files.password_file.read_text()
    assert "user front" not in files.acl_file.read_text()
    secured.broker.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "refused" in refused(creds, timeout=2), timeout=10, what="front out")
    try:  # Mosquitto 2 checks open connections again on reload: it is closed
        wait_until(lambda: not still_open.connected, timeout=10, what="front closed")
        still_open.publish("home/security/door/front", "OPEN")
        assert not still_open.wait_published(1)  # and it cannot come back
        hall = secured.client("hall")
        hall.publish("home/security/motion/hall", "MOTION")
        assert nothing_then(witness.messages, "home/security/motion/hall")
        hall.stop()
    finally:
        still_open.stop(timeout=0.5)
        witness.stop()
    # Provisioning again does not bring a revoked device back.
    report = provision(house(secured.broker.port, more), secured.root, NOW + 180)
    assert report.skipped_revoked == ["front"] and not files.device("front").exists()


# ------------------------------------------------------------------------ TLS


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[LocalBroker, Path]]:
    root = tmp_path / "security"
    port = free_port()
    provision(house(port), root, time.time())
    broker = LocalBroker.start(
        tmp_path / "broker", port, prefer="mosquitto", security=broker_security(root, tls=True)
    )
    try:
        yield broker, root
    finally:
        broker.stop()


def tls_address(broker: LocalBroker, root: Path, account: str, **files: Path) -> BrokerAddress:
    creds = load_credentials(root, account)
    assert creds is not None
    tls = TlsFiles(
        files.get("ca_file", creds.ca_file),
        files.get("cert_file", creds.cert_file),
        files.get("key_file", creds.key_file),
    )
    return BrokerAddress("localhost", broker.port, creds.username, creds.password, tls)


def test_tls_accepts_provisioned_certificates_only(
    tls_broker: tuple[LocalBroker, Path], tmp_path: Path
) -> None:
    broker, root = tls_broker
    good = MqttClient(address=tls_address(broker, root, "front"), client_id=client_id("tls"))
    good.start(timeout=5)
    assert good.tcp_nodelay is True  # set on the TLS socket too
    good.stop()
    # Plain MQTT gets no CONNACK from the TLS listener.
    assert not broker_answers("127.0.0.1", broker.port)
    # A certificate from another CA is refused, whatever the password.
    stranger = pki.new_ca("stranger CA", time.time())
    forged = pki.issue(stranger, "front", time.time())
    (tmp_path / "forged.crt").write_text(forged.cert_pem)
    (tmp_path / "forged.key").write_text(forged.key_pem)
    address = tls_address(
        broker,
        root,
        "front",
        cert_file=tmp_path / "forged.crt",
        key_file=tmp_path / "forged.key",
    )
    refused(address, timeout=2)
    log = broker.data_dir / "mosquitto.log"
    failures = log.read_text().count("certificate verify failed")
    assert failures >= 1
    # Revoked: its certificate is in the CRL (Mosquitto reads it at start).
    # (revoke deletes the device's files: keep copies, as a thief would have)
    kept = {}
    for name in ("cert_file", "key_file"):
        kept[name] = tmp_path / f"stolen-{name}"
        kept[name].write_bytes(Path(getattr(load_credentials(root, "back"), name)).read_bytes())
    good_address = tls_address(broker, root, "back", **kept)
    revoke("back", root, time.time())
    broker.stop()
    restarted = LocalBroker.start(
        broker.data_dir, broker.port, prefer="mosquitto", security=broker_security(root, tls=True)
    )
    try:
        refused(good_address, timeout=2)
        wait_until(
            lambda: log.read_text().count("certificate verify failed") > failures,
            timeout=10,
            what="the revoked certificate to be refused",
        )
        ok = MqttClient(address=tls_address(restarted, root, "front"), client_id=client_id("ok"))
        ok.start(timeout=5)
        ok.stop()
    finally:
        restarted.stop()


# ------------------------------------------------------------------------ up


def test_up_runs_an_authenticated_broker_and_the_house_works(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "homeguard.yaml"
    example = (Path(__file__).parents[2] / "src/homeguard/examples/house.yaml").read_text()
    config.write_text(example.replace("port: 1883", f"port: {port}"))
    data = tmp_path / "data"
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        [sys.executable, "-m", "homeguard", "up", "--data-dir", str(data)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: broker_answers("127.0.0.1", port), timeout=20, what="the broker")
        assert "refused" in refused(BrokerAddress("127.0.0.1", port))

        def status() -> dict[str, object]:
            # --timeout 60 in 30 s: the cli login may send itself the end marker
            status = ["status", "--json", "--timeout", "60", "--data-dir", str(data)]
            result = subprocess.run(
                [sys.executable, "-m", "homeguard", *status],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            return json.loads(result.stdout) if result.returncode == 0 else {}

        wait_until(lambda: status().get("controller") == "online", timeout=30, what="controller")
        wait_until(lambda: len(status().get("devices", {})) >= 8, timeout=30, what="devices")
        assert status()["actuators"] == {"siren": "OFF", "light": "OFF"}
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
    assert SecurityFiles(data / "security").exists()
    conf = (data / "broker" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "acl_file" in conf
    assert "Traceback" not in (tmp_path / "up.log").read_text()


def test_provision_and_revoke_commands(tmp_path: Path) -> None:
    config = tmp_path / "homeguard.yaml"
    config.write_text(HOUSE.format(port=1883, more=""))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "homeguard", *args, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    out = tmp_path / "sec"
    first = run("provision", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "added:   controller, front, back, siren, cli" in first.stdout
    assert "kept:    controller" in run("provision", "--out", str(out)).stdout
    assert run("revoke", "front", "--out", str(out)).returncode == 0
    unknown = run("revoke", "nobody", "--out", str(out))
    assert unknown.returncode == 1 and "no account 'nobody'" in unknown.stderr


def test_report_lists_what_changed() -> None:
    report = ProvisionReport(Path("/x"), added=["a"], not_in_config=["old"])
    text = "\n".join(report.lines())
    assert "added:   a" in text and "homeguard revoke" in text
