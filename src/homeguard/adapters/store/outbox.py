"""The notification outbox: rows of the ``notifications`` table, written by
:meth:`EventStore.write <homeguard.adapters.store.sqlite.EventStore.write>` in the same
transaction as the events that caused them, then read and marked by the notifier's worker
(``services/notifier.py``) through :class:`Outbox`.

A row is ``pending`` until it is ``delivered``, ``suppressed`` (told as "and N more" by
another row of its target under a rate limit) or ``failed`` (given up). Its ``due`` is the
earliest time to try it: the end of quiet hours, then the next retry. The worker uses a
store of its own (its own connections to the same SQLite file, in WAL mode, with the
store's busy timeout), so marking rows never waits on the controller's writer lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from homeguard.core.records import Delivery, NotificationRecord

if TYPE_CHECKING:
    from .sqlite import EventStore

__all__ = ["Outbox", "insert"]

_INSERT = """INSERT INTO notifications
    (timestamp, route, target, kind, title, body, urgent, silent, snapshot, due)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_COLUMNS = (
    "id, timestamp, route, target, kind, title, body, urgent, silent, snapshot, due,"
    " state, attempts, last_error, finished"
)


def insert(connection: sqlite3.Connection, records: Sequence[NotificationRecord]) -> None:
    """Queue ``records`` within the caller's transaction."""
    connection.executemany(
        _INSERT,
        [
            (
                float(r.ts),
                r.route,
                r.target,
                r.kind,
                r.title,
                r.body,
                int(r.urgent),
                int(r.silent),
                int(r.snapshot),
                float(r.due),
            )
            for r in records
        ],
    )


def _delivery(row: tuple[Any, ...]) -> Delivery:
    (id_, ts, route, target, kind, title, body, urgent, silent, snapshot, due) = row[:11]
    state, attempts, last_error, finished = row[11:]
    record = NotificationRecord(
        ts, route, target, kind, title, body, due, bool(urgent), bool(silent), bool(snapshot)
    )
    return Delivery(id_, record, state, attempts, last_error, finished)


class Outbox:
    """The worker's view of the ``notifications`` table, over an open store."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    # ------------------------------------------------------------------- reading

    def due(self, now: float, limit: int = 200) -> list[Delivery]:
        """Pending rows due by ``now``: urgent first, then in the order queued."""
        sql = (
            f"SELECT {_COLUMNS} FROM notifications WHERE state = 'pending' AND due <= ?"
            " ORDER BY urgent DESC, id LIMIT ?"
        )
        return [_delivery(row) for row in self._store._query(sql, (now, limit))]

    def next_due(self) -> float | None:
        """When the next pending row is due; None when none waits."""
        found = self._store._query("SELECT min(due) FROM notifications WHERE state = 'pending'", ())
        return None if not found or found[0][0] is None else float(found[0][0])

    def sent_since(self, route: str, target: str, since: float) -> list[float]:
        """When the non-urgent rows of a target were delivered since ``since``."""
        sql = (
            "SELECT finished FROM notifications WHERE route = ? AND target = ?"
            " AND finished >= ? AND state = 'delivered' AND urgent = 0"
        )
        return [float(t) for (t,) in self._store._query(sql, (route, target, since))]

    def recent(self, limit: int = 50, *, silent: bool = False) -> list[Delivery]:
        """The newest rows first; duress rows (``silent``) only when asked for."""
        where = "" if silent else " WHERE silent = 0"
        sql = f"SELECT {_COLUMNS} FROM notifications{where} ORDER BY id DESC LIMIT ?"
        return [_delivery(row) for row in self._store._query(sql, (limit,))]

    def counts(self, *, silent: bool = False) -> dict[str, int]:
        """Rows per state (duress rows left out unless ``silent``)."""
        where = "" if silent else " WHERE silent = 0"
        sql = f"SELECT state, count(*) FROM notifications{where} GROUP BY state"
        return {str(state): int(n) for state, n in self._store._query(sql, ())}

    def attachment(self, row: int) -> bytes | None:
        found = self._store._query("SELECT attachment FROM notifications WHERE id = ?", (row,))
        return bytes(found[0][0]) if found and found[0][0] is not None else None

    # ------------------------------------------------------------------- marking

    def delivered(self, row: int, now: float, suppressed: Sequence[int] = ()) -> None:
        """``row`` was delivered; ``suppressed`` were told in it as "and N more"."""
        with self._store._transaction("cannot mark a notification") as connection:
            connection.execute(
                "UPDATE notifications SET state = 'delivered', finished = ?, attempts ="
                " attempts + 1, last_error = NULL, attachment = NULL WHERE id = ?",
                (now, row),
            )
            connection.executemany(
                "UPDATE notifications SET state = 'suppressed', finished = ?, last_error = ?"
                " WHERE id = ?",
                [(now, f"told in notification {row} (rate limit)", r) for r in suppressed],
            )

    def retry(self, row: int, due: float, error: str) -> None:
        """A failed attempt: try again at ``due``."""
        with self._store._transaction("cannot mark a notification") as connection:
            connection.execute(
                "UPDATE notifications SET attempts = attempts + 1, due = ?, last_error = ?"
                " WHERE id = ?",
                (due, error, row),
            )

    def failed(self, row: int, now: float, error: str) -> None:
        """Given up on: no more attempts."""
        with self._store._transaction("cannot mark a notification") as connection:
            connection.execute(
                "UPDATE notifications SET state = 'failed', finished = ?, attempts ="
                " attempts + 1, last_error = ?, attachment = NULL WHERE id = ?",
                (now, error, row),
            )

    def postpone(self, rows: Sequence[int], due: float) -> None:
        """Hold ``rows`` until ``due`` without counting an attempt (rate limit, or the
        target failed for another row of this pass)."""
        with self._store._transaction("cannot mark a notification") as connection:
            connection.executemany(
                "UPDATE notifications SET due = ? WHERE id = ?", [(due, r) for r in rows]
            )

    def keep_attachment(self, row: int, data: bytes) -> None:
        """The snapshot taken for ``row`` at its first attempt, for its retries."""
        with self._store._transaction("cannot store a snapshot") as connection:
            connection.execute("UPDATE notifications SET attachment = ? WHERE id = ?", (data, row))

    def prune(self, before: float) -> int:
        """Forget finished rows older than ``before``; how many."""
        with self._store._transaction("cannot prune notifications") as connection:
            return int(
                connection.execute(
                    "DELETE FROM notifications WHERE state != 'pending' AND timestamp < ?",
                    (before,),
                ).rowcount
            )
