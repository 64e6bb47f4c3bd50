"""The SQL that reads the event log: filters, pages and the merge of both kinds of event.

Everything is selected, ordered and cut to the page in SQL, so that a query returns the
page it asks for and never the rows before it. Column names come from this module, never
from the caller; values are always parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from homeguard.core.records import EventQuery

from .rows import SENSOR_EVENT_COLUMNS, SYSTEM_EVENT_COLUMNS

__all__ = ["battery_sql", "count_sql", "event_counts_sql", "events_sql", "reports_sql", "where"]

Sql = tuple[str, list[object]]


def events_sql(query: EventQuery, limit: int | None, offset: int, newest_first: bool) -> Sql | None:
    """The page of events ``query`` selects, both kinds merged, newest first (or oldest):
    by time, then system before sensor (an alarm after the event that caused it), then id.
    Each kind is cut to ``offset + limit`` rows before the merge, along its time index.
    None when ``query`` selects no kind of event at all."""
    if (limit is not None and limit < 0) or offset < 0:
        raise ValueError("limit and offset must not be negative")
    order = "DESC" if newest_first else "ASC"
    arms = _arms(query)
    if not arms:
        return None
    page: list[object] = [-1 if limit is None else limit, offset]
    if len(arms) == 1:
        ((columns, table, (condition, params)),) = arms
        sql = f"SELECT {columns} FROM {table}{condition} ORDER BY timestamp {order}, id {order}"
        return f"{sql} LIMIT ? OFFSET ?", [*params, *page]
    window = -1 if limit is None else offset + limit
    selects, params = [], []
    for columns, table, (condition, arm_params) in arms:
        selects.append(
            f"SELECT * FROM (SELECT {columns} FROM {table}{condition}"
            f" ORDER BY timestamp {order}, id {order} LIMIT ?)"
        )
        params += [*arm_params, window]
    merged = " UNION ALL ".join(selects)
    # Result columns by position: 3 timestamp, 1 kind, 2 id (see rows.py).
    sql = f"{merged} ORDER BY 3 {order}, 1 {order}, 2 {order} LIMIT ? OFFSET ?"
    return sql, [*params, *page]


def count_sql(query: EventQuery) -> Sql:
    """How many events ``query`` selects, both kinds together."""
    counts, params = [], []
    for _, table, (condition, arm_params) in _arms(query):
        counts.append(f"(SELECT count(*) FROM {table}{condition})")
        params += arm_params
    return f"SELECT {' + '.join(counts) or '0'}", params


def event_counts_sql(
    since: float, until: float, bucket: float, offset: float, alarm_types: Sequence[str]
) -> Sql:
    """(slot, sensor events, system events, alarms) per time slot in [since, until);
    slot N starts at N * bucket - offset."""
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
    return sql, params


def battery_sql(devices: Sequence[str], scan: int) -> Sql:
    """Each of ``devices`` (none repeated) with the last battery level in the metadata
    of its ``scan`` latest events (NULL when none has one): one statement for them all,
    an index walk per device inside SQLite (a query per device took 0.7 s at 100,000)."""
    sql = (
        "SELECT d.value, (SELECT json_extract(metadata, '$.battery') FROM (SELECT metadata"
        " FROM sensor_events WHERE device_id = d.value ORDER BY timestamp DESC LIMIT ?)"
        " WHERE json_extract(metadata, '$.battery') IS NOT NULL LIMIT 1) FROM json_each(?) AS d"
    )
    return sql, [scan, json.dumps(list(devices))]


def reports_sql(fields: Sequence[str], *, since: float, after: int, last: int) -> Sql:
    """Sensor events received at or after ``since`` with an id in (after, last], oldest
    first: device, timestamp, state, then each of ``fields`` of the metadata as a number
    (NULL when missing or not a number: JSON's ``true`` is no battery level). Extracted
    by SQLite's JSON functions: decoding each row's metadata in Python was most of the
    cost of reading a week of events.

    From the start (``after`` 0), along the time index; after an event, along the ids
    alone: those stored since a reader last read are few, and the last of the table.
    (A ``+`` before a column keeps SQLite from choosing its index.)"""
    columns = []
    params: list[object] = []
    for field in fields:
        if not re.fullmatch(r"[A-Za-z0-9_]+", field):
            raise ValueError(f"not a metadata field name: {field!r}")
        path = f'$."{field}"'
        columns.append(
            "CASE WHEN json_type(metadata, ?) IN ('integer', 'real')"
            " THEN json_extract(metadata, ?) * 1.0 END"
        )
        params += [path, path]
    if after <= 0:
        span, params = "timestamp >= ? AND +id <= ?", [*params, since, last]
    else:
        span, params = "+timestamp >= ? AND id > ? AND id <= ?", [*params, since, after, last]
    sql = (
        f"SELECT device_id, timestamp, state, {', '.join(columns)} FROM sensor_events"
        f" WHERE {span} ORDER BY timestamp, id"
    )
    return sql, params


def where(
    since: float | None,
    until: float | None,
    *matches: tuple[str, str | Sequence[str] | None],
) -> Sql:
    """`` WHERE ...`` for a time range and columns equal to a value or one of several."""
    conditions: list[str] = []
    params: list[object] = []
    if since is not None:
        conditions.append("timestamp >= ?")
        params.append(since)
    if until is not None:
        conditions.append("timestamp < ?")
        params.append(until)
    for column, wanted in matches:
        if wanted is None:
            continue
        if isinstance(wanted, str):
            conditions.append(f"{column} = ?")
            params.append(wanted)
        else:
            conditions.append(f"{column} IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), params


def _arms(query: EventQuery) -> list[tuple[str, str, Sql]]:
    """(columns, table, where) for each kind of event ``query`` selects."""
    arms = []
    if query.wants_sensor:
        matches = (
            ("device_id", query.device),
            ("sensor_type", query.sensor_type),
            ("state", query.state),
        )
        condition = where(query.since, query.until, *matches)
        arms.append((SENSOR_EVENT_COLUMNS, "sensor_events", condition))
    if query.wants_system:
        condition = where(query.since, query.until, ("event_type", query.event_type))
        arms.append((SYSTEM_EVENT_COLUMNS, "system_events", condition))
    return arms
