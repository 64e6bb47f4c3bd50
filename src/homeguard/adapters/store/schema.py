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
    (  # notifications: the outbox, written with the events that cause them (outbox.py)
        """CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            timestamp REAL NOT NULL,
            route TEXT NOT NULL,
            target TEXT NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            urgent INTEGER NOT NULL,
            silent INTEGER NOT NULL,
            snapshot INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'failed', 'suppressed')),
            due REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            finished REAL,
            attachment BLOB
        )""",
        "CREATE INDEX notifications_pending ON notifications (state, due)",
        "CREATE INDEX notifications_sent ON notifications (route, target, finished)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
