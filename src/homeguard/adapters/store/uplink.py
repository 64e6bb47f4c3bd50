"""The uplink's tables: its outbox of events not yet acknowledged upstream, and its cursor.

Schema version 3 (:mod:`.schema`): while a cursor row exists (the uplink is on), triggers
copy every committed sensor and system event (and, when the cursor says so, every duress
alert) into ``uplink_outbox``, in the same transaction, numbered by an AUTOINCREMENT
``seq``: the site's stream in commit order, never reused, without gaps (a transaction
that rolls back takes its numbers back with it). The uplink deletes what the upstream
broker acknowledged and advances the cursor in one transaction. So:

* nothing committed escapes the outbox, whatever the controller does (no code on the
  write path);
* retention pruning deletes events, never the outbox's copies: unsent events are kept;
* the backlog is ``last seq - sent_seq``, found without counting rows.

Part of the event-store adapter: it runs its SQL through the store's own connections
(:meth:`EventStore._query`, :meth:`EventStore._transaction`), so the same errors apply.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from homeguard.core.uplink import Forwarded

from . import rows
from .sqlite import EventStore

__all__ = ["UplinkCursor", "UplinkOutbox"]

_SENSOR, _SYSTEM, _SILENT = 0, 1, 2
_COLUMNS = "seq, kind, event_id, timestamp, first, second, third, fourth"
_LAST_SEQ = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'uplink_outbox'), 0)"


@dataclass(frozen=True, slots=True)
class UplinkCursor:
    """How far the upstream broker has acknowledged the stream.

    ``sent_seq``: the last event acknowledged; ``batches``: batches acknowledged (the
    number of the last one); ``sent_at``: when (Unix time); ``last_seq``: the last event
    committed; ``backlog``: events committed but not yet acknowledged; ``connected``: to
    the upstream broker, as the uplink last noted it, and since when."""

    sent_seq: int
    batches: int
    sent_at: float | None
    last_seq: int
    connected: bool = False
    connected_changed: float | None = None

    @property
    def backlog(self) -> int:
        return self.last_seq - self.sent_seq


class UplinkOutbox:
    """The uplink's view of one :class:`EventStore`; thread-safe as the store is."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def open(self, *, duress: bool) -> UplinkCursor:
        """Turn the uplink on (from now on every committed event joins the outbox), or
        keep it on; ``duress``: duress alerts join it too. Returns the cursor."""
        with self._store._transaction("cannot open the uplink's outbox") as connection:
            (last,) = connection.execute(_LAST_SEQ).fetchone()
            connection.execute(
                "INSERT INTO uplink_cursor (id, sent_seq, batches, duress) VALUES (1, ?, 0, ?)"
                " ON CONFLICT (id) DO UPDATE SET duress = excluded.duress",
                (last, int(duress)),
            )
        cursor = self.cursor()
        assert cursor is not None
        return cursor

    def close(self) -> int:
        """Turn the uplink off: forget the cursor and the outbox (events stop joining
        it). Returns how many unsent events were dropped from it."""
        with self._store._transaction("cannot close the uplink's outbox") as connection:
            dropped = connection.execute("DELETE FROM uplink_outbox").rowcount
            connection.execute("DELETE FROM uplink_cursor")
        return int(dropped)

    def cursor(self) -> UplinkCursor | None:
        """Where the uplink stands; None when it is off."""
        found = self._store._query(
            f"SELECT sent_seq, batches, sent_at, ({_LAST_SEQ}), connected, connected_changed"
            " FROM uplink_cursor WHERE id = 1",
            (),
        )
        if not found:
            return None
        sent_seq, batches, sent_at, last, connected, changed = found[0]
        return UplinkCursor(
            int(sent_seq), int(batches), sent_at, int(last), bool(connected), changed
        )

    def note_connection(self, connected: bool, at: float) -> None:
        """Remember whether the uplink is connected upstream, for ``homeguard status``."""
        with self._store._transaction("cannot note the uplink's connection") as connection:
            connection.execute(
                "UPDATE uplink_cursor SET connected = ?, connected_changed = ? WHERE id = 1",
                (int(connected), at),
            )

    def last_seq(self) -> int:
        """The seq of the last event committed to the stream (0: none yet)."""
        return int(self._store._query(_LAST_SEQ, ())[0][0])

    def unsent(self, limit: int) -> list[Forwarded]:
        """The first ``limit`` events not yet acknowledged, in order."""
        sql = f"SELECT {_COLUMNS} FROM uplink_outbox ORDER BY seq LIMIT ?"
        return [_forwarded(row) for row in self._store._query(sql, (limit,))]

    def alarms(self, after: int, upto: int, kinds: Collection[str]) -> list[Forwarded]:
        """Unsent system events of ``kinds``, and duress alerts, with ``after < seq <=
        upto``, in order."""
        marks = ", ".join("?" for _ in kinds) or "NULL"
        sql = (
            f"SELECT {_COLUMNS} FROM uplink_outbox WHERE seq > ? AND seq <= ?"
            f" AND ((kind = {_SYSTEM} AND first IN ({marks})) OR kind = {_SILENT}) ORDER BY seq"
        )
        return [_forwarded(row) for row in self._store._query(sql, (after, upto, *kinds))]

    def sent(self, last_seq: int, batch: int, at: float) -> None:
        """The upstream broker acknowledged batch ``batch``, up to ``last_seq``: forget
        those events and move the cursor, in one transaction."""
        with self._store._transaction("cannot move the uplink's cursor") as connection:
            connection.execute("DELETE FROM uplink_outbox WHERE seq <= ?", (last_seq,))
            connection.execute(
                "UPDATE uplink_cursor SET sent_seq = max(sent_seq, ?), batches = ?, sent_at = ?"
                " WHERE id = 1",
                (last_seq, batch, at),
            )


def _forwarded(row: rows.Row) -> Forwarded:
    """An outbox row, laid out as the store's merged event rows (:mod:`.rows`)."""
    seq, kind, event_id, ts, first, second, third, fourth = row
    table = 0 if kind == _SENSOR else 1
    record = rows.event_record((table, event_id, ts, first, second, third, fourth, None))
    return Forwarded(int(seq), record, silent=kind == _SILENT)
