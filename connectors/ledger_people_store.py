"""The people's side of the ledger in the SQL store (issue 18): their current state per
item (``ledger_people``) and the audit trail of every accepted change (``ledger_events``).

The tables' DDL lives in migration 0003; here they are reflected, so the columns are
declared once. An import lands in one transaction: its events appended (never updated
or deleted: the audit trail), the items it changed replaced in ``ledger_people``. The
replace is a delete and insert of exactly those keys, the same SQL on SQLite, PostgreSQL
and MariaDB; imports are serialised by the store's lock (``Store.run_lock``), so no two
write the same keys at once.
"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from connectors.store import Store, _explained
from schemas.ledger_people import KEY

PEOPLE_TABLE, EVENTS_TABLE = "ledger_people", "ledger_events"
INTEGER_COLUMNS = {"source_row", "row_number", "event_id"}


def _tables(store: Store) -> tuple[sa.Table, sa.Table]:
    store.migrate()
    meta = sa.MetaData()
    meta.reflect(store.engine, only=[PEOPLE_TABLE, EVENTS_TABLE])
    return meta.tables[PEOPLE_TABLE], meta.tables[EVENTS_TABLE]


def _records(frame: pd.DataFrame, table: sa.Table) -> list[dict]:
    """Rows as the driver takes them: only the table's columns, NA as NULL, numbers as Python's."""
    cols = [c.name for c in table.columns if c.name in frame.columns]
    out = frame[cols].astype(object).where(frame[cols].notna(), None)
    for c in cols:
        if c in INTEGER_COLUMNS:
            out[c] = [None if v is None else int(v) for v in out[c]]
    return out.to_dict("records")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({c: ("Int64" if c in INTEGER_COLUMNS else "string") for c in frame.columns})


@_explained
def _read(store: Store, which: str, ids, counties) -> pd.DataFrame:
    people, events = _tables(store)
    t = people if which == PEOPLE_TABLE else events
    stmt = sa.select(t)
    if counties is not None:
        stmt = stmt.where(t.c.county_code.in_(list(counties)))
    if ids is not None:
        stmt = stmt.where(t.c[KEY].in_(list(ids)))
    stmt = stmt.order_by(t.c[KEY]) if t is people else stmt.order_by(t.c.event_id)
    with store.engine.connect() as conn:
        return _typed(pd.read_sql(stmt, conn))


def people_state(store: Store, counties: list[str] | None = None) -> pd.DataFrame:
    """The people's current state, one row per item they wrote on (of ``counties``, or all)."""
    return _read(store, PEOPLE_TABLE, None, counties)


def ledger_events(store: Store, ids: list[str] | None = None) -> pd.DataFrame:
    """The audit trail in the order it was written (of the items ``ids``, or all)."""
    return _read(store, EVENTS_TABLE, ids, None)


@_explained
def _record(store: Store, events: pd.DataFrame, state_rows: pd.DataFrame) -> int:
    people, log = _tables(store)
    with store.engine.begin() as conn:
        if len(events):
            conn.execute(log.insert(), _records(events.drop(columns=["event_id"], errors="ignore"), log))
        if len(state_rows):
            keys = state_rows[KEY].astype(str).tolist()
            for start in range(0, len(keys), 1000):  # bound the IN list of one statement
                conn.execute(people.delete().where(people.c[KEY].in_(keys[start:start + 1000])))
            conn.execute(people.insert(), _records(state_rows, people))
    return len(events)


def record_import(store: Store, events: pd.DataFrame, state_rows: pd.DataFrame) -> int:
    """Append ``events`` and replace the state of the items in ``state_rows``, in one
    transaction (``reconcile.ledger_people.people_events`` and ``people_state_after``
    give them). Returns the number of events written; nothing changes when both are empty.
    """
    if not len(events) and not len(state_rows):
        return 0
    return _record(store, events, state_rows)
