"""An embedded amqtt broker, served in its own thread: the only module that imports amqtt.

The embedded broker is for trying homeguard out and for tests, not for a real house.
Its limits:

* nothing is persisted: sessions, messages queued for offline clients and retained
  messages live in memory and are lost when the broker (or the process hosting it)
  stops, so the "QoS 1 while the controller was down" guarantee only holds while the
  embedded broker keeps running;
* amqtt's own anonymous mode keeps no session for a disconnected client (it silently
  drops the QoS 1/2 messages a persistent session should queue), so we accept every
  client through our own plugin instead, which keeps sessions as MQTT requires;
* loopback only, no authentication, no ACL, no TLS;
* the order between QoS 1 and QoS 2 messages queued for an offline client is not kept
  (each QoS level is delivered in order);
* MQTT 3.1.1 only (no MQTT 5 features such as shared subscriptions);
* it shares the host process and its GIL: slower than Mosquitto, and a crash of the
  process takes the broker down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker as AmqttBroker
from amqtt.plugins.base import BaseAuthPlugin

from homeguard.errors import BrokerError, BrokerUnavailable

from .probe import wait_until_answers

__all__ = ["EmbeddedBroker", "LoopbackAuthPlugin"]

_log = logging.getLogger(__name__)


class LoopbackAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt authentication that lets every (loopback) client in as a real session.

    amqtt's AnonymousAuthPlugin marks sessions anonymous, and amqtt then queues nothing
    for them while they are away; a persistent session must get its QoS 1/2 messages.
    """

    @dataclass
    class Config:
        """No options: the embedded broker only listens on loopback."""

    async def authenticate(self, *, session: Any) -> bool:
        return True


class EmbeddedBroker:
    """An amqtt broker served by its own asyncio loop in a daemon thread."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._broker: Any = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"homeguard-embedded-broker-{port}", daemon=True
        )

    def start(self, timeout: float) -> None:
        self._thread.start()
        if not self._started.wait(timeout):
            self.stop(timeout)
            raise BrokerUnavailable(f"embedded broker did not start within {timeout:g} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise BrokerError(
                f"embedded broker could not listen on {self._host}:{self._port}: {self._error}"
            ) from None
        if not wait_until_answers(self._host, self._port, timeout, self._thread.is_alive):
            self.stop(timeout)
            raise BrokerUnavailable(f"embedded broker does not answer on port {self._port}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_broker())
        except Exception as err:  # amqtt raises its own errors and OSError
            self._error = err
            self._started.set()
            self._loop.close()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _start_broker(self) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self._host}:{self._port}"}},
            "plugins": {f"{__name__}.{LoopbackAuthPlugin.__name__}": {}},
        }
        self._broker = AmqttBroker(config, loop=self._loop)
        await self._broker.start()

    def stop(self, timeout: float) -> None:
        if not self._thread.is_alive():
            return
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception as err:  # a failed shutdown must not hide the stop
                _log.warning("embedded broker shutdown failed: %s", err)
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
