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
    (  # version 3: the uplink's outbox and cursor (adapters/store/uplink.py)
        """CREATE TABLE uplink_cursor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            sent_seq INTEGER NOT NULL,
            batches INTEGER NOT NULL,
            sent_at REAL,
            duress INTEGER NOT NULL DEFAULT 0,
            connected INTEGER NOT NULL DEFAULT 0,
            connected_changed REAL
        )""",
        # A copy of each committed event, numbered in commit order, taken by the triggers
        # below in the event's own transaction while an uplink is on (a cursor row exists);
        # deleted once the upstream broker acknowledged it. Pruning the events never
        # touches it, so nothing unsent is lost to retention.
        """CREATE TABLE uplink_outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind INTEGER NOT NULL,
            event_id INTEGER NOT NULL,
            timestamp REAL NOT NULL,
            first TEXT,
            second TEXT,
            third TEXT,
            fourth TEXT
        )""",
        """CREATE TRIGGER uplink_sensor_events AFTER INSERT ON sensor_events
            WHEN EXISTS (SELECT 1 FROM uplink_cursor)
            BEGIN
                INSERT INTO uplink_outbox (kind, event_id, timestamp, first, second, third, fourth)
                VALUES (0, NEW.id, NEW.timestamp, NEW.sensor_type, NEW.device_id, NEW.state,
                        NEW.metadata);
            END""",
        """CREATE TRIGGER uplink_system_events AFTER INSERT ON system_events
            WHEN EXISTS (SELECT 1 FROM uplink_cursor)
            BEGIN
                INSERT INTO uplink_outbox (kind, event_id, timestamp, first, second, third)
                VALUES (1, NEW.id, NEW.timestamp, NEW.event_type, NEW.description, NEW.data);
            END""",
        """CREATE TRIGGER uplink_silent_alerts AFTER INSERT ON silent_alerts
            WHEN EXISTS (SELECT 1 FROM uplink_cursor WHERE duress = 1)
            BEGIN
                INSERT INTO uplink_outbox (kind, event_id, timestamp, first, second, third)
                VALUES (2, NEW.id, NEW.timestamp, NEW.event_type, NEW.description, NEW.data);
            END""",
    ),
    (  # version 4: notifications: the outbox, written with the events that cause them (outbox.py)
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
    (  # version 5: the panel snapshot's sensors, a row each, written when one changes
        "CREATE TABLE panel_sensors (sensor_id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
