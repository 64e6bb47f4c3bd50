"""The broker adapter: the generated Mosquitto config, the probe, and LocalBroker."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from homeguard.adapters.broker import LocalBroker, broker_answers, mosquitto_config
from homeguard.adapters.broker import local as local_module
from homeguard.adapters.broker.mosquitto import autosave_interval
from homeguard.adapters.mqtt import BrokerAddress, MqttClient
from homeguard.errors import BrokerError
from tests.conftest import MosquittoProcess, client_id, collect, free_port


def _settings(config: str) -> list[str]:
    return [line for line in config.splitlines() if line and not line.startswith("#")]


def test_config_has_the_no_loss_settings(tmp_path: Path) -> None:
    config = mosquitto_config(port=18830, data_dir=tmp_path)
    settings = _settings(config)

    for expected in (
        "persistence true",
        f"persistence_location {tmp_path.resolve()}/",
        "autosave_interval 1",
        "max_queued_messages 300000",
        f"max_queued_bytes {64 * 1024 * 1024}",
        f"max_packet_size {256 * 1024 + 64 * 1024 + 16}",
        "max_inflight_messages 10000",
        f"max_inflight_bytes {64 * 1024 * 1024}",
        "set_tcp_nodelay true",
        "listener 18830 127.0.0.1",
        "allow_anonymous true",
        f"log_dest file {tmp_path.resolve() / 'mosquitto.log'}",
    ):
        assert expected in settings
    assert not any(line.startswith(("password_file", "acl_file", "user ")) for line in settings)
    # Every setting sits in a group of lines that starts with a comment giving the reason.
    lines = config.splitlines()
    for index, line in enumerate(lines):
        if line in settings:
            group_start = index
            while group_start > 0 and lines[group_start - 1] in settings:
                group_start -= 1
            assert lines[group_start - 1].startswith("# "), f"{line!r} has no reason"


def test_a_large_store_is_saved_less_often(tmp_path: Path) -> None:
    # A save writes the whole store, and Mosquitto serves no one meanwhile: 62-65 ms every
    # 2 s once 100,000 sensors' states were retained (docs/broker.md).
    sizes = (0, 7_999_999, 8_000_000, 22_000_000, 350_000_000)
    assert [autosave_interval(size) for size in sizes] == [1, 1, 2, 5, 87]
    config = mosquitto_config(port=18830, data_dir=tmp_path, store_bytes=22_000_000)
    assert "autosave_interval 5" in _settings(config)
    assert "autosave_interval 1" not in _settings(config)
    assert "loses at most 5 seconds" in config
    # LocalBroker gives it to the Mosquitto it starts, which takes it.
    broker = LocalBroker.start(
        tmp_path / "broker", free_port(), prefer="mosquitto", store_bytes=22_000_000
    )
    try:
        assert broker_answers(broker.host, broker.port)
        written = (tmp_path / "broker" / "mosquitto.conf").read_text()
        assert "autosave_interval 5" in _settings(written)
    finally:
        broker.stop()


def test_config_with_password_file_and_acl_refuses_anonymous(tmp_path: Path) -> None:
    settings = _settings(
        mosquitto_config(
            port=1883,
            bind="0.0.0.0",
            data_dir=tmp_path,
            password_file=tmp_path / "passwd",
            acl_file=tmp_path / "acl",
            run_as_user="homeguard",
        )
    )

    assert "allow_anonymous false" in settings
    assert f"password_file {tmp_path.resolve() / 'passwd'}" in settings
    assert f"acl_file {tmp_path.resolve() / 'acl'}" in settings
    assert "listener 1883 0.0.0.0" in settings
    assert "user homeguard" in settings


@pytest.mark.broker
def test_generated_config_runs_mosquitto(mosquitto: MosquittoProcess) -> None:
    assert broker_answers(mosquitto.host, mosquitto.port)
    assert "set_tcp_nodelay true" in mosquitto.config_path.read_text()
    assert "New client connected" in mosquitto.log  # logging to data_dir works


def test_broker_answers_is_false_on_a_closed_port() -> None:
    assert not broker_answers("127.0.0.1", free_port(), timeout=0.5)


def test_broker_answers_is_false_for_a_tcp_server_that_is_not_mqtt() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer_rubbish() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(100)
                connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer_rubbish, daemon=True)
        thread.start()
        assert not broker_answers("127.0.0.1", port, timeout=2)
        thread.join(5)


@pytest.mark.broker
def test_local_broker_runs_mosquitto(tmp_path: Path) -> None:
    port = free_port()
    with LocalBroker.start(tmp_path / "broker", port) as local:
        assert local.kind == "mosquitto"
        assert local.running
        assert broker_answers("127.0.0.1", port)
        assert "max_queued_messages 300000" in (tmp_path / "broker" / "mosquitto.conf").read_text()
    assert not local.running
    assert not broker_answers("127.0.0.1", port, timeout=0.5)


def test_local_broker_embedded_round_trip(tmp_path: Path) -> None:
    port = free_port()
    local = LocalBroker.start(tmp_path / "broker", port, prefer="embedded")
    try:
        assert local.kind == "embedded"
        address = BrokerAddress("127.0.0.1", port)
        with (
            MqttClient(
                address=address, client_id=client_id(), subscriptions=[("home/security/#", 1)]
            ) as subscriber,
            MqttClient(address=address, client_id=client_id()) as publisher,
        ):
            publisher.publish("home/security/door/front", "OPEN")
            [message] = collect(subscriber.messages, 1)
            assert (message.topic, message.payload) == ("home/security/door/front", b"OPEN")
    finally:
        local.stop()
    assert not local.running
    assert not broker_answers("127.0.0.1", port, timeout=0.5)


def test_embedded_broker_queues_for_a_persistent_session(tmp_path: Path) -> None:
    port = free_port()
    address = BrokerAddress("127.0.0.1", port)
    controller_id = client_id("controller")
    with LocalBroker.start(tmp_path, port, prefer="embedded"):
        with MqttClient(address=address, client_id=controller_id, subscriptions=[("home/#", 1)]):
            pass  # subscribed, then away
        with MqttClient(address=address, client_id=client_id()) as publisher:
            for n in range(50):
                publisher.publish("home/security/motion/hall", str(n))
            assert publisher.wait_published(10)
        with MqttClient(
            address=address, client_id=controller_id, subscriptions=[("home/#", 1)]
        ) as back:
            received = collect(back.messages, 50)
    assert [m.payload for m in received] == [str(n).encode() for n in range(50)]


def test_local_broker_falls_back_to_embedded_without_mosquitto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "find_mosquitto", lambda: None)
    port = free_port()
    with LocalBroker.start(tmp_path, port) as local:
        assert local.kind == "embedded"
        assert broker_answers("127.0.0.1", port)
    with pytest.raises(BrokerError, match="mosquitto is not installed"):
        LocalBroker.start(tmp_path, port, prefer="mosquitto")


def test_embedded_broker_on_a_busy_port_is_a_broker_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(BrokerError):
            LocalBroker.start(tmp_path, port, prefer="embedded", timeout=5)
