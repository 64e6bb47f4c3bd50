"""The event store on SQLite; the only module that imports :mod:`sqlite3`.

One file, WAL mode, its schema brought up to date on open (:mod:`.schema`).

Threads: one writer connection, guarded by a lock, serves :meth:`EventStore.write` and
:meth:`EventStore.prune`. Queries borrow a read-only connection from a small pool (a new
one when all are busy, kept for reuse afterwards), so no connection is ever used by two
threads at once, and in WAL mode a dashboard or CLI thread reads the last committed state
without waiting for the writer or slowing it down.

Durability: :meth:`EventStore.write` puts the whole batch in one ``BEGIN IMMEDIATE`` ...
``COMMIT``; once it returns, the batch is committed. With ``synchronous="full"`` the
commit is fsynced and survives a power cut; with ``"normal"`` it survives a crash of the
process but may be lost with the power.

Every :class:`sqlite3.Error` is translated: those that the same write may get past later
(disk full, read-only file, database locked, I/O error: :data:`_UNAVAILABLE`) into
:class:`~homeguard.errors.StoreUnavailable`, the others (a constraint, a misuse, SQL that
does not fit the schema) into :class:`~homeguard.errors.StoreRejected`.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal, Self

from homeguard.core.health import StoredReports
from homeguard.core.records import (
    Batch,
    DeviceRecord,
    EventQuery,
    EventRecord,
    SensorRecord,
    SystemRecord,
    WriteResult,
)
from homeguard.errors import StoreError, StoreRejected, StoreUnavailable

from . import outbox, queries, rows
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "EventStore"]

_BUSY_TIMEOUT_S = 5.0

# SQLite's primary result codes for a store that cannot write for now, whatever the SQL:
# PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
# Anything else (a constraint, a misuse, SQL that does not fit the schema) is our bug.
_UNAVAILABLE = frozenset({3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
_MAX_IDLE_READERS = 4


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

    def __exit__(self, *exc_info: object) -> None:
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
        sensor_rows = [rows.sensor_row(record) for record in batch.sensor_events]
        system_rows = [rows.system_row(record) for record in batch.system_events]
        device_rows = [rows.device_row(record) for record in batch.devices]
        silent_rows = [rows.system_row(record) for record in batch.silent_alerts]
        with self._transaction("cannot write to the event store") as connection:
            stored = 0
            if sensor_rows:
                stored = connection.executemany(rows.INSERT_SENSOR, sensor_rows).rowcount
            if system_rows:
                connection.executemany(rows.INSERT_SYSTEM, system_rows)
            if device_rows:
                connection.executemany(rows.UPSERT_DEVICE, device_rows)
            if silent_rows:
                connection.executemany(rows.INSERT_SILENT, silent_rows)
            if batch.notifications:
                outbox.insert(connection, batch.notifications)
            if batch.snapshot is not None:
                connection.execute(rows.REPLACE_SNAPSHOT, (batch.snapshot,))
            if batch.panel_sensors:
                changed = batch.panel_sensors.items()
                gone = [(sid,) for sid, body in changed if body is None]
                kept = [(sid, body) for sid, body in changed if body is not None]
                connection.executemany(rows.DELETE_PANEL_SENSOR, gone)
                connection.executemany(rows.REPLACE_PANEL_SENSOR, kept)
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

    def events(
        self,
        query: EventQuery,
        *,
        limit: int | None = 1000,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[EventRecord]:
        """The page of sensor and system events that ``query`` selects, merged in SQL,
        newest first (on a tie in time a system event before a sensor event)."""
        found = queries.events_sql(query, limit, offset, newest_first)
        if found is None:
            return []
        return [rows.event_record(row) for row in self._query(*found)]

    def count_events(self, query: EventQuery) -> int:
        """How many events ``query`` selects."""
        return int(self._query(*queries.count_sql(query))[0][0])

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
        """Sensor events alone: :meth:`events` without the system events."""
        query = EventQuery(since, until, device, sensor_type, system=False)
        found = self.events(query, limit=limit, offset=offset, newest_first=newest_first)
        return [record for record in found if isinstance(record, SensorRecord)]

    def sensor_reports(
        self, fields: Sequence[str], *, since: float, after: int = 0
    ) -> StoredReports:
        """The sensor events received at or after ``since`` and stored after the event
        numbered ``after`` (0: all), oldest first, as (device_id, timestamp, state, then
        each of ``fields`` of the event's metadata as a float, or None where it is
        missing or is not a number: a boolean is not one); what sensor health reads
        (core.health.REPORT_FIELDS). With them, read in the same snapshot, the number of
        the last event stored and the time of the oldest one kept, so that a reader
        that keeps what it read asks next for what came after, and forgets what
        retention deleted. 300,000 events took 2.4 s through ``sensor_events`` and
        health's own reading, and 0.9 s this way."""
        with _translated("cannot query the event store"), self._reader() as connection:
            connection.execute("BEGIN")  # one snapshot for the three reads
            try:
                last = connection.execute("SELECT max(id) FROM sensor_events").fetchone()[0]
                oldest = connection.execute("SELECT min(timestamp) FROM sensor_events")
                first = oldest.fetchone()[0]
                sql, params = queries.reports_sql(fields, since=since, after=after, last=last or 0)
                found: list[rows.Row] = connection.execute(sql, params).fetchall()
            finally:
                connection.execute("COMMIT")
        return StoredReports(found, last or 0, first)

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
        """System events alone: :meth:`events` without the sensor events."""
        query = EventQuery(since, until, event_type=_types(event_type), sensor=False)
        found = self.events(query, limit=limit, offset=offset, newest_first=newest_first)
        return [record for record in found if isinstance(record, SystemRecord)]

    def count_sensor_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        device: str | None = None,
        sensor_type: str | None = None,
    ) -> int:
        return self.count_events(EventQuery(since, until, device, sensor_type, system=False))

    def count_system_events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        event_type: str | Sequence[str] | None = None,
    ) -> int:
        query = EventQuery(since, until, event_type=_types(event_type), sensor=False)
        return self.count_events(query)

    def silent_alerts(
        self, *, since: float | None = None, until: float | None = None, limit: int | None = 1000
    ) -> list[SystemRecord]:
        """Duress alerts, newest first: never among the system events, so never on the
        dashboard, its API or ``homeguard events`` without ``--duress``."""
        if limit is not None and limit < 0:
            raise ValueError("limit must not be negative")
        condition, params = queries.where(since, until)
        sql = (
            f"SELECT {rows.SYSTEM_EVENT_COLUMNS} FROM silent_alerts{condition}"
            " ORDER BY timestamp DESC, id DESC LIMIT ?"
        )
        found = map(rows.event_record, self._query(sql, [*params, -1 if limit is None else limit]))
        return [record for record in found if isinstance(record, SystemRecord)]

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
        found = self._query(*queries.event_counts_sql(since, until, bucket, offset, alarm_types))
        return [(float(slot * bucket - offset), int(s), int(y), int(a)) for slot, s, y, a in found]

    def battery_levels(self, devices: Sequence[str], *, scan: int = 50) -> dict[str, float]:
        """The last battery level each of ``devices`` reported in an event's metadata,
        looking at most at its ``scan`` latest events (an index walk each, cheap however
        large the log; one statement for them all)."""
        if not devices:
            return {}
        found = self._query(*queries.battery_sql(list(dict.fromkeys(devices)), scan))
        return {str(d): float(level) for d, level in found if isinstance(level, int | float)}

    def load_snapshot(self) -> str | None:
        found = self._query("SELECT body FROM panel_snapshot WHERE id = 1", ())
        return str(found[0][0]) if found else None

    def load_panel_sensors(self) -> dict[str, str]:
        """The snapshot's sensors' rows, by sensor id (see Batch.panel_sensors)."""
        found = self._query("SELECT sensor_id, body FROM panel_sensors", ())
        return {str(sensor_id): str(body) for sensor_id, body in found}

    def devices(self) -> list[DeviceRecord]:
        sql = f"SELECT {rows.DEVICE_COLUMNS} FROM devices ORDER BY device_id"
        return [rows.device_record(row) for row in self._query(sql, ())]

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
            for migration in MIGRATIONS[version:]:
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
                raise StoreRejected("the event store is closed")
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

    def _query(self, sql: str, params: Sequence[object]) -> list[rows.Row]:
        with _translated("cannot query the event store"), self._reader() as connection:
            found: list[rows.Row] = connection.execute(sql, params).fetchall()
            return found

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._pool_lock:
            if self._closed:
                raise StoreRejected("the event store is closed")
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
        raise (StoreUnavailable if transient else StoreRejected)(f"{failure}: {exc}") from exc


def _user_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def _types(wanted: str | Sequence[str] | None) -> str | tuple[str, ...] | None:
    return wanted if wanted is None or isinstance(wanted, str) else tuple(wanted)
