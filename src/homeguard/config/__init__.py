"""The site's configuration: one YAML file, validated once at load.

:func:`load_config` reads the file, :func:`parse_config` the text; both return a frozen
:class:`Config` or raise :class:`~homeguard.errors.ConfigError` whose every line reads
``<file> line <n>: <key path>: <what is wrong>``. The YAML is composed into nodes first
so that each pydantic error location can be traced back to the line it came from; keys
that appear twice in one mapping, which YAML itself silently accepts, are refused.

A user's plain ``pin`` and dashboard ``password`` are hashed while the file is validated
(scrypt, see :mod:`homeguard.core.codes`) and dropped: they are in no model, repr, dump
or message.
Secrets (``password``) are :class:`pydantic.SecretStr` and print as ``**********``.

One module per section (:mod:`.mqtt`, :mod:`.panel`, :mod:`.users`, :mod:`.sensors`...)
over the shared :class:`~.base.Section` (``extra="forbid"``, frozen), the whole site in
:mod:`.root`, reading in :mod:`.loading` and the tracing of errors to YAML lines in
:mod:`.yaml_lines`; every name other modules use is re-exported here.

This is the only package that imports PyYAML, and with the web API's schemas the only
one that imports pydantic; the engine gets plain core types from
:meth:`Config.panel_settings`.
"""

from __future__ import annotations

from homeguard.config.home_assistant import HomeAssistantConfig
from homeguard.config.loading import (
    CONFIG_FILENAME,
    bundled_example,
    default_config_path,
    load_config,
    parse_config,
)
from homeguard.config.mqtt import MqttConfig, TlsConfig
from homeguard.config.panel import LockoutConfig, ModeTimingConfig, PanelConfig
from homeguard.config.root import Config
from homeguard.config.security import RateLimitConfig, SecurityConfig, SigningConfig
from homeguard.config.sensors import ActuatorConfig, SensorConfig
from homeguard.config.simulation import SimulationConfig
from homeguard.config.storage import StorageConfig
from homeguard.config.uplink import UplinkConfig
from homeguard.config.users import UserConfig
from homeguard.config.web import WebConfig

__all__ = [
    "CONFIG_FILENAME",
    "ActuatorConfig",
    "Config",
    "HomeAssistantConfig",
    "LockoutConfig",
    "ModeTimingConfig",
    "MqttConfig",
    "PanelConfig",
    "RateLimitConfig",
    "SecurityConfig",
    "SensorConfig",
    "SigningConfig",
    "SimulationConfig",
    "StorageConfig",
    "TlsConfig",
    "UplinkConfig",
    "UserConfig",
    "WebConfig",
    "bundled_example",
    "default_config_path",
    "load_config",
    "parse_config",
]
