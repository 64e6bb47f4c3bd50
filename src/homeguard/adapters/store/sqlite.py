"""The event store on SQLite; the only module that imports :mod:`sqlite3`.

One file, WAL mode. The schema version lives in ``PRAGMA user_version`` and is brought
up to date on open by applying :data:`_MIGRATIONS` in order; a file written by a newer
homeguard is refused rather than guessed at.

Threads: one writer connection, guarded by a lock, serves :meth:`EventStore.write` and
:meth:`EventStore.prune`. Queries borrow a read-only connection from a small pool (a new
one when all are busy, kept for reuse afterwards), so no connection is ever used by two
threads at once, and in WAL mode a dashboard or CLI thread reads the last committed state
without waiting for the writer or slowing it down.

Durability: :meth:`EventStore.write` puts the whole batch in one ``BEGIN IMMEDIATE`` ...
``COMMIT``; once it returns, the batch is committed. With ``synchronous="full"`` the
commit is fsynced and survives a power cut; with ``"normal"`` it survives a crash of the
process but may be lost with the power.

Every :class:`sqlite3.Error` is translated into :class:`~homeguard.errors.StoreError`;
those that the same write may get past later (disk full, read-only file, database locked,
I/O error: :data:`_UNAVAILABLE`) into its subclass
:class:`~homeguard.errors.StoreUnavailable`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias

from homeguard.core.records import Batch, DeviceRecord, SensorRecord, SystemRecord, WriteResult
from homeguard.errors import StoreError, StoreUnavailable

__all__ = ["SCHEMA_VERSION", "EventStore"]

_BUSY_TIMEOUT_S = 5.0

# SQLite's primary result codes for a store that cannot write for now, whatever the SQL:
# PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
# Anything else (a constraint, a misuse, SQL that does not fit the schema) is our bug.
_UNAVAILABLE = frozenset({3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
_MAX_IDLE_READERS = 4

# Migration N takes the schema from version N to N + 1. Append; never edit a released one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
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
SCHEMA_VERSION = len(_MIGRATIONS)

# ON CONFLICT (dedup_key) rather than INSERT OR IGNORE: only a repeated delivery is
# skipped; a NULL in a NOT NULL column still fails the batch instead of vanishing.
_INSERT_SENSOR = """INSERT INTO sensor_events
    (timestamp, sensor_type, device_id, state, metadata, dedup_key) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (dedup_key) DO NOTHING"""
_INSERT_SYSTEM = """INSERT INTO system_events
    (timestamp, event_type, description, data) VALUES (?, ?, ?, ?)"""
_INSERT_SILENT = """INSERT INTO silent_alerts
    (timestamp, event_type, description, data) VALUES (?, ?, ?, ?)"""
_UPSERT_DEVICE = """INSERT INTO devices
    (device_id, type, capabilities, online, last_seen, announced_at, info)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (device_id) DO UPDATE SET type = excluded.type,
        capabilities = excluded.capabilities, online = excluded.online,
        last_seen = excluded.last_seen, announced_at = excluded.announced_at,
        info = excluded.info"""
_REPLACE_SNAPSHOT = """INSERT INTO panel_snapshot (id, body) VALUES (1, ?)
    ON CONFLICT (id) DO UPDATE SET body = excluded.body"""
_SENSOR_COLUMNS = "id, timestamp, sensor_type, device_id, state, metadata, dedup_key"
_SYSTEM_COLUMNS = "id, timestamp, event_type, description, data"

_Row: TypeAlias = tuple[Any, ...]


class EventStore:
    """Sensor events, system events, devices and the panel snapshot in one SQLite file;
    and, apart, the silent alerts (duress) that only :meth:`silent_alerts` reads.

    Write from one thread (the controller); query from any. ``since`` is inclusive and
    ``until`` exclusive; ``limit=None`` means no limit.
    """

    def __init__(
        self, path: Path | str, *, synchronous: Literal["normal", "full"] = "full"
    ) -> None:
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        self._path = Path(path)
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._closed = False
        self._commits = 0
        _private_files(self._path)
        with _translated(f"cannot open event store {self._path}"):
            self._writer = self._connect()
        try:
            with _translated(f"cannot open event store {self._path}"):
                (mode,) = self._writer.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode != "wal":
                    raise StoreError(f"event store {self._path} cannot use WAL mode ({mode})")
                self._writer.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._migrate()
        except BaseException:
            self._writer.close()
            raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close every connection; idempotent. Readers still busy close when done."""
        with self._write_lock, self._pool_lock:
            if self._closed:
                return
            self._closed = True
            connections = [*self._idle_readers, self._writer]
            self._idle_readers.clear()
        with _translated(f"cannot close event store {self._path}"):
            for connection in connections:
                connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def commits(self) -> int:
        """Transactions this store has committed since it was opened (migrations too)."""
        return self._commits

    # ------------------------------------------------------------------ writing

    def write(self, batch: Batch) -> WriteResult:
        """Store ``batch`` in one transaction; on return it is committed.

        Sensor events whose ``dedup_key`` is already stored (or repeated in the batch) are
        skipped and counted as duplicates. On any error nothing of the batch is stored.
        An empty batch commits nothing.
        """
        if batch.empty:
            return WriteResult(sensor_stored=0, duplicates=0, system_stored=0)
        sensor_rows = [_sensor_row(record) for record in batch.sensor_events]
        system_rows = [_system_row(record) for record in batch.system_events]
        device_rows = [_device_row(record) for record in batch.devices]
        silent_rows = [_system_row(record) for record in batch.silent_alerts]
        with self._transaction("cannot write to the event store") as connection:
            stored = 0
            if sensor_rows:
                stored = connection.executemany(_INSERT_SENSOR, sensor_rows).rowcount
            if system_rows:
                connection.executemany(_INSERT_SYSTEM, system_rows)
            if device_rows:
                connection.executemany(_UPSERT_DEVICE, device_rows)
            if silent_rows:
                connection.executemany(_INSERT_SILENT, silent_rows)
            if batch.snapshot is not None:
                connection.execute(_REPLACE_SNAPSHOT, (batch.snapshot,))
        return WriteResult(
            sensor_stored=stored,
            duplicates=len(sensor_rows) - stored,
            system_stored=len(system_rows),
        )

    def prune(self, before: float) -> int:
        """Delete events and silent alerts older than ``before``; return how many."""
        with self._transaction("cannot prune the event store") as connection:
            deleted = 0
            for table in ("sensor_events", "system_events", "silent_alerts"):
                sql = f"DELETE FROM {table} WHERE timestamp < ?"
                deleted += connection.execute(sql, (before,)).rowcount
        return deleted

    # ------------------------------------------------------------------ reading

    def sensor_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        device: str | None = None,
        sensor_type: str | None = None,
        limit: int | None = 1000,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[SensorRecord]:
        where, params = _where(since, until, ("device_id", device), ("sensor_type", sensor_type))
        page, paging = _page(limit, offset, newest_first)
        sql = f"SELECT {_SENSOR_COLUMNS} FROM sensor_events{where}{page}"
        return [_sensor_record(row) for row in self._query(sql, [*params, *paging])]

    def count_sensor_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        device: str | None = None,
        sensor_type: str | None = None,
    ) -> int:
        where, params = _where(since, until, ("device_id", device), ("sensor_type", sensor_type))
        return int(self._query(f"SELECT count(*) FROM sensor_events{where}", params)[0][0])

    def system_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        event_type: str | Sequence[str] | None = None,
        limit: int | None = 1000,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[SystemRecord]:
        where, params = _where(since, until, ("event_type", event_type))
        page, paging = _page(limit, offset, newest_first)
        sql = f"SELECT {_SYSTEM_COLUMNS} FROM system_events{where}{page}"
        return [_system_record(row) for row in self._query(sql, [*params, *paging])]

    def silent_alerts(
        self, *, since: float | None = None, until: float | None = None, limit: int | None = 1000
    ) -> list[SystemRecord]:
        """Duress alerts, newest first: never among the system events, so never on the
        dashboard, its API or ``homeguard events`` without ``--duress``."""
        where, params = _where(since, until)
        page, paging = _page(limit, 0, True)
        sql = f"SELECT {_SYSTEM_COLUMNS} FROM silent_alerts{where}{page}"
        return [_system_record(row) for row in self._query(sql, [*params, *paging])]

    def count_system_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        event_type: str | Sequence[str] | None = None,
    ) -> int:
        where, params = _where(since, until, ("event_type", event_type))
        return int(self._query(f"SELECT count(*) FROM system_events{where}", params)[0][0])

    def event_counts(
        self,
        *,
        since: float,
        until: float,
        bucket: float,
        offset: float = 0.0,
        alarm_types: Sequence[str] = ("triggered",),
    ) -> list[tuple[float, int, int, int]]:
        """Events per time bucket in [since, until): (bucket start, sensor events, system
        events, alarms). Buckets are ``bucket`` seconds long and aligned on multiples of
        ``bucket`` in local time, where local time is Unix time plus ``offset`` seconds;
        buckets without events are left out."""
        if bucket <= 0:
            raise ValueError("bucket must be positive")
        alarm = f"event_type IN ({', '.join('?' * len(alarm_types))})" if alarm_types else "0"
        slot = "CAST((timestamp + ?) / ? AS INTEGER) - (timestamp + ? < 0)"
        sql = f"""SELECT slot, sum(kind = 0), sum(kind = 1), sum(alarm) FROM (
                SELECT {slot} AS slot, 0 AS kind, 0 AS alarm FROM sensor_events
                    WHERE timestamp >= ? AND timestamp < ?
                UNION ALL
                SELECT {slot}, 1, {alarm} FROM system_events
                    WHERE timestamp >= ? AND timestamp < ?
            ) GROUP BY slot ORDER BY slot"""
        params: list[object] = [offset, bucket, offset, since, until]
        params += [offset, bucket, offset, *alarm_types, since, until]
        rows = self._query(sql, params)
        return [(float(slot * bucket - offset), int(s), int(y), int(a)) for slot, s, y, a in rows]

    def battery_levels(self, devices: Sequence[str], *, scan: int = 50) -> dict[str, float]:
        """The last battery level each of ``devices`` reported in an event's metadata,
        looking at most at its ``scan`` latest events (an index walk, cheap however
        large the log)."""
        sql = (
            "SELECT json_extract(metadata, '$.battery') FROM (SELECT metadata FROM"
            " sensor_events WHERE device_id = ? ORDER BY timestamp DESC LIMIT ?)"
            " WHERE json_extract(metadata, '$.battery') IS NOT NULL LIMIT 1"
        )
        levels: dict[str, float] = {}
        for device in devices:
            rows = self._query(sql, (device, scan))
            if rows and isinstance(rows[0][0], int | float):
                levels[device] = float(rows[0][0])
        return levels

    def load_snapshot(self) -> str | None:
        rows = self._query("SELECT body FROM panel_snapshot WHERE id = 1", ())
        return str(rows[0][0]) if rows else None

    def devices(self) -> list[DeviceRecord]:
        rows = self._query(
            "SELECT device_id, type, capabilities, online, last_seen, announced_at, info"
            " FROM devices ORDER BY device_id",
            (),
        )
        return [_device_record(row) for row in rows]

    def size_bytes(self) -> int:
        """Bytes on disk: the database file and its write-ahead log."""
        total = 0
        for file in (self._path, self._path.with_name(self._path.name + "-wal")):
            try:
                total += file.stat().st_size
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StoreError(f"cannot stat {file}: {exc}") from exc
        return total

    # ------------------------------------------------------------------ internals

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves.
        return sqlite3.connect(
            self._path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )

    def _migrate(self) -> None:
        with _translated(f"cannot read the schema version of {self._path}"):
            version = _user_version(self._writer)
        self._check_known(version)
        if version == SCHEMA_VERSION:
            return
        with self._transaction(f"cannot migrate event store {self._path}") as connection:
            version = _user_version(connection)  # another process may have migrated it
            self._check_known(version)
            for migration in _MIGRATIONS[version:]:
                for statement in migration:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_known(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"event store {self._path} has schema version {version}, newer than this"
                f" homeguard knows ({SCHEMA_VERSION}); upgrade homeguard or use another file"
            )

    @contextmanager
    def _transaction(self, failure: str) -> Iterator[sqlite3.Connection]:
        with self._write_lock, _translated(failure):
            if self._closed:
                raise StoreError("the event store is closed")
            connection = self._writer
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):  # keep the original error
                    connection.rollback()
                raise
            self._commits += 1

    def _query(self, sql: str, params: Sequence[object]) -> list[_Row]:
        with _translated("cannot query the event store"), self._reader() as connection:
            rows: list[_Row] = connection.execute(sql, params).fetchall()
            return rows

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._pool_lock:
            if self._closed:
                raise StoreError("the event store is closed")
            connection = self._idle_readers.pop() if self._idle_readers else None
        if connection is None:
            connection = self._connect()
            connection.execute("PRAGMA query_only = ON")
        try:
            yield connection
        finally:
            with self._pool_lock:
                keep = not self._closed and len(self._idle_readers) < _MAX_IDLE_READERS
                if keep:
                    self._idle_readers.append(connection)
            if not keep:
                connection.close()


# ---------------------------------------------------------------------- helpers


def _private_files(path: Path) -> None:
    """The database, its -wal and -shm for their owner only (0600): events tell when the
    house is empty. SQLite gives -wal and -shm the database file's mode, so the file is
    created 0600 before SQLite opens it; files of an older version are tightened."""
    with suppress(OSError):  # exists already, or cannot be made: SQLite will say why
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        with suppress(OSError):  # absent, or not ours (a reader such as the CLI)
            file = path.with_name(name)
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                file.chmod(0o600)


@contextmanager
def _translated(failure: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        transient = code is not None and code & 0xFF in _UNAVAILABLE
        raise (StoreUnavailable if transient else StoreError)(f"{failure}: {exc}") from exc


def _user_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def _where(
    since: float | None,
    until: float | None,
    *matches: tuple[str, str | Sequence[str] | None],
) -> tuple[str, list[object]]:
    conditions: list[str] = []
    params: list[object] = []
    if since is not None:
        conditions.append("timestamp >= ?")
        params.append(since)
    if until is not None:
        conditions.append("timestamp < ?")
        params.append(until)
    for column, wanted in matches:  # column names come from this module, never the caller
        if wanted is None:
            continue
        if isinstance(wanted, str):
            conditions.append(f"{column} = ?")
            params.append(wanted)
        else:
            conditions.append(f"{column} IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), params


def _page(limit: int | None, offset: int, newest_first: bool) -> tuple[str, tuple[int, int]]:
    if (limit is not None and limit < 0) or offset < 0:
        raise ValueError("limit and offset must not be negative")
    order = "DESC" if newest_first else "ASC"
    sql = f" ORDER BY timestamp {order}, id {order} LIMIT ? OFFSET ?"
    return sql, (-1 if limit is None else limit, offset)


def _to_json(value: Mapping[str, Any] | Sequence[str] | None, what: str) -> str | None:
    if value is None:
        return None
    plain = dict(value) if isinstance(value, Mapping) else list(value)
    try:
        return json.dumps(plain, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not JSON-serialisable: {exc}") from exc


def _from_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StoreError(f"the event store holds malformed JSON: {exc}") from exc


def _sensor_row(r: SensorRecord) -> _Row:
    metadata = _to_json(r.metadata, f"metadata of the {r.device_id} event at {r.ts}")
    return (r.ts, r.sensor_type, r.device_id, r.state, metadata, r.dedup_key)


def _system_row(r: SystemRecord) -> _Row:
    data = _to_json(r.data, f"data of the {r.event_type} event at {r.ts}")
    return (r.ts, r.event_type, r.description, data)


def _device_row(r: DeviceRecord) -> _Row:
    capabilities = _to_json(r.capabilities, f"capabilities of device {r.device_id}")
    info = _to_json(r.info, f"info of device {r.device_id}")
    return (r.device_id, r.type, capabilities, r.online, r.last_seen, r.announced_at, info)


def _sensor_record(row: _Row) -> SensorRecord:
    id_, ts, sensor_type, device_id, state, metadata, dedup_key = row
    return SensorRecord(ts, sensor_type, device_id, state, _from_json(metadata), dedup_key, id_)


def _system_record(row: _Row) -> SystemRecord:
    id_, ts, event_type, description, data = row
    return SystemRecord(ts, event_type, description, _from_json(data), id_)


def _device_record(row: _Row) -> DeviceRecord:
    device_id, type_, capabilities, online, last_seen, announced_at, info = row
    return DeviceRecord(
        device_id=device_id,
        type=type_,
        capabilities=tuple(_from_json(capabilities)),
        online=None if online is None else bool(online),
        last_seen=last_seen,
        announced_at=announced_at,
        info=_from_json(info),
    )
