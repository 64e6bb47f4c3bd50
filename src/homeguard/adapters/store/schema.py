"""The event store's schema, as the migrations that build it.

The schema version lives in ``PRAGMA user_version``; the store brings a file up to date
on open by applying :data:`MIGRATIONS` in order, and refuses a file written by a newer
homeguard rather than guess at it.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

# Migration N takes the schema from version N to N + 1. Append; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # version 1: the initial schema
        """CREATE TABLE sensor_events (
            id INTEGER PRIMARY KEY,
            timestamp REAL NOT NULL CHECK (typeof(timestamp) = 'real'),
            sensor_type TEXT NOT NULL,
            device_id TEXT NOT NULL,
            state TEXT NOT NULL,
            metadata TEXT,
            dedup_key TEXT UNIQUE
        )""",
        "CREATE INDEX sensor_events_time ON sensor_events (timestamp)",
        "CREATE INDEX sensor_events_device_time ON sensor_events (device_id, timestamp)",
        """CREATE TABLE system_events (
            id INTEGER PRIMARY KEY,
            timestamp REAL NOT NULL CHECK (typeof(timestamp) = 'real'),
            event_type TEXT NOT NULL,
            description TEXT NOT NULL,
            data TEXT
        )""",
        "CREATE INDEX system_events_time ON system_events (timestamp)",
        "CREATE INDEX system_events_type_time ON system_events (event_type, timestamp)",
        "CREATE TABLE panel_snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)",
        """CREATE TABLE devices (
            device_id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            capabilities TEXT NOT NULL,
            online INTEGER,
            last_seen REAL,
            announced_at REAL,
            info TEXT
        )""",
    ),
    (  # version 2: duress alerts apart, where no one watching the panel looks
        """CREATE TABLE silent_alerts (
            id INTEGER PRIMARY KEY,
            timestamp REAL NOT NULL CHECK (typeof(timestamp) = 'real'),
            event_type TEXT NOT NULL,
            description TEXT NOT NULL,
            data TEXT
        )""",
        "CREATE INDEX silent_alerts_time ON silent_alerts (timestamp)",
        """INSERT INTO silent_alerts (timestamp, event_type, description, data)
            SELECT timestamp, event_type, description, data FROM system_events
            WHERE event_type = 'duress' ORDER BY id""",
        "DELETE FROM system_events WHERE event_type = 'duress'",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
