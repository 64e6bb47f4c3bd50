"""The event store: SQLite, the only place that imports :mod:`sqlite3`."""

from .outbox import Outbox
from .sqlite import SCHEMA_VERSION, EventStore

__all__ = ["SCHEMA_VERSION", "EventStore", "Outbox"]
